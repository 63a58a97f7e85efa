/**
 * Alarm management as ISA-18.2 and EEMUA 191 describe it: an alarm is an incident with a
 * lifecycle, not a message per reading.
 *
 *   raised ──(priority rises)──▶ escalated ──(evidence below the deadband for the off-delay)──▶ cleared
 *      ▲                                                                                        │
 *      └───────────── the same condition back within `reopenMs`: the same incident reopens ◀────┘
 *
 * - Priority follows evidence. One unusual reading is recorded (AnomalyFlags, the dashboard) as
 *   `low` and notifies nobody. `warning` needs sustained evidence (`sustainReadings` unusual
 *   readings in a row: the on-delay, outside the normal operating band and a raised failure
 *   probability included) or drift toward a failure limit. `critical` needs a sustained reading
 *   near the hard limit or a sustained high failure probability, sustained evidence on several
 *   sensors at once, strong drift, or the controller reporting a fault; an automated stop makes
 *   its incident critical at once (`raiseForStop`).
 * - Clearing has a deadband and an off-delay: the evidence must stay below `clearLevel` for
 *   `offDelayReadings` readings and `offDelayMs`, so a noisy signal near the threshold cannot
 *   chatter; a condition that comes back within `reopenMs` of a notified incident's clearing
 *   reopens that incident rather than raising a new one.
 * - Notifications: one card when an incident is raised (warning or critical), one when it
 *   escalates to critical, one when its equipment falls silent, one when it clears; none while an operator has the equipment shelved
 *   (the twin's `shelvedUntil`: recorded as usual, nobody told).
 *   Per production line at most `floodLimit` new incidents notify within `floodWindowMs` (flood
 *   suppression); the rest are still recorded.
 * - A sensor that stops measuring (its readings state its value as null) for `blindAfterMs` is
 *   a diagnostic alarm (ISA-18.2's instrument malfunction) at `warning`: until it measures again
 *   the machine is not watched on it. It holds the equipment's incident open as other evidence
 *   does; a reading that measured nothing at all neither raises nor clears anything else.
 * - Equipment in service that has sent nothing at all for `silentAfterMs` (a gateway, its network
 *   or its power lost) is a communication-loss alarm at `warning`, raised by a sweep, not by a
 *   reading (`raiseForSilence`): nothing watches the machine meanwhile. Readings that come again
 *   clear it as any incident clears, on their evidence; its line set stopped, in changeover or in
 *   maintenance clears it without them (`clearAtRest`). Equipment whose incident stands at warning
 *   or above when it falls silent keeps that incident, which records the silence once
 *   (`fallSilent`, a `silent` step told to those told of the incident).
 * - Alarms are about the equipment now. A step taken on readings that reached us late (`late`: a
 *   backlog after the function was down or held up, say) is recorded and told to nobody; an
 *   incident that still stands when readings come in time again is told then, once, as standing
 *   since it was raised. One raised and over within a backlog stays a record: a card telling the
 *   channel to stop a machine that recovered hours ago is noise.
 *
 * The per-equipment state is a small JSON value kept on the twin (`alarmState`), so any instance
 * continues the incident. The flood window is this instance's own unless the caller hands over
 * the verdicts of a window all instances share (`admitted`: see `ClaimWindowPort`).
 */
import type { Thresholds } from '../twins/twin-update.ts';
import { defineOwn } from '../own-properties.ts';
import type { Detection, DetectionKind } from '../anomaly/streaming-detector.ts';

export type AlarmPriority = 'low' | 'warning' | 'critical';

/** How long a machine's silence must last to be an alarm, counted from `countsFrom` (or its last reading). */
export interface SilenceContext {
  /** Its own delay: taken when longer than the plant's (a slow reporter), or whatever it is when `offNetwork`. */
  delayMs?: number;
  countsFrom?: number | undefined;
  /** IoT Hub's connection events say its device disconnected: nothing can come before it reconnects. */
  offNetwork?: boolean | undefined;
}
/** `silent`: the equipment of an open incident sent nothing past its delay (told once an incident, its priority unchanged). */
export type AlarmEventKind = 'raised' | 'escalated' | 'silent' | 'cleared';

