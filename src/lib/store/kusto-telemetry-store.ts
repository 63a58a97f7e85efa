/**
 * Telemetry store on Azure Data Explorer: streaming ingestion with azure-kusto-ingest (one request
 * per table and 4 MB chunk, JSON mappings from tables.ts), reads with azure-kusto-data. Data
 * Explorer has no unique keys, so replays are written again and removed at read time by the
 * <Table>Deduped materialized views that the table script creates.
 */
import { Readable } from 'node:stream';
import { Client as KustoClient, KustoConnectionStringBuilder } from 'azure-kusto-data';
import { DataFormat, IngestionProperties, StreamingIngestClient } from 'azure-kusto-ingest';
import type { TokenCredential } from '@azure/identity';
import { AppError, isTransientStatus, parseRetryAfter } from '../errors.ts';
import { withRetry, type RetryPolicy, defaultRetryPolicy } from '../retry.ts';
import type { LatestReading, StoreBatch, TelemetryStorePort } from '../ports.ts';
import { table, type TableDef } from './tables.ts';

/** Streaming ingestion takes at most 4 MB per request; stay under it with room for overhead. */
const MAX_CHUNK_BYTES = 3.5 * 1024 * 1024;

export interface KustoStoreOptions {
  clusterUrl: string;
  database: string;
  /** Omitted for a local endpoint that needs no auth. */
  credential?: TokenCredential;
  retry?: RetryPolicy;
}

type Ingestor = { ingestFromStream(stream: Readable, props: IngestionProperties): Promise<unknown> };

export class KustoTelemetryStore implements TelemetryStorePort {
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
    ]);
  }

  async latestReadings(since: number): Promise<LatestReading[]> {
    const kql = `EquipmentTelemetry
| where Timestamp >= datetime(${new Date(since).toISOString()})
| summarize arg_max(Timestamp, Readings) by DeviceId`;
    const result = await withRetry(() => this.run(() => this.query.execute(this.database, kql)), this.retry);
    const rows = result.primaryResults[0]?.toJSON<{ DeviceId: string; Timestamp: string; Readings: Record<string, unknown> }>().data ?? [];
    return rows.map((r) => ({ deviceId: r.DeviceId, time: Date.parse(r.Timestamp), readings: r.Readings }));
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
    if (size + line.length > MAX_CHUNK_BYTES && parts.length > 0) {
      yield Buffer.from(parts.join(''));
      parts = [];
      size = 0;
    }
    parts.push(line);
    size += line.length;
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
