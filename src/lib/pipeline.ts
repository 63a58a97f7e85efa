/**
 * processBatch: one Event Hub batch, end to end. Decode → dedupe → resolve twins → validate
 * against the device's DTDL model → score (one call) → store rows, flags and dead letters (one
 * call) → alerts → at most one patch per twin. Bad events are dead-lettered and never fail the
 * batch; a dependency that still fails after retries fails the batch so the host replays it,
 * which is safe because every effect is idempotent.
 */
import { isAppError } from './errors.ts';
import type { Logger } from './log.ts';
import type { Alert, AlertSink, CommandsPort, ScoreInput, ScoreResult, StoreBatch, TelemetryStorePort, TwinState, TwinsPort } from './ports.ts';
import { StopPolicy, type StopSettings, type StopVerdict } from './commands/stop-policy.ts';
import { forEachLimited } from './bounded-set.ts';
import { RecentKeys } from './telemetry/recent-keys.ts';
import { decodeBatch, type BatchMetadata } from './telemetry/decode.ts';
import type { DeadLetter, Reading } from './telemetry/reading.ts';
import type { EquipmentKind, TelemetryCatalog } from './telemetry/catalog.ts';
import type { ResilientScorer } from './anomaly/resilient-scorer.ts';
import { StreamingDetector, STREAMING_MODEL_VERSION, reviveDetectorState, type Detection, type DetectorState } from './anomaly/streaming-detector.ts';
import { AlertPolicy, type AlertDecision } from './alerts/alert-policy.ts';
import { TwinStateCache } from './twins/twin-state-cache.ts';
import { freshReadings, healthOf, planTwinUpdate, type ScoredReading, type Thresholds } from './twins/twin-update.ts';
import type { AnomalyFlagRow, DeadLetterRow, MaintenanceActionRow, TelemetryRow } from './store/rows.ts';

export interface PipelineSettings {
  thresholds: Thresholds;
  twinPatchIntervalMs: number;
  twinPatchConcurrency: number;
  alertCooldownMs: number;
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
  settings: PipelineSettings;
  logger: Logger;
  now?: () => number;
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
  twinsPatched: number;
  twinsDeferred: number;
  twinErrors: number;
  alertsSent: number;
  /** emergencyStop decisions acted on: sent, dry runs and blocked ones. */
  stops: { executed: number; failed: number; dryRun: number; blocked: number };
  scoredBy: 'endpoint' | 'fallback' | 'none';
  /** Where the batch's time went (ms), for logs and benchmarks. */
  timings?: { twinStatesMs: number; scoreMs: number; storeMs: number; stopsMs: number; alertsMs: number; twinPatchesMs: number };
}

interface DeviceWork {
  state: TwinState;
  kind: EquipmentKind;
  /** Valid readings in arrival order, with their scores. */
  scored: ScoredReading[];
  /** Those newer than the twin, oldest first. */
  fresh: ScoredReading[];
}

const MAX_ETAG_RETRIES = 3;

export class TelemetryPipeline {
  private readonly cache: TwinStateCache;
  private readonly policy: AlertPolicy;
  /** Keys of readings already handled: routing replays are dropped early. */
  private readonly recent = new RecentKeys();
  private readonly now: () => number;
  private readonly twinProperties = new Map<string, ReadonlySet<string>>();
  private readonly detector: StreamingDetector;
  /** Detector states of the twins this instance scores, with the JSON last seen on the twin. */
  private readonly detectorStates = new Map<string, { stored: string | undefined; state: DetectorState }>();
  private readonly stopPolicy: StopPolicy | undefined;
  /** Action rows not yet stored (the write failed): written with the host's retry. */
  private unwrittenActions: MaintenanceActionRow[] = [];
  /** Line of each equipment, for alert cards (looked up once, on the first alert). */
  private readonly lines = new Map<string, string | undefined>();

  constructor(private readonly deps: PipelineDeps) {
    this.now = deps.now ?? Date.now;
    this.cache = new TwinStateCache(deps.twins, this.now);
    this.policy = new AlertPolicy(deps.settings.thresholds, deps.settings.alertCooldownMs);
    this.detector = deps.detector ?? new StreamingDetector();
    const autoStop = deps.settings.autoStop;
    this.stopPolicy = autoStop && autoStop.mode !== 'off' ? new StopPolicy(autoStop, deps.settings.thresholds) : undefined;
  }

