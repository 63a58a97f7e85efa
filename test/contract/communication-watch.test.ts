/**
 * A machine that stops sending altogether: the communication watch finds it by Digital Twins' own
 * clock (the emulator's, through @azure/digital-twins-core), raises one incident, and the
 * pipeline clears it once readings come again. The store is DuckDB, as `npm start` runs it, so the
 * incident is read back as the dashboard lists it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import azureFunctions from '@azure/functions';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAdtEmulator, type AdtEmulator } from '../../src/emulators/adt/server.ts';
import { AdtTwins, StaticTokenCredential } from '../../src/lib/twins/adt-twins.ts';
import { readModelDocuments } from '../../src/lib/dtdl/index.ts';
import { DuckDbTelemetryStore } from '../../src/lib/store/duckdb-telemetry-store.ts';
import { TelemetryPipeline } from '../../src/lib/pipeline.ts';
import { createTelemetryIngest } from '../../src/lib/telemetry-ingest.ts';
import { ResilientScorer } from '../../src/lib/anomaly/resilient-scorer.ts';
import { CommunicationWatch, PLANT_SILENT_LOG } from '../../src/lib/alerts/communication-watch.ts';
import { alertCard } from '../../src/lib/alerts/adaptive-card.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { CapturedAlerts, defaultSettings } from '../support/pipeline-harness.ts';
import { ARM, LINE, batch, iso, plantCatalog, type Msg } from '../support/plant.ts';
import { AppError } from '../../src/lib/errors.ts';
import { createPlantApi } from '../../src/lib/http/plant-api.ts';
import type { DeviceConnectionsPort, TelemetryReadPort, TwinsPort } from '../../src/lib/ports.ts';
import { modelOf } from '../../src/lib/plant/plant.ts';
import { startIotHub, type IotHub } from '../../src/emulators/iothub/server.ts';
import { EventLog, type EventRecord } from '../../src/emulators/event-log/event-log.ts';
import { IotHubDeviceConnections } from '../../src/lib/commands/iothub-service.ts';
import deviceSdk from 'azure-iot-device';
import mqttTransport from 'azure-iot-device-mqtt';
import iotCommon from 'azure-iot-common';
import { WorkingHours } from '../../src/lib/plant/working-hours.ts';
import { until } from '../support/until.ts';
import { refreshTwins } from '../../src/lib/twin-refresh.ts';
import { propertyUpdatedAt } from '../../src/lib/twins/twin-metadata.ts';

const { InvocationContext } = azureFunctions;
const MINUTE = 60_000;
const ARMS = ['robotic-arm-001', 'robotic-arm-002', 'robotic-arm-003', 'robotic-arm-004', 'robotic-arm-005', 'robotic-arm-006'];

let adt: AdtEmulator;
let twins: AdtTwins;

// A plant of its own for each story: the watch sweeps every twin there is.
beforeEach(async () => {
  adt = await startAdtEmulator({ memory: true, token: 'secret' });
  twins = new AdtTwins({ endpoint: adt.url, credential: new StaticTokenCredential('secret'), caPem: adt.caPem, retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 } });
  const client = (twins as unknown as { client: import('@azure/digital-twins-core').DigitalTwinsClient }).client;
  await client.createModels(readModelDocuments());
  await client.upsertDigitalTwin('production-line-a', JSON.stringify({ $metadata: { $model: LINE }, name: 'Line A' }));
  for (const [i, id] of ARMS.entries()) {
    await client.upsertDigitalTwin(id, JSON.stringify({ $metadata: { $model: ARM }, equipmentId: id }));
    await client.upsertRelationship('production-line-a', `contains-${id}`, { $targetId: id, $relationshipName: 'contains', position: i });
  }
});
afterEach(async () => adt?.close());

/** The pipeline and the watch as one Function App runs them, on a clock the test moves (`shift` ms ahead of the real one). */
async function plant(alarms: { silentAfterMs?: number } = {}, watchTwins: TwinsPort = twins, workingHours?: WorkingHours, connections?: DeviceConnectionsPort, watchOptions: { recentMs?: number; connectionEvents?: boolean } = {}) {
  const store = await DuckDbTelemetryStore.open(':memory:');
  const alerts = new CapturedAlerts();
  const clock = { shift: 0 };
  const now = () => Date.now() + clock.shift;
  const catalog = plantCatalog();
  const pipeline = new TelemetryPipeline({ catalog, twins, store, scorer: new ResilientScorer(undefined, silentLogger), alerts, settings: defaultSettings, logger: silentLogger, now });
  const ingest = createTelemetryIngest(pipeline);
  let sequence = 0;
  const send = (messages: Msg[]) => {
    const { bodies, meta } = batch(messages, '0', sequence);
    sequence += messages.length;
    return ingest(bodies, new InvocationContext({ invocationId: `inv-${sequence}`, functionName: 'telemetryIngest', triggerMetadata: meta as Record<string, unknown>, logHandler: () => {} }));
  };
  const logged: { level: string; message: string }[] = [];
  const watch = new CommunicationWatch({ catalog, twins: watchTwins, store, refused: store, connections, ...(watchOptions.connectionEvents ? { connectionEvents: store } : {}), ...(watchOptions.recentMs ? { recentMs: watchOptions.recentMs } : {}), alerts, settings: { ...defaultSettings, alarms }, logger: { log: (level, message) => void logged.push({ level, message }) }, concurrency: 4, now, workingHours });
  /** Events as the hub routed them to the Event Hub, handed to the trigger as the Functions host would (bodies as bytes, both property sets). */
  const deliver = (events: readonly EventRecord[]) =>
    ingest(events.map((e) => e.body), new InvocationContext({ invocationId: `inv-hub-${sequence++}`, functionName: 'telemetryIngest', logHandler: () => {}, triggerMetadata: {
      partitionContext: { PartitionId: '1' },
      systemPropertiesArray: events.map((e) => e.systemProperties),
      propertiesArray: events.map((e) => e.properties),
      enqueuedTimeUtcArray: events.map((e) => new Date(e.enqueuedTime).toISOString()),
      sequenceNumberArray: events.map((e) => e.sequenceNumber),
    } }));
  /** `count` readings of each machine named, `everyMs` (ten seconds) apart from `at` (ms on the test's clock), all normal; the first says it runs. */
  const readings = (ids: readonly string[], at: number, count: number, status = 'running', everyMs = 10_000) =>
    send(ids.flatMap((device, d) => Array.from({ length: count }, (_, k) => ({ device, enqueued: at + k * everyMs, body: { timestamp: iso(at + k * everyMs), temperature: 70 + 0.1 * ((k + d) % 4), vibration: 0.4 + 0.01 * (k % 3), pressure: 6 + 0.01 * (k % 5), ...(k === 0 ? { status } : {}) } }))));
  return { store, alerts, clock, now, send, deliver, readings, watch, logged };
}

