/**
 * Telemetry store on Azure Data Explorer: streaming ingestion with azure-kusto-ingest (one request
 * per table and 4 MB chunk, JSON mappings from tables.ts), reads with azure-kusto-data. Data
 * Explorer has no unique keys, so replays are written again and removed at read time by the
 * <Table>Deduped materialized views that the table script creates.
 */
import { Readable } from 'node:stream';
import { ClientRequestProperties, Client as KustoClient, KustoConnectionStringBuilder } from 'azure-kusto-data';
import { DataFormat, IngestionProperties, StreamingIngestClient } from 'azure-kusto-ingest';
import type { TokenCredential } from '@azure/identity';
import { AppError, isTransientStatus, parseRetryAfter } from '../errors.ts';
import { withRetry, type RetryPolicy, defaultRetryPolicy } from '../retry.ts';
import type { AckOutcome, AlertRecord, ConnectionEvent, DeadLetterGroup, LatestReading, StoreBatch, TelemetryPoint, TelemetryReadPort, TelemetryStorePort } from '../ports.ts';
import type { AlertAckRow } from './rows.ts';
import { table, type TableDef } from './tables.ts';
import { conditionOfDetail, deviceLinkOfDetail, figuresOfDetail, lineAtRestOfDetail, sensorsOfDetail } from '../alerts/conditions.ts';
import { withActions, type ActionRow } from '../alerts/incident-actions.ts';
import { alarmEventRecord, type AlarmEventRecord, type AlarmEventSource } from '../alerts/alarm-performance.ts';
import { connectionEvents } from '../telemetry/connection-state.ts';

/**
 * Streaming ingestion takes at most 4 MB of data per request (counted before the SDK gzips it, as
 * its own managed client counts it); stay under it with room for overhead. Counted in UTF-8 bytes:
 * a refused binary body's excerpt is replacement characters, three bytes each, so a batch of them
 * counted in characters made a 6 MB request that the cluster refused whole.
 */
const MAX_CHUNK_BYTES = 3.5 * 1024 * 1024;

/** A time as Data Explorer takes a datetime query parameter: a KQL literal. */
export const kqlDatetime = (ms: number) => `datetime(${new Date(ms).toISOString()})`;
/** A datetime cell in epoch ms: the SDK hands a Date, whose Date.parse (through its string) would drop the milliseconds. */
const msOf = (cell: string | Date) => new Date(cell).getTime();
/** An integer as a long query parameter: a KQL literal. */
export const kqlLong = (n: number) => `long(${Math.trunc(n)})`;
/** Strings as a dynamic array query parameter: JSON is the literal's own syntax. */
export const kqlDynamic = (values: readonly string[]) => `dynamic(${JSON.stringify(values)})`;
/** The parameters of a read over [from, to) of every device, or of `devices` only (the queries' `allDevices or DeviceId in (devices)`). */
const periodOfDevices = (from: number, to: number, devices: readonly string[] | undefined) => ({ fromTime: kqlDatetime(from), toTime: kqlDatetime(to), allDevices: `bool(${devices === undefined})`, devices: kqlDynamic(devices ?? []) });

/**
 * Every query this adapter sends. Exported so that a test checks each one with Kusto's own
 * language service against the tables' schema (src/lib/store/tables.ts).
 */