export interface AlarmSettings {
  thresholds: Thresholds;
  /** Readings in a row with evidence at the warning level that make a condition sustained. */
  sustainReadings: number;
  /** Evidence must fall below this (under the warning threshold: the deadband) to count as clear. */
  clearLevel: number;
  offDelayReadings: number;
  offDelayMs: number;
  /** A condition back within this long after its incident cleared reopens that incident. */
  reopenMs: number;
  floodLimit: number;
  floodWindowMs: number;
  /** A reading handled this long after the hub received it is late: what it raises is recorded, and told only if it still stands on readings in time. */
  lateMs: number;
  /** A sensor stated not measured for this long raises a diagnostic alarm (warning). */
  blindAfterMs: number;
  /** Equipment in service that has sent nothing for this long raises a communication-loss alarm (warning). */
  silentAfterMs: number;
}

export const DEFAULT_ALARM_SETTINGS: Readonly<Omit<AlarmSettings, 'thresholds'>> = Object.freeze({
  sustainReadings: 5,
  clearLevel: 0.35,
  offDelayReadings: 10,
  offDelayMs: 60_000,
  reopenMs: 10 * 60_000,
  floodLimit: 3,
  floodWindowMs: 10 * 60_000,
  lateMs: 10 * 60_000,
  // Longer than a read that timed out once or a gateway's restart; short enough that a machine is
  // not left unwatched on a sensor for a shift without anyone told.
  blindAfterMs: 5 * 60_000,
  // Twice the diagnostic's delay: a probe's death is told in its readings, a silence only by the
  // sweep's clock against the last patch of the twin, which may trail the last reading by a patch
  // interval and a sweep.
  silentAfterMs: 10 * 60_000,
});

/** The sensors of an equipment its readings state as not measured (null), as of one reading: the longest since `since`. */
export interface Blindness {
  sensors: readonly string[];
  since: number;
  /** The reading measured nothing at all: it neither raises nor clears anything but this. */
  measuredNothing: boolean;
}

/** What the lifecycle reads of one scored reading. */
export interface AlarmEvidence {
  time: number;
  /** The detector's unsuppressed evidence now (0..1, warning at the warning threshold). */
  evidence: number;
  /** The reading's anomaly score as stored (novelty once per episode, drift, envelope…). */
  anomalyScore: number;
  sustained: number;
  sensorsUnusual: number;
  driftScore: number;
  envelopeScore: number;
  failureProbability: number | undefined;
  fault: boolean;
  /** What the detector saw (a drift, sensors apart, a stuck sensor…): for the people told, not read by the lifecycle. */
  kind?: DetectionKind;
}

/** The incident state of one equipment (stored on its twin as JSON; short keys). */
export interface AlarmState {
  /** Open incident: id, current and highest priority, highest priority notified, raised at. */
  id?: string;
  p?: AlarmPriority;
  n?: AlarmPriority;
  r?: number;
  /** Set while the open incident is one that had cleared moments before. */
  o?: 1;
  /** Set while the open incident stands at a priority nobody was told of because its readings came late. */
  l?: 1;
  /** Quiet since (time) and quiet readings, while an open incident's evidence is below the deadband. */
  q?: number;
  qn?: number;
  /** Last cleared incident that was notified: id and when. */
  ci?: string;
  c?: number;
  /** Sensors stated not measured (null) and since when (reading time), until they measure again. */
  b?: Record<string, number>;
  /** The open incident's equipment fell silent (heard from last at this time) and that was recorded: once an incident. */
  s?: number;
}

