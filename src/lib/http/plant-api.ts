/**
 * The dashboard's half of the HTTP API: the plant graph with health, an equipment's history
 * (range, bucket, aggregates), alerts and their acknowledgement, the models in use. Like
 * twin-api.ts it is runtime-independent; inputs are checked with zod, errors leave as problem+json.
 */
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { unitSymbols } from '../telemetry/units.ts';
import type { Logger } from '../log.ts';
import type { RedeliveryResult } from '../batch-redelivery.ts';
import type { ReadmissionOptions, ReadmissionResult } from '../refused-readings.ts';
import type { AlertOutboxPort, BatchDeadLetterPort, KeptBatchSummary, TelemetryPoint, TelemetryReadPort, TwinsPort } from '../ports.ts';
import type { ApiRequest } from './twin-api.ts';
import { guardedBy, json, parse, readJson, twinId } from './request.ts';
import { adtString } from '../twins/query-text.ts';
import { CONDITIONS, DEVICE_LINKS, driversOf } from '../alerts/conditions.ts';
import { dict } from '../own-properties.ts';
import { alarmPerformance, TARGETS, type StandingIncident } from '../alerts/alarm-performance.ts';
import { reviveAlarmState } from '../alerts/alarm-lifecycle.ts';
import { delayAfterMissed, usualIntervalMs } from '../alerts/communication-watch.ts';
import type { WorkingHours } from '../plant/working-hours.ts';
import { LINE_MODEL, LINE_STATUSES, lineStatusOf } from '../plant/line-status.ts';
import { modelOf } from '../plant/plant.ts';
import { heardAt } from '../twins/twin-metadata.ts';

/** The plant's working hours as the plant lists them: the hours, their zone, the days closed, whether it works now and, if so, since when. */
function workingHoursNow(hours: WorkingHours, at: number): { hours: string; timeZone: string; holidays?: string; working: boolean; since?: string } {
  const since = hours.periodStart(at);
  return { hours: hours.text, timeZone: hours.timeZone, ...(hours.holidays ? { holidays: hours.holidays } : {}), working: since !== undefined, ...(since !== undefined && Number.isFinite(since) ? { since: new Date(since).toISOString() } : {}) };
}

export interface PlantApiDeps {
  twins: TwinsPort;
  store: TelemetryReadPort;
  logger: Logger;
  maxBodyBytes: number;
  maxPageSize: number;
  warningThreshold: number;
  /** How long a machine in service may send nothing before it is a communication-loss alarm: the dashboard calls it silent from then on. */
  silentAfterMs?: number;
  /** How long a machine whose device IoT Hub saw disconnect may send nothing before it is that alarm (the communication watch's `recentMs`): listed with such a machine. */
  offNetworkAfterMs?: number;
  /** The plant's working hours (PLANT_WORKING_HOURS): off shift, a machine that sends nothing is expected quiet, and on shift its silence counts from the shift's start. */
  workingHours?: WorkingHours | undefined;
  /** Lines that keep their own working hours (LINE_WORKING_HOURS), by twin id: listed with each. */
  lineHours?: ReadonlyMap<string, WorkingHours> | undefined;
  /** The measured telemetry (not counters) of a twin model, for the charts. */
  measuredOf?: (modelId: string) => readonly string[] | undefined;
  /** A twin model's telemetry units as its DTDL names them (degreeCelsius, bar…), for labels. */
  unitsOf?: (modelId: string) => Readonly<Record<string, string | undefined>> | undefined;
  /** Where the telemetry trigger keeps the batches it could not handle (undefined: no storage account, nothing is kept). */
  keptBatches?: Pick<BatchDeadLetterPort, 'summaries'>;
  /** One redelivery round now (what the batchRedelivery timer runs every 5 minutes). */
  redeliver?: () => Promise<RedeliveryResult>;
  /** Where the pipeline keeps refused events whole (undefined: no storage account, only their excerpts). */
  refusedKept?: Pick<BatchDeadLetterPort, 'summaries'>;
  /** One readmission round: the kept refused events through the pipeline again. */
  readmit?: (options: ReadmissionOptions) => Promise<ReadmissionResult>;
  /** Where alert cards wait while Teams does not take them (undefined: no storage account, nothing waits). */
  alertOutbox?: Pick<AlertOutboxPort, 'waiting'>;
  now?: () => number;
}