export const KQL = {
  latestReadings: `declare query_parameters(since:datetime);
EquipmentTelemetry
| where Timestamp >= since
| summarize arg_max(Timestamp, Readings, EnqueuedTime) by DeviceId`,
  history: `declare query_parameters(device:string, fromTime:datetime, toTime:datetime, maxRows:long);
materialized_view('EquipmentTelemetryDeduped')
| where DeviceId == device and Timestamp >= fromTime and Timestamp < toTime
| top maxRows by Timestamp desc
| project Timestamp, Readings, AnomalyScore, FailureProbability
| order by Timestamp asc`,
  alerts: `declare query_parameters(since:datetime, maxRows:long);
materialized_view('AnomalyFlagsDeduped')
| where isnotempty(AlertId) and Timestamp >= since
| top maxRows by Timestamp desc
| join kind=leftouter (materialized_view('AlertAcksDeduped') | project AlertId, AckedAt, AckedBy, Note) on AlertId
| join kind=leftouter (materialized_view('AlarmEventsDeduped')
    | summarize Rank = max(case(Event == 'cleared', 0, Priority == 'critical', 3, Priority == 'warning', 2, 1)),
                RaisedAt = maxif(Timestamp, Event == 'raised'), ClearedAt = maxif(Timestamp, Event == 'cleared') by AlertId = IncidentId
    | extend Priority = case(Rank == 3, 'critical', Rank == 2, 'warning', 'low')) on AlertId
| join kind=leftouter (materialized_view('AlarmEventsDeduped')
    | where Event != 'cleared'
    | summarize arg_max(Timestamp, Detail) by AlertId = IncidentId
    | project AlertId, Detail) on AlertId
| join kind=leftouter (materialized_view('AlarmEventsDeduped')
    | where Event == 'cleared'
    | summarize arg_max(Timestamp, Detail) by AlertId = IncidentId
    | project AlertId, ClearDetail = Detail) on AlertId
| join kind=leftouter (materialized_view('AlarmEventsDeduped')
    | where Event in ('raised', 'escalated')
    | summarize arg_max(Timestamp, Detail) by AlertId = IncidentId
    | project AlertId, StepDetail = Detail) on AlertId
| project AlertId, DeviceId, Timestamp, Severity, AnomalyScore, FailureProbability, Contributions, ModelVersion, AckedAt, AckedBy, Note, Priority, RaisedAt, ClearedAt, Detail, ClearDetail, StepDetail
| order by Timestamp desc`,
  /** The automated actions incidents are matched to (src/lib/alerts/incident-actions.ts). */
  actions: `declare query_parameters(since:datetime);
materialized_view('MaintenanceActionsDeduped')
| where Timestamp >= since
| project Timestamp, DeviceId, Action, Outcome, Detail`,
  deadLetterGroups: `declare query_parameters(since:datetime, maxRows:long);
materialized_view('DeadLettersDeduped')
| where ReceivedAt >= since
| summarize Count = count(), arg_max(ReceivedAt, Detail, Body) by DeviceId, Reason
| top maxRows by ReceivedAt desc
| project DeviceId, Reason, Count, LastAt = ReceivedAt, Detail, Body`,
  /** Oldest first, so that a period with more than maxRows events is cut at its end, not its start. */
  alarmEvents: `declare query_parameters(fromTime:datetime, toTime:datetime, maxRows:long, allDevices:bool, devices:dynamic);
materialized_view('AlarmEventsDeduped')
| where Timestamp >= fromTime and Timestamp < toTime
| where allDevices or DeviceId in (devices)
| top maxRows by Timestamp asc
| join kind=leftouter (materialized_view('AlertAcksDeduped') | project IncidentId = AlertId, AckedAt) on IncidentId
| project Timestamp, IncidentId, DeviceId, Event, Priority, Notified, AckedAt
| order by Timestamp asc`,
  /** Any copy of the first reading will do: the table itself, no deduplicating view. */
  firstReading: `declare query_parameters(fromTime:datetime, toTime:datetime, allDevices:bool, devices:dynamic);
EquipmentTelemetry
| where Timestamp >= fromTime and Timestamp < toTime
| where allDevices or DeviceId in (devices)
| summarize First = min(Timestamp)`,
  /** By IoT Hub's sequence number, padded to one width when written, so that the text orders as the number. */
  latestConnections: `declare query_parameters(devices:dynamic);
materialized_view('DeviceConnectionsDeduped')
| where DeviceId in (devices)
| summarize arg_max(SequenceNumber, State, Timestamp) by DeviceId
| project DeviceId, State, Timestamp`,
  acknowledge: `declare query_parameters(alert:string);
print FlagCount = toscalar(AnomalyFlags | where AlertId == alert | count), AckCount = toscalar(AlertAcks | where AlertId == alert | count)`,
} as const;

export interface KustoStoreOptions {
  clusterUrl: string;
  database: string;
  /** Omitted for a local endpoint that needs no auth. */
  credential?: TokenCredential;
  retry?: RetryPolicy;
}

type Ingestor = { ingestFromStream(stream: Readable, props: IngestionProperties): Promise<unknown> };

export class KustoTelemetryStore implements TelemetryStorePort, TelemetryReadPort {
  private readonly ingest: Ingestor;
  private readonly query: KustoClient;
  private readonly database: string;
  private readonly retry: RetryPolicy;

  constructor(options: KustoStoreOptions) {
    const kcsb = options.credential
      ? KustoConnectionStringBuilder.withTokenCredential(options.clusterUrl, options.credential)
      : options.clusterUrl;
    this.ingest = new StreamingIngestClient(kcsb as never) as unknown as Ingestor;
    this.query = new KustoClient(kcsb as never);
    this.database = options.database;
    this.retry = options.retry ?? defaultRetryPolicy;
  }

