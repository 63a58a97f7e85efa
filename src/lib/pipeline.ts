/**
 * processBatch: one Event Hub batch, end to end. Decode → dedupe → resolve twins → validate
 * against the device's DTDL model → score (one call) → alarm lifecycle → store rows, flags,
 * incident steps and dead letters (one call) → Teams cards → at most one patch per twin. Bad events are dead-lettered and never fail the
 * batch; a dependency that still fails after retries fails the batch so the host replays it,
 * which is safe because every effect is idempotent.
 */
import { isAppError } from './errors.ts';
import type { Logger } from './log.ts';
import type { Alert, AlertSink, BatchDeadLetterPort, CommandsPort, ClaimWindowPort, ScoreInput, ScoreResult, StoreBatch, TelemetryStorePort, TwinState, TwinsPort } from './ports.ts';
import { StopPolicy, type StopSettings, type StopVerdict } from './commands/stop-policy.ts';
import { forEachLimited } from './bounded-set.ts';
import { RecentKeys } from './telemetry/recent-keys.ts';
import { decodeBatch, type BatchMetadata } from './telemetry/decode.ts';
import { keepRefused, UNDESCRIBED_MODEL } from './refused-readings.ts';
import { jsonExcerpt } from './json-text.ts';
import { PartitionGaps } from './telemetry/partition-gaps.ts';
import { endsItsMessage, measuresAny, type DeadLetter, type Reading } from './telemetry/reading.ts';
import { notMeasuredIn, type EquipmentKind, type TelemetryCatalog } from './telemetry/catalog.ts';
import type { ResilientScorer } from './anomaly/resilient-scorer.ts';
import { StreamingDetector, STREAMING_MODEL_VERSION, type Detection } from './anomaly/streaming-detector.ts';
import { reviveDetectorState, storeDetectorState, type DetectorState } from './anomaly/detector-state.ts';
import { DetectorJournal } from './anomaly/detector-journal.ts';
import { conditionOf, eventDetail, type Condition } from './alerts/conditions.ts';
import { AlarmLifecycle, OUT_OF_SERVICE, alarmEvidence, bearsOnAlarms, notifiedOf, reviveAlarmState, type AlarmEvent, type AlarmSettings, type AlarmState, type Blindness } from './alerts/alarm-lifecycle.ts';
import { BoundedSet } from './bounded-set.ts';
import { TwinStateCache } from './twins/twin-state-cache.ts';
import { EquipmentLines } from './twins/equipment-lines.ts';
import { lineAtRest, lineStatusOf } from './plant/line-status.ts';
import { freshReadings, healthOf, inTimeOrder, planTwinUpdate, type HealthStatus, type ScoredReading, type Thresholds, type TwinUpdate } from './twins/twin-update.ts';
import type { AlarmEventRow, AnomalyFlagRow, DeadLetterRow, DeviceConnectionRow, MaintenanceActionRow, TelemetryRow } from './store/rows.ts';

export interface PipelineSettings {
  thresholds: Thresholds;
  twinPatchIntervalMs: number;
  twinPatchConcurrency: number;
  /** Alarm lifecycle settings beyond the thresholds (on-delay, off-delay, flood limit…). */
  alarms?: Partial<Omit<AlarmSettings, 'thresholds'>>;
  maxClockSkewMs: number;
  dashboardUrl: string | undefined;
  /** Automated emergencyStop and its interlocks; absent: off. */
  autoStop?: StopSettings;
}

export interface PipelineDeps {
  catalog: TelemetryCatalog;
  twins: TwinsPort;
  store: TelemetryStorePort;
  /** The ML endpoint (failure probability and its own anomaly score), when one is configured. */
  scorer: ResilientScorer;
  /** The streaming detector every reading goes through; its state lives on the twin. */
  detector?: StreamingDetector;
  /** Undefined when no webhook is configured: alerts are then only recorded (flags, twin). */
  alerts: AlertSink | undefined;
  /** Direct methods (emergencyStop); needed when settings.autoStop.mode is 'on'. */
  commands?: CommandsPort;
  /** The flood windows all instances share (one per line); absent: each instance keeps its own. */
  floods?: ClaimWindowPort;
  /** The plant's emergencyStop rate limit shared by all instances (key `plant`, wall-clock time); absent: each instance's own. */
  stops?: ClaimWindowPort;
  settings: PipelineSettings;
  logger: Logger;
  now?: () => number;
  /** Where the events a batch refuses are kept whole (the app's storage account); absent: only their DeadLetters rows and excerpts. */
  refused?: Pick<BatchDeadLetterPort, 'put'>;
}

export interface BatchResult {
  events: number;
  readings: number;
  duplicates: number;
  deadLettered: number;
  deadLetterReasons: Record<string, number>;
  stored: number;
  anomalies: number;
  /** Readings no newer than their twin: stored, but they move nothing. */
  stale: number;
  /** Readings taken in with a value not measured (null): their other values count, the sensor is named in a warning. */
  notMeasured?: number;
  /** Events IoT Hub emitted itself (connection state, lifecycle, twin changes) that a route sent here: no readings, passed by. */
  notTelemetry?: number;
  /** Of those, IoT Hub's connection state events stored (DeviceConnections) for the communication watch. */
  connectionEvents?: number;
  twinsPatched: number;
  twinsDeferred: number;
  twinErrors: number;
  alertsSent: number;
  /** Cards Teams did not take, kept to be sent once it does (src/lib/alerts/alert-delivery.ts). */
  alertsKept?: number;
  /** emergencyStop decisions acted on: sent, dry runs and blocked ones. */
  stops: { executed: number; failed: number; dryRun: number; blocked: number };
  scoredBy: 'endpoint' | 'fallback' | 'none';
  /** The blob that keeps the batch's refused events whole, when it has any and a storage account is configured. */
  refusedKept?: string;
  /** Where the batch's time went (ms), for logs and benchmarks. */
  timings?: { twinStatesMs: number; scoreMs: number; alarmsMs: number; storeMs: number; stopsMs: number; alertsMs: number; twinPatchesMs: number };
}

interface DetectorEntry {
  stored: string | undefined;
  state: DetectorState;
  /** What it learnt lately, to roll a failed batch back. */
  journal: DetectorJournal;
}

/** Where a device's detector was before this batch: the journal's mark to roll back to, and the newest time learnt. */
interface DetectorBefore {
  mark: number;
  t: number;
}

interface DeviceWork {
  state: TwinState;
  kind: EquipmentKind;
  /** Valid readings in arrival order, with their scores. */
  scored: ScoredReading[];
  /** Those newer than the twin, oldest first: what may move the twin. */
  fresh: ScoredReading[];
  /**
   * All of them, oldest first: what the alarm lifecycle and the stop policy watch. Not only the
   * fresh ones: one reading dated minutes ahead would otherwise blind them until real time caught up.
   */
  watched: ScoredReading[];
  /**
   * Readings handed back long after they came (a dead-lettered batch redelivered): stored, scored
   * and flagged, a twin moved only forward, but watched by neither the alarms nor the stop policy:
   * an incident is about the equipment now, and old readings must not raise, escalate or clear one.
   */
  history: boolean;
  /** When the batch was taken in: a reading the hub received `lateMs` before it is late, in every pass over the batch alike. */
  now: number;
  /** The alarm lifecycle after this batch (committed to memory once the batch succeeds), and what happened. */
  alarm?: { state: AlarmState; events: AlarmEvent[] };
  /** Some reading of the batch stated a value as not measured (null). */
  notMeasured?: true;
}

/** A Teams card to send: one lifecycle step of an incident. */
interface CardDecision {
  id: string;
  severity: 'warning' | 'critical';
  trigger: ScoredReading;
  event: AlarmEvent;
}

const MAX_ETAG_RETRIES = 3;