export interface AlarmEvent {
  kind: AlarmEventKind;
  incidentId: string;
  priority: AlarmPriority;
  time: number;
  /** Whether people are told (a Teams card). */
  notify: boolean;
  /** Why not, when not: shelved, flood suppression, below what needs telling (low priority, or told already), or its readings came late. */
  quiet?: 'shelved' | 'flood' | 'low' | 'late';
  /** A raise of an incident that had cleared moments before (same id). */
  reopened?: boolean;
  /**
   * An escalation of an incident nobody was told of yet (its raise was held back by flood
   * suppression): to those told, it is new.
   */
  firstNotice?: true;
  /** A step held back because its readings came late, told now that a reading in time shows the incident still stands (it was raised at the state's `r`). */
  delayed?: true;
  /** A step taken because sensors stopped measuring (a diagnostic alarm): which, and since when. */
  blind?: { sensors: readonly string[]; since: number };
  /** A step taken because the equipment sent nothing at all (a communication-loss alarm): heard from last when. */
  silent?: { since: number };
  /** When its incident was raised (the state's `r` as the step was taken: a clear's card says it, the state no longer does). */
  raisedAt?: number;
  /**
   * A card of an automatic stop alone: the incident was told as critical already, so the stop is
   * no lifecycle step (no AlarmEvents row, not an alarm) and its card says what the stop did.
   */
  stopOnly?: true;
  /** Index of the reading that caused it, in the evaluated list (-1: no reading did, see `silent` and `stopOnly`). */
  index: number;
}

/** What an AlarmEvents row's `Notified` says of an event: `yes` (a card went), or why nobody was told (shelved, flood, low). */
export const notifiedOf = (e: Pick<AlarmEvent, 'notify' | 'quiet'>): string => (e.notify ? 'yes' : (e.quiet ?? 'no'));

const RANK: Record<AlarmPriority, number> = { low: 1, warning: 2, critical: 3 };

export function reviveAlarmState(json: string | undefined): AlarmState {
  if (!json) return {};
  try {
    const v = JSON.parse(json) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
    const o = v as Record<string, unknown>;
    const out: AlarmState = {};
    const pr = (x: unknown) => (x === 'low' || x === 'warning' || x === 'critical' ? x : undefined);
    const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);
    const str = (x: unknown) => (typeof x === 'string' && x.length <= 512 ? x : undefined);
    const set = <K extends keyof AlarmState>(k: K, x: AlarmState[K] | undefined) => {
      if (x !== undefined) out[k] = x;
    };
    set('id', str(o.id));
    set('p', pr(o.p));
    set('n', pr(o.n));
    set('r', num(o.r));
    set('q', num(o.q));
    set('qn', num(o.qn));
    if (o.o === 1) out.o = 1;
    if (o.l === 1) out.l = 1;
    set('ci', str(o.ci));
    set('c', num(o.c));
    set('s', num(o.s));
    const blind = blindOf(o.b);
    if (blind) out.b = blind;
    return out;
  } catch {
    return {};
  }
}

/** The not-measured sensors as stored: a small record of finite times under short own keys, anything else dropped. */
function blindOf(x: unknown): Record<string, number> | undefined {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return undefined;
  const out: Record<string, number> = {};
  let n = 0;
  for (const [name, since] of Object.entries(x)) {
    if (name.length > 64 || typeof since !== 'number' || !Number.isFinite(since) || ++n > 32) continue;
    defineOwn(out, name, since);
  }
  return n ? out : undefined;
}

export class AlarmLifecycle {
  readonly settings: AlarmSettings;
  /** Notified raises per line (times), for flood suppression. */
  private readonly floods = new Map<string, { id: string; time: number }[]>();

  constructor(settings: Pick<AlarmSettings, 'thresholds'> & Partial<AlarmSettings>) {
    this.settings = { ...DEFAULT_ALARM_SETTINGS, ...settings };
  }