  async write(batch: StoreBatch): Promise<void> {
    await Promise.all([
      this.writeTable(table('EquipmentTelemetry'), batch.telemetry),
      this.writeTable(table('AnomalyFlags'), batch.anomalies),
      this.writeTable(table('DeadLetters'), batch.deadLetters),
      this.writeTable(table('MaintenanceActions'), batch.actions ?? []),
      this.writeTable(table('AlertAcks'), batch.acks ?? []),
      this.writeTable(table('AlarmEvents'), batch.alarmEvents ?? []),
      this.writeTable(table('DeviceConnections'), batch.connections ?? []),
    ]);
  }

  async latestReadings(since: number): Promise<LatestReading[]> {
    const rows = await this.read<{ DeviceId: string; Timestamp: string; Readings: Record<string, unknown>; EnqueuedTime: string | null }>(KQL.latestReadings, { since: kqlDatetime(since) });
    return rows.map((r) => ({ deviceId: r.DeviceId, time: msOf(r.Timestamp), readings: r.Readings, ...(r.EnqueuedTime ? { enqueuedTime: msOf(r.EnqueuedTime) } : {}) }));
  }

  /**
   * Runs a read with query parameters (never spliced into the text). Values are as Data Explorer
   * documents them: a string as itself, any other type as a KQL literal in a string (datetime(…), long(…)).
   */
  private async read<T>(kql: string, parameters: Record<string, string>): Promise<T[]> {
    const props = new ClientRequestProperties();
    for (const [k, v] of Object.entries(parameters)) props.setParameter(k, v);
    const result = await withRetry(() => this.run(() => this.query.execute(this.database, kql, props)), this.retry);
    return result.primaryResults[0]?.toJSON<T>().data ?? [];
  }

  async history(deviceId: string, from: number, to: number, limit: number): Promise<TelemetryPoint[]> {
    const rows = await this.read<{ Timestamp: string; Readings: Record<string, unknown>; AnomalyScore: number; FailureProbability: number | null }>(KQL.history, {
      device: deviceId,
      fromTime: kqlDatetime(from),
      toTime: kqlDatetime(to),
      maxRows: kqlLong(Math.max(1, Math.floor(limit))),
    });
    return rows.map((r) => ({ time: new Date(r.Timestamp).toISOString(), readings: r.Readings, anomalyScore: r.AnomalyScore, failureProbability: r.FailureProbability }));
  }

  async alerts(since: number, limit: number): Promise<AlertRecord[]> {
    const rows = await this.read<{ AlertId: string; DeviceId: string; Timestamp: string; Severity: string; AnomalyScore: number; FailureProbability: number | null; Contributions: Record<string, number>; ModelVersion: string; AckedAt: string | null; AckedBy: string | null; Note: string | null; Priority: string | null; RaisedAt: string | null; ClearedAt: string | null; Detail: string | null; ClearDetail: string | null; StepDetail?: string | null }>(
      KQL.alerts,
      { since: kqlDatetime(since), maxRows: kqlLong(Math.max(1, Math.floor(limit))) },
    );
    const actions = rows.length === 0 ? [] : await this.read<ActionRow>(KQL.actions, { since: kqlDatetime(since) });
    const incidents = rows.map((r) => {
      // Cleared when its last clear is not older than its last raise (a reopened incident is active again).
      const cleared = r.ClearedAt ? !r.RaisedAt || msOf(r.ClearedAt) >= msOf(r.RaisedAt) : false;
      return {
        alertId: r.AlertId,
        deviceId: r.DeviceId,
        time: new Date(r.Timestamp).toISOString(),
        severity: r.Severity,
        priority: r.Priority ?? r.Severity,
        state: cleared ? ('cleared' as const) : ('active' as const),
        clearedAt: cleared && r.ClearedAt ? new Date(r.ClearedAt).toISOString() : null,
        clearedAtRest: (cleared && lineAtRestOfDetail(r.ClearDetail)) || null,
        anomalyScore: r.AnomalyScore,
        failureProbability: r.FailureProbability,
        contributions: r.Contributions ?? {},
        modelVersion: r.ModelVersion,
        acknowledged: r.AckedAt ? { at: new Date(r.AckedAt).toISOString(), by: r.AckedBy ?? '', note: r.Note ?? '' } : null,
        condition: conditionOfDetail(r.Detail) ?? null,
        notMeasured: sensorsOfDetail(r.Detail) ?? null,
        deviceLink: deviceLinkOfDetail(r.Detail) ?? null,
        // The scores of its latest raise or escalation (a silence recorded since carries none).
        latest: figuresOfDetail(r.StepDetail ?? r.Detail) ?? null,
      };
    });
    return withActions(incidents, actions.map((a) => ({ ...a, Timestamp: new Date(a.Timestamp).toISOString() })));
  }