/**
 * What the pipeline logs (as a warning) when a batch refuses readings. An Azure Monitor rule
 * (infra/modules/monitoring.bicep) alerts on it, since a refused reading is kept, not taken in,
 * until someone mends the cause and takes it in again.
 */
export const REFUSED_LOG = 'telemetry readings refused';
/** Devices named in that line: enough to know where to look, never a batch's worth of ids. */
const REFUSED_DEVICES_LOGGED = 10;
/**
 * What the pipeline logs (as a warning) when readings of a batch carry values not measured (null):
 * taken in with the rest of their values, the sensor named, since a sensor that stops measuring is
 * an instrument to mend. An Azure Monitor rule (infra/modules/monitoring.bicep) alerts on it.
 */
export const NOT_MEASURED_LOG = 'telemetry values not measured';

/**
 * What the pipeline logs (info) for a batch holding events IoT Hub emitted itself (a route that
 * sends connection-state, lifecycle or twin-change events to this Event Hub): passed by, with
 * their count by source. Not a warning: nothing a device sent was refused.
 */
export const NOT_TELEMETRY_LOG = "IoT Hub's own events passed by";

export class TelemetryPipeline {
  private readonly cache: TwinStateCache;
  private readonly alarms: AlarmLifecycle;
  /** Incident states of the twins this instance watches, with the JSON last seen on the twin. */
  private readonly alarmStates = new Map<string, { stored: string | undefined; state: AlarmState }>();
  /** Cards this instance sent: a host retry of the batch does not post them again. */
  private readonly cardsSent = new BoundedSet<string>(50_000);
  /** Devices (and what) told once that their twin cannot hold all of it. */
  private readonly toldTooBig = new BoundedSet<string>(50_000);
  /** Keys of readings already handled: routing replays are dropped early. */
  private readonly recent = new RecentKeys();
  private readonly gaps = new PartitionGaps();
  private readonly now: () => number;
  private readonly twinProperties = new Map<string, ReadonlySet<string>>();
  private readonly detector: StreamingDetector;
  /**
   * Detector states of the twins this instance scores, with the JSON last seen on the twin and what
   * each learnt lately (to roll a failed batch back).
   */
  private readonly detectorStates = new Map<string, DetectorEntry>();
  private readonly stopPolicy: StopPolicy | undefined;
  /** Action rows not yet stored (the write failed): written with the host's retry. */
  private unwrittenActions: MaintenanceActionRow[] = [];
  /** The minute each shared window was last said to be unreachable (said once a minute). */
  private readonly windowDown = new Map<'flood' | 'stop', number>();
  /** Line of each equipment, for flood suppression and alert cards (looked up once, on the first alarm). */
  private readonly lines: EquipmentLines;

  constructor(private readonly deps: PipelineDeps) {
    this.now = deps.now ?? Date.now;
    this.cache = new TwinStateCache(deps.twins, this.now);
    this.lines = new EquipmentLines(deps.twins);
    this.alarms = new AlarmLifecycle({ ...deps.settings.alarms, thresholds: deps.settings.thresholds });
    // Replays are dropped before scoring and a failed batch's learning is rolled back, so every
    // reading scored here is new: learn from a late one too (else one reading dated minutes ahead
    // would make every real reading after it look old).
    this.detector = deps.detector ?? new StreamingDetector({ learnLateReadings: true });
    const autoStop = deps.settings.autoStop;
    this.stopPolicy = autoStop && autoStop.mode !== 'off' ? new StopPolicy(autoStop, deps.settings.thresholds) : undefined;
  }

  /**
   * The detector state to continue from (with its journal): this instance's own, unless the twin
   * holds a newer one (another instance scored the device since, e.g. before a partition moved
   * back here).
   */
  private detectorEntryOf(twin: TwinState): DetectorEntry {
    const mine = this.detectorStates.get(twin.id);
    if (mine && mine.stored === twin.detectorState) return mine;
    const stored = storedDetectorState(twin);
    const state = mine && mine.state.t >= stored.t ? mine.state : stored;
    if (this.detectorStates.size >= 200_000 && !mine) this.detectorStates.clear();
    const entry: DetectorEntry = { stored: twin.detectorState, state, journal: mine?.journal ?? new DetectorJournal() };
    this.detectorStates.set(twin.id, entry);
    return entry;
  }

  /**
   * A twin re-read mid-batch that another instance wrote since this one last did: when it holds
   * a detector state newer than the one this batch started from, this instance continues from it,
   * the batch's readings folded in, instead of overwriting what the other learnt (the batch itself
   * was already scored from the older copy).
   */
  private adoptTwinDetector(deviceId: string, twin: TwinState, work: DeviceWork, detectorBefore: ReadonlyMap<string, DetectorBefore>): void {
    const detector = this.detectorStates.get(deviceId);
    const before = detectorBefore.get(deviceId);
    if (!detector || !before || twin.detectorState === detector.stored) return;
    const theirs = storedDetectorState(twin);
    if (theirs.t <= before.t) return;
    const ordered = inTimeOrder(work.scored).map((s) => s.reading);
    for (let at = 0; at < ordered.length; at++) this.detect(theirs, ordered[at]!, work.kind, endsItsMessage(ordered, at));
    detector.state = theirs;
    detector.stored = twin.detectorState;
  }

  /** Runs the batch's readings of one equipment through `state` (mutated); `peek` counts nothing toward flood suppression. */
  private evaluateAlarms(deviceId: string, work: DeviceWork, state: AlarmState, line: string, peek = false, admitted?: (incidentId: string) => boolean | undefined, part?: BatchPart): AlarmEvent[] {
    const { lateMs } = this.alarms.settings;
    const { now } = work;
    const from = part?.from ?? 0;
    const blind = part ? part.blind : blindnessOf(work, state);
    const watched = part ? work.watched.slice(from, part.to) : work.watched;
    const events = this.alarms.evaluate(state, watched.map((s) => s.alarm!), {
      line,
      ...(blind ? { blind: (i) => blind(i + from) } : {}),
      idOf: (i) => incidentIdOf(deviceId, work, i + from),
      shelvedUntil: work.state.shelvedUntil,
      peek,
      ...(admitted ? { admitted } : {}),
      // Late by the hub's clock, not the device's: a device whose clock runs slow is still alarmed on.
      late: (i) => now - Date.parse(watched[i]!.reading.enqueuedIso) >= lateMs,
    });
    if (from) for (const e of events) e.index += from;
    return events;
  }

  /**
   * The shared flood window's verdicts on the incidents this batch would raise and tell (found by
   * a peek that lets every one through), claimed line by line in reading order. A line whose
   * window cannot be reached is left to this instance's own window (said once a minute): a
   * card too many is better than a card lost.
   */
  private async claimFloodPlaces(byDevice: ReadonlyMap<string, DeviceWork>, candidates: Iterable<string>, lines: ReadonlyMap<string, string>): Promise<Map<string, boolean>> {
    const verdicts = new Map<string, boolean>();
    const floods = this.deps.floods;
    if (!floods) return verdicts;
    const raises = new Map<string, { id: string; time: number }[]>();
    for (const deviceId of candidates) {
      const work = byDevice.get(deviceId)!;
      const line = lines.get(deviceId) ?? deviceId;
      for (const e of this.peekAlarms(deviceId, work, line, () => true)) {
        if (e.kind !== 'raised' || !e.notify) continue;
        const list = raises.get(line);
        if (list) list.push({ id: e.incidentId, time: e.time });
        else raises.set(line, [{ id: e.incidentId, time: e.time }]);
      }
    }
    await forEachLimited([...raises], 8, async ([line, list]) => {
      try {
        for (const { id, time } of list.sort((x, y) => x.time - y.time)) verdicts.set(id, await floods.claim(line, id, time));
      } catch (error) {
        this.sayOnceAMinute('flood', "the shared flood window cannot be reached: this instance's own window decides meanwhile", { line, error: (error as Error).message });
      }
    });
    return verdicts;
  }

