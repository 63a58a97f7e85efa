/**
 * The local stand-in for Data Explorer: a DuckDB file with the same tables and columns (from
 * tables.ts). Writes are idempotent like the Kusto tables read through their Deduped views: a row
 * whose key is already stored is skipped. Each batch is one transaction, so a crash leaves it
 * whole or absent; concurrent callers are serialised on the one connection.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DuckDBInstance, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import type { AckOutcome, AlertRecord, ConnectionEvent, DeadLetterGroup, LatestReading, StoreBatch, TelemetryPoint, TelemetryReadPort, TelemetryStorePort, WriteOutcome } from '../ports.ts';
import type { AlertAckRow, DeadLetterRow } from './rows.ts';
import { TABLES, table, type KustoType, type TableDef } from './tables.ts';
import { conditionOfDetail, deviceLinkOfDetail, figuresOfDetail, lineAtRestOfDetail, sensorsOfDetail } from '../alerts/conditions.ts';
import { withActions, type ActionRow } from '../alerts/incident-actions.ts';
import { alarmEventRecord, type AlarmEventRecord, type AlarmEventSource } from '../alerts/alarm-performance.ts';
import { connectionEvents } from '../telemetry/connection-state.ts';

const SQL_TYPE: Record<KustoType, string> = { datetime: 'TIMESTAMP', string: 'VARCHAR', real: 'DOUBLE', long: 'BIGINT', dynamic: 'JSON' };

export type { TelemetryPoint };

/** A table's declared columns, quoted, in order (not IngestedAt, which the store sets itself). */
const columnList = (def: TableDef) => def.columns.map(([n]) => `"${n}"`).join(', ');

function append(appender: DuckDBAppender, type: KustoType, value: unknown): void {
  if (value === null || value === undefined) return appender.appendNull();
  switch (type) {
    case 'real': return appender.appendDouble(Number(value));
    case 'long': return appender.appendBigInt(BigInt(value as number));
    case 'dynamic': return appender.appendVarchar(JSON.stringify(value));
    default: return appender.appendVarchar(String(value));
  }
}

/** Reads a column back the way it went in (ISO times, parsed JSON, numbers). */
function selectList(def: TableDef): string {
  return def.columns
    .map(([name, type]) => {
      const col = `"${name}"`;
      if (type === 'datetime') return `strftime(${col}, '%Y-%m-%dT%H:%M:%S.%gZ') AS ${col}`;
      if (type === 'long') return `CAST(${col} AS DOUBLE) AS ${col}`;
      return col;
    })
    .join(', ');
}

/** A read over [from, to) of every device, or of `devices` only: its WHERE condition on `alias`'s columns, and its parameters ($1 to $3). */
function periodOfDevices(from: number, to: number, devices: readonly string[] | undefined, alias = ''): { where: string; params: string[] } {
  const where = `${alias}"Timestamp" >= $1::TIMESTAMP AND ${alias}"Timestamp" < $2::TIMESTAMP${devices ? ` AND list_contains(from_json($3, '["VARCHAR"]'), ${alias}"DeviceId")` : ''}`;
  return { where, params: [new Date(from).toISOString(), new Date(to).toISOString(), ...(devices ? [JSON.stringify(devices)] : [])] };
}