/** Alert cards waiting for Teams: how many, since when and why, or null with why when storage cannot be read. */
async function undeliveredOf(outbox: Pick<AlertOutboxPort, 'waiting'> | undefined) {
  if (!outbox) return { keeping: false, waiting: 0, oldest: null, error: null };
  try {
    const waiting = await outbox.waiting();
    return { keeping: true, waiting: waiting.length, oldest: waiting[0]?.keptAt ?? null, error: waiting[0]?.error ?? null };
  } catch (error) {
    if (!(error instanceof AppError) || error.code !== 'alerts.outboxUnreachable') throw error;
    return { keeping: true, waiting: null, oldest: null, error: null, detail: error.message };
  }
}

/** Kept batches counted at most (a listing page of the container is 5,000). */
export const KEPT_BATCHES_COUNTED = 10_000;

/** Counts kept batches from their listing (up to KEPT_BATCHES_COUNTED) and describes the first `limit`. */
export async function tally(kept: Pick<BatchDeadLetterPort, 'summaries'>, limit: number) {
  const items: ReturnType<typeof keptItem>[] = [];
  let batches = 0;
  let events = 0;
  let oldest: string | undefined;
  for await (const summary of kept.summaries()) {
    if (batches >= KEPT_BATCHES_COUNTED) break;
    batches++;
    events += summary.events ?? 0;
    const since = summary.failedAt ?? summary.keptAt;
    if (since !== undefined && (oldest === undefined || since < oldest)) oldest = since;
    if (items.length < limit) items.push(keptItem(summary));
  }
  return { batches, events, oldest, items };
}

/** How many refused readings are kept whole: counts, or null with why when storage cannot be read. */
async function keptWholeOf(kept: Pick<BatchDeadLetterPort, 'summaries'> | undefined) {
  if (!kept) return { keeping: false, batches: 0, events: 0, counted: true };
  try {
    const { batches, events } = await tally(kept, 0);
    return { keeping: true, batches, events, counted: batches < KEPT_BATCHES_COUNTED };
  } catch (error) {
    if (!(error instanceof AppError) || error.code !== 'deadLetters.unreachable') throw error;
    return { keeping: true, batches: null, events: null, counted: false, detail: error.message };
  }
}

const FACTORY = modelOf('Factory');
/** Twin properties that are the pipeline's bookkeeping, not something to show. */
const INTERNAL = new Set(['detectorState', 'alarmState']);
const MAX_RANGE_MS = 31 * 86_400_000;
const MAX_POINTS = 5_000;
const BUCKETS: Record<string, number> = { '10s': 10_000, '1m': 60_000, '5m': 300_000, '15m': 900_000, '1h': 3_600_000, '1d': 86_400_000 };

const isoTime = (what: string) => z.iso.datetime({ offset: true, message: `${what} must be an ISO 8601 time` }).transform((s) => Date.parse(s));
export const historyQuery = z.object({
  from: isoTime('from').optional(),
  to: isoTime('to').optional(),
  bucket: z.enum(['raw', 'auto', ...Object.keys(BUCKETS)] as [string, ...string[]]).default('auto'),
});
/** `?since&limit` of the listings (alerts, refused readings); `?limit` of the kept batches. */
export const sinceQuery = z.object({
  since: isoTime('since').optional(),
  limit: z.coerce.number().int().min(1).optional(),
});
export const limitQuery = sinceQuery.pick({ limit: true });
/** `?from&to` of the alarm performance figures (default: the 7 days to now). */
export const periodQuery = z.object({ from: isoTime('from').optional(), to: isoTime('to').optional() });
/** The alarm performance's `?from&to&line`: one production line's figures, or the plant's. */
export const performanceQuery = periodQuery.extend({ line: twinId.optional() });
/** A period ending this close to now (a browser's clock may be off) ends now: what stands now is read from the twins. */
const CLOCK_SLACK_MS = 5 * 60_000;
/** Lifecycle events read for one period's figures at most: far beyond a month at the standards' worst (300 alarms a day). */
export const MAX_ALARM_EVENTS = 100_000;
/** `all=true`: the kept batches refused for what the message itself is are tried too. */
export const readmitQuery = z.object({
  all: z.enum(['true', 'false'], { message: 'all must be true or false' }).default('false').transform((v) => v === 'true'),
});
export const ackBody = z.strictObject({
  by: z.string().trim().min(1, 'who acknowledges').max(100),
  note: z.string().max(500).default(''),
});