  /** What this batch would do to the equipment's incident, run on a copy of the state this instance holds, counting nothing toward flood suppression. */
  private peekAlarms(deviceId: string, work: DeviceWork, line: string, admitted?: (incidentId: string) => boolean | undefined): AlarmEvent[] {
    return this.evaluateAlarms(deviceId, work, { ...this.alarmStateOf(work.state) }, line, true, admitted);
  }

  /** Whether this batch would tell anyone about the equipment (flood suppression aside), from the incident state this instance holds. */
  private wouldTell(deviceId: string, work: DeviceWork): boolean {
    return this.peekAlarms(deviceId, work, deviceId).some((e) => e.notify);
  }

  /**
   * A twin re-read after a 412 whose incident state another writer changed since this instance
   * last wrote it (a race no gap in the partition showed): the twin's incident state stands, so
   * what the other told (a raise, an escalation, a clear) is not overwritten and not told again
   * later. This batch's readings are not run through it: they were scored from a detector state
   * that had missed the other's readings, and the next batch is scored from the adopted one.
   */
  private adoptTwinAlarm(deviceId: string, twin: TwinState, work: DeviceWork): void {
    const entry = this.alarmStates.get(deviceId);
    if (!work.alarm || !entry || twin.alarmState === entry.stored) return;
    work.alarm.state = { ...this.alarmStateOf(twin) };
  }

  /** The readings newer than the twin (to patch), and all the batch's in time order (for the alarms and the stop policy). */
  private watch(work: DeviceWork): void {
    work.fresh = freshReadings(work.state, work.scored);
    work.watched = work.history ? [] : withEvidence(work.fresh.length === work.scored.length ? work.fresh : inTimeOrder(work.scored), work.kind.measuredTelemetry, work.notMeasured === true);
  }

  /** One reading through the detector; it reads the measured telemetry in place (anything not a finite number is skipped). */
  private detect(state: DetectorState, reading: Reading, kind: EquipmentKind, endsMessage: boolean): Detection {
    return this.detector.step(state, reading.time, reading.values as Record<string, number | null | undefined>, statusOf(reading), kind.measuredTelemetry, endsMessage);
  }

  /**
   * The detector state as the twin stores it, within ADT's 4 KB string limit: equipment with many
   * sensors leaves parts out (said once per device), or keeps its older stored state when even its
   * baselines do not fit; the readings, health and alarms are patched either way.
   */
  private storedDetectorState(deviceId: string, state: DetectorState): string | undefined {
    const stored = storeDetectorState(state, this.detector.settings.minCorrelation);
    if (!stored || stored.shed !== 'nothing') {
      const message = stored ? `detector state stored without its ${stored.shed}, to fit the twin's 4 KB string limit` : "detector state not stored: even its baselines exceed the twin's 4 KB string limit";
      this.tellOnce(deviceId, 'detectorState', message, { sensors: Object.keys(state.s).length });
    }
    return stored?.json;
  }

  /** A warning about what a device's twin cannot hold, once per device and kind (it would recur with every patch). */
  private tellOnce(deviceId: string, kind: string, message: string, fields: Record<string, string | number>): void {
    const key = `${deviceId}|${kind}`;
    if (this.toldTooBig.has(key)) return;
    this.toldTooBig.add(key);
    this.deps.logger.log('warn', message, { deviceId, ...fields });
  }

  /** The incident state to continue from: this instance's own, unless the twin holds another one. */
  private alarmStateOf(twin: TwinState): AlarmState {
    const mine = this.alarmStates.get(twin.id);
    if (mine && mine.stored === twin.alarmState) return mine.state;
    const state = reviveAlarmState(twin.alarmState);
    if (this.alarmStates.size >= 200_000 && !mine) this.alarmStates.clear();
    this.alarmStates.set(twin.id, { stored: twin.alarmState, state });
    return state;
  }

  /** Looks every device up again that was found to have no twin (for readings refused for that and taken in again now). */
  forgetUnknownDevices(): void {
    this.cache.forgetUnknown();
  }

  /** `redelivered`: a batch dead-lettered earlier and handed back now (see DeviceWork.history). */
  async processBatch(bodies: readonly unknown[], meta: BatchMetadata, options: { redelivered?: boolean } = {}): Promise<BatchResult> {
    const { settings } = this.deps;
    const now = this.now();
    const decoded = decodeBatch(bodies, meta, { now, maxClockSkewMs: settings.maxClockSkewMs });
    const deadLetters: DeadLetter[] = decoded.deadLetters;

    // 1. Group by device, then drop duplicates device by device. A key is remembered when first
    //    met and forgotten if the batch fails, so the host's retry is not taken for a replay.
    const grouped = new Map<string, Reading[]>();
    for (const r of decoded.readings) {
      const list = grouped.get(r.deviceId);
      if (list) list.push(r);
      else grouped.set(r.deviceId, [r]);
    }
    const readingsByDevice = new Map<string, Reading[]>();
    let duplicates = 0;
    for (const [deviceId, list] of grouped) {
      const unique = list.filter((r) => this.recent.addIfAbsent(deviceId, r.key, r.time));
      duplicates += list.length - unique.length;
      if (unique.length) readingsByDevice.set(deviceId, unique);
    }
    // Where this batch's detector states were before it, to roll back to if it fails.
    const detectorBefore = new Map<string, DetectorBefore>();
    const partition = this.gaps.begin(meta);
    try {
      const result = await this.handle(readingsByDevice, decoded.readings.length, duplicates, deadLetters, { bodies, meta, connections: decoded.connections }, now, detectorBefore, partition, options.redelivered === true);
      this.gaps.end(meta);
      if (decoded.notTelemetry) {
        result.notTelemetry = Object.values(decoded.notTelemetry).reduce((a, b) => a + b, 0);
        if (decoded.connections) result.connectionEvents = decoded.connections.length;
        this.deps.logger.log('info', NOT_TELEMETRY_LOG, { count: result.notTelemetry, sources: JSON.stringify(decoded.notTelemetry), ...(decoded.connections ? { connectionEventsStored: decoded.connections.length } : {}) });
      }
      return result;
    } catch (error) {
      for (const [deviceId, list] of readingsByDevice) for (const r of list) this.recent.forget(deviceId, r.key);
      // The host's retry must score the batch exactly as this attempt did (same incidents, same
      // card ids): what the detector learnt from it is rolled back.
      for (const [deviceId, before] of detectorBefore) {
        const entry = this.detectorStates.get(deviceId);
        const restored = entry?.journal.rollback(this.detector, before.mark);
        if (entry && restored) entry.state = restored;
      }
      throw error;
    }
  }

