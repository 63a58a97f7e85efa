/**
 * What one batch does to one twin: at most one JSON Patch, carrying the newest value of each
 * telemetry and the health of the newest reading, and only readings newer than what the twin
 * already holds. A twin whose readings are merely fresher is patched at most once per interval;
 * a change of status or health, or an alert, goes out at once.
 */
import type { JsonPatchOp, ScoreResult, TwinState } from '../ports.ts';
import { measuresAny, type Reading } from '../telemetry/reading.ts';
import type { AlarmEvidence } from '../alerts/alarm-lifecycle.ts';
import { oversizedString } from './adt-limits.ts';

export type HealthStatus = 'normal' | 'warning' | 'critical';

export interface Thresholds {
  warning: number;
  critical: number;
}

export function healthOf(score: number, t: Thresholds): HealthStatus {
  return score >= t.critical ? 'critical' : score >= t.warning ? 'warning' : 'normal';
}

export interface ScoredReading {
  reading: Reading;
  score: ScoreResult;
  /** What the alarm lifecycle reads of it (the pipeline sets it). */
  alarm?: AlarmEvidence;
}

export interface TwinUpdate {
  ops: JsonPatchOp[];
  /** The state the twin will be in once the patch lands (etag aside). */
  next: TwinState;
  /** Why it goes out now: first reading, interval elapsed, status, health or alert. */
  reason: 'first' | 'interval' | 'status' | 'health' | 'alert' | 'stop';
  /** Telemetry left off the twin: a string over ADT's 4 KB would get the whole patch refused (the reading itself is stored). */
  omitted?: string[];
}

export interface PlanOptions {
  thresholds: Thresholds;
  intervalMs: number;
  /** Properties the twin's model declares: nothing else is ever patched. */
  properties: ReadonlySet<string>;
  alertTime: number | undefined;
  /** An emergencyStop the pipeline sent with this batch: recorded on the twin at once. */
  stop?: { time: number; reason: string };
  /** The detector's state to store with the patch (JSON, made only when a patch is due; undefined: the twin keeps what it has). */
  detectorState?: () => string | undefined;
  /** The alarm lifecycle's state to store with the patch (JSON, made only when a patch is due). */
  alarmState?: () => string;
  /**
   * The equipment's health as its open incident has it (none: normal). Without it, health is
   * the newest reading's score against the thresholds.
   */
  health?: HealthStatus;
  /**
   * The telemetry the scores judge. A reading that carries none of it and scores nothing (a status
   * change, a counter) says nothing of health: the twin keeps the scores of the newest reading
   * that did, so a machine that reports `emergencyStopped` after its stop does not read "failure
   * probability 0 %". Without it, every reading counts.
   */
  measured?: readonly string[];
}

/** Whether a reading's scores say anything of the equipment's health (see PlanOptions.measured). */
export function judgesHealth(s: ScoredReading, measured: readonly string[] | undefined): boolean {
  return measured === undefined || s.score.anomalyScore > 0 || measuresAny(s.reading, measured);
}

/** Readings newer than the twin's newest, oldest first. */
export function freshReadings(state: TwinState, scored: readonly ScoredReading[]): ScoredReading[] {
  return inTimeOrder(scored, state.lastTelemetryTime ?? -Infinity);
}

/** Readings later than `since` (all of them by default), oldest first. */
export function inTimeOrder(scored: readonly ScoredReading[], since = -Infinity): ScoredReading[] {
  const fresh: ScoredReading[] = [];
  let ordered = true;
  for (const s of scored) {
    if (s.reading.time <= since) continue;
    if (fresh.length && s.reading.time < fresh[fresh.length - 1]!.reading.time) ordered = false;
    fresh.push(s);
  }
  // Readings mostly arrive in order: sort only when they did not.
  return ordered ? fresh : fresh.sort((a, b) => a.reading.time - b.reading.time);
}

/**
 * A telemetry value as a patch writes it onto its twin: the property, and when it was measured
 * (ADT's own sourceTime), so a sensor that stopped being measured shows as one whose sourceTime
 * falls behind lastTelemetryTime (the dashboard says so).
 */
export function measuredValueOps(name: string, value: unknown, time: number): JsonPatchOp[] {
  return [
    { op: 'add', path: `/${name}`, value },
    // `replace`, as ADT's documentation and the SDK's own live tests set it (no example uses `add`).
    { op: 'replace', path: `/$metadata/${name}/sourceTime`, value: new Date(time).toISOString() },
  ];
}