/** Shelving (ISA-18.2): notifications off for a while, by someone, for a reason; 0 minutes unshelves. */
export const shelveBody = z.strictObject({
  by: z.string().trim().min(1, 'who shelves').max(100),
  minutes: z.number().int().min(0).max(7 * 24 * 60),
  reason: z.string().max(500).default(''),
});

/**
 * A line's status, set by whoever runs it: stopped, in changeover or in maintenance, its machines'
 * silence is expected (ISA-18.2's designed suppression by the line's state); who set it and why go to the log.
 */
export const lineStatusBody = z.strictObject({
  status: z.enum(LINE_STATUSES, { message: `one of ${LINE_STATUSES.join(', ')}` }),
  by: z.string().trim().min(1, 'who sets it').max(100),
  reason: z.string().max(500).default(''),
});

function queryParams(req: ApiRequest): Record<string, string> {
  return Object.fromEntries(new URL(req.url).searchParams);
}

const publicTwin = (twin: Record<string, unknown>) => Object.fromEntries(Object.entries(twin).filter(([k]) => !INTERNAL.has(k)));

export interface HistoryBucket {
  t: string;
  /** Per numeric reading: average, minimum and maximum in the bucket (raw points: the value in all three). */
  values: Record<string, { avg: number; min: number; max: number }>;
  anomalyScore: number;
  failureProbability: number | null;
  /** Readings in the bucket at or above the warning threshold. */
  anomalies: number;
  count: number;
}

/** Aggregates points into buckets of `bucketMs` (0: one bucket per point). */
export function bucketize(points: readonly TelemetryPoint[], bucketMs: number, warning: number): HistoryBucket[] {
  const out: HistoryBucket[] = [];
  let current: (HistoryBucket & { start: number; sums: Record<string, number>; n: Record<string, number> }) | undefined;
  for (const p of points) {
    const time = Date.parse(p.time);
    const start = bucketMs > 0 ? Math.floor(time / bucketMs) * bucketMs : time;
    if (!current || current.start !== start || bucketMs === 0) {
      if (current) out.push(finish(current));
      // Dicts: a reading named `constructor` or `toString` is a key here, not what every object inherits.
      current = { start, t: new Date(start).toISOString(), values: dict(), anomalyScore: 0, failureProbability: null, anomalies: 0, count: 0, sums: dict(), n: dict() };
    }
    current.count++;
    current.anomalyScore = Math.max(current.anomalyScore, p.anomalyScore);
    if (p.failureProbability !== null) current.failureProbability = Math.max(current.failureProbability ?? 0, p.failureProbability);
    if (p.anomalyScore >= warning) current.anomalies++;
    for (const [name, v] of Object.entries(p.readings)) {
      if (typeof v !== 'number') continue;
      const agg = (current.values[name] ??= { avg: 0, min: v, max: v });
      agg.min = Math.min(agg.min, v);
      agg.max = Math.max(agg.max, v);
      current.sums[name] = (current.sums[name] ?? 0) + v;
      current.n[name] = (current.n[name] ?? 0) + 1;
    }
  }
  if (current) out.push(finish(current));
  return out;

  function finish(b: HistoryBucket & { start: number; sums: Record<string, number>; n: Record<string, number> }): HistoryBucket {
    for (const name of Object.keys(b.values)) b.values[name]!.avg = Math.round((b.sums[name]! / b.n[name]!) * 1e4) / 1e4;
    return { t: b.t, values: b.values, anomalyScore: b.anomalyScore, failureProbability: b.failureProbability, anomalies: b.anomalies, count: b.count };
  }
}

/** A kept batch as the API shows it: what its listing does not tell is null, not absent. */
function keptItem(s: KeptBatchSummary) {
  return {
    name: s.name,
    partitionId: s.partitionId ?? null,
    firstSequenceNumber: s.firstSequenceNumber ?? null,
    lastSequenceNumber: s.lastSequenceNumber ?? null,
    events: s.events ?? null,
    failedAt: s.failedAt ?? null,
    attempts: s.attempts ?? null,
    error: s.error ?? null,
    keptAt: s.keptAt ?? null,
    bytes: s.bytes ?? null,
  };
}