  private async handle(readingsByDevice: Map<string, Reading[]>, readingCount: number, duplicates: number, deadLetters: DeadLetter[], source: { bodies: readonly unknown[]; meta: BatchMetadata; connections?: DeviceConnectionRow[] | undefined }, now: number, detectorBefore: Map<string, DetectorBefore>, partition: string, history: boolean): Promise<BatchResult> {
    const { logger } = this.deps;
    const timings = { twinStatesMs: 0, scoreMs: 0, alarmsMs: 0, storeMs: 0, stopsMs: 0, alertsMs: 0, twinPatchesMs: 0 };
    let mark = performance.now();
    const lap = (phase: keyof typeof timings) => {
      const t = performance.now();
      timings[phase] = Math.round(t - mark);
      mark = t;
    };
    // 2. Twins and models: unknown devices and invalid readings are dead-lettered.
    // A twin this instance may not know as it is (another instance had its partition meanwhile, or
    // this is its first batch here) is read by id, so that the detector, the incident and the stop
    // guard continue from what the other instance left; once per gap, not per batch.
    // So is one whose readings resume after a silence as long as the communication-loss delay: the
    // communication watch may have raised its incident on the twin meanwhile. By the readings' own
    // times, so a backlog caught up after an outage of ours reads no twin again.
    const suspects = new Set<string>();
    const { silentAfterMs } = this.alarms.settings;
    for (const [id, readings] of readingsByDevice) {
      if (this.gaps.suspect(id, partition) || readings[0]!.time - (this.cache.peek(id)?.lastTelemetryTime ?? Infinity) >= silentAfterMs) suspects.add(id);
    }
    const states = readingsByDevice.size ? await this.cache.resolve([...readingsByDevice.keys()], (id) => suspects.has(id)) : new Map<string, TwinState>();
    for (const id of suspects) if (states.has(id)) this.gaps.check(id, partition);
    lap('twinStatesMs');
    const byDevice = new Map<string, DeviceWork>();
    // 3. Score: the streaming detector, device by device and reading by reading in arrival order
    //    (causal), each reading as soon as it is validated (its device's state is then still in
    //    the CPU's cache), then one call to the ML endpoint for the whole batch; its results come
    //    back in input order. ScoreInputs (a copy of each reading's numbers) are made only for it.
    const useEndpoint = this.deps.scorer.wantsInputs;
    const inputs: ScoreInput[] = [];
    /** Readings with a value not measured, and up to REFUSED_DEVICES_LOGGED devices with the names of those values. */
    let notMeasured = 0;
    const unmeasured = new Map<string, Set<string>>();
    /** Readings in arrival order, each with its place among the endpoint's inputs (-1: not sent). */
    const detected: { work: DeviceWork; reading: Reading; detection: Detection; input: number }[] = [];
    for (const [deviceId, readings] of readingsByDevice) {
      const state = states.get(deviceId);
      const kind = state && this.deps.catalog.forTwinModel(state.modelId);
      if (!state || !kind) {
        const [reason, detail] = !state
          ? ['device.unknown', `no digital twin with id '${deviceId}': register the device's twin before it sends`]
          : [UNDESCRIBED_MODEL, `twin '${deviceId}' has model ${state.modelId}, which has no device model describing its telemetry`];
        for (const reading of readings) {
          const deadLetter = deadLetterOf(reading, reason, detail, now);
          if (state) deadLetter.model = state.modelId;
          deadLetters.push(deadLetter);
          // Not remembered as seen: taken in again once its twin exists, it must not be dropped as a replay.
          this.recent.forget(deviceId, reading.key);
        }
        continue;
      }
      const work: DeviceWork = { state, kind, scored: [], fresh: [], watched: [], history, now };
      let entry: DetectorEntry | undefined;
      // All validated first: a message's end is its last reading taken in, which a refused one after it does not hide.
      const checks = readings.map((reading) => kind.validate(reading.values));
      const taken = (index: number) => checks[index]!.ok;
      for (let at = 0; at < readings.length; at++) {
        const reading = readings[at]!;
        const check = checks[at]!;
        if (!check.ok) {
          deadLetters.push(deadLetterOf(reading, 'telemetry.invalid', check.message, now));
          this.recent.forget(deviceId, reading.key);
          continue;
        }
        if (check.notMeasured) {
          notMeasured++;
          work.notMeasured = true;
          if (unmeasured.size < REFUSED_DEVICES_LOGGED || unmeasured.has(deviceId)) {
            const names = unmeasured.get(deviceId) ?? new Set<string>();
            for (const name of notMeasuredIn(reading.values)) names.add(name);
            unmeasured.set(deviceId, names);
          }
        }
        if (!entry) {
          entry = this.detectorEntryOf(state);
          detectorBefore.set(deviceId, { mark: entry.journal.begin(entry.state, kind.measuredTelemetry), t: entry.state.t });
        }
        const endsMessage = endsItsMessage(readings, at, taken);
        const d = this.detect(entry.state, reading, kind, endsMessage);
        entry.journal.record(reading.time, reading.values, statusOf(reading), endsMessage);
        if (useEndpoint) {
          // A reading that measures nothing (a status change, a counter) is not the failure model's to judge.
          let input = -1;
          if (measuresAny(reading, kind.measuredTelemetry)) {
            const scoreIn = scoreInput(reading, kind);
            scoreIn.derived = d.features as unknown as Record<string, number>;
            input = inputs.push(scoreIn) - 1;
          }
          detected.push({ work, reading, detection: d, input });
        } else {
          // Without the endpoint the detection is the score: one object fewer per reading for the collector.
          work.scored.push({ reading, score: d, alarm: alarmEvidence(d, undefined) });
        }
      }
      if (entry) byDevice.set(deviceId, work);
    }
    const scoring =
      !byDevice.size ? { results: undefined, source: 'none' as const }
      : !useEndpoint ? { results: undefined, source: 'fallback' as const }
      // The endpoint in use, and nothing measured to ask it about (status changes only).
      : inputs.length === 0 ? { results: undefined, source: 'endpoint' as const }
      : await this.deps.scorer.score(inputs);
    lap('scoreMs');
    for (let i = 0; i < detected.length; i++) {
      const { work, reading, detection: d, input } = detected[i]!;
      const e = input < 0 ? undefined : scoring.results?.[input];
      const score: ScoreResult =
        e === undefined
          ? d
          : {
              anomalyScore: Math.max(d.anomalyScore, e.anomalyScore),
              failureProbability: e.failureProbability,
              rulHours: e.rulHours ?? d.rulHours,
              contributions: e.anomalyScore > d.anomalyScore ? e.contributions : d.contributions,
              modelVersion: `${STREAMING_MODEL_VERSION}+${e.modelVersion}`,
            };
      work.scored.push({ reading, score, alarm: alarmEvidence(d, score.failureProbability) });
    }

    // 4. The alarm lifecycle, before any effect, so the store rows carry incident ids. It runs on
    //    a copy of each incident state, kept only once the batch has succeeded.
    const cards = new Map<string, CardDecision[]>();
    const stops = new Map<string, StopVerdict>();
    const lines = new Map<string, string>();
    // Before anyone is told, the twin is read again: an operator may have shelved the equipment
    // since (and any other writer shows there too). Only where a card is about to go out.
    const needLine = new Set<string>();
    const recheck = new Set<string>();
    for (const [deviceId, work] of byDevice) {
      this.watch(work);
      // Sensors not measured may raise a diagnostic alarm whatever the evidence: it needs the line and the re-read too.
      const above = work.notMeasured === true || this.alarmStateOf(work.state).b !== undefined || work.watched.some((s) => (this.alarms.priorityOf(s.alarm!) ?? 'low') !== 'low');
      if (above) needLine.add(deviceId);
      if ((above || this.alarmStateOf(work.state).id !== undefined) && !suspects.has(deviceId) && this.wouldTell(deviceId, work)) recheck.add(deviceId);
    }
    // The line groups equipment for flood suppression and is named on the card.
    await forEachLimited([...new Set([...needLine, ...recheck])], 8, async (deviceId) => {
      const [line, twin] = await Promise.all([needLine.has(deviceId) ? this.lines.lineOf(deviceId) : undefined, recheck.has(deviceId) ? this.cache.reload(deviceId) : undefined]);
      if (needLine.has(deviceId)) lines.set(deviceId, line ?? deviceId);
      if (!twin) return;
      this.gaps.check(deviceId, partition);
      const work = byDevice.get(deviceId)!;
      if (twin.etag === work.state.etag) return;
      this.adoptTwinDetector(deviceId, twin, work, detectorBefore);
      work.state = twin;
      this.watch(work);
    });
    const floodVerdicts = await this.claimFloodPlaces(byDevice, needLine, lines);
    const admitted = floodVerdicts.size ? (incidentId: string) => floodVerdicts.get(incidentId) : undefined;
    for (const [deviceId, work] of byDevice) {
      // AlarmState is flat: a shallow copy is a copy (its not-measured record is replaced, never changed).
      const before = this.alarmStateOf(work.state);
      let state = { ...before };
      const line = lines.get(deviceId) ?? deviceId;
      let events = this.evaluateAlarms(deviceId, work, state, line, false, admitted);
      // Critical before the newest reading: an incident this very reading made critical (an envelope
      // breach of one hot reading) does not also confirm its stop, which then needs its own run.
      const madeCritical = events.findLast((e) => e.kind !== 'cleared' && e.priority === 'critical');
      // The stop policy judges the readings that measured something: one that measured nothing (its
      // probes not answering, watched for the diagnostic alarm only) says nothing of a failure now.
      const judged = work.notMeasured ? work.watched.filter((s) => !measuredNothing(s, work.kind.measuredTelemetry)) : work.watched;
      const newestJudged = judged.length === work.watched.length ? judged.length - 1 : work.watched.lastIndexOf(judged[judged.length - 1]!);
      const criticalBefore = state.p === 'critical' && (madeCritical === undefined || madeCritical.index < newestJudged);
      const stop = this.stopPolicy?.decide(work.state, judged, now, criticalBefore);
      // A stop (sent, or refused by the rate limit) belongs to a critical incident: raised with it
      // when the evidence alone has not raised one yet.
      if (stop && stop.kind !== 'dry-run') {
        const at = work.watched.lastIndexOf(stop.trigger);
        // Steps the batch took on readings after the stop's were taken without it (a diagnostic
        // raise on a later reading opened a new incident after the lone outliers the stop was
        // confirmed on, and the stop then escalated that later incident at an earlier time): the
        // batch is taken again as if cut right after the stop's reading, the rest after the stop.
        let rest: BatchPart | undefined;
        if (events.some((e) => e.index > at)) {
          state = { ...before };
          const blind = blindnessOf(work, state);
          events = this.evaluateAlarms(deviceId, work, state, line, false, admitted, { from: 0, to: at + 1, blind });
          rest = { from: at + 1, to: work.watched.length, blind };
        }
        withStopStep(events, this.alarms.raiseForStop(state, stop.trigger.reading.time, at, incidentIdOf(deviceId, work, at)));
        if (rest) events.push(...this.evaluateAlarms(deviceId, work, state, line, false, admitted, rest));
      }
      work.alarm = { state, events };
      const decisions = this.cardsOf(work, events);
      if (stop) {
        stops.set(deviceId, stop);
        // A stop sent (or refused by the rate limit) always reaches people: once. A replay of the
        // stop's batch (`recorded`) tells again only if that batch's cards may not have gone out: its
        // twin patch, which comes after them, records their time.
        const told = (stop.kind === 'recorded' || stop.replay !== undefined) && work.state.lastAlertTime !== undefined && work.state.lastAlertTime >= stop.trigger.reading.time;
        if (!decisions.length && stop.kind !== 'dry-run' && !told) {
          const incidentId = state.id ?? stop.incidentId;
          decisions.push({ id: `${stop.incidentId}|alert`, severity: 'critical', trigger: stop.trigger, event: { kind: 'escalated', incidentId, priority: 'critical', time: stop.trigger.reading.time, notify: true, stopOnly: true, index: -1 } });
        }
      }
      if (decisions.length) cards.set(deviceId, decisions);
    }

    lap('alarmsMs');

    // 5. Store: telemetry rows, anomaly flags, dead letters and IoT Hub's connection events in one call.
    const batch = this.storeBatch(byDevice, deadLetters);
    if (source.connections) batch.connections = source.connections;
    // Refused readings by reason: for the kept blob, the result and the log line alike.
    const reasons: Record<string, number> = {};
    for (const d of deadLetters) reasons[d.reason] = (reasons[d.reason] ?? 0) + 1;
    // The refused events are kept whole beside it, before anything is acted on or acknowledged; a
    // failure fails the batch (retryably), whose retry stores nothing twice.
    const refused = this.deps.refused;
    const [written, refusedKept] = await Promise.all([
      this.deps.store.write(batch),
      deadLetters.length > 0 && refused ? keepRefused(refused, source.bodies, source.meta, deadLetters, reasons, now) : undefined,
    ]);
    lap('storeMs');

    // 6. Automated stops (interlocked), recorded in MaintenanceActions; then alerts; then twins
    //    (the patch records lastAlertTime and the stop, so a replay stays quiet).
    const stopOutcome = { executed: 0, failed: 0, dryRun: 0, blocked: 0 };
    const actions = new Map<string, NonNullable<Alert['action']>>();
    if (stops.size || this.unwrittenActions.length) {
      await forEachLimited([...stops], 8, async ([deviceId, verdict]) => {
        const action = await this.act(deviceId, verdict, byDevice.get(deviceId)!);
        actions.set(deviceId, action);
        if (verdict.kind === 'recorded' || verdict.replay) return; // acted on before the retry: counted then
        stopOutcome[action.outcome === 'executed' ? 'executed' : action.outcome === 'dry-run' ? 'dryRun' : action.outcome === 'blocked' ? 'blocked' : 'failed']++;
      });
      // A second, rare write: the outcome of a stop is known only after it was sent.
      const rows = this.unwrittenActions.splice(0);
      try {
        await this.deps.store.write({ telemetry: [], anomalies: [], deadLetters: [], actions: rows });
      } catch (error) {
        this.unwrittenActions.unshift(...rows);
        throw error;
      }
    }
    lap('stopsMs');
    let alertsSent = 0;
    let alertsKept = 0;
    if (this.deps.alerts) {
      const sink = this.deps.alerts;
      // A line's status is read once for the batch's cards on it (a failed read too: with Digital Twins failing, one wait for its retries, not one a card).
      const lineReads = new Map<string, Promise<Alert['lineAtRest']>>();
      const restOf = (line: string) => lineReads.get(line) ?? lineReads.set(line, this.lineAtRest(line)).get(line)!;
      // Cards of different devices are independent: post a few at a time; one device's in order.
      await forEachLimited([...cards], 8, async ([deviceId, decisions]) => {
        for (const decision of decisions) {
          if (this.cardsSent.has(decision.id)) continue;
          // Kept for later (Teams not taking cards) is handed over: it goes out once Teams does.
          if ((await sink.send(await this.alertOf(decision, byDevice.get(deviceId)!, actions.get(deviceId), restOf))) === 'deferred') alertsKept++;
          else alertsSent++;
          this.cardsSent.add(decision.id);
        }
      });
    }
    lap('alertsMs');
    const twinOutcome = await this.updateTwins(byDevice, cards, stops, actions, detectorBefore, partition);
    lap('twinPatchesMs');
    // Everything this batch did is done: its incident states are now this instance's.
    for (const [deviceId, work] of byDevice) {
      if (!work.alarm) continue;
      const entry = this.alarmStates.get(deviceId);
      if (entry) entry.state = work.alarm.state;
    }

    const result: BatchResult = {
      events: source.bodies.length,
      readings: readingCount,
      duplicates,
      deadLettered: deadLetters.length + (written?.rejected ?? 0),
      deadLetterReasons: written?.rejected ? { ...reasons, 'store.rejected': written.rejected } : reasons,
      // What the store says it really stored (a replayed reading is there already), where it can tell.
      stored: written ? written.telemetryStored : batch.telemetry.length,
      anomalies: batch.anomalies.length,
      stale: twinOutcome.stale,
      ...(notMeasured ? { notMeasured } : {}),
      twinsPatched: twinOutcome.patched,
      twinsDeferred: twinOutcome.deferred,
      twinErrors: twinOutcome.errors,
      alertsSent,
      ...(alertsKept ? { alertsKept } : {}),
      ...(refusedKept ? { refusedKept } : {}),
      stops: stopOutcome,
      scoredBy: scoring.source,
      timings,
    };
    if (deadLetters.length) {
      const devices = new Set<string>();
      for (const d of deadLetters) if (d.deviceId !== undefined && devices.size < REFUSED_DEVICES_LOGGED) devices.add(d.deviceId);
      logger.log('warn', REFUSED_LOG, { count: deadLetters.length, reasons: JSON.stringify(reasons), devices: JSON.stringify([...devices]), keptAs: refusedKept, redelivered: history });
    }
    if (notMeasured) {
      // As JSON: an IoT Hub device id may hold a comma.
      const sensors = Object.fromEntries([...unmeasured].map(([d, names]) => [d, [...names]]));
      logger.log('warn', NOT_MEASURED_LOG, { count: notMeasured, sensors: JSON.stringify(sensors), redelivered: history });
    }
    return result;
  }

