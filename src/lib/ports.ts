/**
 * The far ends the pipeline and the API talk to. Each has one production adapter (with the Azure
 * SDK or the service's HTTP contract inside); tests and benchmarks may put an in-memory far end
 * behind the same interface.
 */
import type { AlarmEventRow, AlertAckRow, AnomalyFlagRow, DeadLetterRow, DeviceConnectionRow, MaintenanceActionRow, TelemetryRow } from './store/rows.ts';
import type { AlarmEventRecord } from './alerts/alarm-performance.ts';
import type { Condition, DeviceLink, StepFigures } from './alerts/conditions.ts';
import type { IncidentAction } from './alerts/incident-actions.ts';
import type { AlarmEventKind } from './alerts/alarm-lifecycle.ts';

export interface TwinState {
  id: string;
  modelId: string;
  etag: string | undefined;
  /** Source time (epoch ms) of the newest reading the twin holds. */
  lastTelemetryTime: number | undefined;
  status: string | undefined;
  healthStatus: string | undefined;
  lastAlertTime: number | undefined;
  /** When the pipeline last sent this equipment emergencyStop. */
  lastEmergencyStopTime?: number | undefined;
  /** The streaming detector's state as last stored on the twin (JSON). */
  detectorState?: string | undefined;
  /** The alarm lifecycle's incident state as last stored on the twin (JSON). */
  alarmState?: string | undefined;
  /** Notifications shelved by an operator until this time (epoch ms); written by the API only. */
  shelvedUntil?: number | undefined;
  /** The remaining useful life the twin shows, if any (removed once the equipment is healthy again). */
  remainingUsefulLifeHours?: number | undefined;
}

export interface JsonPatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

export interface QueryPage {
  items: Record<string, unknown>[];
  continuationToken: string | undefined;
}

export interface TwinsPort {
  /** States of the twins that exist among `ids` (may be slightly stale: a hint checked by etag). */
  getStates(ids: readonly string[]): Promise<Map<string, TwinState>>;
  /** A consistent read of one twin's state; undefined when the twin does not exist. */
  getState(id: string): Promise<TwinState | undefined>;
  /** Applies a JSON Patch; with ifMatch, fails with code twin.etagMismatch when the twin changed. Returns the new etag. */
  patch(id: string, ops: readonly JsonPatchOp[], ifMatch?: string): Promise<string | undefined>;
  getTwin(id: string): Promise<Record<string, unknown>>;
  query(query: string, continuationToken?: string): Promise<QueryPage>;
  listRelationships(id: string): Promise<Record<string, unknown>[]>;
  listIncomingRelationships(id: string): Promise<Record<string, unknown>[]>;
  /** The models uploaded to the instance. */
  listModels(): Promise<ModelSummary[]>;
}

export interface ModelSummary {
  id: string;
  displayName: string | undefined;
  uploadTime: string | undefined;
  decommissioned: boolean;
}

export interface StoreBatch {
  telemetry: TelemetryRow[];
  anomalies: AnomalyFlagRow[];
  deadLetters: DeadLetterRow[];
  /** Automated responses (emergency stops, dry runs, blocked stops). */
  actions?: MaintenanceActionRow[];
  /** Alert acknowledgements (the dashboard's). */
  acks?: AlertAckRow[];
  /** Incident lifecycle steps. */
  alarmEvents?: AlarmEventRow[];
  /** IoT Hub's connection state events routed with the telemetry. */
  connections?: DeviceConnectionRow[];
}

export interface LatestReading {
  deviceId: string;
  time: number;
  readings: Record<string, unknown>;
  /** When IoT Hub took it in (epoch ms), when the store knows. */
  enqueuedTime?: number | undefined;
}

/** What a store can say about a write it completed. */
export interface WriteOutcome {
  /** Telemetry rows new to the store (a replay's rows were there already). */
  telemetryStored: number;
  /** Rows the store could not take, written to DeadLetters instead in the same write. */
  rejected: number;
}

export interface TelemetryStorePort {
  /**
   * Writes all tables. Idempotent: rows are keyed, a replay adds nothing a reader sees. A store
   * that can tell returns what it really stored (Data Explorer's streaming ingestion cannot).
   */
  write(batch: StoreBatch): Promise<WriteOutcome | void>;
  /** The newest stored reading of each device whose newest reading is at or after `since`. */
  latestReadings(since: number): Promise<LatestReading[]>;
}

