/**
 * The Kusto adapter on the wire: what azure-kusto-ingest and azure-kusto-data send to a cluster,
 * checked against a loopback server that answers like Data Explorer's REST endpoints.
 */
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeBatch } from '../../src/lib/telemetry/decode.ts';
import { KustoTelemetryStore } from '../../src/lib/store/kusto-telemetry-store.ts';
import { TABLES, kustoTableScript } from '../../src/lib/store/tables.ts';
import type { StoreBatch } from '../../src/lib/ports.ts';
import { reply, startServer } from '../support/http-server.ts';

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

const batch: StoreBatch = {
  telemetry: [{ Timestamp: '2026-11-25T10:00:00.000Z', DeviceId: 'robotic-arm-001', ModelId: 'dtmi:manufacturing:RoboticArm;1', MessageId: 'robotic-arm-001|m:1', EnqueuedTime: '2026-11-25T10:00:00.100Z', Readings: { temperature: 71 }, AnomalyScore: 0.1, FailureProbability: null, ModelVersion: 'envelope-1' }],
  anomalies: [{ Timestamp: '2026-11-25T10:00:00.000Z', DeviceId: 'robotic-arm-001', MessageId: 'robotic-arm-001|m:1', Severity: 'warning', AnomalyScore: 0.6, FailureProbability: null, Contributions: { temperature: 1 }, ModelVersion: 'envelope-1', AlertId: null }],
  deadLetters: [],
};

/** Data Explorer's v2 answer to a query: one primary result of these columns and rows. */
const primaryResult = (columns: string[][], rows: unknown[][]) => [
  { FrameType: 'DataSetHeader', IsProgressive: false, Version: 'v2.0' },
  { FrameType: 'DataTable', TableId: 0, TableKind: 'PrimaryResult', TableName: 'PrimaryResult', Columns: columns.map(([ColumnName, ColumnType]) => ({ ColumnName, ColumnType })), Rows: rows },
  { FrameType: 'DataSetCompletion', HasErrors: false, Cancelled: false },
];

/** A cluster that answers every query with these rows. */
async function clusterAnswering(columns: string[][], rows: unknown[][]) {
  const s = await startServer((req, res) => {
    if (req.url.startsWith('/v1/rest/auth/metadata')) return reply(res, 404, {});
    reply(res, 200, primaryResult(columns, rows));
  });
  servers.push(s);
  return s;
}

async function cluster(status = 200) {
  const s = await startServer((req, res) => {
    if (req.url.startsWith('/v1/rest/auth/metadata')) return reply(res, 404, {});
    if (req.url.startsWith('/v1/rest/ingest/')) return reply(res, status, status === 200 ? { Tables: [] } : { error: { message: 'throttled' } }, status === 429 ? { 'retry-after': '0' } : {});
    if (req.url.startsWith('/v2/rest/query')) {
      return reply(res, 200, primaryResult([['DeviceId', 'string'], ['Timestamp', 'datetime'], ['Readings', 'dynamic'], ['EnqueuedTime', 'datetime']], [['robotic-arm-001', '2026-11-25T10:00:00.25Z', { temperature: 71 }, '2026-11-25T10:00:01.5Z']]));
    }
    reply(res, 404, {});
  });
  servers.push(s);
  return s;
}