  /** Which lifecycle steps become cards: per device and batch, one for the raise or escalation (the newest), one for a clear. */
  private cardsOf(work: DeviceWork, events: readonly AlarmEvent[]): CardDecision[] {
    const out: CardDecision[] = [];
    let up: AlarmEvent | undefined;
    let raised = false;
    for (const e of events) {
      if (!e.notify) continue;
      if (e.kind === 'cleared') {
        if (up) out.push(this.card(work, up, raised));
        up = undefined;
        raised = false;
        out.push(this.card(work, e, false));
      } else {
        // The first card of an incident is its raise, even when the raise itself was held back.
        raised ||= e.kind === 'raised' || e.firstNotice === true;
        up = e;
      }
    }
    if (up) out.push(this.card(work, up, raised));
    return out;
  }

  private card(work: DeviceWork, e: AlarmEvent, raised: boolean): CardDecision {
    const kind = raised ? 'raised' : e.kind;
    const event: AlarmEvent = { ...e, kind };
    return { id: `${e.incidentId}|${kind}|${e.time}`, severity: e.priority === 'critical' ? 'critical' : 'warning', trigger: work.watched[e.index]!, event };
  }

  private storeBatch(byDevice: Map<string, DeviceWork>, deadLetters: DeadLetter[]): StoreBatch {
    const telemetry: TelemetryRow[] = [];
    const anomalies: AnomalyFlagRow[] = [];
    const alarmEvents: AlarmEventRow[] = [];
    const { thresholds } = this.deps.settings;
    for (const [deviceId, work] of byDevice) {
      // The reading that raised an incident (to warning or above) carries its id: that flag is the alert.
      const raisedBy = new Map<Reading, AlarmEvent>();
      for (const e of work.alarm?.events ?? []) {
        alarmEvents.push({
          Timestamp: new Date(e.time).toISOString(),
          IncidentId: e.incidentId,
          DeviceId: deviceId,
          Event: e.kind,
          Priority: e.priority,
          Notified: notifiedOf(e),
          Detail: stepDetail(e.kind === 'cleared' ? undefined : work.watched[e.index], e),
        });
        // A raise told late names the reading that raised it already, not a second one (the incident would be listed twice).
        if (e.kind === 'raised' && e.priority !== 'low' && !e.delayed) raisedBy.set(work.watched[e.index]!.reading, e);
      }
      for (const { reading, score } of work.scored) {
        const timestamp = reading.timeIso;
        const failure = score.failureProbability ?? null;
        telemetry.push({
          Timestamp: timestamp,
          DeviceId: deviceId,
          ModelId: work.kind.twinModelId,
          MessageId: reading.key,
          EnqueuedTime: reading.enqueuedIso,
          Readings: reading.values,
          AnomalyScore: score.anomalyScore,
          FailureProbability: failure,
          ModelVersion: score.modelVersion,
        });
        const raise = raisedBy.get(reading);
        const severity = raise ? (raise.priority as 'warning' | 'critical') : healthOf(score.anomalyScore, thresholds);
        if (severity === 'normal') continue;
        anomalies.push({
          Timestamp: timestamp,
          DeviceId: deviceId,
          MessageId: reading.key,
          Severity: severity,
          AnomalyScore: score.anomalyScore,
          FailureProbability: failure,
          Contributions: score.contributions,
          ModelVersion: score.modelVersion,
          AlertId: raise ? raise.incidentId : null,
        });
      }
    }
    return { telemetry, anomalies, deadLetters: deadLetters.map(deadLetterRow), ...(alarmEvents.length ? { alarmEvents } : {}) };
  }

