/**
 * One contract for the telemetry store port. The DuckDB store (local) holds exactly the rows the
 * Kusto adapter (Azure) streams to Data Explorer for the same batch, column for column; replays
 * add nothing; the newest reading per device and a device's history read back correctly; a
 * batch survives closing and reopening the file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { projectRoot } from '../../src/lib/paths.ts';
import { DuckDbTelemetryStore } from '../../src/lib/store/duckdb-telemetry-store.ts';
import { KustoTelemetryStore } from '../../src/lib/store/kusto-telemetry-store.ts';
import { TABLES } from '../../src/lib/store/tables.ts';
import type { StoreBatch } from '../../src/lib/ports.ts';
import { reply, startServer } from '../support/http-server.ts';

const at = (s: number) => new Date(Date.UTC(2026, 10, 25, 10, 0, s)).toISOString();
const reading = (device: string, s: number, temperature: number) => ({
  Timestamp: at(s), DeviceId: device, ModelId: 'dtmi:manufacturing:RoboticArm;1', MessageId: `${device}|m:${s}`, EnqueuedTime: at(s + 1),
  Readings: { temperature, status: 'running' }, AnomalyScore: temperature > 90 ? 0.9 : 0.1, FailureProbability: temperature > 90 ? 0.4 : null, ModelVersion: 'envelope-1',
});
/** IoT Hub's sequence numbers as the decoder writes them: 64 hexadecimal digits. */
const seq = (n: number) => n.toString(16).toUpperCase().padStart(64, '0');
const batch: StoreBatch = {
  telemetry: [reading('arm-1', 1, 70), reading('arm-1', 2, 95), reading('arm-2', 1, 60)],
  anomalies: [{ Timestamp: at(2), DeviceId: 'arm-1', MessageId: 'arm-1|m:2', Severity: 'critical', AnomalyScore: 0.9, FailureProbability: 0.4, Contributions: { temperature: 1 }, ModelVersion: 'envelope-1', AlertId: 'arm-1:critical:1' }],
  deadLetters: [
    { ReceivedAt: at(3), Reason: 'body.notJson', Detail: 'Unexpected token', DeviceId: 'arm-3', MessageId: null, PartitionId: '2', SequenceNumber: 17, EnqueuedTime: at(3), Body: '{oops' },
    { ReceivedAt: at(3), Reason: 'envelope.noDevice', Detail: 'no device id', DeviceId: null, MessageId: null, PartitionId: null, SequenceNumber: null, EnqueuedTime: null, Body: '{}' },
  ],
  acks: [{ AlertId: 'arm-1:critical:1', AckedAt: at(4), AckedBy: 'Dana', Note: 'checked' }],
  alarmEvents: [
    { Timestamp: at(2), IncidentId: 'arm-1:critical:1', DeviceId: 'arm-1', Event: 'raised', Priority: 'critical', Notified: 'yes', Detail: 'condition=envelope' },
    { Timestamp: at(5), IncidentId: 'arm-1:critical:1', DeviceId: 'arm-1', Event: 'cleared', Priority: 'critical', Notified: 'yes', Detail: '' },
  ],
  connections: [
    { Timestamp: at(0), DeviceId: 'arm-1', State: 'connected', SequenceNumber: seq(1), EnqueuedTime: at(0) },
    { Timestamp: at(8), DeviceId: 'arm-1', State: 'disconnected', SequenceNumber: seq(2), EnqueuedTime: at(8) },
  ],
  actions: [{ Timestamp: at(2), DeviceId: 'arm-1', IncidentId: 'arm-1|stop|arm-1|m:2', Action: 'emergencyStop', Outcome: 'executed', Detail: 'failure probability 95 %', FailureProbability: 0.95, AnomalyScore: 0.9, ModelVersion: 'streaming-2+failure-lr-v1' }],
};
const keyOf = (table: string, row: Record<string, unknown>) => TABLES.find((t) => t.name === table)!.key.map((k) => String(row[k])).join('|');
const sorted = (table: string, rows: Record<string, unknown>[]) => [...rows].sort((a, b) => keyOf(table, a).localeCompare(keyOf(table, b)));