describe('the Data Explorer telemetry store', () => {
  it('streams each table with its JSON mapping, one request per table', async () => {
    const s = await cluster();
    await new KustoTelemetryStore({ clusterUrl: s.url, database: 'telemetry' }).write(batch);
    const ingests = s.requests.filter((r) => r.url.startsWith('/v1/rest/ingest/'));
    expect(ingests.map((r) => decodeURIComponent(r.url)).sort()).toEqual([
      expect.stringMatching(/^\/v1\/rest\/ingest\/telemetry\/AnomalyFlags\?streamFormat=multijson&mappingName=AnomalyFlags_json/),
      expect.stringMatching(/^\/v1\/rest\/ingest\/telemetry\/EquipmentTelemetry\?streamFormat=multijson&mappingName=EquipmentTelemetry_json/),
    ]);
  });

  it('reads the newest reading per device, and when IoT Hub took it in, back through a KQL query', async () => {
    const s = await cluster();
    const latest = await new KustoTelemetryStore({ clusterUrl: s.url, database: 'telemetry' }).latestReadings(Date.parse('2026-11-25T09:00:00Z'));
    // To the millisecond (the SDK hands Dates: read through their strings, they lose it).
    expect(latest).toEqual([{ deviceId: 'robotic-arm-001', time: Date.parse('2026-11-25T10:00:00.25Z'), readings: { temperature: 71 }, enqueuedTime: Date.parse('2026-11-25T10:00:01.5Z') }]);
    const q = JSON.parse(s.requests.find((r) => r.url.startsWith('/v2/rest/query'))!.body);
    expect(q.db).toBe('telemetry');
    expect(q.csl).toContain('summarize arg_max(Timestamp, Readings, EnqueuedTime) by DeviceId');
  });

  it("reads an equipment's history through the deduplicating view, with the id as a query parameter", async () => {
    const s = await clusterAnswering([['Timestamp', 'datetime'], ['Readings', 'dynamic'], ['AnomalyScore', 'real'], ['FailureProbability', 'real']], [['2026-11-25T10:00:00Z', { temperature: 71 }, 0.1, 0.02]]);
    const points = await new KustoTelemetryStore({ clusterUrl: s.url, database: 'telemetry' }).history("arm' | drop table x", Date.parse('2026-11-25T09:00:00Z'), Date.parse('2026-11-25T11:00:00Z'), 100);
    expect(points).toEqual([{ time: '2026-11-25T10:00:00.000Z', readings: { temperature: 71 }, anomalyScore: 0.1, failureProbability: 0.02 }]);
    const q = JSON.parse(s.requests.find((r) => r.url.startsWith('/v2/rest/query'))!.body);
    expect(q.csl).toContain("materialized_view('EquipmentTelemetryDeduped')");
    expect(q.csl).not.toContain('drop table');
    // Parameter values as Data Explorer documents them: a string as itself, other types as KQL literals.
    expect(q.properties.Parameters).toEqual({ device: "arm' | drop table x", fromTime: 'datetime(2026-11-25T09:00:00.000Z)', toTime: 'datetime(2026-11-25T11:00:00.000Z)', maxRows: 'long(100)' });
  });

  it('lists incidents through the deduplicating views, with the condition and the scores of their latest raise or escalation, and what was done about them', async () => {
    const columns = [['AlertId', 'string'], ['DeviceId', 'string'], ['Timestamp', 'datetime'], ['Severity', 'string'], ['AnomalyScore', 'real'], ['FailureProbability', 'real'], ['Contributions', 'dynamic'], ['ModelVersion', 'string'], ['AckedAt', 'datetime'], ['AckedBy', 'string'], ['Note', 'string'], ['Priority', 'string'], ['RaisedAt', 'datetime'], ['ClearedAt', 'datetime'], ['Detail', 'string'], ['ClearDetail', 'string'], ['StepDetail', 'string']];
    const actionColumns = [['Timestamp', 'datetime'], ['DeviceId', 'string'], ['Action', 'string'], ['Outcome', 'string'], ['Detail', 'string']];
    const s = await startServer((req, res) => {
      if (req.url.startsWith('/v1/rest/auth/metadata')) return reply(res, 404, {});
      if (String((JSON.parse(req.body) as { csl?: string }).csl).includes('MaintenanceActionsDeduped')) {
        return reply(res, 200, primaryResult(actionColumns, [
          ['2026-11-25T10:20:00Z', 'robotic-arm-001', 'emergencyStop', 'failed', 'device answered 504: {}; failure probability 92 % (≥ 90 %)'],
          ['2026-11-25T09:45:00Z', 'robotic-arm-002', 'emergencyStop', 'executed', 'after its incident cleared'],
        ]));
      }
      reply(res, 200, primaryResult(columns, [
        ['arm-1|i1', 'robotic-arm-001', '2026-11-25T10:00:00Z', 'warning', 0.52, 0.09, { vibration: 1 }, 'streaming-10+failure-lr-v4', null, null, null, 'critical', '2026-11-25T10:00:00Z', null, 'condition=envelope score=0.8368 failure=0.7883', null, null],
        ['arm-2|i1', 'robotic-arm-002', '2026-11-25T09:00:00Z', 'warning', 0.6, null, { temperature: 1 }, 'streaming-9', null, null, null, 'warning', '2026-11-25T09:00:00Z', '2026-11-25T09:30:00Z', 'condition=drift', 'lineAtRest=maintenance', null],
        ['conv-2|silent-1', 'conveyor-002', '2026-11-25T08:00:00Z', 'warning', 0, null, {}, 'communication-watch', null, null, null, 'warning', '2026-11-25T08:00:00Z', null, 'condition=silent device=disconnected', null, null],
        ['conv-3|silent-1', 'conveyor-003', '2026-11-25T08:00:00Z', 'warning', 0, null, {}, 'communication-watch', null, null, null, 'warning', '2026-11-25T08:00:00Z', null, 'condition=silent device=__proto__', null, null],
        // Fell silent during its incident: the silence is its latest condition, its scores those of its escalation.
        ['arm-4|i1', 'robotic-arm-004', '2026-11-25T07:00:00Z', 'warning', 0.55, null, { load: 1 }, 'streaming-10', null, null, null, 'critical', '2026-11-25T07:00:00Z', null, 'condition=silent device=connected', null, 'condition=drift score=0.91'],
        // Cleared, then raised again half a second later, within the same second.
        ['arm-5|i1', 'robotic-arm-005', '2026-11-25T06:00:00Z', 'warning', 0.6, null, { load: 1 }, 'streaming-10', null, null, null, 'warning', '2026-11-25T06:00:00.700Z', '2026-11-25T06:00:00.200Z', 'condition=drift', null, null],
      ]));
    });
    servers.push(s);
    const alerts = await new KustoTelemetryStore({ clusterUrl: s.url, database: 'telemetry' }).alerts(Date.parse('2026-11-25T00:00:00Z'), 50);
    expect(alerts[0]).toMatchObject({ alertId: 'arm-1|i1', priority: 'critical', state: 'active', anomalyScore: 0.52, failureProbability: 0.09, condition: 'envelope', latest: { anomalyScore: 0.8368, failureProbability: 0.7883 } });
    // A step written before steps carried scores: none to show.
    expect(alerts[1]).toMatchObject({ state: 'cleared', clearedAt: '2026-11-25T09:30:00.000Z', clearedAtRest: 'maintenance', condition: 'drift', latest: null });
    expect(alerts[0]!.clearedAtRest).toBeNull();
    // A silent machine's incident says what IoT Hub said of its device; a token naming anything else reads as nothing.
    expect(alerts.slice(2, 4).map((a) => [a.condition, a.deviceLink])).toEqual([['silent', 'disconnected'], ['silent', null]]);
    expect(alerts[4]).toMatchObject({ condition: 'silent', deviceLink: 'connected', priority: 'critical', latest: { anomalyScore: 0.91, failureProbability: null } });
    expect(alerts[0]!.deviceLink).toBeNull();
    // Reopened after its clear, to the millisecond (the SDK hands Dates; read through their strings, the two were one second).
    expect(alerts[5]).toMatchObject({ alertId: 'arm-5|i1', state: 'active', clearedAt: null });
    // What was done about each, from the deduplicated MaintenanceActions: a stop that failed during the
    // active one; none for the other, whose stop came after it cleared.
    expect(alerts[0]!.action).toEqual({ name: 'emergencyStop', outcome: 'failed', time: '2026-11-25T10:20:00.000Z', detail: 'device answered 504: {}; failure probability 92 % (≥ 90 %)' });
    expect(alerts[1]!.action).toBeNull();
    const q = JSON.parse(s.requests.find((r) => r.url.startsWith('/v2/rest/query'))!.body);
    expect(q.csl).toContain("materialized_view('AlarmEventsDeduped')");
  });

  it('reads refused readings by device and reason through the deduplicating view, since and limit as query parameters', async () => {
    const columns = [['DeviceId', 'string'], ['Reason', 'string'], ['Count', 'long'], ['LastAt', 'datetime'], ['Detail', 'string'], ['Body', 'string']];
    const s = await clusterAnswering(columns, [
      ['conveyor-002', 'telemetry.invalid', 340, '2026-11-25T10:55:00Z', 'speed: expected a number', '{"speed":"fast"}'],
      ['', 'envelope.noDevice', 2, '2026-11-25T10:10:00Z', 'no iothub-connection-device-id', '{}'],
    ]);
    const groups = await new KustoTelemetryStore({ clusterUrl: s.url, database: 'telemetry' }).deadLetterGroups(Date.parse('2026-11-25T00:00:00Z'), 20);
    expect(groups).toEqual([
      { deviceId: 'conveyor-002', reason: 'telemetry.invalid', count: 340, lastAt: '2026-11-25T10:55:00.000Z', detail: 'speed: expected a number', body: '{"speed":"fast"}' },
      // Data Explorer keeps a missing device id as an empty string: no device.
      { deviceId: null, reason: 'envelope.noDevice', count: 2, lastAt: '2026-11-25T10:10:00.000Z', detail: 'no iothub-connection-device-id', body: '{}' },
    ]);
    const q = JSON.parse(s.requests.find((r) => r.url.startsWith('/v2/rest/query'))!.body);
    expect(q.csl).toContain("materialized_view('DeadLettersDeduped')");
    expect(q.properties.Parameters).toEqual({ since: 'datetime(2026-11-25T00:00:00.000Z)', maxRows: 'long(20)' });
  });

  it("reads each device's latest connection event through the deduplicating view, by IoT Hub's sequence number, the devices as a query parameter", async () => {
    const columns = [['DeviceId', 'string'], ['State', 'string'], ['Timestamp', 'datetime']];
    const s = await clusterAnswering(columns, [
      ['robotic-arm-003', 'disconnected', '2026-11-25T10:47:26Z'],
      ['conveyor-001', 'connected', '2026-11-25T06:00:02Z'],
    ]);
    const store = new KustoTelemetryStore({ clusterUrl: s.url, database: 'telemetry' });
    const latest = await store.latestConnections(['robotic-arm-003', 'conveyor-001', "it's-quoted"]);
    expect(Object.fromEntries(latest)).toEqual({
      'robotic-arm-003': { connected: false, at: Date.parse('2026-11-25T10:47:26Z') },
      'conveyor-001': { connected: true, at: Date.parse('2026-11-25T06:00:02Z') },
    });
    const q = JSON.parse(s.requests.find((r) => r.url.startsWith('/v2/rest/query'))!.body);
    expect(q.csl).toContain("materialized_view('DeviceConnectionsDeduped')");
    expect(q.csl).toContain('arg_max(SequenceNumber, State, Timestamp) by DeviceId');
    expect(q.properties.Parameters).toEqual({ devices: `dynamic(${JSON.stringify(['robotic-arm-003', 'conveyor-001', "it's-quoted"])})` });
    // No devices: no query at all.
    const before = s.requests.length;
    expect(await store.latestConnections([])).toEqual(new Map());
    expect(s.requests.length).toBe(before);
  });

  it("reads the incidents' lifecycle events of a period through the deduplicating view, the period and limit as query parameters", async () => {
    const columns = [['Timestamp', 'datetime'], ['IncidentId', 'string'], ['DeviceId', 'string'], ['Event', 'string'], ['Priority', 'string'], ['Notified', 'string'], ['AckedAt', 'datetime']];
    const s = await clusterAnswering(columns, [
      ['2026-11-25T10:01:00Z', 'conveyor-002|m:7', 'conveyor-002', 'raised', 'warning', 'yes', '2026-11-25T10:03:10Z'],
      ['2026-11-25T10:09:30.450Z', 'conveyor-002|m:7', 'conveyor-002', 'cleared', 'warning', 'yes', '2026-11-25T10:03:10Z'],
      // Not acknowledged: the outer join's empty datetime.
      ['2026-11-25T11:00:00Z', 'arm-1|m:2', 'arm-1', 'raised', 'critical', 'yes', null],
    ]);
    const events = await new KustoTelemetryStore({ clusterUrl: s.url, database: 'telemetry' }).alarmEvents(Date.parse('2026-11-25T00:00:00Z'), Date.parse('2026-11-26T00:00:00Z'), 500);
    const acked = Date.parse('2026-11-25T10:03:10Z');
    expect(events).toEqual([
      { time: Date.parse('2026-11-25T10:01:00Z'), incidentId: 'conveyor-002|m:7', deviceId: 'conveyor-002', event: 'raised', priority: 'warning', notified: 'yes', ackedAt: acked },
      // To the millisecond (the SDK hands Dates).
      { time: Date.parse('2026-11-25T10:09:30.450Z'), incidentId: 'conveyor-002|m:7', deviceId: 'conveyor-002', event: 'cleared', priority: 'warning', notified: 'yes', ackedAt: acked },
      { time: Date.parse('2026-11-25T11:00:00Z'), incidentId: 'arm-1|m:2', deviceId: 'arm-1', event: 'raised', priority: 'critical', notified: 'yes' },
    ]);
    const q = JSON.parse(s.requests.find((r) => r.url.startsWith('/v2/rest/query'))!.body);
    expect(q.csl).toContain("materialized_view('AlarmEventsDeduped')");
    expect(q.csl).toContain("materialized_view('AlertAcksDeduped')");
    expect(q.properties.Parameters).toEqual({ fromTime: 'datetime(2026-11-25T00:00:00.000Z)', toTime: 'datetime(2026-11-26T00:00:00.000Z)', maxRows: 'long(500)', allDevices: 'bool(true)', devices: 'dynamic([])' });
    // One line's equipment: its devices as a dynamic array; a line without equipment asks nothing.
    await new KustoTelemetryStore({ clusterUrl: s.url, database: 'telemetry' }).alarmEvents(Date.parse('2026-11-25T00:00:00Z'), Date.parse('2026-11-26T00:00:00Z'), 500, ['conveyor-002', 'arm-1']);
    const queries = () => s.requests.filter((r) => r.url.startsWith('/v2/rest/query'));
    expect(JSON.parse(queries().at(-1)!.body).properties.Parameters).toMatchObject({ allDevices: 'bool(false)', devices: 'dynamic(["conveyor-002","arm-1"])' });
    const asked = queries().length;
    expect(await new KustoTelemetryStore({ clusterUrl: s.url, database: 'telemetry' }).alarmEvents(0, 1, 500, [])).toEqual([]);
    expect(queries()).toHaveLength(asked);
  });

  it('reads when the first reading of a period was taken, the period and the equipment as query parameters', async () => {
    const s = await clusterAnswering([['First', 'datetime']], [['2026-11-25T10:00:07.125Z']]);
    const store = new KustoTelemetryStore({ clusterUrl: s.url, database: 'telemetry' });
    // To the millisecond (the SDK hands a Date).
    expect(await store.firstReadingAt(Date.parse('2026-11-25T00:00:00Z'), Date.parse('2026-11-26T00:00:00Z'))).toBe(Date.parse('2026-11-25T10:00:07.125Z'));
    const queries = () => s.requests.filter((r) => r.url.startsWith('/v2/rest/query'));
    const q = JSON.parse(queries().at(-1)!.body);
    expect(q.csl).toContain('min(Timestamp)');
    expect(q.properties.Parameters).toEqual({ fromTime: 'datetime(2026-11-25T00:00:00.000Z)', toTime: 'datetime(2026-11-26T00:00:00.000Z)', allDevices: 'bool(true)', devices: 'dynamic([])' });
    await store.firstReadingAt(0, 1, ['conveyor-002']);
    expect(JSON.parse(queries().at(-1)!.body).properties.Parameters).toMatchObject({ allDevices: 'bool(false)', devices: 'dynamic(["conveyor-002"])' });
    const asked = queries().length;
    expect(await store.firstReadingAt(0, 1, [])).toBeNull();
    expect(queries()).toHaveLength(asked);
    // Nothing in the period: min() over no rows is one row with an empty cell.
    const empty = await clusterAnswering([['First', 'datetime']], [[null]]);
    expect(await new KustoTelemetryStore({ clusterUrl: empty.url, database: 'telemetry' }).firstReadingAt(0, 1)).toBeNull();
  });

  it("keeps every ingestion under the cluster's 4 MB counted in bytes, so a batch of a protobuf device's refused bodies is stored, not refused for its size", async () => {
    // A device that sends protobuf: every body is refused as not JSON, and its excerpt is replacement
    // characters, 3 bytes of UTF-8 each; a thousand of them are about 2 million characters but 6 MB.
    const bodies = Array.from({ length: 1000 }, (_, i) => Buffer.from(Array.from({ length: 4096 }, (_, k) => 0x80 | ((i * 31 + k * 7) & 0x7f))));
    const { deadLetters, readings } = decodeBatch(bodies, { systemPropertiesArray: bodies.map(() => ({ 'iothub-connection-device-id': 'robotic-arm-001' })) }, { now: Date.parse('2026-11-25T10:00:00Z'), maxClockSkewMs: 60_000 });
    expect(readings).toEqual([]);
    const rows = deadLetters.map((d) => ({ ReceivedAt: '2026-11-25T10:00:00.000Z', Reason: d.reason, Detail: d.detail, DeviceId: d.deviceId ?? null, MessageId: null, PartitionId: null, SequenceNumber: null, EnqueuedTime: null, Body: d.body }));
    expect(Buffer.byteLength(rows.map((r) => JSON.stringify(r)).join('\n'))).toBeGreaterThan(4 * 1024 * 1024);
    // Data Explorer refuses a streaming ingestion of more than 4 MB of data.
    const sizes: number[] = [];
    const s = await startServer((req, res) => {
      if (req.url.startsWith('/v1/rest/auth/metadata')) return reply(res, 404, {});
      const data = gunzipSync(req.raw);
      sizes.push(data.byteLength);
      if (data.byteLength > 4 * 1024 * 1024) return reply(res, 413, { error: { message: 'Request body too large' } });
      reply(res, 200, { Tables: [] });
    });
    servers.push(s);
    const store = new KustoTelemetryStore({ clusterUrl: s.url, database: 'telemetry', retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 } });
    await store.write({ telemetry: [], anomalies: [], deadLetters: rows });
    expect(sizes.length).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4 * 1024 * 1024);
    const stored = s.requests.filter((r) => r.url.startsWith('/v1/rest/ingest/')).flatMap((r) => gunzipSync(r.raw).toString('utf8').trim().split('\n'));
    expect(stored).toHaveLength(1000);
  });

  it('turns a throttled ingestion into a retryable error after its retries', async () => {
    const s = await cluster(429);
    const store = new KustoTelemetryStore({ clusterUrl: s.url, database: 'telemetry', retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 5 } });
    await expect(store.write({ ...batch, anomalies: [] })).rejects.toMatchObject({ retryable: true });
  });
});

describe('the table definitions', () => {
  it('map every field the pipeline writes, and nothing else', () => {
    const fields = { EquipmentTelemetry: Object.keys(batch.telemetry[0]!), AnomalyFlags: Object.keys(batch.anomalies[0]!) };
    for (const [name, keys] of Object.entries(fields)) {
      expect(TABLES.find((t) => t.name === name)!.columns.map(([c]) => c).sort()).toEqual([...keys].sort());
    }
    const script = kustoTableScript();
    expect(script).toContain('.create-merge table EquipmentTelemetry (Timestamp:datetime, DeviceId:string');
    expect(script).toContain("ingestion json mapping 'AnomalyFlags_json'");
    expect(script).toContain('EquipmentTelemetryDeduped on table EquipmentTelemetry { EquipmentTelemetry | summarize take_any(*) by DeviceId, MessageId }');
  });
});

describe('the committed table script', () => {
  it('is what the table definitions generate (run npm run kusto:script after changing them)', async () => {
    const { readFileSync } = await import('node:fs');
    const committed = readFileSync(new URL('../../infra/kusto/tables.kql', import.meta.url), 'utf8');
    expect(committed.endsWith(kustoTableScript())).toBe(true);
  });
});