  /**
   * The detector state to continue from: this instance's own, unless the twin holds a newer one
   * (another instance scored the device since, e.g. before a partition moved back here).
   */
  private detectorStateOf(twin: TwinState): DetectorState {
    const mine = this.detectorStates.get(twin.id);
    if (mine && mine.stored === twin.detectorState) return mine.state;
    let stored: DetectorState;
    try {
      stored = reviveDetectorState(twin.detectorState ? JSON.parse(twin.detectorState) : undefined);
    } catch {
      stored = reviveDetectorState(undefined);
    }
    const state = mine && mine.state.t >= stored.t ? mine.state : stored;
    if (this.detectorStates.size >= 200_000 && !mine) this.detectorStates.clear();
    this.detectorStates.set(twin.id, { stored: twin.detectorState, state });
    return state;
  }

  async processBatch(bodies: readonly unknown[], meta: BatchMetadata): Promise<BatchResult> {
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
    try {
      return await this.handle(readingsByDevice, decoded.readings.length, duplicates, deadLetters, bodies.length, now);
    } catch (error) {
      for (const [deviceId, list] of readingsByDevice) for (const r of list) this.recent.forget(deviceId, r.key);
      throw error;
    }
  }

  private async handle(readingsByDevice: Map<string, Reading[]>, readingCount: number, duplicates: number, deadLetters: DeadLetter[], events: number, now: number): Promise<BatchResult> {
    const { logger } = this.deps;
    const timings = { twinStatesMs: 0, scoreMs: 0, storeMs: 0, stopsMs: 0, alertsMs: 0, twinPatchesMs: 0 };
    let mark = performance.now();
    const lap = (phase: keyof typeof timings) => {
      const t = performance.now();
      timings[phase] = Math.round(t - mark);
      mark = t;
    };
    // 2. Twins and models: unknown devices and invalid readings are dead-lettered.
    const states = readingsByDevice.size ? await this.cache.resolve([...readingsByDevice.keys()]) : new Map<string, TwinState>();
    lap('twinStatesMs');
    const byDevice = new Map<string, DeviceWork>();
    const inputs: ScoreInput[] = [];
    const owners: DeviceWork[] = [];
    const valid: Reading[] = [];
    for (const [deviceId, readings] of readingsByDevice) {
      const state = states.get(deviceId);
      const kind = state && this.deps.catalog.forTwinModel(state.modelId);
      if (!state || !kind) {
        const [reason, detail] = !state
          ? ['device.unknown', `no digital twin with id '${deviceId}': register the device's twin before it sends`]
          : ['device.noTelemetryModel', `twin '${deviceId}' has model ${state.modelId}, which has no device model describing its telemetry`];
        for (const reading of readings) deadLetters.push(deadLetterOf(reading, reason, detail, now));
        continue;
      }
      const work: DeviceWork = { state, kind, scored: [], fresh: [] };
      for (const reading of readings) {
        const check = kind.validate(reading.values);
        if (!check.ok) {
          deadLetters.push(deadLetterOf(reading, 'telemetry.invalid', check.message, now));
          continue;
        }
        inputs.push(scoreInput(reading, kind));
        owners.push(work);
        valid.push(reading);
      }
      if (owners[owners.length - 1] === work) byDevice.set(deviceId, work);
    }

    // 3. Score: the streaming detector, reading by reading in arrival order (causal), then one
    //    call to the ML endpoint for the whole batch; its results come back in input order.
    mark = performance.now();
    const detections: Detection[] = new Array(inputs.length);
    for (let i = 0; i < inputs.length; i++) {
      const work = owners[i]!;
      const input = inputs[i]!;
      const measured: Record<string, number | null> = {};
      for (const name of work.kind.measuredTelemetry) measured[name] = input.features[name] ?? null;
      const d = this.detector.step(this.detectorStateOf(work.state), input.time, measured, input.status);
      detections[i] = d;
      input.derived = d.features as unknown as Record<string, number>;
    }
    const scoring = inputs.length ? await this.deps.scorer.score(inputs) : { results: undefined, source: 'none' as const };
    lap('scoreMs');
    for (let i = 0; i < owners.length; i++) {
      const d = detections[i]!;
      const e = scoring.results?.[i];
      const score: ScoreResult =
        e === undefined
          ? { anomalyScore: d.anomalyScore, failureProbability: undefined, rulHours: d.rulHours, contributions: d.contributions, modelVersion: STREAMING_MODEL_VERSION }
          : {
              anomalyScore: Math.max(d.anomalyScore, e.anomalyScore),
              failureProbability: e.failureProbability,
              rulHours: e.rulHours ?? d.rulHours,
              contributions: e.anomalyScore > d.anomalyScore ? e.contributions : d.contributions,
              modelVersion: `${STREAMING_MODEL_VERSION}+${e.modelVersion}`,
            };
      owners[i]!.scored.push({ reading: valid[i]!, score });
    }

    // 4. Decide alerts before any effect, so the store rows carry alert ids.
    const alerts = new Map<string, AlertDecision>();
    const stops = new Map<string, StopVerdict>();
    for (const [deviceId, work] of byDevice) {
      work.fresh = freshReadings(work.state, work.scored);
      let decision = this.policy.decide(work.state, work.fresh);
      const stop = this.stopPolicy?.decide(work.state, work.fresh, now);
      if (stop) {
        stops.set(deviceId, stop);
        // A stop sent (or refused by the rate limit) always reaches people, cooldown or not.
        if (!decision && stop.kind !== 'dry-run') decision = { id: `${stop.incidentId}|alert`, severity: 'critical', trigger: stop.trigger };
      }
      if (decision) alerts.set(deviceId, decision);
    }

    // 5. Store: telemetry rows, anomaly flags and dead letters in one call.
    const batch = this.storeBatch(byDevice, alerts, deadLetters);
    mark = performance.now();
    await this.deps.store.write(batch);
    lap('storeMs');

    // 6. Automated stops (interlocked), recorded in MaintenanceActions; then alerts; then twins
    //    (the patch records lastAlertTime and the stop, so a replay stays quiet).
    const stopOutcome = { executed: 0, failed: 0, dryRun: 0, blocked: 0 };
    const actions = new Map<string, NonNullable<Alert['action']>>();
    if (stops.size || this.unwrittenActions.length) {
      await forEachLimited([...stops], 8, async ([deviceId, verdict]) => {
        const action = await this.act(deviceId, verdict);
        actions.set(deviceId, action);
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
    if (this.deps.alerts) {
      const sink = this.deps.alerts;
      // Alerts of different devices are independent: post a few at a time, not one after another.
      await forEachLimited([...alerts], 8, async ([deviceId, decision]) => {
        await sink.send(await this.alertOf(decision, byDevice.get(deviceId)!, actions.get(deviceId)));
        this.policy.markSent(decision.id);
        alertsSent++;
      });
    }
    lap('alertsMs');
    const twinOutcome = await this.updateTwins(byDevice, alerts, stops, actions);
    lap('twinPatchesMs');

    const reasons: Record<string, number> = {};
    for (const d of deadLetters) reasons[d.reason] = (reasons[d.reason] ?? 0) + 1;
    const result: BatchResult = {
      events,
      readings: readingCount,
      duplicates,
      deadLettered: deadLetters.length,
      deadLetterReasons: reasons,
      stored: batch.telemetry.length,
      anomalies: batch.anomalies.length,
      stale: twinOutcome.stale,
      twinsPatched: twinOutcome.patched,
      twinsDeferred: twinOutcome.deferred,
      twinErrors: twinOutcome.errors,
      alertsSent,
      stops: stopOutcome,
      scoredBy: scoring.source,
      timings,
    };
    if (deadLetters.length) logger.log('warn', 'dead-lettered events', { count: deadLetters.length, reasons: JSON.stringify(reasons) });
    return result;
  }

  private storeBatch(byDevice: Map<string, DeviceWork>, alerts: Map<string, AlertDecision>, deadLetters: DeadLetter[]): StoreBatch {
    const telemetry: TelemetryRow[] = [];
    const anomalies: AnomalyFlagRow[] = [];
    const { thresholds } = this.deps.settings;
    for (const [deviceId, work] of byDevice) {
      const alert = alerts.get(deviceId);
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
        const severity = healthOf(score.anomalyScore, thresholds);
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
          AlertId: alert && alert.trigger.reading === reading ? alert.id : null,
        });
      }
    }
    return { telemetry, anomalies, deadLetters: deadLetters.map(deadLetterRow) };
  }