/**
 * Sweeps with the test's clock at each of `quiet` (minutes ahead: nothing raised), then at `raisedAt`
 * (one machine raised and told); returns how long after it was last heard from its card says it was raised.
 */
async function sweepsUntilRaised(p: Awaited<ReturnType<typeof plant>>, quiet: readonly number[], raisedAt: number): Promise<number> {
  for (const minutes of quiet) {
    p.clock.shift = minutes * MINUTE;
    expect(await p.watch.run()).toMatchObject({ silent: 0, raised: 0 });
  }
  p.clock.shift = raisedAt * MINUTE;
  expect(await p.watch.run()).toMatchObject({ silent: 1, raised: 1, told: 1 });
  const [card] = p.alerts.sent;
  return card!.time - card!.silent!.since;
}

/** A local IoT Hub (the recipe's routes, to an event log) for one story, and devices online on it over MQTT (azure-iot-device). */
async function onLocalHub(story: (hub: IotHub, log: EventLog, online: (ids: readonly string[], send?: boolean) => Promise<InstanceType<typeof deviceSdk.Client>[]>) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'watch-hub-'));
  const log = EventLog.open(join(dir, 'log'), { partitions: 2 });
  const hub = await startIotHub({ memory: true, port: 0, endpoints: { events: log } });
  const online = (ids: readonly string[], send = false) =>
    Promise.all(
      ids.map(async (id) => {
        const device = deviceSdk.Client.fromConnectionString(hub.registry.connectionString(id, hub.hostName), mqttTransport.Mqtt);
        device.setRetryPolicy(new iotCommon.NoRetry());
        await device.setOptions({ ca: hub.caPem });
        await device.open();
        if (send) await device.sendEvent(new deviceSdk.Message('{}'));
        return device;
      }),
    );
  try {
    await story(hub, log, online);
  } finally {
    await hub.close();
    log.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('a machine that stops sending altogether', () => {
  it('raises one warning incident ten minutes after it was last heard from, tells its line, and the readings that come again clear it', async () => {
    const p = await plant();
    const start = Date.now() - 3 * MINUTE;
    await p.readings(['robotic-arm-001'], start, 18);
    // IoT Hub took the last of them in 170 s after the first.
    const heardFrom = start + 170_000;
    expect(p.alerts.sent).toEqual([]);

    // Nine minutes on: not yet.
    p.clock.shift = 9 * MINUTE;
    expect(await p.watch.run()).toMatchObject({ silent: 0, raised: 0 });
    // Eleven minutes on: one incident, told once.
    p.clock.shift = 11 * MINUTE;
    expect(await p.watch.run()).toMatchObject({ silent: 1, raised: 1, told: 1, errors: 0 });
    expect(await p.watch.run()).toMatchObject({ silent: 1, raised: 0, told: 0 });
    expect(p.alerts.sent).toHaveLength(1);
    const [raised] = p.alerts.sent;
    expect(raised).toMatchObject({ deviceId: 'robotic-arm-001', severity: 'warning', condition: 'silent', line: 'production-line-a', incident: { event: 'raised' } });
    // By the service's clock: the silence began when IoT Hub took the last reading in, and became an alarm ten minutes later.
    expect(raised!.silent!.since).toBe(heardFrom);
    expect(raised!.time).toBe(raised!.silent!.since + 10 * MINUTE);
    const card = JSON.stringify(alertCard(raised!));
    expect(card).toContain('no telemetry taken in: the machine is not watched at all');
    expect(card).toContain('check its gateway, network and power');
    expect(card).not.toContain('Anomaly score');
    expect(card).toContain('"text":"Last readings"');
    expect(card).toMatch(/\{"title":"temperature","value":"70(\.\d+)? °C"\}/);
    const twin = await twins.getTwin('robotic-arm-001');
    expect(twin).toMatchObject({ healthStatus: 'warning', lastAlertTime: iso(raised!.time) });
    // Listed as an incident on the dashboard, with its condition, and recorded as a lifecycle step.
    const listed = await p.store.alerts(start - MINUTE, 50);
    expect(listed.map((a) => [a.alertId, a.priority, a.state, a.condition])).toEqual([[raised!.incident.id, 'warning', 'active', 'silent']]);

    // Readings again, a minute and a half of them: the incident clears on them, told once.
    p.clock.shift = 14 * MINUTE;
    await p.readings(['robotic-arm-001'], Date.now() + 12 * MINUTE, 10);
    expect(p.alerts.sent.map((a) => [a.incident.event, a.incident.id])).toEqual([['raised', raised!.incident.id], ['cleared', raised!.incident.id]]);
    expect(p.alerts.sent[1]!.incident.raisedAt).toBe(raised!.time);
    expect(await twins.getTwin('robotic-arm-001')).toMatchObject({ healthStatus: 'normal' });
    expect((await p.store.alerts(start - MINUTE, 50))[0]).toMatchObject({ state: 'cleared' });
  });

  it('counts a silence from when IoT Hub took the last reading in, though a patch interval held it back and the refresh wrote it to the twin later; the plant lists that time', async () => {
    const p = await plant();
    const first = Date.now() - 20_000;
    await p.readings(['robotic-arm-001'], first, 1);
    // Ten seconds on, inside the patch interval: stored, and held back from the twin.
    const last = first + 10_000;
    const takenIn = last + 400;
    await p.send([{ device: 'robotic-arm-001', enqueued: takenIn, body: { timestamp: iso(last), temperature: 70.2, vibration: 0.4, pressure: 6 } }]);
    expect((await twins.getTwin('robotic-arm-001')).lastTelemetryTime).toBe(iso(first));
    // The refresh sweep writes it, seconds (up to a minute) after IoT Hub took it in.
    expect(await refreshTwins({ catalog: plantCatalog(), twins, store: p.store, logger: silentLogger, lookbackMs: 10 * MINUTE, concurrency: 4 })).toMatchObject({ patched: 1 });
    const twin = await twins.getTwin('robotic-arm-001');
    expect(twin.lastTelemetryTime).toBe(iso(last));
    expect(propertyUpdatedAt(twin, 'lastTelemetryTime')).toBeGreaterThan(takenIn + 5_000);

    p.clock.shift = 10 * MINUTE;
    expect(await p.watch.run()).toMatchObject({ silent: 1, raised: 1 });
    const [card] = p.alerts.sent;
    expect(card!.silent!.since).toBe(takenIn);
    expect(card!.time).toBe(takenIn + 10 * MINUTE);
    // The dashboard counts from the same time.
    const client = (twins as unknown as { client: import('@azure/digital-twins-core').DigitalTwinsClient }).client;
    await client.upsertDigitalTwin('factory-01', JSON.stringify({ $metadata: { $model: modelOf('Factory') }, name: 'Plant' }));
    await client.upsertRelationship('factory-01', 'contains-production-line-a', { $targetId: 'production-line-a', $relationshipName: 'contains' });
    const api = createPlantApi({ twins, store: p.store, logger: silentLogger, maxBodyBytes: 4096, maxPageSize: 50, warningThreshold: 0.5, silentAfterMs: 10 * MINUTE });
    const listed = (await api.plant({ method: 'GET', url: 'http://localhost/api/plant', headers: new Headers(), params: {}, text: async () => '' })).jsonBody as { factories: { lines: { equipment: Record<string, unknown>[] }[] }[] };
    const equipment = listed.factories[0]!.lines[0]!.equipment;
    expect(equipment.find((e) => e.$dtId === 'robotic-arm-001')!.heardAt).toBe(iso(takenIn));
    expect(equipment.filter((e) => e.heardAt !== undefined).map((e) => e.$dtId)).toEqual(['robotic-arm-001']);
  });

  it('counts a backlog taken in late from when it reached the twin: readings IoT Hub took in half an hour ago, worked off now, are no silence of half an hour', async () => {
    const p = await plant();
    await p.readings(['robotic-arm-001'], Date.now() - 30 * MINUTE, 6);
    const reached = propertyUpdatedAt(await twins.getTwin('robotic-arm-001'), 'lastTelemetryTime')!;
    expect(reached).toBeGreaterThan(Date.now() - MINUTE);
    expect(await sweepsUntilRaised(p, [0, 9], 11)).toBe(10 * MINUTE);
    expect(p.alerts.sent[0]!.silent!.since).toBe(reached);
  });

  it("tells at most three of a line's machines gone silent at once (its gateway lost) while another still sends, none shelved by an operator, and none stopped", async () => {
    // Silent after a second and a half here, so that the machine still sending is heard by Digital Twins' clock
    // (its machines reporting every 300 ms: at their usual ten seconds, each would have forty to miss three readings).
    const p = await plant({ silentAfterMs: 1_500 });
    const start = Date.now() - 2 * MINUTE;
    await p.readings(ARMS.slice(1, 5), start, 6, 'running', 300);
    await p.readings(['robotic-arm-006'], start, 6, 'stopped', 300);
    await twins.patch('robotic-arm-005', [{ op: 'add', path: '/shelvedUntil', value: iso(Date.now() + 3 * 3_600_000) }, { op: 'add', path: '/shelvedBy', value: 'Dana' }]);
    await new Promise((r) => setTimeout(r, 1_600));
    await p.readings(['robotic-arm-001'], Date.now() - 60_000, 6);
    expect(await p.watch.run()).toMatchObject({ silent: 4, raised: 4, told: 3, errors: 0 });
    expect(p.alerts.sent.map((a) => a.deviceId).sort()).toEqual(['robotic-arm-002', 'robotic-arm-003', 'robotic-arm-004']);
    const steps = (await p.store.alarmEvents(start, Date.now() + 20 * MINUTE, 50)).map((e) => [e.deviceId, e.event, e.notified]).sort();
    expect(steps).toEqual([
      ['robotic-arm-002', 'raised', 'yes'],
      ['robotic-arm-003', 'raised', 'yes'],
      ['robotic-arm-004', 'raised', 'yes'],
      ['robotic-arm-005', 'raised', 'shelved'],
    ]);
  });

  it('tells those told of a machine\'s incident, once, that it then fell silent (a degrading machine gone quiet may have failed): its priority and health unchanged, the incident listed as silent', async () => {
    // Silent after a second and a half, as above, so that robotic-arm-003, still sending, shows telemetry flows.
    const p = await plant({ silentAfterMs: 1_500 });
    const start = Date.now() - MINUTE;
    // robotic-arm-001 runs hot (above its normal band, below its limit): a warning incident. robotic-arm-002's controller reports a fault: critical.
    const hot = (device: string, k: number, body: Record<string, unknown>) => ({ device, enqueued: start + k * 300, body: { timestamp: iso(start + k * 300), temperature: 70, vibration: 0.4, pressure: 6, ...(k === 0 ? { status: 'running' } : {}), ...body } });
    await p.send([...Array.from({ length: 18 }, (_, k) => hot('robotic-arm-001', k, k >= 6 ? { temperature: 84 } : {})), ...Array.from({ length: 18 }, (_, k) => hot('robotic-arm-002', k, k >= 6 ? { status: 'fault' } : {}))]);
    expect(p.alerts.sent.map((a) => [a.deviceId, a.incident.event, a.severity])).toEqual([['robotic-arm-001', 'raised', 'warning'], ['robotic-arm-002', 'raised', 'critical']]);
    const [warned, critical] = p.alerts.sent;
    const scores = new Map((await p.store.alerts(start - MINUTE, 50)).map((a) => [a.deviceId, a.latest]));
    expect(scores.get('robotic-arm-001')).toMatchObject({ anomalyScore: expect.any(Number) });

    await new Promise((r) => setTimeout(r, 1_600));
    await p.readings(['robotic-arm-003'], Date.now() - 60_000, 6);
    expect(await p.watch.run()).toMatchObject({ silent: 2, raised: 0, fellSilent: 2, told: 2, errors: 0 });
    expect(await p.watch.run()).toMatchObject({ silent: 2, raised: 0, told: 0 });
    const fell = p.alerts.sent.slice(2);
    expect(fell.map((a) => [a.deviceId, a.incident.event, a.incident.id, a.severity, a.condition])).toEqual([
      ['robotic-arm-001', 'silent', warned!.incident.id, 'warning', 'silent'],
      ['robotic-arm-002', 'silent', critical!.incident.id, 'critical', 'silent'],
    ]);
    const [warningCard, criticalCard] = fell.map((a) => JSON.stringify(alertCard(a)));
    expect(warningCard).toContain('SILENT during a Warning incident: Robotic arm robotic-arm-001 on production-line-a');
    expect(warningCard).toContain('Gone silent during the incident raised');
    expect(warningCard).toContain('Check the machine in person: it may have failed. Nothing has been heard from this machine since');
    expect(criticalCard).toContain('SILENT during a CRITICAL incident');
    expect(criticalCard).toContain('Its incident is critical: check the machine in person now');
    // The twins keep their health; the incidents stand at their priority, listed with the silence as their latest condition.
    expect(await twins.getTwin('robotic-arm-001')).toMatchObject({ healthStatus: 'warning' });
    expect(await twins.getTwin('robotic-arm-002')).toMatchObject({ healthStatus: 'critical' });
    const listed = await p.store.alerts(start - MINUTE, 50);
    // Shown with the scores of their raise still: a silence has none.
    expect(listed.map((a) => [a.deviceId, a.latest])).toEqual(listed.map((a) => [a.deviceId, scores.get(a.deviceId)]));
    expect(listed.map((a) => [a.deviceId, a.alertId, a.priority, a.state, a.condition]).sort()).toEqual([
      ['robotic-arm-001', warned!.incident.id, 'warning', 'active', 'silent'],
      ['robotic-arm-002', critical!.incident.id, 'critical', 'active', 'silent'],
    ]);
  });

  it('gives a machine that reports every five minutes three missed readings before it is silent (twenty minutes, not the plant\'s ten), and the plant listing says so', async () => {
    const p = await plant();
    const start = Date.now() - 40 * MINUTE;
    await p.send(Array.from({ length: 9 }, (_, k) => ({ device: 'robotic-arm-002', body: { timestamp: iso(start + k * 5 * MINUTE), temperature: 70 + 0.1 * (k % 4), vibration: 0.4, pressure: 6, ...(k === 0 ? { status: 'running' } : {}) } })));
    // One message lost and the next late: under the plant's delay this was a card.
    expect(await sweepsUntilRaised(p, [11, 19], 21)).toBe(20 * MINUTE);
    // The dashboard calls it silent from its own delay on.
    const client = (twins as unknown as { client: import('@azure/digital-twins-core').DigitalTwinsClient }).client;
    await client.upsertDigitalTwin('factory-01', JSON.stringify({ $metadata: { $model: 'dtmi:manufacturing:Factory;1' }, name: 'Plant' }));
    await client.upsertRelationship('factory-01', 'contains-production-line-a', { $targetId: 'production-line-a', $relationshipName: 'contains' });
    const api = createPlantApi({ twins, store: p.store, logger: silentLogger, maxBodyBytes: 4096, maxPageSize: 50, warningThreshold: 0.5, silentAfterMs: 10 * MINUTE });
    const listed = (await api.plant({ method: 'GET', url: 'http://localhost/api/plant', headers: new Headers(), params: {}, text: async () => '' })).jsonBody as { silentAfterMs: number; factories: { lines: { equipment: { $dtId: string; silentAfterMs?: number }[] }[] }[] };
    expect(listed.silentAfterMs).toBe(10 * MINUTE);
    const equipment = listed.factories[0]!.lines[0]!.equipment;
    expect(equipment.find((e) => e.$dtId === 'robotic-arm-002')!.silentAfterMs).toBe(20 * MINUTE);
    expect(equipment.filter((e) => e.silentAfterMs !== undefined).map((e) => e.$dtId)).toEqual(['robotic-arm-002']);
  });

  it('stands aside outside the plant\'s working hours, and the plant listing says whether it works now and since when', async () => {
    const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
    // The listing's clock held at one instant, so that no midnight can pass between its two answers.
    const instant = Date.now();
    const today = new Date(instant).getUTCDay();
    // A plant that works only the day after tomorrow (UTC), and one that works all of today.
    const offNow = WorkingHours.parse(`${DAYS[(today + 2) % 7]} 00:00-24:00`);
    const onNow = WorkingHours.parse(`${DAYS[today]} 00:00-24:00`);
    const p = await plant({}, twins, offNow);
    await p.readings(['robotic-arm-001', 'robotic-arm-002'], Date.now() - 2 * MINUTE, 6);
    p.clock.shift = 11 * MINUTE;
    expect(await p.watch.run()).toEqual({ equipment: 0, silent: 0, raised: 0, told: 0, errors: 0, offShift: true });
    expect(p.alerts.sent).toEqual([]);
    expect(p.logged).toEqual([]);
    const client = (twins as unknown as { client: import('@azure/digital-twins-core').DigitalTwinsClient }).client;
    await client.upsertDigitalTwin('factory-01', JSON.stringify({ $metadata: { $model: 'dtmi:manufacturing:Factory;1' }, name: 'Plant' }));
    await client.upsertRelationship('factory-01', 'contains-production-line-a', { $targetId: 'production-line-a', $relationshipName: 'contains' });
    const listed = async (workingHours: WorkingHours) => {
      const api = createPlantApi({ twins, store: p.store, logger: silentLogger, maxBodyBytes: 4096, maxPageSize: 50, warningThreshold: 0.5, silentAfterMs: 10 * MINUTE, workingHours, now: () => instant });
      return ((await api.plant({ method: 'GET', url: 'http://localhost/api/plant', headers: new Headers(), params: {}, text: async () => '' })).jsonBody as { workingHours: unknown }).workingHours;
    };
    expect(await listed(offNow)).toEqual({ hours: `${DAYS[(today + 2) % 7]} 00:00-24:00`, timeZone: 'UTC', working: false });
    const midnight = new Date(instant);
    midnight.setUTCHours(0, 0, 0, 0);
    expect(await listed(onNow)).toEqual({ hours: `${DAYS[today]} 00:00-24:00`, timeZone: 'UTC', working: true, since: midnight.toISOString() });
    // A line that keeps its own hours (LINE_WORKING_HOURS) is listed with them.
    const api = createPlantApi({ twins, store: p.store, logger: silentLogger, maxBodyBytes: 4096, maxPageSize: 50, warningThreshold: 0.5, workingHours: onNow, lineHours: new Map([['production-line-a', offNow]]), now: () => instant });
    const plantListed = (await api.plant({ method: 'GET', url: 'http://localhost/api/plant', headers: new Headers(), params: {}, text: async () => '' })).jsonBody as { factories: { lines: { $dtId: string; workingHours?: unknown }[] }[] };
    expect(plantListed.factories[0]!.lines.map((l) => [l.$dtId, l.workingHours])).toEqual([['production-line-a', { hours: `${DAYS[(today + 2) % 7]} 00:00-24:00`, timeZone: 'UTC', working: false }]]);
  });

  it("takes a line's status set through the API: in maintenance its machines' silence raises nothing, and set running they have the delay from then; the plant lists the status; set to maintenance again, their incidents clear", async () => {
    // Silent after a second and a half here (readings every 300 ms), so that a machine still sending is heard by Digital Twins' clock.
    const p = await plant({ silentAfterMs: 1_500 });
    const start = Date.now() - 2 * MINUTE;
    await p.readings(['robotic-arm-001', 'robotic-arm-002', 'robotic-arm-003'], start, 6, 'running', 300);
    const logged: [string, Record<string, unknown> | undefined][] = [];
    const api = createPlantApi({ twins, store: p.store, logger: { log: (_level, message, fields) => void logged.push([message, fields]) }, maxBodyBytes: 4096, maxPageSize: 50, warningThreshold: 0.5, silentAfterMs: 1_500 });
    const setStatus = async (id: string, body: unknown) => {
      const res = await api.lineStatus({ method: 'POST', url: `http://localhost/api/lines/${id}/status`, headers: new Headers({ 'content-type': 'application/json' }), params: { id }, text: async () => JSON.stringify(body) });
      return [res.status, res.jsonBody as Record<string, unknown>] as const;
    };
    // Line B keeps sending: arm-003 moves there.
    const client = (twins as unknown as { client: import('@azure/digital-twins-core').DigitalTwinsClient }).client;
    await client.upsertDigitalTwin('production-line-b', JSON.stringify({ $metadata: { $model: LINE }, name: 'Line B' }));
    await client.deleteRelationship('production-line-a', 'contains-robotic-arm-003');
    await client.upsertRelationship('production-line-b', 'contains-robotic-arm-003', { $targetId: 'robotic-arm-003', $relationshipName: 'contains' });
    const lineB = () => p.readings(['robotic-arm-003'], Date.now() - 600, 3, 'running', 300);

    expect(await setStatus('production-line-a', { status: 'maintenance', by: 'Dana', reason: 'retooling for the new gearbox' })).toEqual([200, { lineId: 'production-line-a', lineStatus: 'maintenance', was: null, changed: true, by: 'Dana' }]);
    expect(logged).toEqual([['line status set', { lineId: 'production-line-a', status: 'maintenance', was: 'unset', by: 'Dana', reason: 'retooling for the new gearbox' }]]);
    // The status it has already: nothing written, so its time (when a silence would count from) stands.
    const before = await twins.getTwin('production-line-a');
    expect(await setStatus('production-line-a', { status: 'maintenance', by: 'Sam' })).toEqual([200, { lineId: 'production-line-a', lineStatus: 'maintenance', was: 'maintenance', changed: false, by: 'Sam' }]);
    expect((await twins.getTwin('production-line-a')).$etag).toBe(before.$etag);
    // What is not a line's status, a twin that is no line, and no twin at all.
    const [badStatus, problem] = await setStatus('production-line-a', { status: 'paused', by: 'Dana' });
    expect([badStatus, problem.detail]).toEqual([400, 'status: one of running, stopped, changeover, maintenance']);
    expect((await setStatus('robotic-arm-001', { status: 'stopped', by: 'Dana' }))[0]).toBe(400);
    expect((await setStatus('line-z', { status: 'stopped', by: 'Dana' }))[0]).toBe(404);

    await new Promise((r) => setTimeout(r, 1_600));
    await lineB();
    expect(await p.watch.run()).toMatchObject({ silent: 0, raised: 0, onLinesAtRest: 2 });

    // Running again: by Digital Twins' clock the line runs from now, so its arms have the delay from now.
    expect(await setStatus('production-line-a', { status: 'running', by: 'Dana' })).toEqual([200, { lineId: 'production-line-a', lineStatus: 'running', was: 'maintenance', changed: true, by: 'Dana' }]);
    expect(await p.watch.run()).toMatchObject({ silent: 0, raised: 0 });
    expect(p.alerts.sent).toEqual([]);
    await new Promise((r) => setTimeout(r, 1_600));
    await lineB();
    expect(await p.watch.run()).toMatchObject({ silent: 2, raised: 2, told: 2 });
    expect(p.alerts.sent.map((a) => a.deviceId).sort()).toEqual(['robotic-arm-001', 'robotic-arm-002']);
    expect(p.logged).toEqual([]);

    await client.upsertDigitalTwin('factory-01', JSON.stringify({ $metadata: { $model: 'dtmi:manufacturing:Factory;1' }, name: 'Plant' }));
    await client.upsertRelationship('factory-01', 'contains-production-line-a', { $targetId: 'production-line-a', $relationshipName: 'contains' });
    const listed = (await api.plant({ method: 'GET', url: 'http://localhost/api/plant', headers: new Headers(), params: {}, text: async () => '' })).jsonBody as { factories: { lines: { lineStatus?: string; $metadata: { lineStatus?: { lastUpdateTime: string } } }[] }[] };
    const line = listed.factories[0]!.lines[0]!;
    expect(line.lineStatus).toBe('running');
    expect(Date.parse(line.$metadata.lineStatus!.lastUpdateTime)).toBeGreaterThan(Date.now() - MINUTE);

    // Found powered off for maintenance after all: set so, their incidents clear, one card each, and the dashboard lists them cleared.
    expect((await setStatus('production-line-a', { status: 'maintenance', by: 'Dana', reason: 'arms powered off' }))[1]).toMatchObject({ changed: true });
    await lineB();
    expect(await p.watch.run()).toMatchObject({ silent: 0, raised: 0, onLinesAtRest: 2, clearedAtRest: 2 });
    expect(p.alerts.sent.slice(2).map((a) => [a.incident.event, a.lineAtRest?.status]).sort()).toEqual([['cleared', 'maintenance'], ['cleared', 'maintenance']]);
    const incidents = await p.store.alerts(start - MINUTE, 50);
    expect(incidents.map((a) => [a.deviceId, a.state, a.clearedAtRest]).sort()).toEqual([['robotic-arm-001', 'cleared', 'maintenance'], ['robotic-arm-002', 'cleared', 'maintenance']]);
    expect(await twins.getTwin('robotic-arm-001')).toMatchObject({ healthStatus: 'normal' });
    expect(await p.watch.run()).toMatchObject({ onLinesAtRest: 2, errors: 0 });
    expect(p.alerts.sent).toHaveLength(4);
  });

  it('gives a logger that uploads a quarter hour of readings at once three missed uploads before it is silent, not the plant\'s ten minutes between two of them', async () => {
    const p = await plant();
    const start = Date.now() - 40 * MINUTE;
    // Fifteen readings a minute apart in one message (an array), twice.
    const upload = (u: number) => p.send([{ device: 'robotic-arm-002', body: Array.from({ length: 15 }, (_, k) => ({ timestamp: iso(start + (15 * u + k) * MINUTE), temperature: 70 + 0.1 * (k % 4), vibration: 0.4, pressure: 6, ...(u === 0 && k === 0 ? { status: 'running' } : {}) })) }]);
    await upload(0);
    await upload(1);
    // Between two uploads: under the plant's delay (its readings a minute apart) this was a card every quarter hour.
    const delay = await sweepsUntilRaised(p, [11, 50], 65);
    expect(delay).toBeGreaterThanOrEqual(4 * 14 * MINUTE);
    expect(delay).toBeLessThanOrEqual(4 * 15.5 * MINUTE);
  });

  it('counts a slow reporter heard within its own interval as telemetry flowing: a machine silent beside it is raised, not taken for the whole plant', async () => {
    // Scaled down: the plant's delay three seconds, both machines reporting every two (so silent after eight).
    const p = await plant({ silentAfterMs: 3_000 });
    const everyTwo = (device: string, from: number) => p.send(Array.from({ length: 6 }, (_, k) => ({ device, body: { timestamp: iso(from + k * 2_000), temperature: 70 + 0.1 * (k % 4), vibration: 0.4, pressure: 6, ...(k === 0 ? { status: 'running' } : {}) } })));
    await everyTwo('robotic-arm-001', Date.now() - 12_000);
    await new Promise((r) => setTimeout(r, 4_000));
    await everyTwo('robotic-arm-002', Date.now() - 12_000);
    // arm-001 quiet some 8.5 s, past its delay; arm-002 4.5 s, past the plant's three but within its own two plus three.
    p.clock.shift = 4_500;
    expect(await p.watch.run()).toMatchObject({ silent: 1, raised: 1 });
    expect(p.alerts.sent.map((a) => a.deviceId)).toEqual(['robotic-arm-001']);
    expect(p.logged).toEqual([]);
  });

  it('raises no machine when the whole plant has gone silent (a common cause: its uplink, the route, or our ingestion), and says so as an error for operations', async () => {
    const p = await plant();
    await p.readings(ARMS.slice(0, 3), Date.now() - 2 * MINUTE, 6);
    p.clock.shift = 11 * MINUTE;
    expect(await p.watch.run()).toMatchObject({ silent: 3, raised: 0, told: 0, plantSilent: true });
    expect(p.alerts.sent).toEqual([]);
    expect(p.logged).toEqual([{ level: 'error', message: PLANT_SILENT_LOG }]);
    expect(await p.store.alarmEvents(Date.now() - MINUTE, Date.now() + 30 * MINUTE, 50)).toEqual([]);
  });

  it('a sweep that failed after its card (Digital Twins refused the write) raises the same incident next time: one card, one row, and the twin then shows it', async () => {
    let refuse = 1;
    const flaky: TwinsPort = Object.assign(Object.create(twins) as TwinsPort, {
      patch: (id: string, ops: Parameters<TwinsPort['patch']>[1], ifMatch?: string) => (refuse-- > 0 ? Promise.reject(new AppError('twins.unavailable', 'Digital Twins: 503', { status: 503, retryable: true })) : twins.patch(id, ops, ifMatch)),
    });
    const p = await plant({}, flaky);
    await p.readings(['robotic-arm-001'], Date.now() - 2 * MINUTE, 6);
    p.clock.shift = 11 * MINUTE;
    expect(await p.watch.run()).toMatchObject({ raised: 0, errors: 1 });
    expect(await twins.getTwin('robotic-arm-001')).toMatchObject({ healthStatus: 'normal' });
    p.clock.shift = 12 * MINUTE;
    expect(await p.watch.run()).toMatchObject({ raised: 1, errors: 0 });
    expect(p.alerts.sent).toHaveLength(1);
    expect((await p.store.alarmEvents(Date.now() - MINUTE, Date.now() + 30 * MINUTE, 50)).map((e) => [e.event, e.notified])).toEqual([['raised', 'yes']]);
    expect((await p.store.alerts(Date.now() - MINUTE, 50)).map((a) => a.alertId)).toEqual([p.alerts.sent[0]!.incident.id]);
    expect(await twins.getTwin('robotic-arm-001')).toMatchObject({ healthStatus: 'warning' });
  });

  it('a sweep whose twin changed between its read and its write (the refresh caught it up) says so after its card, and the next sweep records the same incident on the twin: one card, one row', async () => {
    let cutIn = 1;
    const racing: TwinsPort = Object.assign(Object.create(twins) as TwinsPort, {
      // Another writer lands first: the watch's If-Match then names a twin that is no more.
      patch: async (id: string, ops: Parameters<TwinsPort['patch']>[1], ifMatch?: string) => {
        if (cutIn-- > 0) await twins.patch(id, [{ op: 'replace', path: '/equipmentId', value: id }]);
        return twins.patch(id, ops, ifMatch);
      },
    });
    const p = await plant({}, racing);
    await p.readings(['robotic-arm-001'], Date.now() - 2 * MINUTE, 6);
    p.clock.shift = 11 * MINUTE;
    expect(await p.watch.run()).toMatchObject({ silent: 1, raised: 0, told: 1, changedMeanwhile: 1, errors: 0 });
    expect(await twins.getTwin('robotic-arm-001')).toMatchObject({ healthStatus: 'normal' });
    p.clock.shift = 12 * MINUTE;
    const again = await p.watch.run();
    expect(again).toMatchObject({ silent: 1, raised: 1, told: 0, errors: 0 });
    expect(again.changedMeanwhile).toBeUndefined();
    expect(p.alerts.sent).toHaveLength(1);
    expect((await p.store.alarmEvents(Date.now() - MINUTE, Date.now() + 30 * MINUTE, 50)).map((e) => [e.event, e.notified])).toEqual([['raised', 'yes']]);
    expect(await twins.getTwin('robotic-arm-001')).toMatchObject({ healthStatus: 'warning' });
  });

  it('says of a machine whose readings arrive but are refused (a firmware that changed what it sends) that they are refused, not that its gateway is down', async () => {
    const p = await plant();
    const start = Date.now() - 2 * MINUTE;
    await p.readings(['robotic-arm-001'], start, 6);
    // From a minute on, its firmware sends the temperature as text: every reading refused.
    p.clock.shift = 10 * MINUTE;
    const refused = await p.send(Array.from({ length: 5 }, (_, k) => ({ device: 'robotic-arm-001', body: { timestamp: iso(Date.now() + 10 * MINUTE + k * 1_000), temperature: '70.2 C', vibration: 0.4, pressure: 6 } })));
    expect(refused).toMatchObject({ deadLettered: 5 });
    p.clock.shift = 11 * MINUTE;
    expect(await p.watch.run()).toMatchObject({ silent: 1, raised: 1, told: 1 });
    const [card] = p.alerts.sent;
    expect(card!.silent).toMatchObject({ refused: { count: 5, reason: 'telemetry.invalid' } });
    const text = JSON.stringify(alertCard(card!));
    expect(text).toContain('Readings from this machine arrive but are refused (5 lately, telemetry.invalid:');
    expect(text).toContain('See Readings refused on the dashboard');
    expect(text).not.toContain('check its gateway');
  });

  it("says where to look from what IoT Hub knows of each silent machine's device: disconnected, connected and idle, or disabled", async () => {
    await onLocalHub(async (hub, _log, online) => {
      for (const id of ['robotic-arm-001', 'robotic-arm-002']) hub.registry.add(id);
      hub.registry.add('robotic-arm-003', { status: 'disabled' });
      // Two devices come online and send; the first then loses its link.
      const devices = await online(['robotic-arm-001', 'robotic-arm-002'], true);
      await devices[0]!.close();
      const connections = new IotHubDeviceConnections({ connectionString: hub.registry.serviceConnectionString(hub.hostName), caPem: hub.caPem });
      // Silent after a second and a half, as above, so that robotic-arm-004, still sending, shows telemetry flows.
      const p = await plant({ silentAfterMs: 1_500 }, twins, undefined, connections);
      await p.readings(['robotic-arm-001', 'robotic-arm-002', 'robotic-arm-003'], Date.now() - 1_500, 6, 'running', 300);
      await new Promise((r) => setTimeout(r, 1_600));
      await p.readings(['robotic-arm-004'], Date.now() - 50_000, 6);
      expect(await p.watch.run()).toMatchObject({ silent: 3, raised: 3, told: 3 });
      const cards = new Map(p.alerts.sent.map((c) => [c.deviceId, JSON.stringify(alertCard(c))]));
      expect(p.alerts.sent.find((c) => c.deviceId === 'robotic-arm-001')!.silent!.connection).toMatchObject({ identity: 'enabled', connected: false });
      expect(cards.get('robotic-arm-001')).toMatch(/and IoT Hub saw its device disconnect at \{\{DATE\(.*: check its gateway, network and power\./);
      expect(cards.get('robotic-arm-002')).toMatch(/yet IoT Hub counts its device as connected since \{\{DATE\(.*: it is online and sends nothing\. Check its controller/);
      expect(cards.get('robotic-arm-003')).toContain('its IoT Hub identity is disabled, so it cannot connect');
      // The incident list says it too (from the raise's AlarmEvents Detail), in the words the dashboard shows.
      const listed = await p.store.alerts(Date.now() - 10 * MINUTE, 50);
      expect(listed.map((a) => [a.deviceId, a.condition, a.deviceLink]).sort()).toEqual([
        ['robotic-arm-001', 'silent', 'disconnected'],
        ['robotic-arm-002', 'silent', 'connected'],
        ['robotic-arm-003', 'silent', 'disabled'],
      ]);
      const api = createPlantApi({ twins, store: p.store, logger: silentLogger, maxBodyBytes: 4096, maxPageSize: 50, warningThreshold: 0.5, silentAfterMs: 1_500 });
      const response = await api.alerts({ method: 'GET', url: 'http://localhost/api/alerts', headers: new Headers(), params: {}, text: async () => '' });
      const items = (response.jsonBody as { items: { deviceId: string; conditionText: string }[] }).items;
      expect(items.find((a) => a.deviceId === 'robotic-arm-001')!.conditionText).toBe('no telemetry taken in: the machine is not watched at all; IoT Hub saw its device disconnect');
      await devices[1]!.close();
    });
  });

  it("hears a machine's link drop from IoT Hub's connection events: raised once it has been quiet for `recentMs`, not the whole delay, while one connected and quiet waits for the delay", async () => {
    // The recipe's routes: telemetry, and devices' connection state events, to the Event Hub.
    await onLocalHub(async (hub, log, online) => {
      for (const id of ['robotic-arm-001', 'robotic-arm-002']) hub.registry.add(id);
      const devices = await online(['robotic-arm-001', 'robotic-arm-002']);
      // robotic-arm-001 loses its link; robotic-arm-002 stays connected and goes quiet all the same.
      await devices[0]!.close();
      const routed = () => log.partitionIds.flatMap((id) => log.read(id, 0, 100)).filter((e) => e.systemProperties['iothub-message-source'] === 'deviceConnectionStateEvents');
      await until('both connects and the disconnect routed', async () => routed().length === 3);
      const registry = new IotHubDeviceConnections({ connectionString: hub.registry.serviceConnectionString(hub.hostName), caPem: hub.caPem });
      // A delay of a minute; quiet for two seconds is not "lately" (a reading every 300 ms).
      const p = await plant({ silentAfterMs: MINUTE }, twins, undefined, registry, { recentMs: 2_000, connectionEvents: true });
      // The events come through the trigger as the hub routed them, the disconnect last.
      const events = routed();
      expect(await p.deliver(events)).toMatchObject({ events: 3, stored: 0, deadLettered: 0, notTelemetry: 3, connectionEvents: 3 });
      const disconnectedAt = Date.parse(String(events.find((e) => e.properties.opType === 'deviceDisconnected')!.properties.operationTimestamp));
      await p.readings(['robotic-arm-001', 'robotic-arm-002'], Date.now() - 1_500, 6, 'running', 300);
      // robotic-arm-004 keeps sending: its next readings come a patch interval on, so they are written to its twin at once.
      await p.readings(['robotic-arm-004'], Date.now() - 60_000, 6, 'running', 300);
      await new Promise((r) => setTimeout(r, 2_300));
      await p.readings(['robotic-arm-004'], Date.now() - 1_500, 6, 'running', 300);
      const swept = await p.watch.run();
      expect(swept).toMatchObject({ silent: 1, raised: 1, told: 1, offNetwork: 1, errors: 0 });
      expect(p.alerts.sent.map((c) => c.deviceId)).toEqual(['robotic-arm-001']);
      const [card] = p.alerts.sent;
      // What the event said, and when: not the registry's late state.
      expect(card!.silent!.connection).toEqual({ identity: 'enabled', connected: false, since: disconnectedAt, lastActivity: expect.any(Number) });
      expect(JSON.stringify(alertCard(card!))).toMatch(/and IoT Hub saw its device disconnect at \{\{DATE\(.*: check its gateway, network and power/);
      // Without the events the same sweep would have waited for the whole delay.
      const blind = new CommunicationWatch({ catalog: plantCatalog(), twins, store: p.store, connections: registry, settings: { ...defaultSettings, alarms: { silentAfterMs: MINUTE } }, logger: silentLogger, concurrency: 4, now: p.now, recentMs: 2_000 });
      expect(await blind.run()).toMatchObject({ silent: 0, raised: 0 });
      // The plant API lists the machine off the network, with the alarm's shorter delay, for the dashboard; a store that cannot say leaves it out.
      const client = (twins as unknown as { client: import('@azure/digital-twins-core').DigitalTwinsClient }).client;
      await client.upsertDigitalTwin('plant-1', JSON.stringify({ $metadata: { $model: modelOf('Factory') }, name: 'Plant 1' }));
      await client.upsertRelationship('plant-1', 'contains-line-a', { $targetId: 'production-line-a', $relationshipName: 'contains' });
      const listing = async (store: TelemetryReadPort) => {
        const logged: string[] = [];
        const api = createPlantApi({ twins, store, logger: { log: (level, message) => void logged.push(`${level} ${message}`) }, maxBodyBytes: 4096, maxPageSize: 50, warningThreshold: 0.5, silentAfterMs: MINUTE, offNetworkAfterMs: 2_000 });
        const body = (await api.plant({ method: 'GET', url: 'http://localhost/api/plant', headers: new Headers(), params: {}, text: async () => '' })).jsonBody as { factories: { lines: { equipment: Record<string, unknown>[] }[] }[] };
        return { equipment: new Map(body.factories.flatMap((f) => f.lines.flatMap((l) => l.equipment)).map((e) => [e.$dtId, e])), logged };
      };
      const { equipment } = await listing(p.store);
      expect(equipment.get('robotic-arm-001')).toMatchObject({ disconnectedAt: new Date(disconnectedAt).toISOString(), offNetworkAfterMs: 2_000 });
      expect(equipment.get('robotic-arm-002')).not.toHaveProperty('disconnectedAt');
      const unreadable = await listing(Object.assign(Object.create(p.store) as TelemetryReadPort, { latestConnections: () => Promise.reject(new Error('cluster unreachable')) }));
      expect(unreadable.equipment.get('robotic-arm-001')).not.toHaveProperty('disconnectedAt');
      expect(unreadable.logged).toEqual(["warn devices' connection events unknown: the plant is listed without them"]);
    });
  });

  it("tells a silent machine's card without IoT Hub's word when its registry cannot be read, and logs why", async () => {
    const p = await plant({}, twins, undefined, { connectionsOf: async () => Promise.reject(new AppError('iothub.registry', "IoT Hub's registry could not be read: unreachable")) });
    await p.readings(['robotic-arm-001'], Date.now() - 2 * MINUTE, 6);
    p.clock.shift = 11 * MINUTE;
    expect(await p.watch.run()).toMatchObject({ silent: 1, raised: 1, told: 1, errors: 0 });
    expect(JSON.stringify(alertCard(p.alerts.sent[0]!))).toContain('since {{DATE(');
    expect(JSON.stringify(alertCard(p.alerts.sent[0]!))).toContain(': check its gateway, network and power.');
    expect(p.logged).toContainEqual({ level: 'warn', message: "devices' connections unknown: silent machines are told without them" });
  });
});