export function createPlantApi(deps: PlantApiDeps) {
  const now = deps.now ?? Date.now;
  const guarded = guardedBy(deps.logger);
  /** `?from&to` as asked, `to` defaulting to now and `from` to `span` before it; at most 31 days. */
  const periodOf = (q: { from?: number | undefined; to?: number | undefined }, span: number) => {
    const to = q.to ?? now();
    const from = q.from ?? to - span;
    if (from >= to) throw new AppError('request.invalid', 'from must be before to', { status: 400 });
    if (to - from > MAX_RANGE_MS) throw new AppError('request.invalid', `the range is over ${MAX_RANGE_MS / 86_400_000} days: ask for less`, { status: 400 });
    return { from, to };
  };
  /** A listing's page: 50 unless asked (or the page size limit, when lower), never over that limit. */
  const pageLimit = (asked: number | undefined) => {
    if (asked !== undefined && asked > deps.maxPageSize) throw new AppError('request.invalid', `limit is over the page size limit of ${deps.maxPageSize}`, { status: 400 });
    return asked ?? Math.min(50, deps.maxPageSize);
  };
  const queryAll = async (q: string) => {
    const items: Record<string, unknown>[] = [];
    let token: string | undefined;
    do {
      const page = await deps.twins.query(q, token);
      items.push(...page.items);
      token = page.continuationToken;
    } while (token);
    return items;
  };

  /**
   * A production line's equipment as the twin graph has it now: a line has its own operator's load
   * to judge (flood suppression is per line too). 404 for no such twin, 400 for a twin that is no line.
   */
  const lineEquipment = async (line: string): Promise<Set<string>> => {
    await lineTwin(line);
    const rows = await queryAll(`SELECT E FROM DIGITALTWINS L JOIN E RELATED L.contains WHERE L.$dtId = ${adtString(line)}`);
    return new Set(rows.map((r) => String((r.E as Record<string, unknown>).$dtId)));
  };

  /** A production line's twin: 404 for no such twin, 400 for a twin that is no line. */
  const lineTwin = async (line: string): Promise<Record<string, unknown>> => {
    const found = await queryAll(`SELECT L FROM DIGITALTWINS L WHERE L.$dtId = ${adtString(line)} AND IS_OF_MODEL(L, '${LINE_MODEL}')`);
    if (found.length === 0) {
      await deps.twins.getTwin(line); // 404 when there is no such twin
      throw new AppError('request.invalid', `'${line}' is not a production line`, { status: 400 });
    }
    return found[0]!.L as Record<string, unknown>;
  };

  /** The incidents open now, as the equipment twins hold them (alarmState). */
  const standingIncidents = async (): Promise<StandingIncident[]> => {
    const rows = await queryAll('SELECT T.$dtId, T.alarmState FROM DIGITALTWINS T WHERE IS_DEFINED(T.alarmState)');
    const out: StandingIncident[] = [];
    for (const row of rows) {
      const state = reviveAlarmState(typeof row.alarmState === 'string' ? row.alarmState : undefined);
      if (state.id !== undefined && state.p !== undefined && state.r !== undefined) out.push({ incidentId: state.id, deviceId: String(row.$dtId), raisedAt: state.r, priority: state.p });
    }
    return out;
  };

  /**
   * An equipment twin as the plant lists it: with when the service last heard from it (`heardAt`, as
   * the communication-loss alarm counts a silence); its own delay before it counts as silent, when it
   * reports more slowly than the plant's delay allows for; and, when IoT Hub's latest connection
   * event says its device disconnected, when, and the shorter delay the alarm then has.
   */
  const equipmentOf = (twin: Record<string, unknown>, disconnectedAt: number | undefined): Record<string, unknown> => {
    const base = deps.silentAfterMs;
    const listed = publicTwin(twin);
    const heard = heardAt(twin);
    if (heard !== undefined) listed.heardAt = new Date(heard).toISOString();
    // Its usual interval, read from its stored detector state once for both delays.
    const usualMs = usualIntervalMs(twin);
    if (base !== undefined) {
      const delayMs = delayAfterMissed(usualMs, base);
      if (delayMs > base) listed.silentAfterMs = delayMs;
    }
    if (disconnectedAt !== undefined) {
      listed.disconnectedAt = new Date(disconnectedAt).toISOString();
      if (deps.offNetworkAfterMs !== undefined) listed.offNetworkAfterMs = delayAfterMissed(usualMs, deps.offNetworkAfterMs);
    }
    return listed;
  };

  /** The devices IoT Hub's latest connection events say are disconnected, and since when (one read); none when the store cannot say. */
  const disconnected = async (ids: readonly string[]): Promise<Map<string, number>> => {
    const out = new Map<string, number>();
    if (!ids.length) return out;
    try {
      for (const [id, event] of await deps.store.latestConnections(ids)) if (!event.connected) out.set(id, event.at);
    } catch (error) {
      deps.logger.log('warn', "devices' connection events unknown: the plant is listed without them", { error: (error as Error).message });
    }
    return out;
  };

  return {
    /** GET /api/plant → factories → lines → equipment, with each equipment's health and latest readings */
    plant: guarded(async () => {
      const at = now();
      const hoursOf = (line: unknown) => (typeof line === 'string' ? deps.lineHours?.get(line) : undefined);
      const factories = await queryAll(`SELECT F FROM DIGITALTWINS F WHERE IS_OF_MODEL(F, '${FACTORY}')`);
      const read = [];
      for (const { F: f } of factories as { F: Record<string, unknown> }[]) {
        const id = adtString(String(f.$dtId));
        const lines = (await queryAll(`SELECT L FROM DIGITALTWINS F JOIN L RELATED F.contains WHERE F.$dtId = ${id}`)).map((r) => r.L as Record<string, unknown>);
        const pairs = await queryAll(`SELECT L.$dtId AS line, E FROM DIGITALTWINS F JOIN L RELATED F.contains JOIN E RELATED L.contains WHERE F.$dtId = ${id}`);
        read.push({ f, lines, pairs });
      }
      const offline = await disconnected(read.flatMap(({ pairs }) => pairs.map((p) => String((p.E as Record<string, unknown>).$dtId))));
      const out = read.map(({ f, lines, pairs }) => ({
        ...publicTwin(f),
        lines: lines
          .sort((a, b) => String(a.$dtId).localeCompare(String(b.$dtId)))
          .map((l) => ({
            ...publicTwin(l),
            ...(hoursOf(l.$dtId) ? { workingHours: workingHoursNow(hoursOf(l.$dtId)!, at) } : {}),
            equipment: pairs
              .filter((p) => p.line === l.$dtId)
              .map((p) => p.E as Record<string, unknown>)
              .map((e) => equipmentOf(e, offline.get(String(e.$dtId))))
              .sort((a, b) => String(a.$dtId).localeCompare(String(b.$dtId))),
          })),
      }));
      return json(200, { factories: out, generatedAt: new Date(at).toISOString(), ...(deps.silentAfterMs !== undefined ? { silentAfterMs: deps.silentAfterMs } : {}), ...(deps.workingHours ? { workingHours: workingHoursNow(deps.workingHours, at) } : {}) });
    }),

    /** GET /api/equipment/{id}/history?from&to&bucket → buckets with avg/min/max per reading, scores and anomaly counts */
    history: guarded(async (req) => {
      const id = parse(twinId, req.params.id, 'id');
      const q = parse(historyQuery, queryParams(req), 'query');
      const { from, to } = periodOf(q, 3_600_000);
      const twin = await deps.twins.getTwin(id); // 404 for an unknown equipment
      const modelId = String((twin.$metadata as { $model?: string } | undefined)?.$model ?? '');
      const units = deps.unitsOf?.(modelId);
      // auto: the smallest bucket that keeps the answer under ~500 points.
      const bucketMs = q.bucket === 'raw' ? 0 : q.bucket === 'auto' ? (Object.values(BUCKETS).find((ms) => (to - from) / ms <= 500) ?? BUCKETS['1d']!) : BUCKETS[q.bucket]!;
      const points = await deps.store.history(id, from, to, MAX_POINTS + 1);
      const truncated = points.length > MAX_POINTS;
      const kept = truncated ? points.slice(points.length - MAX_POINTS) : points;
      return json(200, {
        equipmentId: id,
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        bucket: q.bucket === 'auto' ? Object.keys(BUCKETS).find((k) => BUCKETS[k] === bucketMs) : q.bucket,
        bucketMs,
        truncated,
        measured: deps.measuredOf?.(modelId) ?? null,
        // A unitless one (a counter) is undefined here and so absent from the JSON.
        units: units ?? null,
        // The same as an engineer writes them (°C, g, bar), for labels.
        unitSymbols: units ? unitSymbols(units) : null,
        buckets: bucketize(kept, bucketMs, deps.warningThreshold),
      });
    }),

    /** GET /api/alerts?since&limit → newest first, with acknowledgements; and the cards still waiting for Teams (`undelivered`) */
    alerts: guarded(async (req) => {
      const q = parse(sinceQuery, queryParams(req), 'query');
      const limit = pageLimit(q.limit);
      const [alerts, undelivered] = await Promise.all([deps.store.alerts(q.since ?? now() - 7 * 86_400_000, limit), undeliveredOf(deps.alertOutbox)]);
      // The condition in words and the sensors that drove it, as the Teams card puts them: what the dashboard shows.
      const items = alerts.map((a) => ({ ...a, conditionText: a.condition ? `${CONDITIONS[a.condition]}${a.deviceLink ? `; ${DEVICE_LINKS[a.deviceLink]}` : ''}` : null, drivers: a.notMeasured ?? driversOf(a.contributions) }));
      // Cards Teams has not taken yet: while any wait, operators learn of incidents here only.
      return json(200, { items, undelivered });
    }),

    /**
     * GET /api/alarms/performance?from&to → the alarm system's performance over the period (default
     * the last 7 days, at most 31) as ISA-18.2 and EEMUA 191 measure it, against their targets.
     */
    alarmPerformance: guarded(async (req) => {
      const q = parse(performanceQuery, queryParams(req), 'query');
      const { from, to } = periodOf(q, 7 * 86_400_000);
      const equipment = q.line === undefined ? undefined : await lineEquipment(q.line);
      // A line's events are read as such, so the plant's load cannot crowd them out of the events read.
      const devices = equipment && [...equipment];
      const [read, firstReading] = await Promise.all([deps.store.alarmEvents(from, to, MAX_ALARM_EVENTS, devices), deps.store.firstReadingAt(from, to, devices)]);
      // More events than read: the figures end where the reading stopped (alarmPerformance reads [from, end) only), and say so.
      const truncated = read.length >= MAX_ALARM_EVENTS;
      const end = truncated ? Math.max(read[read.length - 1]!.time, from + 1) : to;
      // A period that ends now (give or take a browser's clock) also knows what stands now, from the twins.
      const standing = end >= now() - CLOCK_SLACK_MS ? (await standingIncidents()).filter((i) => !equipment || equipment.has(i.deviceId)) : [];
      const scope = equipment ? { line: q.line, equipment: [...equipment].sort() } : { line: null };
      return json(200, { ...alarmPerformance(read, from, end, standing, firstReading ?? undefined), ...scope, truncated, targets: TARGETS });
    }),

    /** POST /api/alerts/{id}/ack {by, note?} */
    acknowledge: guarded(async (req) => {
      const id = parse(z.string().min(1).max(512), req.params.id, 'id');
      const body = parse(ackBody, await readJson(req, deps.maxBodyBytes), 'body');
      const at = new Date(now()).toISOString();
      const outcome = await deps.store.acknowledge({ AlertId: id, AckedAt: at, AckedBy: body.by, Note: body.note });
      if (outcome === 'unknownAlert') throw new AppError('alert.notFound', `no alert with id '${id}'`, { status: 404 });
      if (outcome === 'alreadyAcknowledged') throw new AppError('alert.alreadyAcknowledged', `alert '${id}' is already acknowledged`, { status: 409 });
      return json(200, { alertId: id, acknowledged: { at, by: body.by, note: body.note } });
    }),

    /**
     * POST /api/equipment/{id}/shelve {by, minutes, reason?}: the pipeline records this
     * equipment's alarms as usual and tells nobody until then (written on the twin, which the
     * pipeline reads; 0 minutes ends it).
     */
    shelve: guarded(async (req) => {
      const id = parse(z.string().min(1).max(128), req.params.id, 'id');
      const body = parse(shelveBody, await readJson(req, deps.maxBodyBytes), 'body');
      await deps.twins.getTwin(id); // 404 for an unknown equipment
      const until = now() + body.minutes * 60_000;
      const by = body.reason ? `${body.by}: ${body.reason}` : body.by;
      await deps.twins.patch(id, [
        { op: 'add', path: '/shelvedUntil', value: new Date(until).toISOString() },
        { op: 'add', path: '/shelvedBy', value: by },
      ]);
      deps.logger.log('info', body.minutes ? 'alarms shelved' : 'alarms unshelved', { deviceId: id, until: new Date(until).toISOString(), by });
      return json(200, { equipmentId: id, shelvedUntil: body.minutes ? new Date(until).toISOString() : null, shelvedBy: by });
    }),

    /**
     * POST /api/lines/{id}/status {status, by, reason?}: the line's status on its twin. While it is
     * stopped, in changeover or in maintenance its machines' silence raises nothing, and once it is
     * set running again a silence counts from then; readings are judged as always. Setting the
     * status the line has already changes nothing (its silence does not count afresh).
     */
    lineStatus: guarded(async (req) => {
      const id = parse(twinId, req.params.id, 'id');
      const body = parse(lineStatusBody, await readJson(req, deps.maxBodyBytes), 'body');
      const before = lineStatusOf(await lineTwin(id));
      const was = before.status ?? null;
      const changed = before.status !== body.status;
      if (changed) {
        await deps.twins.patch(id, [{ op: 'add', path: '/lineStatus', value: body.status }]);
        deps.logger.log('info', 'line status set', { lineId: id, status: body.status, was: was ?? 'unset', by: body.by, reason: body.reason });
      }
      return json(200, { lineId: id, lineStatus: body.status, was, changed, by: body.by });
    }),

    /**
     * GET /api/telemetry/kept?limit → the batches the telemetry trigger kept after their retries,
     * waiting for redelivery: how many, how many readings, since when, and the first `limit` in
     * the order they are redelivered (partition, then sequence number), each with why it failed.
     */
    keptBatches: guarded(async (req) => {
      const q = parse(limitQuery, queryParams(req), 'query');
      const limit = pageLimit(q.limit);
      if (!deps.keptBatches) {
        return json(200, { keeping: false, detail: 'no storage account (AzureWebJobsStorage): a failing batch is retried for as long as it fails, never kept', batches: 0, events: 0, oldestFailedAt: null, counted: true, items: [] });
      }
      const { batches, events, oldest, items } = await tally(deps.keptBatches, limit);
      return json(200, { keeping: true, batches, events, oldestFailedAt: oldest ?? null, counted: batches < KEPT_BATCHES_COUNTED, items });
    }),

    /**
     * GET /api/telemetry/dead-letters?since&limit → the readings refused since `since` (default 7
     * days), by device and reason, the most recently refused first: how many, when the latest was,
     * and its detail and body excerpt (what the device should change).
     */
    deadLetters: guarded(async (req) => {
      const q = parse(sinceQuery, queryParams(req), 'query');
      const limit = pageLimit(q.limit);
      const since = q.since ?? now() - 7 * 86_400_000;
      // The list is the store's; how many are kept whole is storage's, and storage being down must not hide the list.
      const [items, keptWhole] = await Promise.all([deps.store.deadLetterGroups(since, limit), keptWholeOf(deps.refusedKept)]);
      return json(200, { since: new Date(since).toISOString(), keptWhole, items });
    }),

    /**
     * POST /api/telemetry/dead-letters/readmit → the refused readings kept whole go through the
     * pipeline again, for an operator who has mended why they were refused (registered the twin,
     * extended the model): what is accepted now is stored, late (no incident is raised on it), and
     * what is refused again stays kept. Up to 100 kept batches a call; what it did comes back.
     * `all=true` tries those refused for what the message itself is too (after an upgrade).
     */
    readmitRefused: guarded(async (req) => {
      const q = parse(readmitQuery, queryParams(req), 'query');
      if (!deps.refusedKept || !deps.readmit) throw new AppError('deadLetters.notKept', 'no storage account (AzureWebJobsStorage): refused readings are kept as excerpts only, so none can be taken in again', { status: 409 });
      return json(200, await deps.readmit({ all: q.all }));
    }),

    /**
     * POST /api/telemetry/kept/redeliver → one redelivery round now, as the timer runs every 5
     * minutes: for an operator who has just mended why the batches failed. What it did comes back.
     */
    redeliverKept: guarded(async () => {
      if (!deps.keptBatches || !deps.redeliver) throw new AppError('deadLetters.notKept', 'no storage account (AzureWebJobsStorage): nothing is kept, so nothing is redelivered', { status: 409 });
      return json(200, await deps.redeliver());
    }),

    /** GET /api/models → the models uploaded to Digital Twins */
    models: guarded(async () => json(200, { items: (await deps.twins.listModels()).sort((a, b) => a.id.localeCompare(b.id)) })),
  };
}

export type PlantApi = ReturnType<typeof createPlantApi>;