/** One stored reading, as the dashboard and the history API read it. */
export interface TelemetryPoint {
  time: string;
  readings: Record<string, unknown>;
  anomalyScore: number;
  failureProbability: number | null;
}

/** An incident as recorded in AnomalyFlags (the flag that raised it), with its lifecycle and acknowledgement. */
export interface AlertRecord {
  alertId: string;
  deviceId: string;
  time: string;
  severity: string;
  /** Its priority now (the highest it reached), and whether it is still active or cleared (and when). */
  priority: string;
  state: 'active' | 'cleared';
  clearedAt: string | null;
  /** Cleared because the machine fell quiet on a line at rest: the line's status then (stopped, changeover, maintenance); else null. */
  clearedAtRest: string | null;
  anomalyScore: number;
  failureProbability: number | null;
  contributions: Record<string, number>;
  modelVersion: string;
  acknowledged: { at: string; by: string; note: string } | null;
  /** What the detector saw in the reading behind its latest raise or escalation (null: nothing stood out, or recorded before conditions were). */
  condition: Condition | null;
  /** The sensors not measured, when that step was a diagnostic alarm (condition `notMeasured`); null otherwise. */
  notMeasured: string[] | null;
  /** Of a communication-loss incident, what IoT Hub said of its device when it was raised; null otherwise, or when IoT Hub could not say. */
  deviceLink: DeviceLink | null;
  /** That reading's scores (`anomalyScore` and `failureProbability` above are the raising reading's; null: recorded before steps carried them). */
  latest: StepFigures | null;
  /** The automated action (emergencyStop) taken on the equipment during it, whatever its outcome; null: none. */
  action: IncidentAction | null;
}

export type AckOutcome = 'acknowledged' | 'alreadyAcknowledged' | 'unknownAlert';

/** The readings one device had refused for one reason (DeadLetters rows), with the latest of them. */
export interface DeadLetterGroup {
  /** Null when the event named no device (it did not come through IoT Hub). */
  deviceId: string | null;
  reason: string;
  count: number;
  /** When the latest was received (ISO). */
  lastAt: string;
  /** The latest's detail and body excerpt, as stored. */
  detail: string;
  body: string;
}

/** What the dashboard and the HTTP API read from the telemetry store. */
export interface TelemetryReadPort {
  /** A device's readings in [from, to), oldest first; the newest `limit` when there are more. */
  history(deviceId: string, from: number, to: number, limit: number): Promise<TelemetryPoint[]>;
  /** Alerts raised at or after `since`, newest first. */
  alerts(since: number, limit: number): Promise<AlertRecord[]>;
  /** Records an acknowledgement: only the first for an alert, and only for an alert that exists. */
  acknowledge(ack: AlertAckRow): Promise<AckOutcome>;
  /** Dead letters received at or after `since` by device and reason, the most recently refused first. */
  deadLetterGroups(since: number, limit: number): Promise<DeadLetterGroup[]>;
  /** The incidents' lifecycle events (AlarmEvents) in [from, to), oldest first, the first `limit`; of `devices` only when given (none: none). */
  alarmEvents(from: number, to: number, limit: number, devices?: readonly string[]): Promise<AlarmEventRecord[]>;
  /** When the first reading of [from, to) was taken (ms), of `devices` only when given (none: none); null when there is none. */
  firstReadingAt(from: number, to: number, devices?: readonly string[]): Promise<number | null>;
  /** Each device's latest connection state event (by IoT Hub's sequence number), of `devices` only; a device with none is left out. */
  latestConnections(devices: readonly string[]): Promise<Map<string, ConnectionEvent>>;
}

/** What IoT Hub's latest connection state event said of a device, and when (ms). */
export interface ConnectionEvent {
  connected: boolean;
  at: number;
}

export interface ScoreInput {
  deviceId: string;
  modelId: string;
  time: number;
  /** The controller's reported status with this reading, when it sent one. */
  status: string | undefined;
  features: Record<string, number | null>;
  /** The streaming detector's failure features at this reading (sent as extra columns). */
  derived?: Readonly<Record<string, number>>;
}

