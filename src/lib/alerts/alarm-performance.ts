/**
 * How the alarm system performs, measured as ISA-18.2 (its alarm system performance metrics) and
 * EEMUA 191 measure it, from the incidents' lifecycle events (AlarmEvents): how many alarms reach
 * people per 10 minutes and per day, the busiest 10 minutes, the share of 10-minute periods in
 * flood, the most frequent sources, chattering and stale alarms, the priority mix, and what flood
 * suppression and shelving kept from people. Without this, an alarm system drifts unseen: the
 * standards' point is that alarm load is measured and reviewed, not guessed.
 *
 * An alarm here is an annunciation: an incident raised or escalated with a Teams card (`Notified`
 * yes). A clear is a return-to-normal message, not an alarm; a `low` record notifies nobody. The
 * plant is taken as one operating position (the standards' figures are per operator).
 */

/** One AlarmEvents row as the performance figures read it. */
export interface AlarmEventRecord {
  time: number;
  incidentId: string;
  deviceId: string;
  event: string;
  priority: string;
  notified: string;
  /** When the incident was first acknowledged (AlertAcks), if it has been, whenever that was. */
  ackedAt?: number;
}

/** An AlarmEvents row as a store reads it back (its columns), with its incident's first acknowledgement. */
export interface AlarmEventSource {
  /** An ISO string (DuckDB) or a Date (Data Explorer's SDK). */
  Timestamp: string | Date;
  IncidentId: string;
  DeviceId: string;
  Event: string;
  Priority: string;
  Notified: string | null;
  AckedAt?: string | Date | null;
}

export function alarmEventRecord(r: AlarmEventSource): AlarmEventRecord {
  // new Date(…), not Date.parse: Data Explorer's SDK hands datetimes as Dates, whose strings drop the milliseconds.
  const record: AlarmEventRecord = { time: new Date(r.Timestamp).getTime(), incidentId: r.IncidentId, deviceId: r.DeviceId, event: r.Event, priority: r.Priority, notified: r.Notified ?? '' };
  const ackedAt = r.AckedAt ? new Date(r.AckedAt).getTime() : NaN;
  if (!Number.isNaN(ackedAt)) record.ackedAt = ackedAt;
  return record;
}

const TEN_MINUTES = 600_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** ISA-18.2: an hour with more than 30 alarms is one an operator could not have answered well. */
export const BUSY_HOUR_ALARMS = 30;
/** EEMUA 191 and ISA-18.2: more than 10 alarms in 10 minutes for one operator is a flood. */
export const FLOOD_ALARMS = 10;
/** Chattering: raised three or more times within a minute (ISA-18.2's chattering alarm). */
export const CHATTER_RAISES = 3;
const CHATTER_MS = 60_000;
/** Stale: standing for more than 24 hours. */
export const STALE_MS = DAY;
const TOP_SOURCES = 10;

/**
 * The standards' targets for one operating position (ISA-18.2's recommended performance metrics,
 * EEMUA 191's benchmarks): an average of about 1 alarm per 10 minutes is very likely acceptable
 * and 2 the most that is manageable (150 and 300 a day); at most 10 in any 10 minutes; less than
 * about 1 % of 10-minute periods in flood and of hours with more than 30 alarms; no chattering;
 * fewer than 5 stale alarms.
 */
export const TARGETS = Object.freeze({ acceptablePer10Min: 1, manageablePer10Min: 2, max10Min: FLOOD_ALARMS, floodShare: 0.01, busyHourShare: 0.01, chattering: 0, staleBelow: 5 });

export interface AlarmPerformance {
  from: string;
  to: string;
  /**
   * Where the rates and the periods counted begin: the period's first reading (or its first event,
   * if earlier), when that is later than `from`. A plant first heard from ten minutes ago had ten
   * minutes, not seven days, in which to raise its alarms.
   */
  ratedFrom: string;
  /** Lifecycle events read (all kinds and priorities). */
  events: number;
  /** Annunciated alarms (raised or escalated, with a card). */
  alarms: number;
  per10Min: number;
  perDay: number;
  /** The busiest 10-minute period (aligned to the clock) and its alarms. */
  peak: { alarms: number; at: string | null };
  /** 10-minute periods with more than 10 alarms, of all the period's. */
  flood: { periods: number; of: number; share: number };
  /** Clock hours with more than 30 alarms, of all the period's. */
  busyHours: { hours: number; of: number; share: number };
  /** Alarms by priority. */
  priorities: { warning: number; critical: number };
  /** Raises and escalations recorded without a card: held back by flood suppression, shelved, low priority, or on readings that came late. */
  withheld: { flood: number; shelved: number; low: number; late: number };
  /** The sources of most alarms, with their share of all. */
  topSources: { deviceId: string; alarms: number; share: number }[];
  /** Equipment raised three or more times within a minute, and how often that happened. */
  chattering: { devices: string[]; episodes: number };
  /**
   * How people answered the period's alarms: of the incidents annunciated in it, how many were
   * acknowledged (at any time since) and how long after their first card, and how many cleared in
   * the period and how long after it. The standards set no target for these; a review reads them
   * beside the load (alarms left unacknowledged are alarms people stopped reading).
   */
  response: {
    incidents: number;
    acknowledged: number;
    ackSeconds: { median: number | null; p90: number | null };
    cleared: number;
    clearedMinutes: { median: number | null; p90: number | null };
  };
  /** Incidents at warning or above standing for more than 24 hours at the period's end: as its events tell (raised in it, not cleared) and, for a period ending now, as the twins tell (open now). */
  stale: { incidentId: string; deviceId: string; since: string }[];
  /** Against the standards' targets. */
  verdicts: {
    rate: 'acceptable' | 'manageable' | 'over';
    peak: 'ok' | 'over';
    flood: 'ok' | 'over';
    busyHours: 'ok' | 'over';
    chattering: 'ok' | 'over';
    stale: 'ok' | 'over';
  };
}