  /** Sends (or not) one emergencyStop, and queues its MaintenanceActions row. */
  private async act(deviceId: string, given: StopVerdict, work: DeviceWork): Promise<NonNullable<Alert['action']>> {
    // A host retry of a batch whose verdict was acted on: the same outcome, nothing sent or claimed again.
    const verdict = given.replay ? given : await this.withinSharedStopLimit(given);
    let outcome: string = verdict.replay?.outcome ?? (verdict.kind === 'stop' || verdict.kind === 'recorded' ? 'executed' : verdict.kind);
    let detail = verdict.replay?.detail ?? (verdict.kind === 'recorded' ? `${verdict.reason} (sent before this batch was retried; not sent again)` : verdict.reason);
    if (verdict.kind === 'stop' && !verdict.replay) {
      if (!this.deps.commands) {
        outcome = 'failed';
        detail = `no IoT Hub configured to send emergencyStop; ${verdict.reason}`;
      } else {
        try {
          const result = await this.deps.commands.invoke(deviceId, 'emergencyStop', { reason: verdict.reason, incidentId: verdict.incidentId, failureProbability: verdict.trigger.score.failureProbability }, 10);
          if (result.status < 200 || result.status >= 300) {
            outcome = 'failed';
            detail = `device answered ${result.status}: ${jsonExcerpt(result.payload, 200)}; ${verdict.reason}`;
          }
        } catch (error) {
          outcome = 'failed';
          detail = `${isAppError(error) ? error.code : 'error'}: ${(error as Error).message}; ${verdict.reason}`;
        }
      }
    }
    if (outcome === 'executed' && verdict.kind === 'stop' && !verdict.replay) await this.recordStopOnTwin(deviceId, verdict, work);
    this.stopPolicy!.record(verdict, this.now(), outcome === 'failed', { outcome, detail });
    const { reading, score } = verdict.trigger;
    this.unwrittenActions.push({ Timestamp: reading.timeIso, DeviceId: deviceId, IncidentId: verdict.incidentId, Action: 'emergencyStop', Outcome: outcome, Detail: detail, FailureProbability: score.failureProbability ?? null, AnomalyScore: score.anomalyScore, ModelVersion: score.modelVersion });
    this.deps.logger.log(outcome === 'executed' || outcome === 'dry-run' ? 'warn' : 'error', `emergencyStop ${outcome}`, { deviceId, incidentId: verdict.incidentId, detail });
    return { name: 'emergencyStop', outcome, detail };
  }

  /**
   * The stop policy's hourly limit counts this instance's stops; the plant-wide one, shared by all
   * instances, is claimed here before a stop (or a dry run) goes out. A window that cannot be
   * reached leaves the instance's own limit, already applied, to decide (said once a minute).
   */
  private async withinSharedStopLimit(verdict: StopVerdict): Promise<StopVerdict> {
    const window = this.deps.stops;
    const max = this.deps.settings.autoStop?.maxPerHour;
    if (!window || max === undefined || (verdict.kind !== 'stop' && verdict.kind !== 'dry-run')) return verdict;
    try {
      if (await window.claim('plant', verdict.incidentId, this.now())) return verdict;
    } catch (error) {
      this.sayOnceAMinute('stop', "the shared emergencyStop rate limit cannot be reached: this instance's own limit decides meanwhile", { error: (error as Error).message });
      return verdict;
    }
    return { ...verdict, kind: 'blocked', reason: `rate limit: ${max} stops in the last hour across the plant (every instance); ${verdict.reason}` };
  }

