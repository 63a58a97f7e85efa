import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/lib/errors.ts';
import type { ScoreInput, ScoreResult, ScorerPort } from '../../src/lib/ports.ts';
import { NOT_MEASURED_LOG, NOT_TELEMETRY_LOG, REFUSED_LOG } from '../../src/lib/pipeline.ts';
import { decodeBatch } from '../../src/lib/telemetry/decode.ts';
import { AUTO_STOP, CapturedCommands, HOT_FAILURE_MODEL, harness } from '../support/pipeline-harness.ts';
import { ARM, CONVEYOR, LINE, batch, iso } from '../support/plant.ts';
import { reviveDetectorState } from '../../src/lib/anomaly/detector-state.ts';
import { checkBindings, parseModels, readModelDocuments } from '../../src/lib/dtdl/index.ts';
import { TelemetryCatalog } from '../../src/lib/telemetry/catalog.ts';
import { figuresOfDetail } from '../../src/lib/alerts/conditions.ts';
import { alertCard } from '../../src/lib/alerts/adaptive-card.ts';

const t0 = Date.now() - 60_000;
const arm = (dt: number, values: Record<string, unknown>, messageId?: string) => ({
  device: 'robotic-arm-001',
  body: { timestamp: iso(t0 + dt), ...values },
  ...(messageId ? { messageId } : {}),
});
const conveyor = (dt: number, values: Record<string, unknown>) => ({ device: 'conveyor-belt-001', body: { timestamp: iso(t0 + dt), ...values } });

function plant(options: Parameters<typeof harness>[0] = {}) {
  const h = harness(options);
  h.twins.add('production-line-a', LINE);
  h.twins.add('robotic-arm-001', ARM, { equipmentId: 'robotic-arm-001' });
  h.twins.add('conveyor-belt-001', CONVEYOR, { equipmentId: 'conveyor-belt-001' });
  return h;
}