const isAlarm = (e: AlarmEventRecord) => e.notified === 'yes' && (e.event === 'raised' || e.event === 'escalated' || e.event === 'silent');
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * Alarms per clock-aligned period of `length` ms (by the period's number since the epoch), and how
 * many periods [from, to) touches, the first and last possibly partial (as a historian counts them).
 */
function perClockPeriod(alarms: readonly AlarmEventRecord[], from: number, to: number, length: number): { periods: number; counts: Map<number, number> } {
  const counts = new Map<number, number>();
  for (const a of alarms) {
    const p = Math.floor(a.time / length);
    counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  return { periods: Math.floor((to - 1) / length) - Math.floor(from / length) + 1, counts };
}

/** The median and 90th percentile of `values` (nearest rank, to a tenth), null when there are none. */
function medianAndP90(values: number[]): { median: number | null; p90: number | null } {
  values.sort((x, y) => x - y);
  const at = (q: number) => (values.length === 0 ? null : round(values[Math.max(0, Math.ceil(q * values.length) - 1)]!, 1));
  return { median: at(0.5), p90: at(0.9) };
}

/** Of the incidents annunciated in the period (alarms in time order): acknowledged and cleared, and how long after the first card. */
function responseTo(alarms: readonly AlarmEventRecord[], events: readonly AlarmEventRecord[]): AlarmPerformance['response'] {
  const firstCard = new Map<string, AlarmEventRecord>();
  for (const a of alarms) if (!firstCard.has(a.incidentId)) firstCard.set(a.incidentId, a);
  const ack: number[] = [];
  const clear: number[] = [];
  for (const a of firstCard.values()) {
    // Acknowledged before its card (from the dashboard, while it was a low record): answered at once.
    if (a.ackedAt !== undefined) ack.push(Math.max(0, a.ackedAt - a.time) / 1000);
  }
  const cleared = new Set<string>();
  for (const e of events) {
    const card = firstCard.get(e.incidentId);
    if (e.event !== 'cleared' || !card || e.time < card.time || cleared.has(e.incidentId)) continue;
    cleared.add(e.incidentId);
    clear.push((e.time - card.time) / 60_000);
  }
  return { incidents: firstCard.size, acknowledged: ack.length, ackSeconds: medianAndP90(ack), cleared: clear.length, clearedMinutes: medianAndP90(clear) };
}

/** An incident open now, as its equipment's twin holds it (alarmState). */
export interface StandingIncident {
  incidentId: string;
  deviceId: string;
  raisedAt: number;
  priority: string;
}

/**
 * The figures for [from, to) from its events (any order; those outside the period are ignored).
 * `standing`, for a period that ends now: the incidents open now, so that one raised before the
 * period and quiet since (no event in it) is counted stale too. `firstReading`: when the plant (or
 * the line) was first heard from in the period, if it was; the rates are over the time since, never
 * less than 10 minutes of it (one reading's alarm is not a rate).
 */
export function alarmPerformance(records: readonly AlarmEventRecord[], from: number, to: number, standing: readonly StandingIncident[] = [], firstReading?: number): AlarmPerformance {
  if (!(to > from)) throw new RangeError('the period must end after it begins');
  const events = records.filter((e) => e.time >= from && e.time < to).sort((a, b) => a.time - b.time);
  const alarms = events.filter(isAlarm);
  // A silence is raised without a reading: its event may come before the first one.
  const heardFrom = Math.min(firstReading ?? from, events[0]?.time ?? to);
  const ratedFrom = heardFrom > from && heardFrom < to ? heardFrom : from;
  const span = Math.max(to - ratedFrom, Math.min(TEN_MINUTES, to - from));

  const tenMinutes = perClockPeriod(alarms, ratedFrom, to, TEN_MINUTES);
  const periods = tenMinutes.periods;
  let peak = { alarms: 0, at: null as string | null };
  let floodPeriods = 0;
  for (const [p, n] of tenMinutes.counts) {
    // Alarms are in time order, so the periods are too: the first of equally busy ones is the peak.
    if (n > peak.alarms) peak = { alarms: n, at: new Date(p * TEN_MINUTES).toISOString() };
    if (n > FLOOD_ALARMS) floodPeriods++;
  }
  const perHour = perClockPeriod(alarms, ratedFrom, to, HOUR);
  const hours = perHour.periods;
  let busyHours = 0;
  for (const n of perHour.counts.values()) if (n > BUSY_HOUR_ALARMS) busyHours++;

  const bySource = new Map<string, number>();
  for (const a of alarms) bySource.set(a.deviceId, (bySource.get(a.deviceId) ?? 0) + 1);
  const topSources = [...bySource]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, TOP_SOURCES)
    .map(([deviceId, n]) => ({ deviceId, alarms: n, share: round(n / alarms.length) }));

  // Chattering: a third raise of the same equipment within a minute of the first of three.
  const raises = new Map<string, number[]>();
  for (const a of alarms) if (a.event === 'raised') (raises.get(a.deviceId) ?? raises.set(a.deviceId, []).get(a.deviceId)!).push(a.time);
  const chattering = new Set<string>();
  let episodes = 0;
  for (const [deviceId, times] of raises) {
    for (let i = CHATTER_RAISES - 1; i < times.length; i++) {
      if (times[i]! - times[i - CHATTER_RAISES + 1]! <= CHATTER_MS) {
        chattering.add(deviceId);
        episodes++;
        i += CHATTER_RAISES - 1; // the next episode needs three more raises
      }
    }
  }

  // Stale: open at the end (its last event not a clear), at warning or above, raised more than 24 h before the end.
  const incidents = new Map<string, { deviceId: string; first: number; open: boolean; high: boolean }>();
  for (const e of events) {
    const seen = incidents.get(e.incidentId);
    const open = e.event !== 'cleared';
    const high = open && (e.priority === 'warning' || e.priority === 'critical');
    if (seen) {
      seen.open = open;
      seen.high ||= high;
    } else incidents.set(e.incidentId, { deviceId: e.deviceId, first: e.time, open, high });
  }
  // What the twins say is open now: raised before the period (its raise then not among the events), or quiet in it.
  for (const s of standing) {
    const seen = incidents.get(s.incidentId);
    const high = s.priority === 'warning' || s.priority === 'critical';
    if (!seen) incidents.set(s.incidentId, { deviceId: s.deviceId, first: s.raisedAt, open: true, high });
    else if (seen.open) {
      seen.first = Math.min(seen.first, s.raisedAt);
      seen.high ||= high;
    }
  }
  const stale = [...incidents]
    .filter(([, i]) => i.high && i.open && to - i.first > STALE_MS)
    .map(([incidentId, i]) => ({ incidentId, deviceId: i.deviceId, since: new Date(i.first).toISOString() }));

  const withheld = { flood: 0, shelved: 0, low: 0, late: 0 };
  for (const e of events) {
    if (e.event === 'cleared' || e.notified === 'yes') continue;
    if (e.notified === 'flood') withheld.flood++;
    else if (e.notified === 'shelved') withheld.shelved++;
    else if (e.notified === 'low') withheld.low++;
    else if (e.notified === 'late') withheld.late++;
  }

  const per10Min = alarms.length / (span / TEN_MINUTES);
  return {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    ratedFrom: new Date(ratedFrom).toISOString(),
    events: events.length,
    alarms: alarms.length,
    per10Min: round(per10Min),
    perDay: round(alarms.length / (span / DAY), 1),
    peak,
    flood: { periods: floodPeriods, of: periods, share: round(floodPeriods / periods, 4) },
    busyHours: { hours: busyHours, of: hours, share: round(busyHours / hours, 4) },
    priorities: { warning: alarms.filter((a) => a.priority === 'warning').length, critical: alarms.filter((a) => a.priority === 'critical').length },
    withheld,
    topSources,
    chattering: { devices: [...chattering].sort(), episodes },
    response: responseTo(alarms, events),
    stale,
    verdicts: {
      rate: per10Min <= TARGETS.acceptablePer10Min ? 'acceptable' : per10Min <= TARGETS.manageablePer10Min ? 'manageable' : 'over',
      peak: peak.alarms <= TARGETS.max10Min ? 'ok' : 'over',
      flood: floodPeriods / periods < TARGETS.floodShare ? 'ok' : 'over',
      busyHours: busyHours / hours < TARGETS.busyHourShare ? 'ok' : 'over',
      chattering: episodes <= TARGETS.chattering ? 'ok' : 'over',
      stale: stale.length < TARGETS.staleBelow ? 'ok' : 'over',
    },
  };
}