let dir: string;
let store: DuckDbTelemetryStore;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'store-'));
  store = await DuckDbTelemetryStore.open(join(dir, 'telemetry.duckdb'));
});
afterAll(async () => {
  await store?.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('the telemetry store contract', () => {
  it('DuckDB holds exactly the rows the Kusto adapter streams for the same batch', async () => {
    const cluster = await startServer((req, res) => (req.url.startsWith('/v1/rest/auth/metadata') ? reply(res, 404, {}) : reply(res, 200, { Tables: [] })));
    try {
      await new KustoTelemetryStore({ clusterUrl: cluster.url, database: 'telemetry' }).write(batch);
      await store.write(batch);
      for (const def of TABLES) {
        const sent = cluster.requests
          .filter((r) => r.url.startsWith(`/v1/rest/ingest/telemetry/${def.name}?`))
          .flatMap((r) => (r.headers['content-encoding'] === 'gzip' ? gunzipSync(r.raw) : r.raw).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));
        expect(sent.length, def.name).toBeGreaterThan(0);
        expect(sorted(def.name, await store.rows(def.name)), def.name).toEqual(sorted(def.name, sent));
      }
    } finally {
      await cluster.close();
    }
  });

  it('ignores a replayed batch, and a batch that overlaps what is stored adds only the new rows', async () => {
    await store.write(batch);
    expect(await store.count('EquipmentTelemetry')).toBe(3);
    expect(await store.count('DeadLetters')).toBe(2);
    const outcome = await store.write({ telemetry: [reading('arm-1', 2, 95), reading('arm-1', 3, 72), reading('arm-1', 3, 72)], anomalies: [], deadLetters: [batch.deadLetters[1]!] });
    expect(await store.count('EquipmentTelemetry')).toBe(4);
    // It says what it really stored: one new reading, not the three it was given.
    expect(outcome).toEqual({ telemetryStored: 1, rejected: 0 });
    expect(await store.count('DeadLetters')).toBe(2);
    expect(await store.count('AnomalyFlags')).toBe(1);
  });

  it('a row the database refuses becomes a dead letter; it takes neither its batch nor batches committed with it', async () => {
    const store = await DuckDbTelemetryStore.open(':memory:');
    // Three partitions write at once (one group commit); one batch carries a time DuckDB refuses.
    const bad = { ...reading('arm-7', 1, 70), Timestamp: '2024-02-30T10:00:00.000Z', MessageId: 'arm-7|m:bad' };
    const [a, b, c] = await Promise.all([
      store.write({ telemetry: [reading('arm-5', 1, 70)], anomalies: [], deadLetters: [] }),
      store.write({ telemetry: [reading('arm-7', 2, 71), bad, reading('arm-7', 3, 72)], anomalies: [], deadLetters: [] }),
      store.write({ telemetry: [reading('arm-6', 1, 70)], anomalies: [], deadLetters: [] }),
    ]);
    expect([a, b, c]).toEqual([{ telemetryStored: 1, rejected: 0 }, { telemetryStored: 2, rejected: 1 }, { telemetryStored: 1, rejected: 0 }]);
    expect(await store.count('EquipmentTelemetry')).toBe(4);
    const letters = (await store.rows('DeadLetters')).filter((r) => r.Reason === 'store.rejected');
    expect(letters).toEqual([expect.objectContaining({ DeviceId: 'arm-7', MessageId: 'arm-7|m:bad', Detail: expect.stringContaining('EquipmentTelemetry refused the row'), Body: expect.stringContaining('2024-02-30') })]);
    await store.close();
  });

  it("answers each device's latest connection event by IoT Hub's sequence number, not by its time or its arrival", async () => {
    // A reconnect whose event carries an earlier time (another IoT Hub node's clock) and arrives before a late disconnect.
    await store.write({ telemetry: [], anomalies: [], deadLetters: [], connections: [{ Timestamp: at(7), DeviceId: 'arm-2', State: 'connected', SequenceNumber: seq(0xa0), EnqueuedTime: null }] });
    await store.write({ telemetry: [], anomalies: [], deadLetters: [], connections: [{ Timestamp: at(9), DeviceId: 'arm-2', State: 'disconnected', SequenceNumber: seq(0x9f), EnqueuedTime: null }] });
    const latest = await store.latestConnections(['arm-1', 'arm-2', 'arm-9']);
    expect(Object.fromEntries(latest)).toEqual({ 'arm-1': { connected: false, at: Date.parse(at(8)) }, 'arm-2': { connected: true, at: Date.parse(at(7)) } });
    expect(await store.latestConnections([])).toEqual(new Map());
  });

  it('answers the newest reading of each device seen since a time, and when IoT Hub took it in', async () => {
    const latest = await store.latestReadings(Date.parse(at(2)));
    expect(latest).toEqual([{ deviceId: 'arm-1', time: Date.parse(at(3)), readings: { temperature: 72, status: 'running' }, enqueuedTime: Date.parse(at(4)) }]);
    expect((await store.latestReadings(0)).map((l) => l.deviceId).sort()).toEqual(['arm-1', 'arm-2']);
  });

  it("returns a device's history in time order, newest `limit` readings of the window", async () => {
    const h = await store.history('arm-1', Date.parse(at(0)), Date.parse(at(10)), 2);
    expect(h.map((p) => [p.time, p.readings.temperature, p.anomalyScore])).toEqual([[at(2), 95, 0.9], [at(3), 72, 0.1]]);
  });

  it('lists an incident with its priority, whether it has cleared, and its acknowledgement', async () => {
    const [incident] = await store.alerts(Date.parse(at(0)), 10);
    expect(incident).toMatchObject({ alertId: 'arm-1:critical:1', deviceId: 'arm-1', priority: 'critical', state: 'cleared', clearedAt: at(5), clearedAtRest: null, acknowledged: { by: 'Dana' }, condition: 'envelope' });
    // The equipment was stopped automatically while it stood (the stop's row keys itself, not the incident).
    expect(incident!.action).toEqual({ name: 'emergencyStop', outcome: 'executed', time: at(2), detail: 'failure probability 95 %' });
    // Reopened after it cleared: active again, for what the detector saw this time.
    await store.write({ telemetry: [], anomalies: [], deadLetters: [], alarmEvents: [{ Timestamp: at(6), IncidentId: 'arm-1:critical:1', DeviceId: 'arm-1', Event: 'raised', Priority: 'warning', Notified: 'yes', Detail: 'condition=drift reopened' }] });
    expect((await store.alerts(Date.parse(at(0)), 10))[0]).toMatchObject({ state: 'active', clearedAt: null, priority: 'critical', condition: 'drift' });
    // A step written before conditions were (or naming one this version does not know) names none.
    await store.write({ telemetry: [], anomalies: [], deadLetters: [], alarmEvents: [{ Timestamp: at(7), IncidentId: 'arm-1:critical:1', DeviceId: 'arm-1', Event: 'escalated', Priority: 'critical', Notified: 'yes', Detail: 'condition=__proto__' }] });
    expect((await store.alerts(Date.parse(at(0)), 10))[0]!.condition).toBeNull();
  });

  it("lists an incident with the scores of its latest raise or escalation beside those it was raised with", async () => {
    const incident = async () => (await store.alerts(Date.parse(at(0)), 10))[0]!;
    // Steps written before they carried scores: none to show.
    expect((await incident()).latest).toBeNull();
    await store.write({ telemetry: [], anomalies: [], deadLetters: [], alarmEvents: [{ Timestamp: at(8), IncidentId: 'arm-1:critical:1', DeviceId: 'arm-1', Event: 'escalated', Priority: 'critical', Notified: 'yes', Detail: 'condition=drift score=0.8123 failure=0.79' }] });
    expect(await incident()).toMatchObject({ condition: 'drift', latest: { anomalyScore: 0.8123, failureProbability: 0.79 }, anomalyScore: 0.9 });
    // A clear after it carries none, and changes nothing of what the incident last stood at.
    await store.write({ telemetry: [], anomalies: [], deadLetters: [], alarmEvents: [{ Timestamp: at(9), IncidentId: 'arm-1:critical:1', DeviceId: 'arm-1', Event: 'cleared', Priority: 'critical', Notified: 'yes', Detail: '' }] });
    expect(await incident()).toMatchObject({ state: 'cleared', latest: { anomalyScore: 0.8123, failureProbability: 0.79 } });
  });

  it('lists a diagnostic alarm with the sensors that stopped measuring', async () => {
    await store.write({
      telemetry: [],
      anomalies: [{ Timestamp: at(20), DeviceId: 'arm-2', MessageId: 'arm-2|m:20', Severity: 'warning', AnomalyScore: 0.05, FailureProbability: null, Contributions: {}, ModelVersion: 'envelope-1', AlertId: 'arm-2:warning:20' }],
      deadLetters: [],
      alarmEvents: [{ Timestamp: at(20), IncidentId: 'arm-2:warning:20', DeviceId: 'arm-2', Event: 'raised', Priority: 'warning', Notified: 'yes', Detail: 'condition=notMeasured sensors=temperature,pressure score=0.05' }],
    });
    const diagnostic = (await store.alerts(Date.parse(at(0)), 10)).find((a) => a.alertId === 'arm-2:warning:20');
    expect(diagnostic).toMatchObject({ condition: 'notMeasured', notMeasured: ['temperature', 'pressure'], state: 'active' });
    expect((await store.alerts(Date.parse(at(0)), 10)).find((a) => a.alertId === 'arm-1:critical:1')!.notMeasured).toBeNull();
  });

  it('records when each row was written, as ingestion_time() does, also in a file made before that column', async () => {
    const now = Date.now();
    const fresh = await DuckDbTelemetryStore.open(':memory:');
    await fresh.write({ telemetry: [{ ...reading('arm-9', 0, 70), Timestamp: new Date(now - 1500).toISOString() }], anomalies: [], deadLetters: [] });
    const [row] = await fresh.ingestionTimes('EquipmentTelemetry');
    expect(row!.time).toBe(now - 1500);
    expect(row!.ingestedAt).toBeGreaterThanOrEqual(now - 100);
    expect(row!.ingestedAt).toBeLessThanOrEqual(Date.now() + 100);
    expect(await fresh.ingestionTimes('EquipmentTelemetry', now, now + 1000)).toEqual([]);
    await fresh.close();
    // A file from before: its tables have no IngestedAt; opening adds it, old rows have none.
    const file = join(dir, 'old.duckdb');
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const old = await (await DuckDBInstance.create(file)).connect();
    await old.run(`CREATE TABLE "EquipmentTelemetry" ("Timestamp" TIMESTAMP, "DeviceId" VARCHAR, "ModelId" VARCHAR, "MessageId" VARCHAR, "EnqueuedTime" TIMESTAMP, "Readings" VARCHAR, "AnomalyScore" DOUBLE, "FailureProbability" DOUBLE, "ModelVersion" VARCHAR, PRIMARY KEY ("DeviceId", "MessageId"))`);
    await old.run(`INSERT INTO "EquipmentTelemetry" VALUES ('2026-11-25 10:00:00', 'arm-1', 'm', 'arm-1|m:0', '2026-11-25 10:00:00', '{}', 0.1, NULL, 'v')`);
    old.closeSync();
    const reopened = await DuckDbTelemetryStore.open(file);
    await reopened.write({ telemetry: [reading('arm-1', 1, 70)], anomalies: [], deadLetters: [] });
    expect(await reopened.count('EquipmentTelemetry')).toBe(2);
    expect(await reopened.ingestionTimes('EquipmentTelemetry')).toHaveLength(1);
    await reopened.close();
  });

  it('reopens after the writing process was killed mid-write, with every row it acknowledged', async () => {
    const file = join(dir, 'killed.duckdb');
    const writer = spawn(process.execPath, ['--import', 'tsx', join(projectRoot(), 'test/support/duckdb-writer.ts'), file], { cwd: projectRoot(), stdio: ['ignore', 'pipe', 'inherit'] });
    let acked = 0;
    for await (const line of createInterface({ input: writer.stdout! })) {
      acked = Number(line.split(' ')[1]);
      if (acked >= 30) break;
    }
    writer.kill('SIGKILL');
    await new Promise((resolve) => writer.once('exit', resolve));
    // Replaying the write-ahead log must work (it did not when the schema sat in it).
    const reopened = await DuckDbTelemetryStore.open(file);
    expect(await reopened.count('EquipmentTelemetry')).toBeGreaterThanOrEqual(acked);
    await reopened.close();
  });

  it('keeps everything across closing and reopening the file', async () => {
    await store.close();
    store = await DuckDbTelemetryStore.open(join(dir, 'telemetry.duckdb'));
    expect(await store.count('EquipmentTelemetry')).toBe(4);
    await store.write(batch);
    expect(await store.count('EquipmentTelemetry')).toBe(4);
  });
  it('groups refused readings by device and reason, the most recently refused first, with the latest one\'s detail and body', async () => {
    const letters = await DuckDbTelemetryStore.open(':memory:');
    try {
      const dead = (s: number, device: string | null, reason: string, body: string) => ({ ReceivedAt: at(s), Reason: reason, Detail: `${reason} at ${s}`, DeviceId: device, MessageId: `m${s}`, PartitionId: '0', SequenceNumber: s, EnqueuedTime: at(s), Body: body });
      await letters.write({ telemetry: [], anomalies: [], deadLetters: [dead(1, 'conveyor-002', 'telemetry.invalid', '{"speed":"a"}'), dead(7, 'conveyor-002', 'telemetry.invalid', '{"speed":"b"}'), dead(3, null, 'envelope.noDevice', '{}'), dead(5, 'conveyor-002', 'body.notJson', '{oops'), dead(6, 'arm-9', 'device.unknown', '{"t":1}')] });
      expect(await letters.deadLetterGroups(Date.parse(at(0)), 10)).toEqual([
        { deviceId: 'conveyor-002', reason: 'telemetry.invalid', count: 2, lastAt: at(7), detail: 'telemetry.invalid at 7', body: '{"speed":"b"}' },
        { deviceId: 'arm-9', reason: 'device.unknown', count: 1, lastAt: at(6), detail: 'device.unknown at 6', body: '{"t":1}' },
        { deviceId: 'conveyor-002', reason: 'body.notJson', count: 1, lastAt: at(5), detail: 'body.notJson at 5', body: '{oops' },
        { deviceId: null, reason: 'envelope.noDevice', count: 1, lastAt: at(3), detail: 'envelope.noDevice at 3', body: '{}' },
      ]);
      // Since a time: only what was refused from then on counts; and at most `limit` groups.
      expect(await letters.deadLetterGroups(Date.parse(at(4)), 2)).toMatchObject([{ reason: 'telemetry.invalid', count: 1 }, { reason: 'device.unknown' }]);
    } finally {
      await letters.close();
    }
  });

  it("reads the incidents' lifecycle events of a period oldest first, the first `limit`, a replay once, each with its incident's acknowledgement", async () => {
    const alarms = await DuckDbTelemetryStore.open(':memory:');
    try {
      const step = (s: number, id: string, event: string, priority: string, notified: string) => ({ Timestamp: at(s), IncidentId: id, DeviceId: id.split('#')[0]!, Event: event, Priority: priority, Notified: notified, Detail: '' });
      const rows = [step(4, 'conveyor-002#1', 'raised', 'warning', 'yes'), step(1, 'arm-1#1', 'raised', 'low', 'low'), step(9, 'conveyor-002#1', 'cleared', 'warning', 'yes'), step(6, 'arm-2#1', 'raised', 'critical', 'flood')];
      await alarms.write({ telemetry: [], anomalies: [], deadLetters: [], alarmEvents: rows });
      await alarms.write({ telemetry: [], anomalies: [], deadLetters: [], alarmEvents: rows.slice(0, 2) });
      // Acknowledged after the period read: the acknowledgement still comes with its events.
      await alarms.write({ telemetry: [], anomalies: [], deadLetters: [], acks: [{ AlertId: 'conveyor-002#1', AckedAt: at(12), AckedBy: 'Dana', Note: '' }] });
      expect(await alarms.alarmEvents(Date.parse(at(2)), Date.parse(at(9)), 10)).toEqual([
        { time: Date.parse(at(4)), incidentId: 'conveyor-002#1', deviceId: 'conveyor-002', event: 'raised', priority: 'warning', notified: 'yes', ackedAt: Date.parse(at(12)) },
        { time: Date.parse(at(6)), incidentId: 'arm-2#1', deviceId: 'arm-2', event: 'raised', priority: 'critical', notified: 'flood' },
      ]);
      expect((await alarms.alarmEvents(Date.parse(at(0)), Date.parse(at(10)), 2)).map((e) => e.incidentId)).toEqual(['arm-1#1', 'conveyor-002#1']);
      // One line's equipment only, its limit its own; a line without equipment has no events.
      expect((await alarms.alarmEvents(Date.parse(at(0)), Date.parse(at(10)), 2, ['arm-2', 'conveyor-002'])).map((e) => `${e.incidentId} ${e.event}`)).toEqual(['conveyor-002#1 raised', 'arm-2#1 raised']);
      expect(await alarms.alarmEvents(Date.parse(at(0)), Date.parse(at(10)), 10, [])).toEqual([]);
    } finally {
      await alarms.close();
    }
  });

  it('says when the first reading of a period was taken, of the whole plant or of some equipment: when the plant began to be watched there', async () => {
    const watched = await DuckDbTelemetryStore.open(':memory:');
    try {
      await watched.write({ telemetry: [reading('arm-2', 7, 60), reading('arm-1', 3, 70), reading('arm-1', 5, 71), reading('conveyor-1', 1, 20)], anomalies: [], deadLetters: [] });
      expect(await watched.firstReadingAt(Date.parse(at(0)), Date.parse(at(10)))).toBe(Date.parse(at(1)));
      // The period's own first, not the table's.
      expect(await watched.firstReadingAt(Date.parse(at(2)), Date.parse(at(10)))).toBe(Date.parse(at(3)));
      expect(await watched.firstReadingAt(Date.parse(at(0)), Date.parse(at(10)), ['arm-2', 'arm-1'])).toBe(Date.parse(at(3)));
      expect(await watched.firstReadingAt(Date.parse(at(4)), Date.parse(at(10)), ['arm-2'])).toBe(Date.parse(at(7)));
      // Nothing heard in the period, or of no equipment: none.
      expect(await watched.firstReadingAt(Date.parse(at(8)), Date.parse(at(10)))).toBeNull();
      expect(await watched.firstReadingAt(Date.parse(at(0)), Date.parse(at(10)), [])).toBeNull();
      expect(await watched.firstReadingAt(Date.parse(at(0)), Date.parse(at(10)), ['press-9'])).toBeNull();
    } finally {
      await watched.close();
    }
  });
});