/** Returns the patch to send now, or undefined when nothing is due (or nothing is newer). */
export function planTwinUpdate(state: TwinState, fresh: readonly ScoredReading[], options: PlanOptions): TwinUpdate | undefined {
  const newest = fresh[fresh.length - 1];
  if (!newest) return planStatusOnly(state, options);

  // The newest reading whose scores say something of health (usually the newest).
  let judged: ScoredReading | undefined;
  for (let i = fresh.length - 1; i >= 0 && !judged; i--) if (judgesHealth(fresh[i]!, options.measured)) judged = fresh[i];
  const health = options.health ?? (judged ? healthOf(judged.score.anomalyScore, options.thresholds) : (state.healthStatus as HealthStatus | undefined) ?? 'normal');
  let status = state.status;
  for (let i = fresh.length - 1; i >= 0; i--) {
    const reported = fresh[i]!.reading.values.status;
    if (typeof reported === 'string') {
      status = reported;
      break;
    }
  }
  const reason: TwinUpdate['reason'] | undefined =
    state.lastTelemetryTime === undefined ? 'first'
    : options.stop !== undefined ? 'stop'
    : options.alertTime !== undefined ? 'alert'
    : status !== state.status ? 'status'
    : health !== state.healthStatus ? 'health'
    : newest.reading.time - state.lastTelemetryTime >= options.intervalMs ? 'interval'
    : undefined;
  if (!reason) return undefined;

  // Newest value per telemetry: later readings overwrite earlier ones (fresh is oldest first). A value
  // not measured (null) moves nothing: the twin keeps the last one measured, and ADT's metadata of
  // the property says since when.
  const latest: Record<string, unknown> = {};
  /** When each of those was measured: the property's sourceTime on the twin. */
  const measuredAt: Record<string, number> = {};
  for (const s of fresh) {
    const values = s.reading.values;
    for (const name in values) {
      if (values[name] === null) continue;
      latest[name] = values[name];
      measuredAt[name] = s.reading.time;
    }
  }

  const ops: JsonPatchOp[] = [];
  const set = (name: string, value: unknown) => {
    if (options.properties.has(name) && value !== undefined) ops.push({ op: 'add', path: `/${name}`, value });
  };
  let omitted: string[] | undefined;
  for (const name in latest) {
    if (oversizedString(latest[name])) (omitted ??= []).push(name);
    else if (options.properties.has(name)) ops.push(...measuredValueOps(name, latest[name], measuredAt[name]!));
  }
  // With when the service took the reading in (IoT Hub's enqueued time) as its sourceTime: silence counts from then (heardAt).
  if (options.properties.has('lastTelemetryTime')) ops.push(...measuredValueOps('lastTelemetryTime', new Date(newest.reading.time).toISOString(), Date.parse(newest.reading.enqueuedIso)));
  if (judged) {
    set('anomalyScore', round(judged.score.anomalyScore));
    set('failureProbability', judged.score.failureProbability === undefined ? undefined : round(judged.score.failureProbability));
  }
  set('healthStatus', health);
  // Remaining useful life is written while a trend toward a limit is seen, and keeps its last value
  // while the incident lasts (a stopped machine's last estimate); once the equipment is healthy
  // again it is removed, not left saying "6 min" for days.
  let rul = state.remainingUsefulLifeHours;
  if (options.properties.has('remainingUsefulLifeHours')) {
    const estimate = judged?.score.rulHours;
    if (estimate !== undefined) {
      rul = Math.round(estimate * 10) / 10;
      ops.push({ op: 'add', path: '/remainingUsefulLifeHours', value: rul });
    } else if (judged && health === 'normal' && rul !== undefined) {
      // Only when the twin holds one (a remove of what is not there fails the whole patch); If-Match guards the knowledge.
      ops.push({ op: 'remove', path: '/remainingUsefulLifeHours' });
      rul = undefined;
    }
  }
  if (judged) set('modelVersion', judged.score.modelVersion);
  const next = setIncidentFields(state, options, set);
  return { ops, reason, next: { ...next, lastTelemetryTime: newest.reading.time, status, healthStatus: health, remainingUsefulLifeHours: rul }, ...(omitted ? { omitted } : {}) };
}

/**
 * The fields every patch may carry besides telemetry: the alert and stop times and the detector's
 * and the alarm lifecycle's state (serialised here, only for a patch that goes out). Returns the
 * twin state they leave.
 */
function setIncidentFields(state: TwinState, options: PlanOptions, set: (name: string, value: unknown) => void): TwinState {
  if (options.alertTime !== undefined) set('lastAlertTime', new Date(options.alertTime).toISOString());
  if (options.stop) {
    set('lastEmergencyStopTime', new Date(options.stop.time).toISOString());
    set('lastEmergencyStopReason', options.stop.reason);
  }
  const detectorState = options.detectorState?.();
  const alarmState = options.alarmState?.();
  set('detectorState', detectorState);
  set('alarmState', alarmState);
  return {
    ...state,
    lastAlertTime: options.alertTime ?? state.lastAlertTime,
    lastEmergencyStopTime: options.stop?.time ?? state.lastEmergencyStopTime,
    detectorState: options.properties.has('detectorState') && detectorState !== undefined ? detectorState : state.detectorState,
    alarmState: options.properties.has('alarmState') && alarmState !== undefined ? alarmState : state.alarmState,
  };
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;

/**
 * No reading is newer than the twin (one dated ahead of real time pins it), but its health, an
 * alert or a stop must not wait: those fields alone, leaving the telemetry and its time as they are.
 */
function planStatusOnly(state: TwinState, options: PlanOptions): TwinUpdate | undefined {
  const health = options.health;
  const reason: TwinUpdate['reason'] | undefined =
    options.stop !== undefined ? 'stop' : options.alertTime !== undefined ? 'alert' : health !== undefined && health !== state.healthStatus && state.lastTelemetryTime !== undefined ? 'health' : undefined;
  if (!reason) return undefined;
  const ops: JsonPatchOp[] = [];
  const set = (name: string, value: unknown) => {
    if (options.properties.has(name) && value !== undefined) ops.push({ op: 'add', path: `/${name}`, value });
  };
  set('healthStatus', health);
  const next = setIncidentFields(state, options, set);
  if (ops.length === 0) return undefined;
  return { ops, reason, next: { ...next, healthStatus: health ?? state.healthStatus } };
}