export interface ScoreResult {
  anomalyScore: number;
  /** Hours until failure, when the scorer can tell. */
  rulHours?: number | undefined;
  /** Undefined when the scorer cannot predict failure (the fallback detector). */
  failureProbability: number | undefined;
  /** Sensor name → share of the score it explains. */
  contributions: Record<string, number>;
  modelVersion: string;
}

export interface ScorerPort {
  score(inputs: readonly ScoreInput[]): Promise<ScoreResult[]>;
}

export interface Alert {
  /** Stable id: the same incident always produces the same id, so a replay is recognisable. */
  id: string;
  deviceId: string;
  modelId: string;
  equipmentType: string;
  severity: 'warning' | 'critical';
  time: number;
  anomalyScore: number;
  failureProbability: number | undefined;
  readings: Record<string, unknown>;
  units: Record<string, string | undefined>;
  contributions: Record<string, number>;
  modelVersion: string;
  dashboardUrl: string | undefined;
  /** The production line the equipment is on, when the twin graph says. */
  line?: string | undefined;
  /** The incident this card is about, and which step of its lifecycle. */
  incident: { id: string; event: AlarmEventKind; raisedAt: number; reopened?: boolean | undefined; /** Told only now: it was raised (or made critical) on readings that reached us late, and still stands. */ delayed?: boolean; /** The card of an automatic stop during an incident told as critical already (see `action`): not a new alarm. */ stopOnly?: boolean };
  /** What the pipeline did about it: an emergencyStop executed, failed, dry-run or blocked. */
  action?: { name: 'emergencyStop'; outcome: string; detail: string } | undefined;
  /** What the detector saw in the reading that raised or escalated it (absent when nothing stood out, e.g. a failure prediction alone). */
  condition?: Condition | undefined;
  /** The sensors not measured and since when (ms), on a card of a diagnostic alarm (condition `notMeasured`). */
  notMeasured?: { sensors: readonly string[]; since: number } | undefined;
  /**
   * When the equipment was last heard from (ms), on a card of a communication-loss alarm (condition
   * `silent`); its readings are the last the twin holds. `refused`: its readings do arrive, but are
   * refused (how many lately, the latest's reason and detail).
   */
  silent?: { since: number; refused?: { count: number; reason: string; detail: string }; connection?: DeviceConnection } | undefined;
  /**
   * The equipment's line was at rest (stopped, in changeover, in maintenance) at this step: the
   * status, and when it was set (ms, when known). On a clear's card the reason it cleared (the
   * machine quiet on such a line); on a raise or escalation, what the reader should know (a machine
   * run while its line is in maintenance is likely being tested by the crew on it).
   */
  lineAtRest?: { status: string; since: number | undefined } | undefined;
  /** Set on a card that waited because Teams did not take it: when it was kept (ms). */
  late?: { keptAt: number } | undefined;
}

export interface MethodResult {
  status: number;
  payload: unknown;
}

/**
 * What IoT Hub's registry says of a device: its identity `enabled`, `disabled` (it cannot connect)
 * or `unregistered` (none); whether IoT Hub counts it connected and since when its state last changed,
 * and when it was last active (ms; absent where IoT Hub has no time: never connected). IoT Hub notices
 * a link that dropped without a goodbye only after the device's keep-alive, minutes at most.
 */
export interface DeviceConnection {
  identity: 'enabled' | 'disabled' | 'unregistered';
  connected?: boolean;
  since?: number;
  lastActivity?: number;
}

/** Devices' connections as IoT Hub's registry tells them (looked up for the few machines found silent). */
export interface DeviceConnectionsPort {
  /** Each device's connection; a device whose lookup failed is left out. */
  connectionsOf(deviceIds: readonly string[]): Promise<Map<string, DeviceConnection>>;
}

/** Direct methods on equipment (IoT Hub in Azure and locally). */
export interface CommandsPort {
  invoke(deviceId: string, methodName: string, payload: unknown, responseTimeoutInSeconds?: number): Promise<MethodResult>;
}

export interface AlertSink {
  /** Resolves once the card is delivered, or `'deferred'` once it is kept durably to be delivered later. */
  send(alert: Alert): Promise<void | 'deferred'>;
  /** One card for incidents raised and over while Teams did not take cards; a sink without it gets each incident's own card. */
  sendSummary?(summary: AlertSummary): Promise<void>;
}