  /** The priority one reading's evidence supports on its own. */
  priorityOf(e: AlarmEvidence): AlarmPriority | undefined {
    const { warning, critical } = this.settings.thresholds;
    // On-delay: a reading outside the envelope, far from normal or with a high failure
    // probability counts only once it persists (sensors glitch, and the failure model reads the
    // envelope of a single reading); drift is sustained by construction (a level over many readings).
    const sustained = e.sustained >= this.settings.sustainReadings;
    const p = e.failureProbability ?? 0;
    if (e.fault || e.driftScore >= critical || (sustained && (p >= critical || e.envelopeScore >= critical || (e.sensorsUnusual >= 2 && e.evidence >= critical)))) return 'critical';
    if (e.driftScore >= warning || (sustained && (p >= warning || e.evidence >= warning || e.envelopeScore >= warning))) return 'warning';
    if (e.evidence >= warning || e.anomalyScore >= warning) return 'low';
    return undefined;
  }

  /**
   * Runs the readings (oldest first) of one equipment through its incident state (mutated) and
   * returns what happened. `line` groups equipment for flood suppression; `idOf` names a new
   * incident after the reading that raised it; while `shelvedUntil` is ahead nobody is told.
   * `peek` asks what would happen without counting toward flood suppression; `admitted` gives the
   * verdict of a flood window shared with other instances on a new incident (undefined: this
   * instance's own window decides); `late` tells a reading that reached us `lateMs` or more after
   * the hub received it (asked only of a reading that would tell someone).
   */
  evaluate(state: AlarmState, readings: readonly AlarmEvidence[], context: { line: string; idOf: (index: number) => string; shelvedUntil?: number | undefined; peek?: boolean; admitted?: (incidentId: string) => boolean | undefined; late?: (index: number) => boolean; blind?: (index: number) => Blindness | undefined }): AlarmEvent[] {
    const cfg = this.settings;
    const events: AlarmEvent[] = [];
    for (let i = 0; i < readings.length; i++) {
      const e = readings[i]!;
      const blind = context.blind?.(i);
      let priority = this.priorityOf(e);
      // A sensor not measured for long is a diagnostic alarm: at least warning, never more on its own.
      const diagnostic = blind !== undefined && blind.sensors.length > 0 && e.time - blind.since >= cfg.blindAfterMs && (priority === undefined || priority === 'low');
      if (diagnostic) priority = 'warning';
      const shelved = context.shelvedUntil !== undefined && e.time < context.shelvedUntil;
      if (!state.id) {
        if (!priority) continue;
        this.open(state, e.time, context.idOf(i));
        if (priority === 'low') {
          state.p = 'low';
          events.push({ kind: 'raised', incidentId: state.id!, priority, time: e.time, notify: false, quiet: 'low', ...(state.o ? { reopened: true } : {}), raisedAt: state.r!, index: i });
        }
      }
      if (priority && priority !== 'low' && RANK[priority] > (state.p ? RANK[state.p] : 0)) {
        let quiet: AlarmEvent['quiet'];
        if (shelved) quiet = 'shelved';
        else if (state.n && RANK[state.n] >= RANK[priority]) quiet = 'low';
        else if (context.late?.(i)) quiet = 'late';
        else if (this.stepKind(state) === 'raised') {
          const id = this.idAfterStep(state, context.idOf(i));
          if (!this.mayNotify(context, id, e.time)) quiet = 'flood';
        }
        const step = this.stepUp(state, priority, e.time, i, context.idOf(i), quiet);
        if (diagnostic) step.blind = { sensors: blind.sensors, since: blind.since };
        events.push(step);
      } else if (state.l && priority && priority !== 'low' && !shelved && !context.late?.(i)) {
        // Raised (or made critical) on late readings and still standing on one in time: told now, once.
        events.push(this.tellStanding(state, e.time, i, context));
      }
      // Count down to clearing: below the deadband for the off-delay, in readings and in time. A
      // lone outlier (not sustained) does not hold the condition open, or noisy equipment would
      // never clear.
      if ((priority !== undefined && priority !== 'low') || (e.evidence >= cfg.clearLevel && e.sustained >= 2)) {
        delete state.q;
        delete state.qn;
        continue;
      }
      // Nothing measured says nothing of a return to normal.
      if (blind?.measuredNothing) continue;
      state.q ??= e.time;
      state.qn = (state.qn ?? 0) + 1;
      if (state.qn >= cfg.offDelayReadings && e.time - state.q >= cfg.offDelayMs) events.push(this.clear(state, e.time, i, shelved));
    }
    return events;
  }