  async deadLetterGroups(since: number, limit: number): Promise<DeadLetterGroup[]> {
    const rows = await this.read<{ DeviceId: string | null; Reason: string; Count: number; LastAt: string; Detail: string; Body: string }>(KQL.deadLetterGroups, { since: kqlDatetime(since), maxRows: kqlLong(Math.max(1, Math.floor(limit))) });
    // An empty string is how Data Explorer keeps a missing device id.
    return rows.map((r) => ({ deviceId: r.DeviceId || null, reason: r.Reason, count: Number(r.Count), lastAt: new Date(r.LastAt).toISOString(), detail: r.Detail ?? '', body: r.Body ?? '' }));
  }

  async alarmEvents(from: number, to: number, limit: number, devices?: readonly string[]): Promise<AlarmEventRecord[]> {
    if (devices?.length === 0) return [];
    const rows = await this.read<AlarmEventSource>(KQL.alarmEvents, { ...periodOfDevices(from, to, devices), maxRows: kqlLong(Math.max(1, Math.floor(limit))) });
    return rows.map(alarmEventRecord);
  }

  async firstReadingAt(from: number, to: number, devices?: readonly string[]): Promise<number | null> {
    if (devices?.length === 0) return null;
    // Over no rows, min() is one row with an empty First.
    const [row] = await this.read<{ First: string | Date | null }>(KQL.firstReading, periodOfDevices(from, to, devices));
    return row?.First ? msOf(row.First) : null;
  }

  async latestConnections(devices: readonly string[]): Promise<Map<string, ConnectionEvent>> {
    if (devices.length === 0) return new Map();
    return connectionEvents(await this.read<{ DeviceId: string; State: string; Timestamp: string | Date }>(KQL.latestConnections, { devices: kqlDynamic(devices) }));
  }

  /** Data Explorer has no unique keys: two acknowledgements racing both land, and the view keeps one. */
  async acknowledge(ack: AlertAckRow): Promise<AckOutcome> {
    const [row] = await this.read<{ FlagCount: number; AckCount: number }>(KQL.acknowledge, { alert: ack.AlertId });
    if (!row || row.FlagCount === 0) return 'unknownAlert';
    if (row.AckCount > 0) return 'alreadyAcknowledged';
    await this.writeTable(table('AlertAcks'), [ack]);
    return 'acknowledged';
  }

  private async writeTable(def: TableDef, rows: readonly object[]): Promise<void> {
    if (rows.length === 0) return;
    const props = new IngestionProperties({
      database: this.database,
      table: def.name,
      format: DataFormat.MULTIJSON,
      ingestionMappingReference: def.mapping,
    });
    for (const chunk of chunks(rows)) {
      await withRetry(() => this.run(() => this.ingest.ingestFromStream(Readable.from([chunk]), props)), this.retry);
    }
  }

  /** Translates the Kusto SDKs' errors (axios underneath) into AppError once. */
  private async run<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      throw translateKustoError(error);
    }
  }
}

function* chunks(rows: readonly object[]): Generator<Buffer> {
  let parts: string[] = [];
  let size = 0;
  for (const row of rows) {
    const line = JSON.stringify(row) + '\n';
    const bytes = Buffer.byteLength(line);
    if (size + bytes > MAX_CHUNK_BYTES && parts.length > 0) {
      yield Buffer.from(parts.join(''));
      parts = [];
      size = 0;
    }
    parts.push(line);
    size += bytes;
  }
  if (parts.length > 0) yield Buffer.from(parts.join(''));
}

interface AxiosLike {
  name?: string;
  code?: string;
  message?: string;
  inner?: AxiosLike;
  response?: { status?: number; headers?: Record<string, string>; data?: unknown };
}

export function translateKustoError(error: unknown): AppError {
  const e = (error ?? {}) as AxiosLike;
  const inner = e.name === 'ThrottlingError' ? e.inner ?? e : e;
  const status = inner.response?.status ?? (e.name === 'ThrottlingError' ? 429 : undefined);
  if (status !== undefined) {
    const retryable = isTransientStatus(status);
    return new AppError(`store.http${status}`, `Data Explorer answered ${status}: ${String(e.message).slice(0, 300)}`, {
      status: retryable ? 503 : 502,
      retryable,
      retryAfterMs: parseRetryAfter(inner.response?.headers?.['retry-after']),
      cause: error,
    });
  }
  const network = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'EPIPE'].includes(inner.code ?? '');
  return new AppError(network ? 'store.unreachable' : 'store.failed', `Data Explorer request failed: ${String(e.message).slice(0, 300)}`, {
    status: 503,
    retryable: network,
    cause: error,
  });
}