  /** A warning about a shared window that cannot be reached, at most once a minute per kind. */
  private sayOnceAMinute(kind: 'flood' | 'stop', message: string, fields: Record<string, string>): void {
    const minute = Math.floor(this.now() / 60_000);
    if (this.windowDown.get(kind) === minute) return;
    this.windowDown.set(kind, minute);
    this.deps.logger.log('warn', message, fields);
  }

  /**
   * A sent stop goes on the twin at once, before the alert and the batch's own patch: if this
   * process dies in between, whichever instance replays the batch reads it there (the stop
   * interlock) and does not stop the machine again. Best effort: the batch's patch records it too.
   */
  private async recordStopOnTwin(deviceId: string, verdict: StopVerdict, work: DeviceWork): Promise<void> {
    // The stop fields alone, as the batch's patch would write them (no readings: nothing else moves).
    const { settings } = this.deps;
    const update = planTwinUpdate(work.state, [], {
      thresholds: settings.thresholds,
      intervalMs: settings.twinPatchIntervalMs,
      properties: this.propertiesOf(work.kind),
      alertTime: undefined,
      stop: { time: verdict.trigger.reading.time, reason: verdict.reason },
    });
    if (!update) return;
    try {
      const etag = await this.deps.twins.patch(deviceId, update.ops, work.state.etag);
      work.state = { ...update.next, etag };
      this.cache.remember(work.state);
    } catch (error) {
      this.deps.logger.log('warn', 'could not record the stop on the twin yet (the batch patch will)', { deviceId, error: (error as Error).message });
    }
  }

  private async alertOf(decision: CardDecision, work: DeviceWork, action: Alert['action'], restOf: (line: string) => Promise<Alert['lineAtRest']>): Promise<Alert> {
    const { reading, score } = decision.trigger;
    const line = await this.lines.lineOf(reading.deviceId);
    const rest = line !== undefined && decision.event.kind !== 'cleared' ? await restOf(line) : undefined;
    return {
      id: decision.id,
      deviceId: reading.deviceId,
      modelId: work.kind.twinModelId,
      equipmentType: work.kind.displayName,
      severity: decision.severity,
      time: reading.time,
      anomalyScore: score.anomalyScore,
      failureProbability: score.failureProbability,
      readings: reading.values,
      units: { ...work.kind.units },
      contributions: score.contributions,
      modelVersion: score.modelVersion,
      dashboardUrl: this.deps.settings.dashboardUrl,
      line,
      ...(rest ? { lineAtRest: rest } : {}),
      incident: { id: decision.event.incidentId, event: decision.event.kind, raisedAt: decision.event.raisedAt ?? work.alarm?.state.r ?? decision.event.time, reopened: decision.event.reopened, ...(decision.event.delayed ? { delayed: true } : {}), ...(decision.event.stopOnly ? { stopOnly: true } : {}) },
      action,
      condition: conditionOfStep(decision.event, decision.trigger),
      ...(decision.event.blind ? { notMeasured: decision.event.blind } : {}),
    };
  }

  /** The line's status when it is at rest, for a batch's cards on it; undefined when running or unreadable now, its cards then say nothing of it. */
  private async lineAtRest(line: string): Promise<Alert['lineAtRest']> {
    try {
      const status = lineStatusOf(await this.deps.twins.getTwin(line));
      return lineAtRest(status) ? { status: status.status!, since: status.since } : undefined;
    } catch {
      return undefined;
    }
  }

  private propertiesOf(kind: EquipmentKind): ReadonlySet<string> {
    let props = this.twinProperties.get(kind.twinModelId);
    if (!props) {
      props = new Set(this.deps.catalog.models.get(kind.twinModelId)?.properties.keys() ?? []);
      this.twinProperties.set(kind.twinModelId, props);
    }
    return props;
  }

  private async updateTwins(byDevice: Map<string, DeviceWork>, cards: Map<string, CardDecision[]>, stops: Map<string, StopVerdict>, actions: Map<string, NonNullable<Alert['action']>>, detectorBefore: ReadonlyMap<string, DetectorBefore>, partition: string) {
    const outcome = { patched: 0, deferred: 0, stale: 0, errors: 0 };
    const { settings, logger } = this.deps;
    // Planned for every device here, synchronously; only the few with a patch due go on to the
    // concurrent, asynchronous part (an async task cost ~5 µs a device and batch: most of a
    // batch's cost when each device has one or two readings in it, as in the host's).
    const due: { deviceId: string; work: DeviceWork; why: PatchCause; update: TwinUpdate }[] = [];
    for (const [deviceId, work] of byDevice) {
      const sentCards = cards.get(deviceId);
      const verdict = stops.get(deviceId);
      // Every card of the batch carries its stop, so the stop's reading has been told of too.
      const told = sentCards?.[sentCards.length - 1]!.trigger.reading.time;
      const why: PatchCause = {
        alertTime: told !== undefined && verdict && actions.has(deviceId) ? Math.max(told, verdict.trigger.reading.time) : told,
        sent: verdict && actions.get(deviceId)?.outcome === 'executed' ? { time: verdict.trigger.reading.time, reason: verdict.reason } : undefined,
      };
      outcome.stale += work.scored.length - work.fresh.length;
      const update = this.planPatch(deviceId, work, work.state, work.fresh, why);
      if (update) due.push({ deviceId, work, why, update });
      else if (work.fresh.length) outcome.deferred++;
    }
    await forEachLimited(due, settings.twinPatchConcurrency, async ({ deviceId, work, why, update: planned }) => {
      let state = work.state;
      let update = planned;
      for (let attempt = 0; ; attempt++) {
        if (update.omitted) this.tellOnce(deviceId, 'telemetry', 'telemetry left off the twin: a string over its 4 KB limit (the reading is stored)', { properties: update.omitted.join(', ') });
        try {
          const etag = await this.deps.twins.patch(deviceId, update.ops, state.etag);
          this.cache.remember({ ...update.next, etag });
          this.gaps.check(deviceId, partition);
          // The twin now holds this state: the next batch continues from the in-memory copy.
          const detector = this.detectorStates.get(deviceId);
          if (detector) detector.stored = update.next.detectorState;
          const alarm = this.alarmStates.get(deviceId);
          if (alarm && work.alarm?.state) alarm.stored = update.next.alarmState;
          outcome.patched++;
          return;
        } catch (error) {
          if (isAppError(error) && error.code === 'twin.etagMismatch' && attempt < MAX_ETAG_RETRIES) {
            // Someone else wrote the twin: re-read it and plan again against what it holds now.
            const reloaded = await this.cache.reload(deviceId);
            if (!reloaded) return;
            state = reloaded;
            this.adoptTwinDetector(deviceId, reloaded, work, detectorBefore);
            this.adoptTwinAlarm(deviceId, reloaded, work);
            const fresh = freshReadings(state, work.scored);
            const again = this.planPatch(deviceId, work, state, fresh, why);
            if (!again) {
              if (fresh.length) outcome.deferred++;
              return;
            }
            update = again;
            continue;
          }
          if (isAppError(error) && error.retryable) throw error;
          // A patch ADT refuses for good (model changed, twin deleted) would fail every replay too.
          outcome.errors++;
          logger.log('error', 'twin patch refused', { deviceId, code: isAppError(error) ? error.code : 'unknown', error: (error as Error).message });
          return;
        }
      }
    });
    return outcome;
  }