  /**
   * The open incident of equipment that is expected quiet now (its production line stopped, in
   * changeover or in maintenance) and has sent nothing past its silence delay clears at `time`:
   * designed suppression by the line's state, as a machine reporting itself in maintenance clears
   * its own. Nothing it sent can clear it, since it sends nothing. Undefined when no incident is open.
   */
  clearAtRest(state: AlarmState, time: number, shelvedUntil: number | undefined): AlarmEvent | undefined {
    if (!state.id) return undefined;
    const at = Math.max(time, state.r ?? time);
    return this.clear(state, at, -1, shelvedUntil !== undefined && at < shelvedUntil);
  }

  /** The open incident clears at `time` (reading `index`): those who were told it began are told it ended, unless it is shelved. */
  private clear(state: AlarmState, time: number, index: number, shelved: boolean): AlarmEvent {
    const notify = state.n !== undefined && !shelved;
    const event: AlarmEvent = { kind: 'cleared', incidentId: state.id!, priority: state.p ?? 'low', time, notify, ...(notify ? {} : { quiet: shelved ? 'shelved' : 'low' }), ...(state.r !== undefined ? { raisedAt: state.r } : {}), index };
    // Only an incident someone was told of reopens: to an operator, a condition after one that
    // was only recorded is new.
    if (state.n !== undefined) {
      state.ci = state.id;
      state.c = time;
    }
    for (const k of ['id', 'p', 'n', 'r', 'q', 'qn', 'o', 'l', 's'] as const) delete state[k];
    return event;
  }

  /**
   * An automated stop (sent, or decided and refused by the rate limit) makes the equipment's
   * incident critical at the stop's reading, `index` in the evaluated list (`id`: what a new
   * incident raised by that reading is called). The stop confirms on
   * fewer readings than the alarm's on-delay, so a sudden failure may be stopped before the
   * evidence alone raises anything: the stop then raises (or escalates) the incident, and the
   * readings after it continue that incident rather than raising another. People are told whatever
   * shelving or the flood window say: a machine was stopped (an incident critical already but held
   * back by either is told now, so its clearing is told too). Undefined when people were told of it
   * as critical already (the caller's card of the stop tells them of the stop).
   */
  raiseForStop(state: AlarmState, time: number, index: number, id: string): AlarmEvent | undefined {
    if (state.p === 'critical' && state.n === 'critical') return undefined;
    if (!state.id) this.open(state, time, id);
    delete state.q;
    delete state.qn;
    return this.stepUp(state, 'critical', time, index, id, undefined);
  }

  /**
   * Equipment in service last heard from at `since` and silent at `time`: once `silentAfterMs` (or the
   * machine's own `delayMs`, when it reports more slowly, or when `offNetwork`) have passed, its incident is raised (or
   * escalated) to warning, at `since` plus that delay, the moment
   * the silence became an alarm, so a sweep run again after a failure names it and its card alike.
   * `id` names a new incident. Undefined when the silence is shorter, or the open incident stands
   * at warning or above already (nobody needs telling twice that the machine is not watched).
   */
  raiseForSilence(state: AlarmState, time: number, since: number, context: SilenceContext & { line: string; id: string; shelvedUntil?: number | undefined; admitted?: (incidentId: string) => boolean | undefined }): AlarmEvent | undefined {
    const at = this.silentAt(since, context);
    if (time < at || (state.p !== undefined && state.p !== 'low')) return undefined;
    if (!state.id) this.open(state, at, context.id);
    // The silence holds the incident open: no quiet readings are counting toward its clearing.
    delete state.q;
    delete state.qn;
    let quiet: AlarmEvent['quiet'];
    if (context.shelvedUntil !== undefined && at < context.shelvedUntil) quiet = 'shelved';
    else if (this.stepKind(state) === 'raised' && !this.mayNotify(context, this.idAfterStep(state, context.id), at)) quiet = 'flood';
    const step = this.stepUp(state, 'warning', at, -1, context.id, quiet);
    step.silent = { since };
    // The incident is about this silence: it is not told again as one its equipment fell into.
    state.s = since;
    return step;
  }