  /** Sends (or not) one emergencyStop, and queues its MaintenanceActions row. */
  private async act(deviceId: string, verdict: StopVerdict): Promise<NonNullable<Alert['action']>> {
    let outcome: string = verdict.kind === 'stop' ? 'executed' : verdict.kind;
    let detail = verdict.reason;
    if (verdict.kind === 'stop') {
      if (!this.deps.commands) {
        outcome = 'failed';
        detail = `no IoT Hub configured to send emergencyStop; ${verdict.reason}`;
      } else {
        try {
          const result = await this.deps.commands.invoke(deviceId, 'emergencyStop', { reason: verdict.reason, incidentId: verdict.incidentId, failureProbability: verdict.trigger.score.failureProbability }, 10);
          if (result.status < 200 || result.status >= 300) {
            outcome = 'failed';
            detail = `device answered ${result.status}: ${JSON.stringify(result.payload).slice(0, 200)}; ${verdict.reason}`;
          }
        } catch (error) {
          outcome = 'failed';
          detail = `${isAppError(error) ? error.code : 'error'}: ${(error as Error).message}; ${verdict.reason}`;
        }
      }
    }
    this.stopPolicy!.record(verdict, this.now());
    const { reading, score } = verdict.trigger;
    this.unwrittenActions.push({ Timestamp: reading.timeIso, DeviceId: deviceId, IncidentId: verdict.incidentId, Action: 'emergencyStop', Outcome: outcome, Detail: detail, FailureProbability: score.failureProbability ?? null, AnomalyScore: score.anomalyScore, ModelVersion: score.modelVersion });
    this.deps.logger.log(outcome === 'executed' || outcome === 'dry-run' ? 'warn' : 'error', `emergencyStop ${outcome}`, { deviceId, incidentId: verdict.incidentId, detail });
    return { name: 'emergencyStop', outcome, detail };
  }