  /** The patch this batch owes the twin as it is in `state` (undefined: none due yet). */
  private planPatch(deviceId: string, work: DeviceWork, state: TwinState, fresh: readonly ScoredReading[], why: PatchCause): TwinUpdate | undefined {
    const { settings } = this.deps;
    // Health is the open incident's priority: a lone outlier does not turn a healthy twin critical.
    const alarmState = work.alarm?.state;
    const health: HealthStatus = alarmState?.id && alarmState.p && alarmState.p !== 'low' ? alarmState.p : 'normal';
    const detector = this.detectorStates.get(deviceId);
    return planTwinUpdate(state, fresh, {
      thresholds: settings.thresholds,
      intervalMs: settings.twinPatchIntervalMs,
      properties: this.propertiesOf(work.kind),
      alertTime: why.alertTime,
      ...(why.sent ? { stop: why.sent } : {}),
      // Serialised only when a patch goes out.
      ...(detector ? { detectorState: () => this.storedDetectorState(deviceId, detector.state) } : {}),
      ...(alarmState ? { alarmState: () => JSON.stringify(alarmState) } : {}),
      health,
      measured: work.kind.measuredTelemetry,
    });
  }
}

/**
 * The stop's step (if it took one) among the batch's: it supersedes one of the same kind the
 * lifecycle took quietly at the same reading (late readings made the incident critical there):
 * AlarmEvents keeps one row per incident, step and time, and it must say that people were told.
 */
function withStopStep(events: AlarmEvent[], raise: AlarmEvent | undefined): void {
  if (!raise) return;
  const quietTwin = events.findIndex((e) => e.incidentId === raise.incidentId && e.kind === raise.kind && e.time === raise.time);
  if (quietTwin >= 0) events[quietTwin] = raise;
  else events.push(raise);
}

/** Part of a batch's watched readings, [from, to), and what the whole batch says of its sensors not measured. */
interface BatchPart {
  from: number;
  to: number;
  blind: ((index: number) => Blindness | undefined) | undefined;
}

/** What besides fresh readings makes a twin's patch due at once: a card sent, an emergencyStop executed. */
interface PatchCause {
  alertTime: number | undefined;
  sent: { time: number; reason: string } | undefined;
}

/** The detector state a twin holds (a fresh one when it holds none or garbage). */
function storedDetectorState(twin: TwinState): DetectorState {
  try {
    return reviveDetectorState(twin.detectorState ? JSON.parse(twin.detectorState) : undefined);
  } catch {
    return reviveDetectorState(undefined);
  }
}

/** The readings the alarm lifecycle and the stop policy watch (`list` itself when all of them): those that bear on alarms. */
function withEvidence(list: ScoredReading[], measured: readonly string[], notMeasured: boolean): ScoredReading[] {
  let out: ScoredReading[] | undefined;
  for (let i = 0; i < list.length; i++) {
    const s = list[i]!;
    // A reading that says a sensor is not measured bears on the diagnostic alarm, even if it measured nothing else.
    if (bearsOnAlarms(s.alarm!, measuresAny(s.reading, measured) || (notMeasured && statesNotMeasured(s.reading, measured)), statusOf(s.reading))) out?.push(s);
    else out ??= list.slice(0, i);
  }
  return out ?? list;
}

/** A watched reading there only for the diagnostic alarm: it measured nothing and scored nothing, and bears on alarms by its nulls alone. */
function measuredNothing(s: ScoredReading, measured: readonly string[]): boolean {
  return !bearsOnAlarms(s.alarm!, measuresAny(s.reading, measured), statusOf(s.reading));
}

function statesNotMeasured(reading: Reading, names: readonly string[]): boolean {
  for (const name of names) if (reading.values[name] === null) return true;
  return false;
}

/**
 * The sensors the equipment's watched readings state as not measured (null), reading by reading
 * from what its incident state remembers (`b`), which is left as of the last one. A sensor measures
 * again with a number; a machine out of service (stopped, idle, in maintenance) is not watched on
 * its sensors, so it forgets them. Undefined (nothing to say) unless some sensor is or was not measured.
 */
function blindnessOf(work: DeviceWork, state: AlarmState): ((index: number) => Blindness | undefined) | undefined {
  if (!state.b && !work.notMeasured) return undefined;
  const names = work.kind.measuredTelemetry;
  let b = state.b;
  let status = work.state.status;
  const out: (Blindness | undefined)[] = [];
  for (const { reading } of work.watched) {
    status = statusOf(reading) ?? status;
    if (status !== undefined && OUT_OF_SERVICE.has(status)) {
      b = undefined;
      out.push(undefined);
      continue;
    }
    let measured = false;
    for (const name of names) {
      const v = reading.values[name];
      if (typeof v === 'number') {
        measured = true;
        if (b && Object.hasOwn(b, name)) {
          // A new record, never the one the state holds: a peek runs on a shallow copy of it.
          const { [name]: _, ...rest } = b;
          b = Object.keys(rest).length ? rest : undefined;
        }
      } else if (v === null && !(b && Object.hasOwn(b, name))) b = { ...b, [name]: reading.time };
    }
    if (!b) {
      out.push(measured ? undefined : { sensors: [], since: reading.time, measuredNothing: true });
      continue;
    }
    const sensors = Object.keys(b).sort((x, y) => b![x]! - b![y]! || (x < y ? -1 : 1));
    out.push({ sensors, since: b[sensors[0]!]!, measuredNothing: !measured });
  }
  if (b) state.b = b;
  else delete state.b;
  return (i) => out[i];
}

/** The controller's status, when the reading carries one as text. */
function statusOf(reading: Reading): string | undefined {
  const status = reading.values.status;
  return typeof status === 'string' ? status : undefined;
}

function scoreInput(reading: Reading, kind: EquipmentKind): ScoreInput {
  const features: Record<string, number | null> = {};
  for (const name of kind.numericTelemetry) {
    const v = reading.values[name];
    features[name] = typeof v === 'number' ? v : null;
  }
  return { deviceId: reading.deviceId, modelId: kind.twinModelId, time: reading.time, status: statusOf(reading), features };
}

function deadLetterOf(reading: Reading, reason: string, detail: string, now: number): DeadLetter {
  return {
    reason,
    detail,
    deviceId: reading.deviceId,
    messageId: reading.messageId,
    partitionId: reading.partitionId,
    sequenceNumber: reading.sequenceNumber,
    enqueuedTime: Date.parse(reading.enqueuedIso),
    event: reading.event,
    body: JSON.stringify({ timestamp: reading.timeIso, ...reading.values }).slice(0, 2048),
    receivedAt: now,
  };
}

function deadLetterRow(d: DeadLetter): DeadLetterRow {
  return {
    ReceivedAt: new Date(d.receivedAt).toISOString(),
    Reason: d.reason,
    Detail: d.detail,
    DeviceId: d.deviceId ?? null,
    MessageId: d.messageId ?? null,
    PartitionId: d.partitionId ?? null,
    SequenceNumber: d.sequenceNumber ?? null,
    EnqueuedTime: d.enqueuedTime === undefined ? null : new Date(d.enqueuedTime).toISOString(),
    Body: d.body,
  };
}

/** An incident is named after its equipment and the reading that raised it, so a replay names it alike. */
function incidentIdOf(deviceId: string, work: DeviceWork, index: number): string {
  return `${deviceId}|${work.watched[index]!.reading.key}`;
}

/** What a raise or an escalation is about: sensors not measured (a diagnostic alarm), else what the detector saw in the reading behind it. */
function conditionOfStep(e: AlarmEvent, trigger: ScoredReading): Condition | undefined {
  return e.blind ? 'notMeasured' : conditionOf(trigger.alarm?.kind);
}

/** A step's Detail: for a raise or an escalation, what the detector saw in the reading behind it, and its scores (a clear has none). */
function stepDetail(trigger: ScoredReading | undefined, e: AlarmEvent): string {
  if (!trigger) return eventDetail(undefined, e.reopened);
  return eventDetail(conditionOfStep(e, trigger), e.reopened, { anomalyScore: trigger.score.anomalyScore, failureProbability: trigger.score.failureProbability ?? null }, e.blind?.sensors.slice(0, 8));
}