  /**
   * Equipment whose incident stands at warning or above (raised on its readings) and that has sent
   * nothing since `since`, past its delay as `raiseForSilence` counts it: the incident is not
   * raised again, but people told of it learn that nothing watches the machine now (a degrading
   * machine gone quiet may have failed, or its controller with it). Recorded, and told unless
   * shelved, once an incident, at its priority; undefined when the silence is shorter, no incident
   * stands at warning or above, or this incident's silence was recorded already (or raised it).
   */
  fallSilent(state: AlarmState, time: number, since: number, context: SilenceContext & { shelvedUntil?: number | undefined; silenceId?: string }): AlarmEvent | undefined {
    const at = this.silentAt(since, context);
    if (time < at || !state.id || (state.p !== 'warning' && state.p !== 'critical') || state.s !== undefined) return undefined;
    state.s = since;
    // An incident raised for this very silence by a version that did not record `s`.
    if (state.id === context.silenceId) return undefined;
    const shelved = context.shelvedUntil !== undefined && at < context.shelvedUntil;
    // Told only to those told of the incident: one held back (flood, late readings) stays a record.
    const notify = !shelved && state.n !== undefined;
    return { kind: 'silent', incidentId: state.id, priority: state.p, time: at, notify, ...(notify ? {} : { quiet: shelved ? 'shelved' : 'low' }), silent: { since }, ...(state.r !== undefined ? { raisedAt: state.r } : {}), index: -1 };
  }

  /** When a silence since `since` became an alarm: it counts from its start, or from the working period's when that began later (the plant was off before it). */
  private silentAt(since: number, context: SilenceContext): number {
    // Its device seen to disconnect (IoT Hub's events), a machine's own delay stands even when shorter than the plant's.
    const delay = context.offNetwork && context.delayMs !== undefined ? context.delayMs : Math.max(this.settings.silentAfterMs, context.delayMs ?? 0);
    return Math.max(since, context.countsFrom ?? since) + delay;
  }

  /** Opens an incident: the one that cleared moments before when the condition is back soon, else a new one. */
  private open(state: AlarmState, time: number, id: string): void {
    const reopened = state.ci !== undefined && state.c !== undefined && time - state.c < this.settings.reopenMs;
    state.id = reopened ? state.ci! : id;
    if (reopened) state.o = 1;
    else delete state.o;
    state.r = time;
    delete state.p;
    delete state.n;
    delete state.l;
    delete state.s;
  }

  /**
   * The open incident's step that late readings held back, told at reading `index` (in time): its
   * raise when nobody was told of it at all (a new incident to the line, so the flood window has
   * its say), else its escalation.
   */
  private tellStanding(state: AlarmState, time: number, index: number, context: { line: string; peek?: boolean; admitted?: (incidentId: string) => boolean | undefined }): AlarmEvent {
    const kind: AlarmEventKind = state.n === undefined ? 'raised' : 'escalated';
    const id = state.id!;
    const quiet = kind === 'raised' && !this.mayNotify(context, id, time) ? 'flood' : undefined;
    delete state.l;
    if (!quiet) state.n = state.p;
    return { kind, incidentId: id, priority: state.p!, time, notify: !quiet, ...(quiet ? { quiet } : {}), ...(state.o ? { reopened: true } : {}), delayed: true, ...(state.r !== undefined ? { raisedAt: state.r } : {}), index };
  }