/** Incidents nobody was told of because Teams did not take their cards, and which are over by the time it does. */
export interface AlertSummary {
  /** When the first and the last of their cards were kept (ms). */
  keptFrom: number;
  keptTo: number;
  /** Each incident's last card: its clear. */
  incidents: Alert[];
}

/** An alert card kept because Teams did not take it, as a listing tells of it. */
export interface WaitingAlert {
  name: string;
  /** When it was kept (ISO): cards go out in this order. */
  keptAt: string;
  deviceId: string | undefined;
  /** The incident's step: raised, escalated or cleared. */
  step: string | undefined;
  /** Which incident (a digest of its id): a later card of the same incident tells its newest state. */
  incident: string | undefined;
  /** Why Teams did not take it when it was kept. */
  error: { code: string; message: string } | undefined;
}

/** Where alert cards wait while Teams does not take them (a blob container in the app's own storage account). */
export interface AlertOutboxPort {
  /** Keeps the card durably; a card already waiting keeps its place. */
  put(alert: Alert, keptAt: number, error: { code: string; message: string }): Promise<void>;
  /** Whether any card is waiting (one listing page of one blob). */
  any(): Promise<boolean>;
  /** Waiting cards, oldest first (of the first 5,000 listed). */
  waiting(): Promise<WaitingAlert[]>;
  /** A waiting card; undefined once removed. */
  get(name: string): Promise<Alert | undefined>;
  remove(name: string): Promise<void>;
  /** Moves a card Teams refuses for good out of the queue, kept with why. */
  setAside(name: string, error: { code: string; message: string }): Promise<void>;
}

/**
 * A window of claims shared by every instance of the function app: a production line's flood
 * window (its equipment is spread over the hub's partitions, so over instances; at most `limit`
 * new incidents notify per line within the window, whichever instance raises them) and the
 * plant's emergencyStop rate limit.
 */
export interface ClaimWindowPort {
  /**
   * Claims a place in `key`'s window for `id` at `time`: true when it holds one (taken before, as
   * on a retried batch, or the window had room).
   */
  claim(key: string, id: string, time: number): Promise<boolean>;
}

/**
 * A batch of the telemetry trigger that kept failing for a reason retrying does not mend (a far
 * end refusing, a defect), kept whole, as the trigger handed it over, until it can be handled.
 */
export interface DeadLetteredBatch {
  failedAt: string;
  /** Attempts made before it was kept here. */
  attempts: number;
  error: { code: string; message: string };
  bodies: readonly unknown[];
  triggerMetadata: Record<string, unknown>;
  /** Refused readings only: the twins' models that the build which refused them describes no telemetry of (a later build may). */
  undescribedModels?: readonly string[];
}

/**
 * What an operator sees of a kept batch without downloading it (blob metadata, written with it):
 * the facts a blob written by an older version of the app or by someone else lacks are undefined.
 */
export interface KeptBatchSummary {
  name: string;
  partitionId: string | undefined;
  /** The Event Hub sequence numbers of its first and last event (as text: they are 64-bit). */
  firstSequenceNumber: string | undefined;
  lastSequenceNumber: string | undefined;
  events: number | undefined;
  failedAt: string | undefined;
  attempts: number | undefined;
  error: { code: string; message: string } | undefined;
  /** When the blob was last written (kept, or a part of it kept alone). */
  keptAt: string | undefined;
  bytes: number | undefined;
  /** Refused readings only: the twins' models their build described no telemetry of (see DeadLetteredBatch). */
  undescribedModels?: string[];
}

/** Where such batches are kept (a blob container in the app's own storage account). */
export interface BatchDeadLetterPort {
  /** Keeps the batch durably and returns its name; the same batch kept again has the same name. */
  put(batch: DeadLetteredBatch): Promise<string>;
  /** Names of kept batches: by partition, each partition's in sequence order. */
  names(): AsyncIterable<string>;
  /** A kept batch; undefined once removed. A blob that is no kept batch throws AppError `deadLetters.unreadable`. */
  get(name: string): Promise<DeadLetteredBatch | undefined>;
  remove(name: string): Promise<void>;
  /** The kept batches as `names` orders them, each told from its listing alone (no download). */
  summaries(): AsyncIterable<KeptBatchSummary>;
}