describe('telemetryIngest: a batch from the plant', () => {
  it('stores every reading and patches each twin once with its newest values', async () => {
    const h = plant();
    const result = await h.send([
      arm(0, { temperature: 70, vibration: 0.4, pressure: 6, status: 'running' }),
      conveyor(0, { speed: 1.5, load: 200, motorTemperature: 60, status: 'running' }),
      arm(500, { temperature: 71, vibration: 0.5, pressure: 6.1 }),
      conveyor(500, { speed: 1.6, load: 210, motorTemperature: 61 }),
      arm(1000, { temperature: 72, vibration: 0.45, pressure: 6.2 }),
    ]);
    expect(result).toMatchObject({ events: 5, stored: 5, deadLettered: 0, twinsPatched: 2, scoredBy: 'fallback' });
    expect(h.twins.patches.map((p) => p.id).sort()).toEqual(['conveyor-belt-001', 'robotic-arm-001']);
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ temperature: 72, pressure: 6.2, status: 'running', healthStatus: 'normal', lastTelemetryTime: iso(t0 + 1000) });
    expect(h.twins.props('conveyor-belt-001')).toMatchObject({ speed: 1.6, load: 210 });
    expect(h.store.telemetry.size).toBe(5);
    expect([...h.store.telemetry.values()][0]).toMatchObject({ DeviceId: 'robotic-arm-001', ModelId: ARM, Readings: { temperature: 70, vibration: 0.4, pressure: 6, status: 'running' } });
  });

  it('takes in a reading with a sensor not measured (null): the machine stays watched, the twin keeps the last value measured, the sensor is named', async () => {
    const h = plant();
    await h.send([arm(0, { temperature: 70, vibration: 0.4, pressure: 6, status: 'running' })]);
    // The temperature probe stops answering; the gateway sends its tag as null. Then the controller faults.
    const result = await h.send([
      arm(1000, { temperature: null, vibration: 0.5, pressure: 6.1 }),
      arm(2000, { temperature: null, vibration: 3, pressure: 6.2, status: 'fault' }),
    ]);
    expect(result).toMatchObject({ stored: 2, deadLettered: 0, notMeasured: 2 });
    expect([...h.store.telemetry.values()].at(-1)).toMatchObject({ Readings: { temperature: null, vibration: 3 } });
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ temperature: 70, vibration: 3, pressure: 6.2, status: 'fault', lastTelemetryTime: iso(t0 + 2000) });
    expect(h.logged.filter((l) => l.message === NOT_MEASURED_LOG)).toEqual([
      { level: 'warn', message: NOT_MEASURED_LOG, fields: { count: 2, sensors: JSON.stringify({ 'robotic-arm-001': ['temperature'] }), redelivered: false } },
    ]);
    // The fault is still an incident, its card saying what was not measured rather than "null".
    expect(h.alerts.sent).toHaveLength(1);
    const facts = JSON.stringify(alertCard(h.alerts.sent[0]!));
    expect(facts).toContain('{"title":"temperature","value":"not measured"}');
    expect(facts).not.toContain('null °C');
  });

  it('tells the line once when a probe has not measured for five minutes (a diagnostic alarm), and that it is over once it measures again', async () => {
    const h = plant();
    const start = Date.now() - 20 * 60_000;
    const at = (s: number, temperature: number | null, status?: string) => ({
      device: 'robotic-arm-001',
      body: { timestamp: iso(start + s * 1000), temperature, vibration: 0.4 + 0.01 * (s % 3), pressure: 6 + 0.01 * (s % 5), ...(status ? { status } : {}) },
    });
    // A minute's readings a batch, every 10 s: two minutes measured, seven blind, three measured again.
    const minute = (m: number, temperature: (s: number) => number | null) => h.send(Array.from({ length: 6 }, (_, k) => at(m * 60 + k * 10, temperature(m * 60 + k * 10), m === 0 && k === 0 ? 'running' : undefined)));
    for (let m = 0; m < 2; m++) await minute(m, (s) => 70 + 0.1 * (s % 4));
    for (let m = 2; m < 9; m++) await minute(m, () => null);
    expect(h.alerts.sent).toHaveLength(1);
    const [raised] = h.alerts.sent;
    expect(raised).toMatchObject({ severity: 'warning', condition: 'notMeasured', notMeasured: { sensors: ['temperature'], since: start + 120_000 }, incident: { event: 'raised' } });
    // Raised on the first reading five minutes into the blindness, not before.
    expect(raised!.time).toBe(start + 420_000);
    const card = JSON.stringify(alertCard(raised!));
    expect(card).toContain('a sensor has stopped measuring');
    expect(card).toContain('{"title":"Driven by","value":"temperature"}');
    expect(card).toContain('Check the sensors named above');
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ healthStatus: 'warning' });
    expect(h.store.storedAlarmEvents.map((e) => [e.Event, e.Priority, e.Notified, e.Detail.split(' ').slice(0, 2).join(' ')])).toEqual([['raised', 'warning', 'yes', 'condition=notMeasured sensors=temperature']]);
    for (let m = 9; m < 12; m++) await minute(m, (s) => 70 + 0.1 * (s % 4));
    expect(h.alerts.sent.map((a) => [a.incident.event, a.incident.id])).toEqual([['raised', raised!.incident.id], ['cleared', raised!.incident.id]]);
    // The clear's card says when the incident was raised (it said the clear's own time: the state, cleared, had forgotten).
    expect(h.alerts.sent[1]!.incident.raisedAt).toBe(start + 420_000);
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ healthStatus: 'normal' });
  });

  it("tells at most three of a line's machines whose probes all stop answering at once (a gateway lost its PLC), and none that an operator shelved meanwhile", async () => {
    const h = harness();
    h.twins.add('production-line-a', LINE);
    const arms = ['robotic-arm-001', 'robotic-arm-002', 'robotic-arm-003', 'robotic-arm-004', 'robotic-arm-005'];
    for (const id of arms) {
      h.twins.add(id, ARM, { equipmentId: id });
      h.twins.relate('production-line-a', id, 'contains');
    }
    const start = Date.now() - 20 * 60_000;
    const at = (id: string, s: number, temperature: number | null) => ({ device: id, body: { timestamp: iso(start + s * 1000), temperature, vibration: 0.4, pressure: 6, ...(s === 0 ? { status: 'running' } : {}) } });
    await h.send(arms.map((id) => at(id, 0, 70)));
    for (const s of [10, 60, 120, 180, 240, 300]) await h.send(arms.map((id) => at(id, s, null)));
    expect(h.alerts.sent).toEqual([]);
    // An operator shelves the fifth machine after the pipeline last read its twin; five minutes blind come with the next batch.
    await h.twins.patch('robotic-arm-005', [{ op: 'add', path: '/shelvedUntil', value: iso(Date.now() + 3_600_000) }, { op: 'add', path: '/shelvedBy', value: 'Dana' }]);
    await h.send(arms.map((id) => at(id, 360, null)));
    expect(h.alerts.sent.map((a) => [a.deviceId, a.condition])).toEqual(arms.slice(0, 3).map((id) => [id, 'notMeasured']));
    expect(h.store.storedAlarmEvents.filter((e) => e.Event === 'raised').map((e) => [e.DeviceId, e.Notified])).toEqual([...arms.slice(0, 3).map((id) => [id, 'yes']), ['robotic-arm-004', 'flood'], ['robotic-arm-005', 'shelved']]);
  });

  it('raises nothing for sensors not measured while the machine is out of service, nor for a glitch shorter than five minutes', async () => {
    const h = plant();
    const start = Date.now() - 20 * 60_000;
    const at = (s: number, temperature: number | null, status?: string) => ({ device: 'robotic-arm-001', body: { timestamp: iso(start + s * 1000), temperature, vibration: null, pressure: null, ...(status ? { status } : {}) } });
    // In maintenance for ten minutes with its probes unplugged: the status said once, then nulls only.
    await h.send(Array.from({ length: 60 }, (_, k) => at(k * 10, null, k === 0 ? 'maintenance' : undefined)));
    // Back running: the temperature probe answers again after four minutes of nothing measured.
    await h.send([at(600, null, 'running'), ...Array.from({ length: 24 }, (_, k) => at(610 + k * 10, null)), ...Array.from({ length: 12 }, (_, k) => ({ device: 'robotic-arm-001', body: { timestamp: iso(start + (850 + k * 10) * 1000), temperature: 70, vibration: 0.4, pressure: 6 } }))]);
    expect(h.alerts.sent).toEqual([]);
    expect(h.store.storedAlarmEvents).toEqual([]);
  });

  it('refuses a reading whose value nests thousands deep (it fits in 256 KB), with or without a message id, and takes in the rest of the batch', async () => {
    const h = plant();
    const deep = '['.repeat(5_000) + ']'.repeat(5_000);
    const result = await h.send([
      { device: 'robotic-arm-001', body: `{"timestamp":"${iso(t0)}","temperature":70,"vibration":${deep}}` },
      { device: 'robotic-arm-001', body: `{"timestamp":"${iso(t0 + 500)}","temperature":70,"shape":${deep}}`, messageId: 'deep-1' },
      // Nested as deep where the decoder quotes what it refuses: the device id and the time.
      { device: 'robotic-arm-001', body: `{"deviceId":${deep},"temperature":70}` },
      { device: 'robotic-arm-001', body: `{"timestamp":${deep},"temperature":70}` },
      arm(1000, { temperature: 71, vibration: 0.4 }),
    ]);
    expect(result).toMatchObject({ stored: 1, deadLettered: 4, deadLetterReasons: { 'telemetry.tooDeep': 2, 'envelope.deviceMismatch': 1, 'envelope.badTimestamp': 1 } });
    expect(h.store.deadLetters.map((d) => d.Detail)).toEqual([
      expect.stringMatching(/'vibration' nests deeper than 32 levels/),
      expect.stringMatching(/'shape' nests deeper than 32 levels/),
      expect.stringMatching(/^body says deviceId .* but IoT Hub authenticated robotic-arm-001$/),
      expect.stringMatching(/^timestamp .* is not an ISO 8601 time/),
    ]);
  });

  it('makes a replayed batch a no-op: no new rows, no twin moved, no second alert', async () => {
    const h = plant();
    // A controller fault raises a critical incident at once.
    const msgs = [arm(0, { temperature: 70 }, 'a1'), arm(1000, { temperature: 99, vibration: 3, status: 'fault' }, 'a2')];
    await h.send(msgs);
    const before = { rows: h.store.telemetry.size, patches: h.twins.patches.length, alerts: h.alerts.sent.length };
    const again = await h.send(msgs);
    expect(again.duplicates).toBe(2);
    expect({ rows: h.store.telemetry.size, patches: h.twins.patches.length, alerts: h.alerts.sent.length }).toEqual(before);
    expect(before.alerts).toBe(1);
  });

  it('drops a reading repeated inside one batch (IoT Hub routing replays 1,2,1,2,3)', async () => {
    const h = plant();
    const r = [arm(0, { temperature: 70 }, 'm1'), arm(100, { temperature: 71 }, 'm2')];
    const result = await h.send([...r, ...r, arm(200, { temperature: 72 }, 'm3')]);
    expect(result).toMatchObject({ readings: 5, duplicates: 2, stored: 3 });
  });

  it('stores every reading of a device that stamps them to the second and numbers none, however many a second; a replay of them is still dropped', async () => {
    const h = plant();
    // A gateway's readings: no message id (the device SDKs set none), no seq, whole seconds.
    const second = new Date(Math.floor(t0 / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    const readings = [70, 70.5, 71, 71.5].map((temperature) => ({ device: 'robotic-arm-001', body: { timestamp: second, temperature, vibration: 0.5, pressure: 6 } }));
    expect(await h.send(readings)).toMatchObject({ readings: 4, duplicates: 0, stored: 4 });
    // IoT Hub's routing delivers them again: the same readings, not new ones.
    expect(await h.send([...readings, readings[1]!])).toMatchObject({ readings: 5, duplicates: 5, stored: 0 });
    expect(h.store.telemetry.size).toBe(4);
  });

  it('never moves a twin backwards when an older reading arrives late', async () => {
    const h = plant();
    await h.send([arm(5_000, { temperature: 80, status: 'running' })]);
    const late = await h.send([arm(1_000, { temperature: 20, status: 'idle' })]);
    expect(late).toMatchObject({ stored: 1, stale: 1, twinsPatched: 0 });
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ temperature: 80, status: 'running', lastTelemetryTime: iso(t0 + 5_000) });
  });

  it('dead-letters unknown devices and invalid readings and carries on with the rest', async () => {
    const h = plant();
    h.twins.add('production-line-b', LINE);
    const result = await h.send([
      { device: 'stranger-9', body: { temperature: 1 } },
      arm(0, { temperature: 'hot' }),
      arm(10, { humidity: 40 }),
      { device: 'production-line-b', body: { speed: 1 } },
      { device: 'conveyor-belt-001', body: '{oops' },
      conveyor(0, { speed: 1.1 }),
    ]);
    expect(result).toMatchObject({ stored: 1, deadLettered: 5, twinsPatched: 1 });
    expect(result.deadLetterReasons).toEqual({ 'device.unknown': 1, 'telemetry.invalid': 2, 'device.noTelemetryModel': 1, 'body.notJson': 1 });
    expect(h.store.deadLetters.map((d) => d.Reason).sort()).toEqual(['body.notJson', 'device.noTelemetryModel', 'device.unknown', 'telemetry.invalid', 'telemetry.invalid']);
    expect(h.store.deadLetters.find((d) => d.Reason === 'device.unknown')).toMatchObject({ DeviceId: 'stranger-9', PartitionId: '0', Detail: "no digital twin with id 'stranger-9': register the device's twin before it sends" });
    expect(h.store.deadLetters.find((d) => d.Reason === 'device.noTelemetryModel')!.Detail).toBe(`twin 'production-line-b' has model ${LINE}, which has no device model describing its telemetry`);
    // One warning for the batch, naming the devices to look at (Azure Monitor alerts on it).
    expect(h.logged.filter((l) => l.message === REFUSED_LOG)).toEqual([
      { level: 'warn', message: REFUSED_LOG, fields: { count: 5, reasons: JSON.stringify(result.deadLetterReasons), devices: JSON.stringify(['conveyor-belt-001', 'stranger-9', 'robotic-arm-001', 'production-line-b']), keptAs: undefined, redelivered: false } },
    ]);
  });

  it("passes by the events IoT Hub emits itself when a route sends them here (connection state, lifecycle, twin changes): nothing refused, nothing kept, said once", async () => {
    const kept: unknown[] = [];
    const h = plant({ refused: { put: async (b) => { kept.push(b); return 'kept'; } } });
    const { bodies, meta } = batch([
      arm(0, { temperature: 70 }),
      // As the non-telemetry event schemas give them: a connection's sequence number, a twin's change, a device created.
      { device: 'robotic-arm-001', body: { sequenceNumber: '000000000000000001D4132452F67CE200000002000000000000000000000001' } },
      { device: 'robotic-arm-001', body: { version: 3, properties: { reported: { firmware: '2.1' } } } },
      { device: 'robotic-arm-009', body: { deviceId: 'robotic-arm-009', etag: 'AAAAAAAAAAE=', status: 'enabled' } },
      { device: 'robotic-arm-001', body: { sequenceNumber: '000000000000000001D4132452F67CE200000002000000000000000000000002' } },
      arm(1_000, { temperature: 71 }),
    ], '0', 0);
    const sources = [undefined, 'deviceConnectionStateEvents', 'twinChangeEvents', 'deviceLifecycleEvents', 'deviceConnectionStateEvents', 'Telemetry'];
    sources.forEach((source, i) => source && (meta.systemPropertiesArray![i]!['iothub-message-source'] = source));
    const result = await h.pipeline.processBatch(bodies, meta);
    expect(result).toMatchObject({ events: 6, stored: 2, deadLettered: 0, notTelemetry: 4 });
    expect(h.store.deadLetters).toEqual([]);
    expect(kept).toEqual([]);
    expect(h.logged.filter((l) => l.message === NOT_TELEMETRY_LOG)).toEqual([
      { level: 'info', message: NOT_TELEMETRY_LOG, fields: { count: 4, sources: JSON.stringify({ deviceConnectionStateEvents: 2, twinChangeEvents: 1, deviceLifecycleEvents: 1 }) } },
    ]);
    expect(h.logged.some((l) => l.message === REFUSED_LOG)).toBe(false);
    // A source named anything at all is counted under its own name, never on the counter's prototype.
    meta.systemPropertiesArray![1]!['iothub-message-source'] = '__proto__';
    expect(decodeBatch(bodies, meta, { now: Date.now(), maxClockSkewMs: 300_000 }).notTelemetry).toEqual(JSON.parse('{"__proto__":1,"twinChangeEvents":1,"deviceLifecycleEvents":1,"deviceConnectionStateEvents":1}'));
  });

  it("stores IoT Hub's connection events beside the batch's rows, for the communication watch; one without its kind, sequence number or device is passed by, never refused", async () => {
    const h = plant();
    const seq = (n: number) => `00000000000000000000000000000000000000000000000001D4132452F67C${n.toString(16).toUpperCase().padStart(2, '0')}`;
    const { bodies, meta } = batch([
      { device: 'robotic-arm-001', body: { sequenceNumber: seq(1) } },
      arm(0, { temperature: 70 }),
      { device: 'robotic-arm-001', body: { sequenceNumber: seq(2) } },
      { device: 'robotic-arm-001', body: { sequenceNumber: seq(3) } },
      { device: 'robotic-arm-001', body: { sequenceNumber: 'not hexadecimal' } },
      { device: '', body: { sequenceNumber: seq(4) } },
    ], '0', 0);
    const ops = ['deviceConnected', undefined, 'deviceDisconnected', 'toString', 'deviceConnected', 'deviceConnected'];
    ops.forEach((op, i) => {
      if (i === 1) return;
      meta.systemPropertiesArray![i]!['iothub-message-source'] = 'deviceConnectionStateEvents';
      (meta.propertiesArray ??= bodies.map(() => ({})))[i] = { ...(op ? { opType: op } : {}), operationTimestamp: new Date(Date.UTC(2026, 11, 7, 9, 0, i)).toISOString() };
    });
    const result = await h.pipeline.processBatch(bodies, meta);
    expect(result).toMatchObject({ events: 6, stored: 1, deadLettered: 0, notTelemetry: 5, connectionEvents: 2 });
    expect([...h.store.connections.values()]).toEqual([
      { Timestamp: '2026-12-07T09:00:00.000Z', DeviceId: 'robotic-arm-001', State: 'connected', SequenceNumber: seq(1), EnqueuedTime: expect.any(String) },
      { Timestamp: '2026-12-07T09:00:02.000Z', DeviceId: 'robotic-arm-001', State: 'disconnected', SequenceNumber: seq(2), EnqueuedTime: expect.any(String) },
    ]);
    expect(Object.fromEntries(await h.store.latestConnections(['robotic-arm-001']))).toEqual({ 'robotic-arm-001': { connected: false, at: Date.UTC(2026, 11, 7, 9, 0, 2) } });
    // A store that fails the batch fails its connection events with it: the host's retry stores them.
    h.store.failNext.push(Object.assign(new Error('503'), { code: 'store.unavailable' }) as never);
    const again = batch([{ device: 'conveyor-belt-001', body: { sequenceNumber: seq(9) } }], '0', 6);
    again.meta.systemPropertiesArray![0]!['iothub-message-source'] = 'deviceConnectionStateEvents';
    again.meta.propertiesArray = [{ opType: 'deviceDisconnected', operationTimestamp: '2026-12-07T09:01:00Z' }];
    await expect(h.pipeline.processBatch(again.bodies, again.meta)).rejects.toThrow('503');
    expect(h.store.connections.size).toBe(2);
    await h.pipeline.processBatch(again.bodies, again.meta);
    expect(h.store.connections.size).toBe(3);
  });

  it('names at most ten devices in the refusal warning, however many a batch refuses, each as sent (commas and all)', async () => {
    const h = plant();
    const strangers = Array.from({ length: 25 }, (_, i) => ({ device: `stranger,${i}`, body: { temperature: 1 } }));
    await h.send(strangers);
    const [line] = h.logged.filter((l) => l.message === REFUSED_LOG);
    expect(line!.fields!.count).toBe(25);
    expect(JSON.parse(line!.fields!.devices as string)).toEqual(strangers.slice(0, 10).map((s) => s.device));
  });

  it('holds back routine patches within the interval, then sends the newest values', async () => {
    const h = plant();
    await h.send([arm(0, { temperature: 70, status: 'running' })]);
    const held = await h.send([arm(5_000, { temperature: 71 })]);
    expect(held).toMatchObject({ twinsPatched: 0, twinsDeferred: 1 });
    const due = await h.send([arm(16_000, { temperature: 72 })]);
    expect(due.twinsPatched).toBe(1);
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ temperature: 72 });
  });

  it('patches each twin with one call carrying If-Match, and nothing after a patch that went through', async () => {
    const h = plant();
    await h.send([arm(0, { temperature: 70, status: 'running' }), conveyor(0, { speed: 1.5, status: 'running' })]);
    expect(h.twins.patchAttempts.map((a) => `${a.id}:${a.outcome}`).sort()).toEqual(['conveyor-belt-001:ok', 'robotic-arm-001:ok']);
    expect(h.twins.patchAttempts).toHaveLength(2);
    expect(h.twins.patchAttempts.every((a) => a.ifMatch !== undefined && a.ifMatch !== '*')).toBe(true);
  });

  it('never moves a twin back behind another writer: after a 412 it re-reads and leaves a newer twin alone', async () => {
    const h = plant();
    await h.send([arm(0, { temperature: 70, status: 'running' })]);
    // Another writer sets the twin to t=20 s behind the pipeline's back.
    await h.twins.patch('robotic-arm-001', [{ op: 'add', path: '/lastTelemetryTime', value: iso(t0 + 20_000) }, { op: 'add', path: '/temperature', value: 75 }]);
    const attemptsBefore = h.twins.patchAttempts.length;
    // This batch's only reading is older (t=10 s): it is stored, but the twin keeps the newer one.
    const result = await h.send([arm(10_000, { temperature: 71, status: 'idle' })]);
    expect(result).toMatchObject({ stored: 1, twinsPatched: 0 });
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ temperature: 75, lastTelemetryTime: iso(t0 + 20_000) });
    expect(h.twins.patchAttempts.slice(attemptsBefore).map((a) => a.outcome)).toEqual(['etagMismatch']);
  });

  it('re-reads a twin that changed under it (412) and still writes only newer readings', async () => {
    const h = plant();
    await h.send([arm(0, { temperature: 70, status: 'running' })]);
    // Another writer moves the twin on, bumping its etag behind the pipeline's back.
    await h.twins.patch('robotic-arm-001', [{ op: 'add', path: '/lastTelemetryTime', value: iso(t0 + 20_000) }, { op: 'add', path: '/temperature', value: 75 }]);
    const result = await h.send([arm(10_000, { temperature: 71, status: 'idle' }), arm(30_000, { temperature: 76, status: 'idle' })]);
    expect(result.twinsPatched).toBe(1);
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ temperature: 76, status: 'idle', lastTelemetryTime: iso(t0 + 30_000) });
  });

  /** n readings one second apart from `from` seconds on, each made by `values(i)`. */
  const seconds = (from: number, n: number, values: (i: number) => Record<string, unknown>, tag: string) => Array.from({ length: n }, (_, i) => arm((from + i) * 1000, values(i), `${tag}${i}`));
  const calm = (i: number) => ({ temperature: 65 + (i % 3) * 0.5, vibration: 0.5 + (i % 2) * 0.02, pressure: 6, status: 'running' });

  it('records a lone outlier in AnomalyFlags without a card, and the twin stays healthy', async () => {
    const h = plant();
    await h.send(seconds(0, 60, calm, 'n'));
    await h.send([arm(60_000, { temperature: 97, vibration: 0.5, pressure: 6 }, 'spike'), ...seconds(61, 5, calm, 'm')]);
    expect(h.alerts.sent).toHaveLength(0);
    const flags = [...h.store.anomalies.values()];
    expect(flags.some((f) => f.MessageId.includes('|m:spike@') && f.AlertId === null)).toBe(true);
    expect(h.twins.props('robotic-arm-001').healthStatus).toBe('normal');
    expect(h.store.storedAlarmEvents.map((e) => [e.Event, e.Priority, e.Notified])).toEqual([['raised', 'low', 'low']]);
  });

  it('raises one incident for a sustained condition, keeps it on the twin and in AnomalyFlags, and tells when it clears', async () => {
    const h = plant();
    await h.send(seconds(0, 60, calm, 'n'));
    const hot = (i: number) => ({ temperature: 97 + (i % 2), vibration: 0.5, pressure: 6 });
    await h.send(seconds(60, 10, hot, 'h'));
    expect(h.alerts.sent).toHaveLength(1);
    expect(h.alerts.sent[0]).toMatchObject({ deviceId: 'robotic-arm-001', severity: 'critical', equipmentType: 'Robotic arm', units: { temperature: 'degreeCelsius' }, incident: { event: 'raised' } });
    expect(h.alerts.sent[0]!.contributions).toHaveProperty('temperature');
    // 97 °C is past the arm's operating envelope: the card says so in words.
    expect(h.alerts.sent[0]!.condition).toBe('envelope');
    const incident = h.alerts.sent[0]!.incident.id;
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ healthStatus: 'critical' });
    const flags = [...h.store.anomalies.values()];
    expect(flags.filter((f) => f.AlertId !== null).map((f) => f.AlertId)).toEqual([incident]);
    // It goes on: no new card.
    await h.send(seconds(70, 20, hot, 'g'));
    expect(h.alerts.sent).toHaveLength(1);
    // Back to normal for over a minute: one "cleared" card for the same incident, and the twin is healthy again.
    await h.send(seconds(90, 80, calm, 'c'));
    expect(h.alerts.sent.map((a) => [a.incident.event, a.incident.id])).toEqual([['raised', incident], ['cleared', incident]]);
    expect(h.twins.props('robotic-arm-001').healthStatus).toBe('normal');
    expect(h.store.storedAlarmEvents.filter((e) => e.IncidentId === incident).map((e) => [e.Event, e.Priority])).toEqual([['raised', 'warning'], ['escalated', 'critical'], ['cleared', 'critical']]);
    // The step that made it critical says why, and with the scores of the reading behind it (a clear names neither).
    const steps = h.store.storedAlarmEvents.filter((e) => e.IncidentId === incident);
    const escalated = steps.find((e) => e.Event === 'escalated')!;
    const behind = [...h.store.telemetry.values()].find((r) => r.Timestamp === escalated.Timestamp)!;
    expect(escalated.Detail).toBe(`condition=envelope score=${Math.round(behind.AnomalyScore * 10_000) / 10_000}`);
    expect(figuresOfDetail(escalated.Detail)).toEqual({ anomalyScore: expect.closeTo(behind.AnomalyScore, 4), failureProbability: null });
    expect(steps.find((e) => e.Event === 'cleared')!.Detail).toBe('');
  });

  it('keeps an incident open while the machine reports only its status, and clears it on normal readings or when it is taken out of service', async () => {
    const h = plant();
    await h.send(seconds(0, 60, calm, 'n'));
    const hot = (i: number) => ({ temperature: 97 + (i % 2), vibration: 0.5, pressure: 6 });
    await h.send(seconds(60, 10, hot, 'h'));
    const incident = h.alerts.sent[0]!.incident.id;
    // Two minutes of status alone (a heartbeat after an emergency stop): nothing measured, nothing cleared.
    await h.send(seconds(70, 120, () => ({ status: 'emergencyStopped' }), 's'));
    expect(h.alerts.sent.map((a) => a.incident.event)).toEqual(['raised']);
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ status: 'emergencyStopped', healthStatus: 'critical' });
    // Readings normal again for over a minute: cleared.
    await h.send(seconds(190, 80, calm, 'c'));
    expect(h.alerts.sent.map((a) => [a.incident.event, a.incident.id])).toEqual([['raised', incident], ['cleared', incident]]);
    // Out of service says so even without a measurement: a stopped machine's incident clears, as designed suppression has it.
    await h.send(seconds(270, 10, hot, 'h2'));
    expect(h.alerts.sent.map((a) => a.incident.event)).toEqual(['raised', 'cleared', 'raised']);
    await h.send(seconds(280, 80, () => ({ status: 'stopped' }), 'r'));
    expect(h.alerts.sent.map((a) => a.incident.event)).toEqual(['raised', 'cleared', 'raised', 'cleared']);
  });

  it('tells nobody about a machine stopped for ten minutes and started again: at rest its readings are no fault, nor is its warming up', async () => {
    const h = plant({ now: () => t0 + 3_600_000 });
    const working = (i: number) => ({ temperature: 65 + (i % 3) * 0.5, vibration: 0.5 + (i % 2) * 0.02, pressure: 6 + (i % 4) * 0.05, status: 'running' });
    await h.send(seconds(0, 300, working, 'w'));
    // Stopped: it cools toward the hall's 25 °C, and its vibration and pressure read the same at rest.
    const cooled = (i: number) => 25 + 40 * Math.exp(-i / 60);
    for (let k = 0; k < 6; k++) await h.send(seconds(300 + k * 100, 100, (i) => ({ temperature: cooled(k * 100 + i), vibration: 0.01, pressure: 0.05, status: 'stopped' }), `s${k}-`));
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ status: 'stopped', healthStatus: 'normal' });
    // Started again: it warms back within half a minute and works on.
    await h.send(seconds(900, 200, (i) => ({ ...working(i), temperature: 65 - (65 - cooled(600)) * Math.exp(-i / 5) }), 'u'));
    expect(h.alerts.sent).toEqual([]);
    // At most the new shape of its warming is recorded, as a low-priority incident nobody is told of.
    expect(h.store.storedAlarmEvents.filter((e) => e.Priority !== 'low')).toEqual([]);
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ status: 'running', healthStatus: 'normal' });
  });

  it("raises, keeps and clears an incident of a device whose own message ids run to thousands of characters: its twin is patched throughout, and another instance carries the incident on", async () => {
    for (const length of [5_000, 600]) {
      const h = plant();
      // The body's own messageId: the hub bounds its message-id property (128 characters), not what a body says.
      const long = (values: (i: number) => Record<string, unknown>, from: number, n: number, tag: string) =>
        Array.from({ length: n }, (_, i) => ({ device: 'robotic-arm-001', body: { timestamp: iso(t0 + (from + i) * 1000), messageId: `${tag}${i}-${'x'.repeat(length)}`, ...values(i) } }));
      await h.send(long(calm, 0, 60, 'n'));
      const hot = (i: number) => ({ temperature: 97 + (i % 2), vibration: 0.5, pressure: 6 });
      const raised = await h.send(long(hot, 60, 10, 'h'));
      expect(raised.twinErrors).toBe(0);
      expect(h.alerts.sent.map((a) => a.incident.event)).toEqual(['raised']);
      const incident = h.alerts.sent[0]!.incident.id;
      expect(h.twins.props('robotic-arm-001')).toMatchObject({ healthStatus: 'critical', temperature: 98 });
      // The partition moves: the next instance reads the incident from the twin and goes on with it.
      const next = harness({ twins: h.twins, sequences: h.sequences });
      await next.send(long(hot, 70, 20, 'g'));
      expect(next.alerts.sent).toEqual([]);
      await next.send(long(calm, 90, 80, 'c'));
      expect(next.alerts.sent.map((a) => [a.incident.event, a.incident.id])).toEqual([['cleared', incident]]);
      expect(h.twins.props('robotic-arm-001').healthStatus).toBe('normal');
      // The same message delivered again is still a replay.
      expect((await next.send(long(calm, 90, 5, 'c'))).duplicates).toBe(5);
    }
  });

  it('after a backlog (the function down for hours) records what the old readings raised and tells nobody; one still standing on readings in time is told once, as standing since then', async () => {
    const h = plant();
    const hoursAgo = Date.now() - 3 * 3_600_000;
    // As IoT Hub received them three hours ago, handled only now.
    const backlog = (from: number, n: number, values: (i: number) => Record<string, unknown>, tag: string) =>
      Array.from({ length: n }, (_, i) => ({ device: 'robotic-arm-001', messageId: `${tag}${i}`, enqueued: hoursAgo + (from + i) * 1000 + 80, body: { timestamp: iso(hoursAgo + (from + i) * 1000), ...values(i) } }));
    const hot = (i: number) => ({ temperature: 97 + (i % 2), vibration: 0.5, pressure: 6 });
    await h.send(backlog(0, 60, calm, 'n'));
    await h.send(backlog(60, 10, hot, 'h'));
    await h.send(backlog(70, 80, calm, 'c'));
    // It came and went three hours ago: a record (the incident, its steps, who was told: nobody, it came in late), no card.
    expect(h.alerts.sent).toEqual([]);
    const steps = h.store.storedAlarmEvents;
    expect(steps.map((e) => [e.Event, e.Priority, e.Notified])).toEqual([['raised', 'low', 'low'], ['raised', 'warning', 'late'], ['escalated', 'critical', 'late'], ['cleared', 'critical', 'low']]);
    expect([...h.store.anomalies.values()].filter((f) => f.AlertId !== null).map((f) => f.AlertId)).toEqual([steps[1]!.IncidentId]);
    expect(h.twins.props('robotic-arm-001').healthStatus).toBe('normal');

    // Hot at the backlog's end, and still hot in readings that come in time: told once, raised when the backlog says.
    await h.send(backlog(150, 10, hot, 'x'));
    expect(h.alerts.sent).toEqual([]);
    const inTime = Array.from({ length: 3 }, (_, i) => arm(60_000 - 3_000 + i * 1000, hot(i), `now${i}`));
    await h.send(inTime);
    expect(h.alerts.sent.map((a) => [a.incident.event, a.severity, a.incident.delayed])).toEqual([['raised', 'critical', true]]);
    const told = h.alerts.sent[0]!;
    expect(told.incident.raisedAt).toBeLessThan(hoursAgo + 160_000);
    expect(JSON.stringify(alertCard(told))).toContain('its readings reached us late');
    // The incident is still listed once: the reading that raised it carries it, not the one it was told on.
    expect([...h.store.anomalies.values()].filter((f) => f.AlertId === told.incident.id)).toHaveLength(1);
    // Still hot: nothing more to tell.
    await h.send(Array.from({ length: 3 }, (_, i) => arm(60_000 + i * 1000, hot(i), `more${i}`)));
    expect(h.alerts.sent).toHaveLength(1);
  });

  it('escalates a warning incident to critical with one more card, for the same incident', async () => {
    const h = plant();
    await h.send(seconds(0, 60, calm, 'n'));
    // Just past the normal band (75 °C): a warning once it persists; then near the hard limit.
    await h.send(seconds(60, 8, () => ({ temperature: 77, vibration: 0.5, pressure: 6 }), 'w'));
    await h.send(seconds(68, 8, () => ({ temperature: 97, vibration: 0.5, pressure: 6 }), 'c'));
    expect(h.alerts.sent.map((a) => [a.severity, a.incident.event])).toEqual([['warning', 'raised'], ['critical', 'escalated']]);
    expect(new Set(h.alerts.sent.map((a) => a.incident.id)).size).toBe(1);
  });

  it('while shelved on the twin, records the incident and tells nobody', async () => {
    const h = plant();
    h.twins.add('robotic-arm-001', ARM, { equipmentId: 'robotic-arm-001', shelvedUntil: iso(t0 + 3_600_000), shelvedBy: 'ops: sensor swap' });
    await h.send(seconds(0, 60, calm, 'n'));
    await h.send(seconds(60, 10, () => ({ temperature: 97, vibration: 0.5, pressure: 6 }), 'h'));
    expect(h.alerts.sent).toHaveLength(0);
    const told = h.store.storedAlarmEvents.filter((e) => e.Priority !== 'low');
    expect(told.map((e) => e.Event)).toContain('raised');
    expect(told.every((e) => e.Notified === 'shelved')).toBe(true);
    expect([...h.store.anomalies.values()].filter((f) => f.AlertId !== null)).toHaveLength(1);
  });

  it('fails the invocation when the store stays unavailable, so the host retries the batch', async () => {
    const h = plant();
    h.store.failNext.push(new AppError('store.http503', 'Data Explorer answered 503', { retryable: true }));
    const msgs = [arm(0, { temperature: 70 }, 'x1')];
    await expect(h.send(msgs)).rejects.toThrow('503');
    expect(h.twins.patches).toHaveLength(0);
    expect(h.logs.some((l) => l.startsWith('error') && l.includes('the host will retry it'))).toBe(true);
    // The host's retry delivers the same batch: nothing was remembered as handled, so it goes through.
    const retried = await h.send(msgs);
    expect(retried).toMatchObject({ stored: 1, duplicates: 0, twinsPatched: 1 });
  });

  it('fails the invocation when Digital Twins throttles beyond the retries', async () => {
    const h = plant();
    h.twins.failNext.patch = [new AppError('twins.unavailable', 'Digital Twins: 429', { retryable: true, status: 503 })];
    await expect(h.send([arm(0, { temperature: 70 })])).rejects.toThrow('429');
  });

  it('fails the invocation when Teams stays unavailable, and does not alert twice on the retry', async () => {
    const h = plant();
    await h.send([arm(0, { temperature: 70, status: 'running' })]);
    h.alerts.failNext.push(new AppError('teams.http503', 'teams answered 503', { retryable: true }));
    const msgs = [arm(1_000, { temperature: 97, status: 'fault' }, 'hot-1')];
    await expect(h.send(msgs)).rejects.toThrow('503');
    await h.send(msgs);
    expect(h.alerts.sent).toHaveLength(1);
    // The retry raised the same incident, not a second one.
    expect(new Set(h.store.storedAlarmEvents.filter((e) => e.Event === 'raised').map((e) => e.IncidentId)).size).toBe(1);
  });

  it('is not blinded by one reading dated minutes ahead: later real readings still raise the incident and the twin shows it', async () => {
    const h = plant();
    await h.send(seconds(0, 60, calm, 'n'));
    // One reading from a device clock 290 s fast (inside the 5-minute skew allowance) pins the twin's time.
    await h.send([arm(60_000 + 290_000, calm(0), 'ahead')]);
    await h.send(seconds(61, 8, () => ({ temperature: 97, vibration: 0.5, pressure: 6 }), 'h'));
    expect(h.alerts.sent.map((a) => [a.severity, a.incident.event])).toEqual([['critical', 'raised']]);
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ healthStatus: 'critical', lastTelemetryTime: iso(t0 + 350_000) });
  });

  it('does not post a card twice when the twin patch after it is throttled and the host retries the batch', async () => {
    const h = plant();
    await h.send(seconds(0, 60, calm, 'n'));
    const hot = seconds(60, 8, () => ({ temperature: 97, vibration: 0.5, pressure: 6 }), 'h');
    h.twins.failNext.patch = [new AppError('twins.unavailable', 'Digital Twins: 429', { retryable: true, status: 503 })];
    await expect(h.send(hot)).rejects.toThrow('429');
    expect(h.alerts.sent).toHaveLength(1);
    await h.send(hot);
    expect(h.alerts.sent).toHaveLength(1);
    expect(h.twins.props('robotic-arm-001').healthStatus).toBe('critical');
  });

  it('scores the batches after a retried one exactly as if it had never failed, however often it failed', async () => {
    const wobble = (i: number) => ({ temperature: 65 + Math.sin(i * 1.3), vibration: 0.5 + Math.sin(i * 0.7) / 50, pressure: 6 + Math.cos(i) / 10, status: 'running' });
    const run = async (failures: number) => {
      const h = plant();
      await h.send(seconds(0, 60, wobble, 'n'));
      const retried = seconds(60, 20, (i) => ({ ...wobble(60 + i), temperature: 66 + i / 4 }), 'm');
      for (let f = 0; f < failures; f++) {
        h.store.failNext.push(new AppError('store.http503', 'Data Explorer answered 503', { retryable: true }));
        await expect(h.send(retried)).rejects.toThrow('503');
      }
      await h.send(retried);
      await h.send(seconds(80, 20, (i) => wobble(80 + i), 'k'));
      return [...h.store.telemetry.values()].filter((r) => r.MessageId.includes('|m:k')).map((r) => r.AnomalyScore);
    };
    const never = await run(0);
    expect(never).toHaveLength(20);
    expect(new Set(never).size).toBeGreaterThan(1);
    // What the detector learnt from each failed attempt was rolled back: the same scores, to the last digit.
    expect(await run(1)).toEqual(never);
    expect(await run(3)).toEqual(never);
  });

  it('patches a twin with many sensors although ADT takes at most 4 KB per string: its detector state fits, shed, or stays as it was', async () => {
    // A press (twelve sensors) and a test rig (forty), beside the plant, through Microsoft's DTDL parser;
    // each also reports a free-text label.
    const machine = (name: string, sensors: number) => {
      const names = Array.from({ length: sensors }, (_, i) => `channel${i}`);
      const contents = (kind: string) => [...names.map((n) => ({ '@type': kind, name: n, schema: 'double' })), { '@type': kind, name: 'label', schema: 'string' }];
      return [
        { '@context': 'dtmi:dtdl:context;3', '@id': `dtmi:manufacturing:device:${name};1`, '@type': 'Interface', extends: 'dtmi:manufacturing:device:Equipment;1', contents: contents('Telemetry') },
        { '@context': 'dtmi:dtdl:context;3', '@id': `dtmi:manufacturing:${name};1`, '@type': 'Interface', extends: 'dtmi:manufacturing:Equipment;1', contents: contents('Property') },
      ];
    };
    const models = await parseModels([...readModelDocuments(), ...machine('Press', 12), ...machine('TestRig', 40)]);
    checkBindings(models);
    const h = harness({ catalog: new TelemetryCatalog(models), settings: { twinPatchIntervalMs: 0 } });
    h.twins.add('press-1', 'dtmi:manufacturing:Press;1');
    h.twins.add('rig-1', 'dtmi:manufacturing:TestRig;1');
    const reading = (device: string, sensors: number, i: number) => ({
      device,
      body: { timestamp: iso(t0 + i * 1000), status: 'running', ...Object.fromEntries(Array.from({ length: sensors }, (_, k) => [`channel${k}`, 10 * k + Math.sin(i * 0.7 + k) + 3 * Math.sin(i / 9)])) },
    });
    for (let b = 0; b < 10; b++) {
      const result = await h.send(Array.from({ length: 30 }, (_, i) => [reading('press-1', 12, b * 30 + i), reading('rig-1', 40, b * 30 + i)]).flat());
      expect(result).toMatchObject({ twinsPatched: 2, twinErrors: 0 });
    }
    expect(h.twins.props('press-1')).toMatchObject({ channel0: expect.any(Number), lastTelemetryTime: iso(t0 + 299_000) });
    expect(h.twins.props('rig-1')).toMatchObject({ channel39: expect.any(Number), lastTelemetryTime: iso(t0 + 299_000) });
    const press = String(h.twins.props('press-1').detectorState);
    expect(Buffer.byteLength(press)).toBeLessThanOrEqual(4096);
    expect(Object.keys(reviveDetectorState(JSON.parse(press)).s)).toHaveLength(12);
    expect(h.twins.props('rig-1').detectorState).toBeUndefined();
    // Said once per device, not once per batch.
    expect(h.logged.filter((l) => l.message.startsWith('detector state')).map((l) => l.fields?.deviceId).sort()).toEqual(['press-1', 'rig-1']);

    // A label over 4 KB is stored with its reading but left off the twin, whose patch still goes through.
    const long = reading('press-1', 12, 300);
    const result = await h.send([{ ...long, body: { ...long.body, label: 'é'.repeat(2100) } }]);
    expect(result).toMatchObject({ stored: 1, twinsPatched: 1, twinErrors: 0 });
    expect([...h.store.telemetry.values()].filter((r) => r.Readings.label !== undefined).map((r) => String(r.Readings.label).length)).toEqual([2100]);
    expect(h.twins.props('press-1')).toMatchObject({ lastTelemetryTime: iso(t0 + 300_000) });
    expect(h.twins.props('press-1').label).toBeUndefined();
    expect(h.logged.filter((l) => l.message.startsWith('telemetry left off'))).toMatchObject([{ fields: { deviceId: 'press-1', properties: 'label' } }]);
  });

  it('keeps what the detector learnt on the twin, so another instance carries on from it', async () => {
    const first = plant();
    const wobble = (i: number) => Math.sin(i * 1.7) * 0.3;
    // Enough readings for every part of the detector to be past its warm-up.
    const normal = Array.from({ length: 120 }, (_, i) => arm(i * 500, { temperature: 65 + wobble(i), vibration: 0.5 + wobble(i) / 10, pressure: 6 + wobble(i) / 3, status: 'running' }, `n${i}`));
    for (let i = 0; i < normal.length; i += 30) await first.send(normal.slice(i, i + 30));
    const stored = reviveDetectorState(JSON.parse(String(first.twins.props('robotic-arm-001').detectorState)));
    expect(stored.s.temperature!.n).toBeGreaterThanOrEqual(60);

    // The partition moves: a new instance, same twins. 72 °C is inside the plant's envelope but
    // far outside what this arm has been doing (two readings: one block of the pattern memory).
    const hot = [61_000, 61_500].map((t, i) => arm(t, { temperature: 72, vibration: 0.5, pressure: 6 }, `hot${i}`));
    const second = harness({ twins: first.twins });
    const resumed = await second.send(hot);
    expect(resumed.anomalies).toBe(1);
    expect(second.store.anomalies.size).toBe(1);

    // Without the stored state, the same readings are just the first of a new baseline.
    const fresh = plant();
    expect((await fresh.send(hot)).anomalies).toBe(0);
  });

  it('scores through the ML endpoint once per batch, and falls back when it fails', async () => {
    const calls: ScoreInput[][] = [];
    let failing = false;
    const endpoint: ScorerPort = {
      async score(inputs): Promise<ScoreResult[]> {
        calls.push([...inputs]);
        if (failing) throw new AppError('scoring.timeout', 'no answer', { retryable: true });
        return inputs.map(() => ({ anomalyScore: 0.1, failureProbability: 0.02, contributions: {}, modelVersion: 'fp-7' }));
      },
    };
    const h = harness({ endpoint });
    h.twins.add('robotic-arm-001', ARM);
    h.twins.add('conveyor-belt-001', CONVEYOR);
    const first = await h.send([arm(0, { temperature: 70, status: 'running' }), conveyor(0, { speed: 1, status: 'running' })]);
    expect(first.scoredBy).toBe('endpoint');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.map((c) => c.deviceId)).toEqual(['robotic-arm-001', 'conveyor-belt-001']);
    expect(calls[0]![0]!.features).toMatchObject({ temperature: 70, pressure: null });
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ failureProbability: 0.02, modelVersion: 'streaming-11+fp-7' });
    failing = true;
    const second = await h.send([arm(20_000, { temperature: 71 })]);
    expect(second).toMatchObject({ scoredBy: 'fallback', stored: 1 });
  });

  it('asks the failure model nothing about a reading that measures nothing, and the twin keeps what the last measured one said', async () => {
    const calls: ScoreInput[][] = [];
    const endpoint: ScorerPort = {
      async score(inputs): Promise<ScoreResult[]> {
        calls.push([...inputs]);
        return inputs.map(() => ({ anomalyScore: 0.1, failureProbability: 0.4, contributions: {}, modelVersion: 'fp-7' }));
      },
    };
    const h = harness({ endpoint });
    h.twins.add('robotic-arm-001', ARM);
    await h.send([arm(0, { temperature: 70, status: 'running' }, 'm1'), arm(500, { status: 'emergencyStopped', cycleCount: 12 }, 'm2')]);
    // Only the measured reading went to the endpoint; the status change is stored without a failure probability.
    expect(calls.map((c) => c.map((i) => i.features.temperature))).toEqual([[70]]);
    const rows = [...h.store.telemetry.values()].sort((a, b) => a.Timestamp.localeCompare(b.Timestamp));
    expect(rows.map((r) => [r.FailureProbability, r.ModelVersion])).toEqual([[0.4, 'streaming-11+fp-7'], [null, 'streaming-11']]);
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ status: 'emergencyStopped', failureProbability: 0.4, modelVersion: 'streaming-11+fp-7', lastTelemetryTime: iso(t0 + 500) });
    // A batch of status changes alone calls nobody and changes no score.
    await h.send([arm(30_000, { status: 'stopped' }, 'm3')]);
    expect(calls).toHaveLength(1);
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ status: 'stopped', failureProbability: 0.4 });
  });
});