  private async lineOf(deviceId: string): Promise<string | undefined> {
    if (this.lines.has(deviceId)) return this.lines.get(deviceId);
    let line: string | undefined;
    try {
      const incoming = await this.deps.twins.listIncomingRelationships(deviceId);
      line = incoming.find((r) => r.$relationshipName === 'contains')?.$sourceId as string | undefined;
    } catch {
      return undefined; // the card goes out without it; looked up again next time
    }
    this.lines.set(deviceId, line);
    return line;
  }

  private async alertOf(decision: AlertDecision, work: DeviceWork, action: Alert['action']): Promise<Alert> {
    const { reading, score } = decision.trigger;
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
      line: await this.lineOf(reading.deviceId),
      escalatedSince: decision.escalation?.since,
      action,
    };
  }

  private propertiesOf(kind: EquipmentKind): ReadonlySet<string> {
    let props = this.twinProperties.get(kind.twinModelId);
    if (!props) {
      props = new Set(this.deps.catalog.models.get(kind.twinModelId)?.properties.keys() ?? []);
      this.twinProperties.set(kind.twinModelId, props);
    }
    return props;
  }

  private async updateTwins(byDevice: Map<string, DeviceWork>, alerts: Map<string, AlertDecision>, stops: Map<string, StopVerdict>, actions: Map<string, NonNullable<Alert['action']>>) {
    const outcome = { patched: 0, deferred: 0, stale: 0, errors: 0 };
    const { settings, logger } = this.deps;
    await forEachLimited([...byDevice.entries()], settings.twinPatchConcurrency, async ([deviceId, work]) => {
      let state = work.state;
      const alertTime = alerts.get(deviceId)?.trigger.reading.time;
      const verdict = stops.get(deviceId);
      const sent = verdict && actions.get(deviceId)?.outcome === 'executed' ? { time: verdict.trigger.reading.time, reason: verdict.reason } : undefined;
      for (let attempt = 0; ; attempt++) {
        const fresh = attempt === 0 ? work.fresh : freshReadings(state, work.scored);
        if (attempt === 0) outcome.stale += work.scored.length - fresh.length;
        const detector = this.detectorStates.get(deviceId);
        const update = planTwinUpdate(state, fresh, {
          thresholds: settings.thresholds,
          intervalMs: settings.twinPatchIntervalMs,
          properties: this.propertiesOf(work.kind),
          alertTime,
          ...(sent ? { stop: sent } : {}),
          ...(detector ? { detectorState: JSON.stringify(detector.state) } : {}),
        });
        if (!update) {
          if (fresh.length) outcome.deferred++;
          return;
        }
        try {
          const etag = await this.deps.twins.patch(deviceId, update.ops, state.etag);
          this.cache.remember({ ...update.next, etag });
          // The twin now holds this state: the next batch continues from the in-memory copy.
          if (detector) detector.stored = update.next.detectorState;
          outcome.patched++;
          return;
        } catch (error) {
          if (isAppError(error) && error.code === 'twin.etagMismatch' && attempt < MAX_ETAG_RETRIES) {
            // Someone else wrote the twin: re-read it and plan again against what it holds now.
            const reloaded = await this.cache.reload(deviceId);
            if (!reloaded) return;
            state = reloaded;
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
}

function scoreInput(reading: Reading, kind: EquipmentKind): ScoreInput {
  const features: Record<string, number | null> = {};
  for (const name of kind.numericTelemetry) {
    const v = reading.values[name];
    features[name] = typeof v === 'number' ? v : null;
  }
  const status = reading.values.status;
  return { deviceId: reading.deviceId, modelId: kind.twinModelId, time: reading.time, status: typeof status === 'string' ? status : undefined, features };
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

