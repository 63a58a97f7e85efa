/**
 * The local stack end to end, as `npm start` runs it: simulated devices (azure-iot-device over
 * MQTT) → local IoT Hub → event log → trigger runner → the telemetryIngest handler → ADT
 * emulator, DuckDB and the Teams capture. Every message is stored exactly once, twins hold the
 * newest readings, injected anomalies raise alerts, and a malformed message is dead-lettered
 * without holding anything up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import deviceSdk from 'azure-iot-device';
import mqttTransport from 'azure-iot-device-mqtt';
import { DEFAULT_PLANT } from '../../src/lib/plant/plant.ts';
import type { Fleet } from '../../src/simulator/fleet.ts';
import { IotHubDirectMethods } from '../../src/lib/commands/iothub-service.ts';
import { until } from '../support/until.ts';
import { fleetOn, startTestStack, type TestStack } from '../support/local-stack.ts';

const PER_DEVICE = 40;
let stack: TestStack;
let fleet: Fleet;

beforeAll(async () => {
  stack = await startTestStack('stack');
  fleet = fleetOn(stack, DEFAULT_PLANT.equipment, { rate: 20, messagesPerDevice: PER_DEVICE, anomalyRate: 0.1 });
  await fleet.start();
  await fleet.whenDone();
}, 120_000);
afterAll(async () => {
  await stack?.close();
});

describe('the local stack, end to end', () => {
  it('stores every message the devices sent exactly once', async () => {
    const sent = DEFAULT_PLANT.equipment.length * PER_DEVICE;
    expect(fleet.stats).toMatchObject({ sent, acked: sent, failed: 0 });
    await until('all rows', async () => (await stack.store.count('EquipmentTelemetry')) >= sent);
    const rows = await stack.store.rows('EquipmentTelemetry');
    expect(rows).toHaveLength(sent);
    expect(new Set(rows.map((r) => r.MessageId)).size).toBe(sent);
    expect(new Set(rows.map((r) => r.MessageId))).toEqual(new Set([...fleet.stats.sentAt].map(([id, at]) => `${id.split(':')[0]}|m:${id}@${at}`)));
  });

  it('leaves each twin holding its device\'s newest reading', async () => {
    const rows = await stack.store.rows('EquipmentTelemetry');
    for (const e of DEFAULT_PLANT.equipment) {
      const newest = rows.filter((r) => r.DeviceId === e.id).sort((a, b) => String(b.Timestamp).localeCompare(String(a.Timestamp)))[0]!;
      await until(`twin ${e.id}`, async () => (await stack.services.twins.getTwin(e.id)).lastTelemetryTime === newest.Timestamp, { timeoutMs: 10_000 });
      const twin = await stack.services.twins.getTwin(e.id);
      const readings = newest.Readings as Record<string, unknown>;
      for (const [k, v] of Object.entries(readings)) expect(twin[k], `${e.id}.${k}`).toEqual(v);
    }
  });

  it('scores every reading with the detector and the failure model behind the local Azure ML endpoint', async () => {
    const rows = await stack.store.rows('EquipmentTelemetry');
    expect(stack.ml?.stats.requests).toBeGreaterThan(0);
    expect(stack.ml?.stats.refused).toBe(0);
    for (const r of rows) {
      expect(r.ModelVersion).toMatch(/^streaming-11\+failure-lr-v\d+$/);
      expect(r.FailureProbability).toBeGreaterThanOrEqual(0);
      expect(r.FailureProbability).toBeLessThanOrEqual(1);
    }
    const twin = await stack.services.twins.getTwin('robotic-arm-001');
    expect(typeof twin.failureProbability).toBe('number');
    expect(JSON.parse(String(twin.detectorState))).toMatchObject({ version: 4 });
  });

  it('flags the injected anomalies, records each as a low-priority incident, and posts no card for them', async () => {
    const truth = readFileSync(join(stack.dir, 'run', 'anomalies.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { deviceId: string; messageId: string; time: string });
    expect(truth.length).toBeGreaterThan(0);
    const flags = new Set((await stack.store.rows('AnomalyFlags')).map((r) => r.MessageId));
    const caught = truth.filter((t) => flags.has(`${t.deviceId}|m:${t.messageId}@${Date.parse(t.time)}`));
    expect(caught.length / truth.length).toBeGreaterThanOrEqual(0.9);
    // Isolated outliers on healthy machines: recorded, and nobody paged.
    expect(stack.http.alerts).toHaveLength(0);
    const steps = await stack.store.rows('AlarmEvents');
    for (const device of new Set(truth.map((t) => t.deviceId))) expect(steps.some((e) => e.DeviceId === device && e.Event === 'raised' && e.Priority === 'low'), device).toBe(true);
  });

  it('dead-letters a malformed message, keeps processing the partition, and tells the engineer which device sent what', async () => {
    const { Client, Message } = deviceSdk;
    const client = Client.fromConnectionString(stack.hub.registry.connectionString('conveyor-001', stack.hub.hostName), mqttTransport.Mqtt);
    await client.setOptions({ ca: stack.hub.caPem });
    await client.open();
    const bad = new Message('{"speed": 1.2, "load": ');
    bad.messageId = 'broken-1';
    await client.sendEvent(bad);
    const good = new Message(JSON.stringify({ speed: 1.4, load: 200, motorTemperature: 55, vibration: 0.3, status: 'running' }));
    good.messageId = 'after-broken-1';
    await client.sendEvent(good);
    await client.close();
    await until('the dead letter and the next reading', async () => (await stack.store.count('DeadLetters')) === 1 && (await stack.store.rows('EquipmentTelemetry')).some((r) => r.MessageId === 'conveyor-001|m:after-broken-1'));
    const [dead] = await stack.store.rows('DeadLetters');
    expect(dead).toMatchObject({ DeviceId: 'conveyor-001', MessageId: 'broken-1', Reason: expect.stringMatching(/json/i) });
    const res = await fetch(`${stack.apiUrl}/api/telemetry/dead-letters`, { headers: { 'x-functions-key': stack.apiKey } });
    const listed = (await res.json()) as { items: unknown[]; keptWhole: unknown };
    expect(listed.items).toEqual([{ deviceId: 'conveyor-001', reason: 'body.notJson', count: 1, lastAt: expect.any(String), detail: expect.stringContaining('not JSON'), body: '{"speed": 1.2, "load": ' }]);
    // Kept whole in Azurite as well; not being JSON is the message's own doing, so taking refused readings in again passes it by (kept, as evidence).
    expect(listed.keptWhole).toEqual({ keeping: true, batches: 1, events: 1, counted: true });
    const readmit = await fetch(`${stack.apiUrl}/api/telemetry/dead-letters/readmit`, { method: 'POST', headers: { 'x-functions-key': stack.apiKey } });
    expect(await readmit.json()).toEqual({ tried: 0, stored: 0, stillRefused: 0, readmitted: 0, failed: 0, passedBy: 1 });
    expect(await stack.store.count('DeadLetters')).toBe(1);
  });

  it("stores a .NET device's UTF-16 message and a metered device's gzip-compressed one (as IoT Hub routes them), not dead letters", async () => {
    const { Client, Message } = deviceSdk;
    const client = Client.fromConnectionString(stack.hub.registry.connectionString('conveyor-002', stack.hub.hostName), mqttTransport.Mqtt);
    await client.setOptions({ ca: stack.hub.caPem });
    await client.open();
    const message = new Message(Buffer.from(`\uFEFF${JSON.stringify({ speed: 1.3, load: 210, motorTemperature: 54, vibration: 0.3, status: 'running' })}`, 'utf16le'));
    message.messageId = 'utf16-1';
    message.contentEncoding = 'utf-16';
    message.contentType = 'application/json';
    await client.sendEvent(message);
    // Two readings in one compressed message, as a device on a metered link batches them.
    const readings = [1.4, 1.5].map((speed, i) => ({ timestamp: new Date(Date.now() - 1000 + i * 500).toISOString(), speed, load: 212, motorTemperature: 54, vibration: 0.3, status: 'running' }));
    const compressed = new Message(gzipSync(JSON.stringify(readings)));
    compressed.messageId = 'gzip-1';
    // No content encoding declared (this SDK types it as utf-8, utf-16 or utf-32 only): the bytes say gzip.
    compressed.contentType = 'application/json';
    await client.sendEvent(compressed);
    await client.close();
    const stored = async () => (await stack.store.rows('EquipmentTelemetry')).filter((r) => r.DeviceId === 'conveyor-002' && /\|m:(utf16|gzip)-1/.test(String(r.MessageId)));
    await until('the UTF-16 and gzip readings stored', async () => (await stored()).length === 3);
    expect((await stored()).map((r) => (r.Readings as { speed: number }).speed).sort()).toEqual([1.3, 1.4, 1.5]);
    const row = (await stack.store.rows('EquipmentTelemetry')).find((r) => r.MessageId === 'conveyor-002|m:utf16-1');
    expect(row).toMatchObject({ DeviceId: 'conveyor-002', Readings: expect.objectContaining({ speed: 1.3, load: 210, status: 'running' }) });
    expect((await stack.store.rows('DeadLetters')).filter((d) => d.DeviceId === 'conveyor-002')).toEqual([]);
  });

  it('stops a machine with emergencyStop: the device obeys, reports it, and its twin shows it', async () => {
    const equipment = DEFAULT_PLANT.equipment.find((e) => e.id === 'robotic-arm-002')!;
    const running = fleetOn(stack, [equipment], { rate: 20, run: 'run-stop' });
    await running.start();
    await until('the arm to be sending', () => running.stats.acked > 5);
    const methods = new IotHubDirectMethods({ connectionString: stack.hub.registry.serviceConnectionString(stack.hub.hostName), caPem: stack.hub.caPem });
    expect(await methods.invoke(equipment.id, 'emergencyStop', { reason: 'e2e test' }, 10)).toEqual({ status: 200, payload: { accepted: true, status: 'emergencyStopped' } });
    const sentAtStop = running.stats.sent;
    await new Promise((r) => setTimeout(r, 300));
    expect(running.stats.sent).toBe(sentAtStop); // nothing after the stop report
    expect(running.stats.stoppedByCommand).toEqual([equipment.id]);
    await until('the twin to show the stop', async () => (await stack.services.twins.getTwin(equipment.id)).status === 'emergencyStopped', { timeoutMs: 10_000 });
    await running.stop();
  });

  it('answers the HTTP API with the live twins', async () => {
    const res = await fetch(`${stack.apiUrl}/api/twins/query`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-functions-key': stack.apiKey }, body: JSON.stringify({ query: "SELECT E.$dtId FROM DIGITALTWINS L JOIN E RELATED L.contains WHERE L.$dtId = 'production-line-a'" }) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { items: { $dtId: string }[] }).items.map((i) => i.$dtId).sort()).toEqual(DEFAULT_PLANT.equipment.filter((e) => e.line === 'production-line-a').map((e) => e.id).sort());
    const tooBig = await fetch(`${stack.apiUrl}/api/twins/query`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-functions-key': stack.apiKey }, body: JSON.stringify({ query: 'x'.repeat(40_000) }) });
    expect(tooBig.status).toBe(413);
    expect(tooBig.headers.get('content-type')).toContain('application/problem+json');
  });
});