export class DuckDbTelemetryStore implements TelemetryStorePort, TelemetryReadPort {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly db: DuckDBConnection,
  ) {}

  /** Opens (creating if needed) the store; ':memory:' for a throwaway one. */
  static async open(path: string): Promise<DuckDbTelemetryStore> {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const instance = await DuckDBInstance.create(path);
    const db = await instance.connect();
    for (const def of TABLES) {
      const cols = def.columns.map(([n, t]) => `"${n}" ${SQL_TYPE[t]}`).join(', ');
      // Nullable keys cannot be a primary key: those tables dedupe with an anti-join instead.
      const pk = def.keyNullable ? '' : `, PRIMARY KEY (${def.key.map((k) => `"${k}"`).join(', ')})`;
      // IngestedAt: when the row was written, what Data Explorer's ingestion_time() tells.
      await db.run(`CREATE TABLE IF NOT EXISTS "${def.name}" (${cols}, "IngestedAt" TIMESTAMPTZ DEFAULT current_timestamp${pk})`);
      const has = await db.runAndReadAll(`SELECT count(*) AS n FROM duckdb_columns() WHERE table_name = '${def.name}' AND column_name = 'IngestedAt'`);
      if (Number(has.getRowObjectsJS()[0]!.n) === 0) {
        // A file from before the column: added without a default (rows already there get none), then defaulted.
        await db.run(`ALTER TABLE "${def.name}" ADD COLUMN "IngestedAt" TIMESTAMPTZ`);
        await db.run(`ALTER TABLE "${def.name}" ALTER COLUMN "IngestedAt" SET DEFAULT current_timestamp`);
      }
      await db.run(`CREATE TEMP TABLE IF NOT EXISTS "staging_${def.name}" AS SELECT ${columnList(def)} FROM "${def.name}" LIMIT 0`);
    }
    // The schema goes into the database file now, not the write-ahead log: DuckDB cannot replay a
    // default of current_timestamp from the WAL after a crash ("no default database set").
    await db.run('CHECKPOINT');
    return new DuckDbTelemetryStore(instance, db);
  }

  private pending: { batch: StoreBatch; resolve: (o: WriteOutcome) => void; reject: (e: unknown) => void }[] = [];
  private draining = false;

  /**
   * Batches that arrive while a write is running are committed together in the next transaction
   * (group commit): partitions writing at once share one commit instead of queueing for one each.
   * If that commit fails, each batch is retried on its own, so one partition's bad batch never
   * fails another's; and within a batch, rows the database refuses become dead letters instead
   * of failing the rest.
   */
  write(batch: StoreBatch): Promise<WriteOutcome> {
    if (batch.telemetry.length + batch.anomalies.length + batch.deadLetters.length + (batch.actions?.length ?? 0) + (batch.acks?.length ?? 0) + (batch.alarmEvents?.length ?? 0) + (batch.connections?.length ?? 0) === 0) return Promise.resolve({ telemetryStored: 0, rejected: 0 });
    return new Promise((resolve, reject) => {
      this.pending.push({ batch, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.draining = true;
    while (this.pending.length) {
      const group = this.pending;
      this.pending = [];
      try {
        const outcomes = await this.serial(() => this.commit(group.map((g) => g.batch)));
        group.forEach((g, i) => g.resolve(outcomes[i]!));
      } catch {
        // One of them (or the database) failed: each batch alone, rows the database refuses set aside.
        for (const g of group) {
          try {
            g.resolve(await this.serial(() => this.commitIsolating(g.batch)));
          } catch (error) {
            g.reject(error);
          }
        }
      }
    }
    this.draining = false;
  }

  /** One transaction for all `batches`; each one's telemetry counted as it is inserted. */
  private async commit(batches: readonly StoreBatch[]): Promise<WriteOutcome[]> {
    await this.db.run('BEGIN TRANSACTION');
    try {
      const outcomes: WriteOutcome[] = [];
      for (const batch of batches) {
        const telemetryStored = batch.telemetry.length ? await this.writeTable(table('EquipmentTelemetry'), batch.telemetry) : 0;
        if (batch.anomalies.length) await this.writeTable(table('AnomalyFlags'), batch.anomalies);
        if (batch.deadLetters.length) await this.writeTable(table('DeadLetters'), batch.deadLetters);
        if (batch.actions?.length) await this.writeTable(table('MaintenanceActions'), batch.actions);
        if (batch.acks?.length) await this.writeTable(table('AlertAcks'), batch.acks);
        if (batch.alarmEvents?.length) await this.writeTable(table('AlarmEvents'), batch.alarmEvents);
        if (batch.connections?.length) await this.writeTable(table('DeviceConnections'), batch.connections);
        outcomes.push({ telemetryStored, rejected: 0 });
      }
      await this.db.run('COMMIT');
      return outcomes;
    } catch (error) {
      await this.db.run('ROLLBACK');
      throw error;
    }
  }

  /**
   * Commits `batch` alone; if the database refuses it, finds the rows it refuses (each tried in a
   * transaction that is rolled back), writes the rest with those rows as dead letters, and
   * reports them. Throws only when the batch fails without any row to blame (the database itself).
   */
  private async commitIsolating(batch: StoreBatch): Promise<WriteOutcome> {
    try {
      return (await this.commit([batch]))[0]!;
    } catch (failure) {
      const now = new Date().toISOString();
      const refused: DeadLetterRow[] = [];
      const keep = async <T extends object>(def: TableDef, rows: readonly T[] | undefined): Promise<T[]> => {
        const ok: T[] = [];
        for (const row of rows ?? []) {
          try {
            await this.db.run('BEGIN TRANSACTION');
            await this.writeTable(def, [row]);
            ok.push(row);
          } catch (error) {
            const r = row as Record<string, unknown>;
            refused.push({ ReceivedAt: now, Reason: 'store.rejected', Detail: `${def.name} refused the row: ${(error as Error).message}`.slice(0, 2048), DeviceId: typeof r.DeviceId === 'string' ? r.DeviceId : null, MessageId: typeof r.MessageId === 'string' ? r.MessageId : null, PartitionId: null, SequenceNumber: null, EnqueuedTime: null, Body: JSON.stringify(row).slice(0, 2048) });
          } finally {
            await this.db.run('ROLLBACK');
          }
        }
        return ok;
      };
      const cleaned: StoreBatch = {
        telemetry: await keep(table('EquipmentTelemetry'), batch.telemetry),
        anomalies: await keep(table('AnomalyFlags'), batch.anomalies),
        deadLetters: await keep(table('DeadLetters'), batch.deadLetters),
        actions: await keep(table('MaintenanceActions'), batch.actions),
        acks: await keep(table('AlertAcks'), batch.acks),
        alarmEvents: await keep(table('AlarmEvents'), batch.alarmEvents),
        connections: await keep(table('DeviceConnections'), batch.connections),
      };
      if (refused.length === 0) throw failure;
      cleaned.deadLetters = [...cleaned.deadLetters, ...refused];
      const [outcome] = await this.commit([cleaned]);
      return { telemetryStored: outcome!.telemetryStored, rejected: refused.length };
    }
  }

  /** Inserts `rows` not already stored (by key); returns how many were new. */
  private async writeTable(def: TableDef, rows: readonly object[]): Promise<number> {
    const staging = `staging_${def.name}`;
    // Always inside the caller's transaction: if anything here throws, its ROLLBACK empties the staging table too.
    const appender = await this.db.createAppender(staging, 'main', 'temp');
    try {
      for (const row of rows) {
        for (const [name, type] of def.columns) append(appender, type, (row as Record<string, unknown>)[name]);
        appender.endRow();
      }
    } finally {
      appender.closeSync();
    }
    const keys = def.key.map((k) => `"${k}"`).join(', ');
    const cols = columnList(def);
    const result = def.keyNullable
      ? await this.db.run(`INSERT INTO "${def.name}" (${cols}) SELECT ${cols} FROM (SELECT DISTINCT ON (${keys}) * FROM temp.main."${staging}") s WHERE NOT EXISTS (SELECT 1 FROM "${def.name}" t WHERE ${def.key.map((k) => `t."${k}" IS NOT DISTINCT FROM s."${k}"`).join(' AND ')})`)
      : await this.db.run(`INSERT OR IGNORE INTO "${def.name}" (${cols}) SELECT ${cols} FROM temp.main."${staging}"`);
    await this.db.run(`DELETE FROM temp.main."${staging}"`);
    return result.rowsChanged;
  }

  async latestReadings(since: number): Promise<LatestReading[]> {
    const rows = await this.query<{ DeviceId: string; Timestamp: string; Readings: string; EnqueuedTime: string | null }>(
      `SELECT "DeviceId", strftime(max("Timestamp"), '%Y-%m-%dT%H:%M:%S.%gZ') AS "Timestamp", arg_max("Readings", "Timestamp") AS "Readings",
              strftime(arg_max("EnqueuedTime", "Timestamp"), '%Y-%m-%dT%H:%M:%S.%gZ') AS "EnqueuedTime"
       FROM "EquipmentTelemetry" GROUP BY "DeviceId" HAVING max("Timestamp") >= $1::TIMESTAMP`,
      [new Date(since).toISOString()],
    );
    return rows.map((r) => ({ deviceId: r.DeviceId, time: Date.parse(r.Timestamp), readings: JSON.parse(r.Readings) as Record<string, unknown>, ...(r.EnqueuedTime ? { enqueuedTime: Date.parse(r.EnqueuedTime) } : {}) }));
  }

  /** A device's readings in [from, to), oldest first, at most `limit`. */
  async history(deviceId: string, from: number, to: number, limit: number): Promise<TelemetryPoint[]> {
    const rows = await this.query<{ Timestamp: string; Readings: string; AnomalyScore: number; FailureProbability: number | null }>(
      `SELECT strftime("Timestamp", '%Y-%m-%dT%H:%M:%S.%gZ') AS "Timestamp", "Readings", "AnomalyScore", "FailureProbability" FROM "EquipmentTelemetry"
       WHERE "DeviceId" = $1 AND "Timestamp" >= $2::TIMESTAMP AND "Timestamp" < $3::TIMESTAMP ORDER BY "Timestamp" DESC LIMIT ${Math.max(1, Math.floor(limit))}`,
      [deviceId, new Date(from).toISOString(), new Date(to).toISOString()],
    );
    return rows.reverse().map((r) => ({ time: r.Timestamp, readings: JSON.parse(r.Readings) as Record<string, unknown>, anomalyScore: r.AnomalyScore, failureProbability: r.FailureProbability }));
  }

  async alerts(since: number, limit: number): Promise<AlertRecord[]> {
    const rows = await this.query<{ AlertId: string; DeviceId: string; Timestamp: string; Severity: string; AnomalyScore: number; FailureProbability: number | null; Contributions: string; ModelVersion: string; AckedAt: string | null; AckedBy: string | null; Note: string | null; Priority: string | null; ClearedAt: string | null; Detail: string | null; ClearDetail: string | null; StepDetail: string | null }>(
      `SELECT f."AlertId", f."DeviceId", strftime(f."Timestamp", '%Y-%m-%dT%H:%M:%S.%gZ') AS "Timestamp", f."Severity", f."AnomalyScore", f."FailureProbability", f."Contributions", f."ModelVersion",
              strftime(a."AckedAt", '%Y-%m-%dT%H:%M:%S.%gZ') AS "AckedAt", a."AckedBy", a."Note",
              (SELECT e."Priority" FROM "AlarmEvents" e WHERE e."IncidentId" = f."AlertId" AND e."Event" <> 'cleared' ORDER BY CASE e."Priority" WHEN 'critical' THEN 3 WHEN 'warning' THEN 2 ELSE 1 END DESC LIMIT 1) AS "Priority",
              (SELECT e."Detail" FROM "AlarmEvents" e WHERE e."IncidentId" = f."AlertId" AND e."Event" <> 'cleared' ORDER BY e."Timestamp" DESC LIMIT 1) AS "Detail",
              (SELECT strftime(max(e."Timestamp"), '%Y-%m-%dT%H:%M:%S.%gZ') FROM "AlarmEvents" e WHERE e."IncidentId" = f."AlertId" AND e."Event" = 'cleared'
                 AND e."Timestamp" >= (SELECT max(r."Timestamp") FROM "AlarmEvents" r WHERE r."IncidentId" = f."AlertId" AND r."Event" = 'raised')) AS "ClearedAt",
              (SELECT e."Detail" FROM "AlarmEvents" e WHERE e."IncidentId" = f."AlertId" AND e."Event" = 'cleared' ORDER BY e."Timestamp" DESC LIMIT 1) AS "ClearDetail",
              (SELECT e."Detail" FROM "AlarmEvents" e WHERE e."IncidentId" = f."AlertId" AND e."Event" IN ('raised', 'escalated') ORDER BY e."Timestamp" DESC LIMIT 1) AS "StepDetail"
       FROM "AnomalyFlags" f LEFT JOIN "AlertAcks" a ON a."AlertId" = f."AlertId"
       WHERE f."AlertId" IS NOT NULL AND f."Timestamp" >= $1::TIMESTAMP ORDER BY f."Timestamp" DESC LIMIT ${Math.max(1, Math.floor(limit))}`,
      [new Date(since).toISOString()],
    );
    const actions = rows.length === 0 ? [] : await this.query<ActionRow>(
      `SELECT strftime("Timestamp", '%Y-%m-%dT%H:%M:%S.%gZ') AS "Timestamp", "DeviceId", "Action", "Outcome", "Detail" FROM "MaintenanceActions" WHERE "Timestamp" >= $1::TIMESTAMP`,
      [new Date(since).toISOString()],
    );
    const incidents = rows.map((r) => ({
      alertId: r.AlertId,
      deviceId: r.DeviceId,
      time: r.Timestamp,
      severity: r.Severity,
      priority: r.Priority ?? r.Severity,
      state: r.ClearedAt ? ('cleared' as const) : ('active' as const),
      clearedAt: r.ClearedAt,
      clearedAtRest: (r.ClearedAt && lineAtRestOfDetail(r.ClearDetail)) || null,
      anomalyScore: r.AnomalyScore,
      failureProbability: r.FailureProbability,
      contributions: JSON.parse(r.Contributions) as Record<string, number>,
      modelVersion: r.ModelVersion,
      acknowledged: r.AckedAt ? { at: r.AckedAt, by: r.AckedBy ?? '', note: r.Note ?? '' } : null,
      condition: conditionOfDetail(r.Detail) ?? null,
      notMeasured: sensorsOfDetail(r.Detail) ?? null,
      deviceLink: deviceLinkOfDetail(r.Detail) ?? null,
      // The scores of its latest raise or escalation (a silence recorded since carries none).
      latest: figuresOfDetail(r.StepDetail ?? r.Detail) ?? null,
    }));
    return withActions(incidents, actions);
  }

  async deadLetterGroups(since: number, limit: number): Promise<DeadLetterGroup[]> {
    const rows = await this.query<{ DeviceId: string | null; Reason: string; Count: number; LastAt: string; Detail: string; Body: string }>(
      `SELECT "DeviceId", "Reason", CAST(count(*) AS DOUBLE) AS "Count", strftime(max("ReceivedAt"), '%Y-%m-%dT%H:%M:%S.%gZ') AS "LastAt",
              arg_max("Detail", "ReceivedAt") AS "Detail", arg_max("Body", "ReceivedAt") AS "Body"
       FROM "DeadLetters" WHERE "ReceivedAt" >= $1::TIMESTAMP
       GROUP BY "DeviceId", "Reason" ORDER BY max("ReceivedAt") DESC, "DeviceId", "Reason" LIMIT ${Math.max(1, Math.floor(limit))}`,
      [new Date(since).toISOString()],
    );
    return rows.map((r) => ({ deviceId: r.DeviceId, reason: r.Reason, count: r.Count, lastAt: r.LastAt, detail: r.Detail, body: r.Body }));
  }

  async alarmEvents(from: number, to: number, limit: number, devices?: readonly string[]): Promise<AlarmEventRecord[]> {
    if (devices?.length === 0) return [];
    const scope = periodOfDevices(from, to, devices, 'e.');
    const rows = await this.query<AlarmEventSource>(
      `SELECT strftime(e."Timestamp", '%Y-%m-%dT%H:%M:%S.%gZ') AS "Timestamp", e."IncidentId", e."DeviceId", e."Event", e."Priority", e."Notified",
              strftime(a."AckedAt", '%Y-%m-%dT%H:%M:%S.%gZ') AS "AckedAt"
       FROM "AlarmEvents" e LEFT JOIN (SELECT "AlertId", min("AckedAt") AS "AckedAt" FROM "AlertAcks" GROUP BY "AlertId") a ON a."AlertId" = e."IncidentId"
       WHERE ${scope.where}
       ORDER BY e."Timestamp", e."IncidentId", e."Event" LIMIT ${Math.max(1, Math.floor(limit))}`,
      scope.params,
    );
    return rows.map(alarmEventRecord);
  }

  async firstReadingAt(from: number, to: number, devices?: readonly string[]): Promise<number | null> {
    if (devices?.length === 0) return null;
    const scope = periodOfDevices(from, to, devices);
    const [row] = await this.query<{ First: string | null }>(`SELECT strftime(min("Timestamp"), '%Y-%m-%dT%H:%M:%S.%gZ') AS "First" FROM "EquipmentTelemetry" WHERE ${scope.where}`, scope.params);
    return row?.First ? Date.parse(row.First) : null;
  }

  async latestConnections(devices: readonly string[]): Promise<Map<string, ConnectionEvent>> {
    if (devices.length === 0) return new Map();
    const rows = await this.query<{ DeviceId: string; State: string; Timestamp: string }>(
      `SELECT "DeviceId", arg_max("State", "SequenceNumber") AS "State", strftime(arg_max("Timestamp", "SequenceNumber"), '%Y-%m-%dT%H:%M:%S.%gZ') AS "Timestamp"
       FROM "DeviceConnections" WHERE list_contains(from_json($1, '["VARCHAR"]'), "DeviceId") GROUP BY "DeviceId"`,
      [JSON.stringify(devices)],
    );
    return connectionEvents(rows);
  }

  async acknowledge(ack: AlertAckRow): Promise<AckOutcome> {
    const [row] = await this.query<{ flags: number; acks: number }>(
      `SELECT (SELECT CAST(count(*) AS DOUBLE) FROM "AnomalyFlags" WHERE "AlertId" = $1) AS flags, (SELECT CAST(count(*) AS DOUBLE) FROM "AlertAcks" WHERE "AlertId" = $1) AS acks`,
      [ack.AlertId],
    );
    if (!row || row.flags === 0) return 'unknownAlert';
    if (row.acks > 0) return 'alreadyAcknowledged';
    await this.write({ telemetry: [], anomalies: [], deadLetters: [], acks: [ack] });
    return 'acknowledged';
  }

  /** The devices with stored telemetry. */
  async devices(): Promise<string[]> {
    const rows = await this.query<{ DeviceId: string }>(`SELECT DISTINCT "DeviceId" FROM "EquipmentTelemetry" ORDER BY 1`);
    return rows.map((r) => r.DeviceId);
  }

  /** A device's readings after `after` (epoch ms), oldest first, at most `limit`: for replaying history in pages. */
  async readingsAfter(deviceId: string, after: number, limit: number): Promise<{ time: number; readings: Record<string, unknown> }[]> {
    const rows = await this.query<{ Timestamp: string; Readings: string }>(
      `SELECT strftime("Timestamp", '%Y-%m-%dT%H:%M:%S.%gZ') AS "Timestamp", "Readings" FROM "EquipmentTelemetry"
       WHERE "DeviceId" = $1 AND "Timestamp" > $2::TIMESTAMP ORDER BY "Timestamp" LIMIT ${Math.max(1, Math.floor(limit))}`,
      [deviceId, new Date(after).toISOString()],
    );
    return rows.map((r) => ({ time: Date.parse(r.Timestamp), readings: JSON.parse(r.Readings) as Record<string, unknown> }));
  }

  /** Every row of a table as it was written (tests, tools). */
  async rows(table: TableDef['name']): Promise<Record<string, unknown>[]> {
    const def = TABLES.find((t) => t.name === table)!;
    const rows = await this.query<Record<string, unknown>>(`SELECT ${selectList(def)} FROM "${table}"`);
    for (const row of rows) for (const [name, type] of def.columns) if (type === 'dynamic' && typeof row[name] === 'string') row[name] = JSON.parse(row[name] as string);
    return rows;
  }

  /** Per row of a table (its Timestamp within [from, to] when given): its time and when it was written, epoch ms. */
  async ingestionTimes(table: TableDef['name'], from = 0, to = 8.64e15): Promise<{ time: number; ingestedAt: number }[]> {
    return this.query<{ time: number; ingestedAt: number }>(
      `SELECT CAST(epoch_ms("Timestamp") AS DOUBLE) AS "time", CAST(epoch_ms("IngestedAt") AS DOUBLE) AS "ingestedAt" FROM "${table}"
       WHERE "IngestedAt" IS NOT NULL AND epoch_ms("Timestamp") BETWEEN $1 AND $2`,
      [from, to],
    );
  }

  async count(table: TableDef['name']): Promise<number> {
    const [row] = await this.query<{ n: number }>(`SELECT CAST(count(*) AS DOUBLE) AS n FROM "${table}"`);
    return row!.n;
  }

  private query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.serial(async () => {
      const reader = await this.db.runAndReadAll(sql, params as never);
      return reader.getRowObjectsJS() as T[];
    });
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    while (this.draining || this.pending.length) await new Promise((r) => setTimeout(r, 5));
    await this.queue;
    await this.db.run('CHECKPOINT').catch(() => undefined);
    this.db.closeSync();
    this.instance.closeSync();
  }
}