  /** Whether a new incident may notify: the shared window's verdict when the caller has one, else this instance's own window. */
  private mayNotify(context: { line: string; peek?: boolean; admitted?: (incidentId: string) => boolean | undefined }, id: string, time: number): boolean {
    return context.admitted?.(id) ?? this.admit(context.line, time, id, context.peek);
  }

  /** The incident's first step to warning or above is its raise (one that began as a lone outlier included); later steps up are escalations. */
  private stepKind(state: AlarmState): AlarmEventKind {
    return state.p && state.p !== 'low' ? 'escalated' : 'raised';
  }

  /** A condition that follows lone outliers is an incident of its own, raised under a new id (a reopened one keeps its id). */
  private idAfterStep(state: AlarmState, id: string): string {
    return this.stepKind(state) === 'raised' && state.p === 'low' && !state.o ? id : state.id!;
  }

  /** The open incident's priority rises to `priority` at reading `index`; `quiet` says why nobody is told, if nobody is. */
  private stepUp(state: AlarmState, priority: 'warning' | 'critical', time: number, index: number, id: string, quiet: AlarmEvent['quiet']): AlarmEvent {
    const kind = this.stepKind(state);
    const stepId = this.idAfterStep(state, id);
    if (stepId !== state.id) {
      state.id = stepId;
      state.r = time;
    }
    state.p = priority;
    const firstNotice = !quiet && kind === 'escalated' && state.n === undefined;
    if (!quiet) {
      state.n = priority;
      delete state.l;
    } else if (quiet === 'late') state.l = 1;
    return { kind, incidentId: state.id, priority, time, notify: !quiet, ...(quiet ? { quiet } : {}), ...(state.o ? { reopened: true } : {}), ...(firstNotice ? { firstNotice } : {}), ...(state.r !== undefined ? { raisedAt: state.r } : {}), index };
  }

  /**
   * Flood suppression: at most `floodLimit` notified raises per line per window (reading time). By
   * incident, as the shared window claims: a host retry of a batch raises the same incident again
   * and keeps its place, rather than taking a second one (and then being refused its own).
   */
  private admit(line: string, now: number, id: string, peek = false): boolean {
    const cfg = this.settings;
    let raises = this.floods.get(line);
    if (!raises) this.floods.set(line, (raises = []));
    while (raises.length && raises[0]!.time <= now - cfg.floodWindowMs) raises.shift();
    if (raises.some((r) => r.id === id)) return true;
    if (raises.length >= cfg.floodLimit) return false;
    if (!peek) raises.push({ id, time: now });
    return true;
  }
}

/** Statuses that say the equipment is out of service, measured or not: its incident clears with them, as designed suppression has it. */
export const OUT_OF_SERVICE: ReadonlySet<string> = new Set(['stopped', 'idle', 'maintenance']);

/**
 * Whether a reading takes part in the lifecycle. One that measures nothing and scores nothing (a
 * status heartbeat, `emergencyStopped` after a stop, a counter) neither raises an incident nor
 * counts toward clearing one: an incident returns to normal on measurements, so a stopped machine
 * that only reports its status keeps its incident until its readings are normal again. A reported
 * fault and a status that takes the equipment out of service still count.
 */
export function bearsOnAlarms(e: AlarmEvidence, measuredSomething: boolean, status: string | undefined): boolean {
  return measuredSomething || e.anomalyScore > 0 || e.fault || (status !== undefined && OUT_OF_SERVICE.has(status));
}

/** What the lifecycle reads of a detection: the detection itself, with the failure model's probability when there is one. */
export function alarmEvidence(d: Detection, failureProbability: number | undefined): AlarmEvidence {
  d.failureProbability = failureProbability;
  return d;
}