describe('telemetryIngest: predictions that stop a machine', () => {
  const model = HOT_FAILURE_MODEL;
  const autoStop = AUTO_STOP;
  const hot = (from: number, n: number) => Array.from({ length: n }, (_, i) => arm(from + i * 500, { temperature: 97, status: 'running' }, `hot-${from + i * 500}`));
  function stopping(mode: 'on' | 'dry-run' = 'on') {
    const commands = new CapturedCommands();
    const h = harness({ endpoint: model, commands, settings: { autoStop: { ...autoStop, mode } } });
    h.twins.add('production-line-a', LINE);
    h.twins.add('robotic-arm-001', ARM, { equipmentId: 'robotic-arm-001' });
    h.twins.relate('production-line-a', 'robotic-arm-001', 'contains');
    return { ...h, commands };
  }

  it('stops the machine once, records it on the twin and in MaintenanceActions, and says so in the alert', async () => {
    const h = stopping();
    const result = await h.send(hot(0, 3));
    expect(result.stops).toEqual({ executed: 1, failed: 0, dryRun: 0, blocked: 0 });
    expect(h.commands.calls).toEqual([{ deviceId: 'robotic-arm-001', methodName: 'emergencyStop', payload: expect.objectContaining({ failureProbability: 0.95 }) }]);
    const [row] = [...h.store.actions.values()];
    expect(row).toMatchObject({ DeviceId: 'robotic-arm-001', Action: 'emergencyStop', Outcome: 'executed', FailureProbability: 0.95 });
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ lastEmergencyStopTime: iso(t0 + 1000), lastEmergencyStopReason: expect.stringContaining('failure probability 95 %') });
    expect(h.alerts.sent).toHaveLength(1);
    expect(h.alerts.sent[0]).toMatchObject({ line: 'production-line-a', action: { outcome: 'executed' } });
    expect(h.logged.filter((l) => l.message.startsWith('emergencyStop'))).toEqual([{ level: 'warn', message: 'emergencyStop executed', fields: { deviceId: 'robotic-arm-001', incidentId: row!.IncidentId, detail: row!.Detail } }]);

    // The machine is still hot on the next batches, and the host replays the first one: no second stop.
    await h.send(hot(0, 3));
    await h.send(hot(2_000, 3));
    expect(h.commands.calls).toHaveLength(1);
  });

  it('tells a stop during an incident people were told of as critical already by what the stop did, not as a second escalation, and counts no second alarm', async () => {
    const commands = new CapturedCommands();
    // Warm enough for a critical failure probability, not for the stop's 90 %; then hot.
    const endpoint: ScorerPort = {
      async score(inputs) {
        return inputs.map((i): ScoreResult => {
          const t = i.features.temperature ?? 0;
          return t >= 95 ? { anomalyScore: 0.9, failureProbability: 0.95, contributions: { temperature: 1 }, modelVersion: 'fp-1' }
            : t >= 85 ? { anomalyScore: 0.85, failureProbability: 0.85, contributions: { temperature: 1 }, modelVersion: 'fp-1' }
            : { anomalyScore: 0, failureProbability: 0.01, contributions: {}, modelVersion: 'fp-1' };
        });
      },
    };
    const h = harness({ endpoint, commands, settings: { autoStop } });
    h.twins.add('production-line-a', LINE);
    h.twins.add('robotic-arm-001', ARM, { equipmentId: 'robotic-arm-001' });
    h.twins.relate('production-line-a', 'robotic-arm-001', 'contains');
    const warm = Array.from({ length: 8 }, (_, i) => arm(i * 500, { temperature: 90, status: 'running' }, `warm-${i}`));
    await h.send(warm);
    expect(commands.calls).toEqual([]);
    expect(h.alerts.sent.map((a) => [a.severity, a.incident.event, a.incident.stopOnly])).toEqual([['critical', 'raised', undefined]]);
    const incident = h.alerts.sent[0]!.incident.id;

    await h.send(hot(4_000, 3));
    expect(commands.calls).toHaveLength(1);
    expect(h.alerts.sent).toHaveLength(2);
    const stopCard = h.alerts.sent[1]!;
    expect(stopCard).toMatchObject({ severity: 'critical', incident: { id: incident, stopOnly: true }, action: { outcome: 'executed' } });
    const text = JSON.stringify(alertCard(stopCard));
    expect(text).toContain('STOPPED AUTOMATICALLY during a CRITICAL incident: Robotic arm robotic-arm-001 on production-line-a');
    expect(text).toContain('During the critical incident raised {{DATE(');
    expect(text).toContain('this card says what the automatic stop did');
    expect(text).not.toContain('ESCALATED');
    // One alarm for the alarm-load figures: the incident's raise; the stop is a MaintenanceActions row.
    expect(h.store.storedAlarmEvents.filter((r) => r.IncidentId === incident).map((r) => r.Event)).toEqual(['raised']);
    expect([...h.store.actions.values()]).toEqual([expect.objectContaining({ DeviceId: 'robotic-arm-001', Action: 'emergencyStop', Outcome: 'executed' })]);
  });

  it('stops a machine three hot readings confirmed even when its probe then stops answering in the same batch (a thermocouple burnt out)', async () => {
    const h = stopping();
    const result = await h.send([...hot(0, 3), arm(1_500, { temperature: null, vibration: null, pressure: null, status: 'running' }, 'blind-1500')]);
    expect(result.stops).toEqual({ executed: 1, failed: 0, dryRun: 0, blocked: 0 });
    expect(h.commands.calls).toHaveLength(1);
    // A warning incident open, one hot reading makes it critical, then nothing measured in the same
    // batch: that one reading still confirms no stop (the reading after it measured nothing).
    const other = stopping();
    const spells = `${'.'.repeat(31)}HHH.HHH.`;
    const reading = (n: number) => arm(n * 500, spells[n] === 'H' || n >= spells.length ? { temperature: 97, status: 'running' } : { temperature: 62 + (n % 5) * 0.3, status: 'running' }, `r-${n}`);
    for (let n = 0; n < spells.length; n++) await other.send([reading(n)]);
    await other.send([reading(spells.length), arm((spells.length + 1) * 500, { temperature: null, vibration: null, pressure: null, status: 'running' }, 'blind-after')]);
    expect(other.store.storedAlarmEvents.filter((e) => e.Timestamp === iso(t0 + spells.length * 500)).map((e) => [e.Event, e.Priority])).toEqual([['escalated', 'critical']]);
    expect(other.commands.calls).toHaveLength(0);
  });

  it('does not stop a machine on the one hot reading that made its incident critical; the next, the incident critical by then, does', async () => {
    const h = stopping();
    // Normal running, two short hot spells, then one hot reading while a warning incident is open.
    const spells = `${'.'.repeat(31)}HHH.HHH.H`;
    const reading = (n: number) => arm(n * 500, spells[n] === 'H' || n >= spells.length ? { temperature: 97, status: 'running' } : { temperature: 62 + (n % 5) * 0.3, status: 'running' }, `r-${n}`);
    for (let n = 0; n < spells.length; n++) await h.send([reading(n)]);
    const last = iso(t0 + (spells.length - 1) * 500);
    expect(h.store.storedAlarmEvents.filter((e) => e.Timestamp === last).map((e) => [e.Event, e.Priority])).toEqual([['escalated', 'critical']]);
    expect(h.commands.calls).toHaveLength(0);
    await h.send([reading(spells.length)]);
    expect(h.commands.calls).toHaveLength(1);
    expect([...h.store.actions.values()][0]).toMatchObject({ Timestamp: iso(t0 + spells.length * 500), Detail: expect.stringContaining('critical for 1 reading of a critical incident') });
  });

  it('an instance that gets a partition back does not stop a machine another instance stopped since', async () => {
    const a = stopping();
    const commands = new CapturedCommands();
    const b = harness({ twins: a.twins, sequences: a.sequences, endpoint: model, commands, settings: { autoStop } });
    await a.send([arm(-1000, { temperature: 65, status: 'running' }, 'calm')]);
    await b.send(hot(0, 3));
    expect(commands.calls).toHaveLength(1);
    await a.send(hot(1_500, 3));
    expect(a.commands.calls).toHaveLength(0);
  });

  it('when the plant-wide stop limit cannot be reached, the instance\'s own limit decides and it is said once', async () => {
    const unreachable = { claims: 0, async claim(): Promise<boolean> { this.claims++; throw new Error('getaddrinfo ENOTFOUND storage'); } };
    const commands = new CapturedCommands();
    const h = harness({ endpoint: model, commands, settings: { autoStop }, stops: unreachable });
    h.twins.add('robotic-arm-001', ARM, { equipmentId: 'robotic-arm-001' });
    expect((await h.send(hot(0, 3))).stops.executed).toBe(1);
    expect(unreachable.claims).toBe(1);
    expect(h.logged.filter((l) => l.message.includes('emergencyStop rate limit cannot be reached'))).toHaveLength(1);
  });

  it('in dry-run decides and records, and sends nothing', async () => {
    const h = stopping('dry-run');
    expect((await h.send(hot(0, 3))).stops.dryRun).toBe(1);
    expect(h.commands.calls).toHaveLength(0);
    expect([...h.store.actions.values()][0]).toMatchObject({ Outcome: 'dry-run' });
    expect(h.twins.props('robotic-arm-001').lastEmergencyStopTime).toBeUndefined();
    expect(h.logged.filter((l) => l.message.startsWith('emergencyStop')).map((l) => [l.level, l.message])).toEqual([['warn', 'emergencyStop dry-run']]);
  });

  it('records a stop the device did not take, and tells people to act by hand', async () => {
    const h = stopping();
    h.commands.failNext.push(new AppError('device.offline', 'emergencyStop on robotic-arm-001: device is not connected', { status: 404 }));
    const result = await h.send(hot(0, 3));
    expect(result.stops.failed).toBe(1);
    expect([...h.store.actions.values()][0]).toMatchObject({ Outcome: 'failed', Detail: expect.stringContaining('device.offline') });
    expect(h.alerts.sent[0]!.action).toMatchObject({ outcome: 'failed' });
    expect(h.twins.props('robotic-arm-001').lastEmergencyStopTime).toBeUndefined();
    expect(h.logged.filter((l) => l.message.startsWith('emergencyStop')).map((l) => [l.level, l.message])).toEqual([['error', 'emergencyStop failed']]);
  });

  it('a crash after the stop, before the alert and the twin patch: the instance that replays the batch does not stop it again', async () => {
    const h = stopping();
    // Teams is down: the batch fails after the stop went out (as a process dying there would).
    h.alerts.failNext.push(new Error('Teams answered 503'));
    await expect(h.send(hot(0, 3))).rejects.toThrow('503');
    expect(h.commands.calls).toHaveLength(1);
    // Another instance (a restarted one, nothing in memory) replays the batch on the same twins.
    const commands = new CapturedCommands();
    const other = harness({ endpoint: model, commands, twins: h.twins, settings: { autoStop } });
    await other.send(hot(0, 3));
    expect(commands.calls).toHaveLength(0);
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ lastEmergencyStopTime: iso(t0 + 1000) });
    // The card is not lost: at least once, it goes out with the replay, saying the stop was sent.
    expect(other.alerts.sent).toHaveLength(1);
    expect(other.alerts.sent[0]!.action).toMatchObject({ outcome: 'executed', detail: expect.stringContaining('not sent again') });
  });

  it('a stop\'s batch handled in full and delivered again to another instance: no second stop, and no second card', async () => {
    // Three hot readings: the stop raises the incident. Six: the alarm raises it on the fifth, and
    // the stop, on the sixth, goes out on that card.
    for (const n of [3, 6]) {
      const h = stopping();
      await h.send(hot(0, n));
      expect(h.alerts.sent).toEqual([expect.objectContaining({ action: expect.objectContaining({ outcome: 'executed' }) })]);
      // Redelivered from an older checkpoint to another instance, with nothing in memory.
      const commands = new CapturedCommands();
      const other = harness({ endpoint: model, commands, twins: h.twins, settings: { autoStop } });
      await other.send(hot(0, n));
      expect(commands.calls).toHaveLength(0);
      expect(other.alerts.sent, `${n} hot readings`).toHaveLength(0);
    }
  });

  it('the host retries a batch whose card failed after the stop: the card goes out, the stop is not sent again', async () => {
    const h = stopping();
    h.alerts.failNext.push(new Error('Teams answered 503'));
    await expect(h.send(hot(0, 3))).rejects.toThrow('503');
    await h.send(hot(0, 3));
    expect(h.commands.calls).toHaveLength(1);
    expect(h.alerts.sent).toEqual([expect.objectContaining({ action: expect.objectContaining({ outcome: 'executed' }) })]);
  });

  it('keeps the action row when the store fails, and writes it with the retry', async () => {
    const h = stopping();
    await h.send(hot(0, 2));
    const down = () => new AppError('store.unavailable', 'Data Explorer: 503', { retryable: true });
    // Three more: confirmed within the batch.
    const batch = hot(1_000, 3);
    // The first write (rows) fails: the batch fails before anything is sent.
    h.store.failNext.push(down());
    await expect(h.send(batch)).rejects.toThrow('503');
    expect(h.commands.calls).toHaveLength(0);
    // The retry's row write succeeds, the stop goes out, then the action write fails: the row waits.
    h.store.failNext.push(undefined, down());
    await expect(h.send(batch)).rejects.toThrow('503');
    expect(h.commands.calls).toHaveLength(1);
    expect(h.store.actions.size).toBe(0);
    await h.send(batch);
    expect(h.commands.calls).toHaveLength(1);
    expect([...h.store.actions.values()].map((r) => r.Outcome)).toEqual(['executed']);
  });
  it('a device that answers the stop with anything but 2xx has not stopped: recorded as failed, with its answer', async () => {
    for (const [status, outcome] of [[199, 'failed'], [200, 'executed'], [299, 'executed'], [300, 'failed'], [503, 'failed']] as const) {
      const h = stopping();
      h.commands.answerNext.push({ status, payload: { error: 'interlock engaged' } });
      const result = await h.send(hot(0, 3));
      expect(result.stops[outcome === 'failed' ? 'failed' : 'executed']).toBe(1);
      const [row] = [...h.store.actions.values()];
      expect(row!.Outcome).toBe(outcome);
      if (outcome === 'failed') {
        expect(row!.Detail).toMatch(new RegExp(`^device answered ${status}: \\{"error":"interlock engaged"\\}; failure probability 95 %`));
        expect(h.twins.props('robotic-arm-001').lastEmergencyStopTime).toBeUndefined();
        expect(h.alerts.sent[0]!.action).toMatchObject({ name: 'emergencyStop', outcome: 'failed' });
      } else expect(h.twins.props('robotic-arm-001').lastEmergencyStopTime).toBe(iso(t0 + 1000));
    }
  });

  it('records a refused stop whose answer nests thousands deep (a broken or hostile device) as failed, without failing the batch', async () => {
    const h = stopping();
    h.commands.answerNext.push({ status: 500, payload: JSON.parse('['.repeat(10_000) + ']'.repeat(10_000)) });
    const result = await h.send(hot(0, 3));
    expect(result.stops.failed).toBe(1);
    expect([...h.store.actions.values()][0]!.Detail).toMatch(/^device answered 500: .*; failure probability 95 %/);
  });

  it('tries a stop the device refused again with the next readings, ten seconds on, and records both', async () => {
    let clock = t0 + 5_000;
    const commands = new CapturedCommands();
    const h = harness({ endpoint: model, commands, settings: { autoStop }, now: () => clock });
    h.twins.add('robotic-arm-001', ARM, { equipmentId: 'robotic-arm-001' });
    commands.answerNext.push({ status: 503, payload: { error: 'busy' } });
    expect((await h.send(hot(0, 3))).stops.failed).toBe(1);
    // A refused stop is not a sent one: it neither opens the incident window nor uses up the hour.
    clock = t0 + 16_000;
    expect((await h.send(hot(14_000, 3))).stops.executed).toBe(1);
    expect(commands.calls).toHaveLength(2);
    expect([...h.store.actions.values()].map((r) => r.Outcome).sort()).toEqual(['executed', 'failed']);
  });

  it('without an IoT Hub to send it through, a stop is recorded as failed and people are told to act', async () => {
    const h = harness({ endpoint: model, settings: { autoStop } });
    h.twins.add('robotic-arm-001', ARM, { equipmentId: 'robotic-arm-001' });
    expect((await h.send(hot(0, 3))).stops).toEqual({ executed: 0, failed: 1, dryRun: 0, blocked: 0 });
    expect([...h.store.actions.values()][0]!.Detail).toMatch(/^no IoT Hub configured to send emergencyStop; failure probability 95 %/);
    expect(h.alerts.sent[0]).toMatchObject({ severity: 'critical', action: { outcome: 'failed' } });
  });

  it('a stop call that throws something other than a typed error is recorded as failed with its message', async () => {
    const h = stopping();
    h.commands.failNext.push(new Error('socket hang up'));
    expect((await h.send(hot(0, 3))).stops.failed).toBe(1);
    expect([...h.store.actions.values()][0]!.Detail).toMatch(/^error: socket hang up; /);
  });

  it('a stop goes out with a card even when no reading of the batch raised one on its own', async () => {
    const h = stopping();
    await h.send(hot(0, 2));
    const sentBefore = h.alerts.sent.length;
    const result = await h.send(hot(1_000, 3));
    expect(result.stops.executed).toBe(1);
    expect(h.alerts.sent.length).toBe(sentBefore + 1);
    expect(h.alerts.sent.at(-1)).toMatchObject({ severity: 'critical', line: 'production-line-a', action: { outcome: 'executed' } });
    expect(h.store.telemetry.size).toBe(5);
  });

  it('a sudden failure stopped before the alarm\'s on-delay is one critical incident, raised with the stop, not a second one after it', async () => {
    const h = stopping();
    // Three hot readings confirm the stop; the alarm alone would wait for five.
    await h.send(hot(0, 3));
    expect(h.commands.calls).toHaveLength(1);
    expect(h.alerts.sent).toEqual([expect.objectContaining({ severity: 'critical', incident: expect.objectContaining({ event: 'raised' }), action: expect.objectContaining({ outcome: 'executed' }) })]);
    const incidentId = h.alerts.sent[0]!.incident.id;
    const alarmState = JSON.parse(h.twins.props('robotic-arm-001').alarmState as string) as { id: string; p: string };
    expect(alarmState).toMatchObject({ id: incidentId, p: 'critical' });
    // The first hot reading alone was a lone outlier, recorded as such; the stop raised the incident.
    const told = () => h.store.storedAlarmEvents.filter((e) => e.Priority !== 'low');
    expect(told()).toEqual([expect.objectContaining({ IncidentId: incidentId, Event: 'raised', Priority: 'critical', Notified: 'yes' })]);
    expect([...h.store.anomalies.values()].filter((f) => f.AlertId !== null).map((f) => f.AlertId)).toEqual([incidentId]);

    // The machine reads hot a while longer, long enough to sustain the alarm on its own: still that incident.
    await h.send(hot(1_500, 6));
    expect(h.alerts.sent).toHaveLength(1);
    expect(told().map((e) => e.IncidentId)).toEqual([incidentId]);
    expect(JSON.parse(h.twins.props('robotic-arm-001').alarmState as string)).toMatchObject({ id: incidentId, p: 'critical' });
  });
});

describe('telemetryIngest: what it records and tells, in detail', () => {
  const seconds = (from: number, n: number, values: (i: number) => Record<string, unknown>, tag: string) => Array.from({ length: n }, (_, i) => arm((from + i) * 1000, values(i), `${tag}${i}`));
  const calm = (i: number) => ({ temperature: 65 + (i % 3) * 0.5, vibration: 0.5 + (i % 2) * 0.02, pressure: 6, status: 'running' });
  const hot = (i: number) => ({ temperature: 97 + (i % 2), vibration: 0.5, pressure: 6 });

  it('names the production line on the card and records each alarm event with who was told', async () => {
    const h = plant();
    h.twins.relate('production-line-a', 'robotic-arm-001', 'contains');
    await h.send(seconds(0, 60, calm, 'n'));
    const result = await h.send(seconds(60, 10, hot, 'h'));
    expect(result.alertsSent).toBe(1);
    expect(h.alerts.sent[0]).toMatchObject({ line: 'production-line-a', incident: { event: 'raised' } });
    const incident = h.alerts.sent[0]!.incident.id;
    const raised = h.store.storedAlarmEvents.find((e) => e.IncidentId === incident && e.Event === 'raised')!;
    // What the detector saw travels with the step, in the row's Detail, as on the card, and the raising reading's score.
    expect(raised).toMatchObject({ Notified: 'yes', Detail: `condition=${h.alerts.sent[0]!.condition} score=${Math.round(h.alerts.sent[0]!.anomalyScore * 10_000) / 10_000}` });
    // Raised when the condition began, inside this batch, not at the batch's first reading.
    expect(h.alerts.sent[0]!.incident.raisedAt).toBe(Date.parse(raised.Timestamp));
    expect(h.alerts.sent[0]!.incident.raisedAt).toBeGreaterThan(t0 + 60_000);
    const flags = [...h.store.anomalies.values()];
    expect(flags.every((f) => f.FailureProbability === null)).toBe(true);
  });

  it('stores the ML endpoint\'s score, remaining life and contributions when it sees more than the detector', async () => {
    const endpoint: ScorerPort = {
      async score(inputs): Promise<ScoreResult[]> {
        return inputs.map(() => ({ anomalyScore: 0.92, rulHours: 12.5, failureProbability: 0.3, contributions: { pressure: 1 }, modelVersion: 'fp-9' }));
      },
    };
    const h = harness({ endpoint });
    h.twins.add('robotic-arm-001', ARM);
    await h.send([arm(0, { temperature: 70, vibration: 0.5, pressure: 6, status: 'running' }, 'a')]);
    const [row] = [...h.store.telemetry.values()];
    expect(row!.AnomalyScore).toBe(0.92);
    expect([...h.store.anomalies.values()][0]).toMatchObject({ AnomalyScore: 0.92, FailureProbability: 0.3, Contributions: { pressure: 1 } });
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ remainingUsefulLifeHours: 12.5, failureProbability: 0.3 });
  });

  it('removes the remaining useful life from the twin once no trend is seen on a healthy machine, rather than show the last estimate for days', async () => {
    let rulHours: number | undefined = 12.5;
    const endpoint: ScorerPort = {
      async score(inputs): Promise<ScoreResult[]> {
        return inputs.map(() => ({ anomalyScore: 0.1, rulHours, failureProbability: 0.05, contributions: {}, modelVersion: 'fp-9' }));
      },
    };
    const h = harness({ endpoint });
    h.twins.add('robotic-arm-001', ARM);
    await h.send([arm(0, { temperature: 60, vibration: 0.3, pressure: 6, status: 'running' }, 'a')]);
    expect(h.twins.props('robotic-arm-001').remainingUsefulLifeHours).toBe(12.5);
    rulHours = undefined;
    // Twice, a patch interval apart: the first removes it, the second has nothing to remove (the service would refuse the patch).
    for (const [dt, id] of [[60_000, 'b'], [120_000, 'c']] as const) {
      const result = await h.send([arm(dt, { temperature: 60, vibration: 0.3, pressure: 6, status: 'running' }, id)]);
      expect(result).toMatchObject({ twinsPatched: 1, twinErrors: 0 });
      expect(Object.hasOwn(h.twins.props('robotic-arm-001'), 'remainingUsefulLifeHours')).toBe(false);
    }
  });

  it('the first card of an incident a flood held back, once it turns critical, announces it as raised', async () => {
    const h = harness({ settings: { alarms: { floodLimit: 1 } } });
    h.twins.add('production-line-a', LINE);
    for (const [id, model] of [['robotic-arm-001', ARM], ['conveyor-belt-001', CONVEYOR]] as const) {
      h.twins.add(id, model, { equipmentId: id });
      h.twins.relate('production-line-a', id, 'contains');
    }
    const belt = (from: number, n: number, motorTemperature: (i: number) => number, tag: string) =>
      Array.from({ length: n }, (_, i) => ({ device: 'conveyor-belt-001', body: { timestamp: iso(t0 + (from + i) * 1000), speed: 1.5 + (i % 2) * 0.02, load: 250 + (i % 3), motorTemperature: motorTemperature(i), status: 'running' }, messageId: `${tag}${i}` }));
    await h.send([...seconds(0, 60, calm, 'n'), ...belt(0, 60, (i) => 60 + (i % 3) * 0.5, 'bn')]);
    await h.send(seconds(60, 8, () => ({ temperature: 77, vibration: 0.5, pressure: 6 }), 'w'));
    await h.send(belt(60, 8, () => 74, 'bw'));
    expect(h.alerts.sent.map((c) => [c.deviceId, c.incident.event, c.severity])).toEqual([['robotic-arm-001', 'raised', 'warning']]);
    const held = h.store.storedAlarmEvents.find((e) => e.DeviceId === 'conveyor-belt-001' && e.Event === 'raised' && e.Priority !== 'low');
    expect(held?.Notified).toBe('flood');
    await h.send(belt(68, 10, () => 99, 'bh'));
    expect(h.alerts.sent.slice(1).map((c) => [c.deviceId, c.incident.event, c.severity, c.incident.id])).toEqual([['conveyor-belt-001', 'raised', 'critical', held!.IncidentId]]);
  });

  it('when the shared flood window cannot be reached, the instance\'s own window decides and it is said once', async () => {
    const unreachable = { claims: 0, async claim(): Promise<boolean> { this.claims++; throw new Error('getaddrinfo ENOTFOUND storage'); } };
    const h = harness({ floods: unreachable, settings: { alarms: { floodLimit: 1 } } });
    h.twins.add('production-line-a', LINE);
    for (const id of ['robotic-arm-001', 'robotic-arm-002']) {
      h.twins.add(id, ARM, { equipmentId: id });
      h.twins.relate('production-line-a', id, 'contains');
    }
    const on = (device: string, from: number, n: number, values: (i: number) => Record<string, unknown>, tag: string) => seconds(from, n, values, `${device}-${tag}`).map((m) => ({ ...m, device }));
    await h.send([...on('robotic-arm-001', 0, 60, calm, 'n'), ...on('robotic-arm-002', 0, 60, calm, 'n')]);
    await h.send([...on('robotic-arm-001', 60, 8, () => ({ temperature: 77, vibration: 0.5, pressure: 6 }), 'w'), ...on('robotic-arm-002', 60, 8, () => ({ temperature: 77, vibration: 0.5, pressure: 6 }), 'w')]);
    expect(unreachable.claims).toBeGreaterThan(0);
    expect(h.alerts.sent.map((c) => c.incident.event)).toEqual(['raised']);
    expect(h.logged.filter((l) => l.message.includes('shared flood window cannot be reached'))).toHaveLength(1);
  });

  /** Two instances of the function app, sharing the plant's twins and the hub's partitions. */
  function twoInstances() {
    const { twins, sequences } = plant();
    const settings = { twinPatchIntervalMs: 0 };
    return { twins, a: harness({ twins, sequences, settings }), b: harness({ twins, sequences, settings }) };
  }

  /** The first instance raises an incident on a hot machine; the second (its events on `partition`) sees it cool down and clears it. */
  async function clearedElsewhere(partition = '0') {
    const instances = twoInstances();
    await instances.a.send(seconds(0, 60, calm, 'n'));
    await instances.a.send(seconds(60, 10, hot, 'h'));
    await instances.b.send(seconds(70, 80, calm, 'c'), partition);
    return instances;
  }

  it('learns nothing twice from events delivered again to another instance (the checkpoint lagged): its detector goes on as the first would have', async () => {
    const varied = (i: number) => ({ temperature: 65 + ((i * 7) % 5) * 0.4, vibration: 0.5 + ((i * 3) % 4) * 0.01, pressure: 6 + (i % 2) * 0.05, status: 'running' });
    const [warmUp, handled, next] = [seconds(0, 120, varied, 'w'), seconds(120, 30, (i) => varied(i + 1), 'h'), seconds(150, 30, (i) => varied(i + 2), 'x')];
    // Straight on: one instance handles all three batches.
    const straight = twoInstances();
    for (const messages of [warmUp, handled, next]) await straight.a.send(messages);
    // The first instance handled the second batch and patched the twin, then went before its
    // checkpoint: the other instance gets that batch again from the checkpoint, then the next one.
    const moved = twoInstances();
    await moved.a.send(warmUp);
    const checkpoint = moved.a.sequences.get('0')!;
    await moved.a.send(handled);
    moved.a.sequences.set('0', checkpoint);
    await moved.b.send(handled);
    await moved.b.send(next);
    const detectorState = (instances: ReturnType<typeof twoInstances>) => instances.twins.props('robotic-arm-001').detectorState;
    expect(detectorState(moved)).toBe(detectorState(straight));
    const scores = (store: { telemetry: Map<string, { MessageId: string; AnomalyScore: number | null }> }) => [...store.telemetry.values()].filter((r) => r.MessageId.includes('|m:x')).map((r) => r.AnomalyScore);
    expect(scores(moved.b.store)).toEqual(scores(straight.a.store));
  });

  it('an instance that gets a partition back tells nobody again of an incident another instance escalated since', async () => {
    const { twins, a, b } = twoInstances();
    const warm = () => ({ temperature: 77, vibration: 0.5, pressure: 6 });
    await a.send(seconds(0, 60, calm, 'n'));
    await a.send(seconds(60, 8, warm, 'w'));
    // The partition moves: the other instance carries the incident on from the twin and escalates it.
    await b.send(seconds(68, 8, hot, 'h'));
    // It comes back while the machine is still hot: the first instance's own copy says warning.
    await a.send(seconds(76, 8, hot, 'k'));
    const cards = [...a.alerts.sent, ...b.alerts.sent].map((c) => [c.incident.event, c.severity]);
    expect(cards).toEqual([['raised', 'warning'], ['escalated', 'critical']]);
    expect(new Set([...a.alerts.sent, ...b.alerts.sent].map((c) => c.incident.id)).size).toBe(1);
    expect(JSON.parse(String(twins.props('robotic-arm-001').alarmState))).toMatchObject({ p: 'critical' });
  });

  it('tells nobody of an incident another instance cleared, and reopens it as the same incident', async () => {
    const { a, b } = await clearedElsewhere();
    expect(b.alerts.sent.map((c) => c.incident.event)).toEqual(['cleared']);
    // Back to the first instance, hot again within minutes: the incident cleared on the twin reopens.
    await a.send(seconds(150, 10, hot, 'r'));
    expect(a.alerts.sent.map((c) => [c.incident.event, c.incident.reopened ?? false])).toEqual([['raised', false], ['raised', true]]);
  });

  it('reads a twin again only where another instance may have written it or a card is due, not on every batch of an incident', async () => {
    const h = plant();
    await h.send(seconds(0, 60, calm, 'n'));
    await h.send(seconds(60, 10, hot, 'h'));
    expect(h.alerts.sent).toHaveLength(1);
    const reads = h.twins.reads;
    expect(reads).toBeGreaterThan(0);
    // The incident goes on, batch after batch of the same partition: nothing to tell, nobody else wrote.
    for (let k = 0; k < 5; k++) await h.send(seconds(70 + k * 4, 4, hot, `g${k}-`));
    expect(h.twins.reads).toBe(reads);
    // Events of the partition went elsewhere meanwhile (a gap in its sequence numbers): the twin is read again.
    h.sequences.set('0', h.sequences.get('0')! + 500);
    await h.send(seconds(90, 4, hot, 'after-gap'));
    expect(h.twins.reads).toBe(reads + 1);
    expect(h.alerts.sent).toHaveLength(1);
  });

  it('does not write back an incident another instance cleared, so it is not cleared twice', async () => {
    const { twins, a, b } = await clearedElsewhere();
    // Back to the first instance, calm: its own copy still has the incident open, the twin has it cleared.
    await a.send(seconds(150, 10, calm, 'd'));
    await a.send(seconds(160, 80, calm, 'e'));
    expect([...a.alerts.sent, ...b.alerts.sent].map((c) => c.incident.event)).toEqual(['raised', 'cleared']);
    expect(JSON.parse(String(twins.props('robotic-arm-001').alarmState))).not.toHaveProperty('id');
  });

  it('after a 412, does not write back an incident that a writer it could not foresee cleared', async () => {
    // A race no sequence gap shows (here: the other instance's events come through another partition).
    const { twins, a, b } = await clearedElsewhere('1');
    await a.send(seconds(150, 10, calm, 'd'));
    await a.send(seconds(160, 80, calm, 'e'));
    expect([...a.alerts.sent, ...b.alerts.sent].map((c) => c.incident.event)).toEqual(['raised', 'cleared']);
    expect(JSON.parse(String(twins.props('robotic-arm-001').alarmState))).not.toHaveProperty('id');
  });

  it('continues the count toward a clear that another instance began, and tells the clear once', async () => {
    const { twins, a, b } = twoInstances();
    await a.send(seconds(0, 60, calm, 'n'));
    await a.send(seconds(60, 10, hot, 'h'));
    // The other instance (its events through another partition, so no gap shows) sees the machine
    // calm for 40 s: not yet long enough to clear, but its patch carries the count.
    await b.send(seconds(70, 40, calm, 'c'), '1');
    expect(JSON.parse(String(twins.props('robotic-arm-001').alarmState))).toMatchObject({ p: 'critical', qn: expect.any(Number) });
    // The first, about to tell, reads the twin again and carries the other's count on.
    await a.send(seconds(110, 80, calm, 'd'));
    await a.send(seconds(190, 30, calm, 'e'));
    expect([...a.alerts.sent, ...b.alerts.sent].map((c) => c.incident.event)).toEqual(['raised', 'cleared']);
    expect(JSON.parse(String(twins.props('robotic-arm-001').alarmState))).not.toHaveProperty('id');
  });

  it('tells nobody once an operator has shelved the machine, though this instance read its twin before', async () => {
    const h = plant();
    await h.send(seconds(0, 60, calm, 'n'));
    await h.twins.patch('robotic-arm-001', [{ op: 'add', path: '/shelvedUntil', value: iso(t0 + 3_600_000) }, { op: 'add', path: '/shelvedBy', value: 'ops: sensor swap' }]);
    await h.send(seconds(60, 10, hot, 'h'));
    expect(h.alerts.sent).toHaveLength(0);
    expect(h.store.storedAlarmEvents.filter((e) => e.Priority !== 'low').every((e) => e.Notified === 'shelved')).toBe(true);
  });

  it('an instance that gets a partition back continues from the detector state another instance stored since', async () => {
    const { twins, a, b } = twoInstances();
    const learnt = () => reviveDetectorState(JSON.parse(String(twins.props('robotic-arm-001').detectorState))).s.temperature!.n;
    await a.send(seconds(0, 20, calm, 'a'));
    expect(learnt()).toBe(20);
    await b.send(seconds(20, 20, calm, 'b'));
    expect(learnt()).toBe(40);
    // The partition comes back to the first instance: it carries on from 40 readings, not its own 20.
    await a.send(seconds(40, 5, calm, 'c'));
    expect(learnt()).toBe(45);
  });
});
