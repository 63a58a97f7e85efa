/**
 * The local IoT Hub, driven only through the real SDKs: devices with azure-iot-device over MQTT
 * (TLS), the service side with azure-iothub (through the product's adapter). Telemetry lands in
 * the event log with IoT Hub's system properties; bad devices, tokens and messages are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import deviceSdk from 'azure-iot-device';
import mqttTransport from 'azure-iot-device-mqtt';
import iotCommon from 'azure-iot-common';
import { startIotHub, type IotHub } from '../../src/emulators/iothub/server.ts';
import { makeSas } from '../../src/emulators/sas.ts';
import { EventLog } from '../../src/emulators/event-log/event-log.ts';
import { IotHubDeviceConnections, IotHubDirectMethods, iotHubRegistry } from '../../src/lib/commands/iothub-service.ts';
import { compileCondition } from '../../src/emulators/iothub/routing.ts';
import { connectionRowOf } from '../../src/lib/telemetry/connection-state.ts';
import { DeviceRegistry } from '../../src/emulators/iothub/registry.ts';
import { until } from '../support/until.ts';
import mqtt from 'mqtt';

const { Client: DeviceClient, Message } = deviceSdk;
const { NoRetry } = iotCommon;
const { Mqtt } = mqttTransport;

let dir: string;
let log: EventLog;
let hub: IotHub;
const opened: InstanceType<typeof DeviceClient>[] = [];

async function connect(connectionString: string) {
  const client = DeviceClient.fromConnectionString(connectionString, Mqtt);
  client.setRetryPolicy(new NoRetry());
  await client.setOptions({ ca: hub.caPem });
  opened.push(client);
  await client.open();
  return client;
}
const everyEvent = () => log.partitionIds.flatMap((p) => log.read(p, 0, 10_000));
/** What the devices sent, without the connection state events the hub routes beside them. */
const telemetryEvents = () => everyEvent().filter((e) => e.systemProperties?.['iothub-message-source'] === 'Telemetry');
const connectionEvents = (deviceId: string) => everyEvent().filter((e) => e.partitionKey === deviceId && e.systemProperties?.['iothub-message-source'] === 'deviceConnectionStateEvents');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'iothub-'));
  log = EventLog.open(join(dir, 'log'), { partitions: 4 });
  hub = await startIotHub({ dataDir: join(dir, 'hub'), port: 0, endpoints: { events: log }, maxMessageBytes: 64 * 1024 });
  hub.registry.add('robotic-arm-001');
  hub.registry.add('conveyor-001');
});
afterAll(async () => {
  await Promise.all(opened.map((c) => c.close().catch(() => undefined)));
  await hub?.close();
  log?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A raw MQTT connection as a device, so a test can publish where the SDK never would. */
async function rawDevice(deviceId: string, validSeconds = 600) {
  const [host, port] = hub.hostName.split(':');
  const password = makeSas(`${hub.hostName}/devices/${deviceId}`, hub.registry.get(deviceId)!.primaryKey, Math.floor(Date.now() / 1000) + validSeconds);
  const client = mqtt.connect({ protocol: 'mqtts', host, port: Number(port), ca: hub.caPem, clientId: deviceId, username: `${hub.hostName}/${deviceId}/?api-version=2021-04-12`, password, reconnectPeriod: 0, protocolVersion: 4 });
  await new Promise<void>((resolve, reject) => client.once('connect', () => resolve()).once('error', reject));
  return client;
}

describe('a device on the local IoT Hub', () => {
  it('sends telemetry that reaches the event log with IoT Hub system and application properties', async () => {
    const arm = await connect(hub.registry.connectionString('robotic-arm-001', hub.hostName));
    for (let i = 0; i < 3; i++) {
      const message = new Message(JSON.stringify({ temperature: 60 + i, status: 'running' }));
      message.messageId = `arm-msg-${i}`;
      message.contentType = 'application/json';
      message.contentEncoding = 'utf-8';
      message.properties.add('scenario', 'normal');
      await arm.sendEvent(message);
    }
    const events = telemetryEvents().filter((e) => e.partitionKey === 'robotic-arm-001');
    expect(events.map((e) => JSON.parse(e.body.toString()).temperature)).toEqual([60, 61, 62]);
    expect(events[0]!.systemProperties).toMatchObject({
      'iothub-connection-device-id': 'robotic-arm-001',
      'message-id': 'arm-msg-0',
      'content-type': 'application/json',
      'content-encoding': 'utf-8',
      'iothub-message-source': 'Telemetry',
      'iothub-enqueuedtime': expect.stringMatching(/^\d{4}-/),
    });
    expect(events[0]!.properties).toEqual({ scenario: 'normal' });
    expect(new Set(events.map((e) => e.partitionId)).size).toBe(1);
  });

  it('keeps application properties named like what every object inherits (constructor, toString, __proto__) as the device named them', async () => {
    const arm = await connect(hub.registry.connectionString('robotic-arm-001', hub.hostName));
    const message = new Message(JSON.stringify({ temperature: 61, status: 'running' }));
    message.messageId = 'odd-names';
    for (const [k, v] of [['constructor', 'c'], ['toString', 't'], ['__proto__', 'p'], ['scenario', 'normal']] as const) message.properties.add(k, v);
    await arm.sendEvent(message);
    const [event] = telemetryEvents().filter((e) => e.systemProperties['message-id'] === 'odd-names');
    // Built from entries: a literal's __proto__ would set its prototype.
    expect(event!.properties).toEqual(Object.fromEntries([['constructor', 'c'], ['toString', 't'], ['__proto__', 'p'], ['scenario', 'normal']]));
    expect(Object.keys(event!.systemProperties).filter((k) => k.includes('[native code]') || k.startsWith('[object'))).toEqual([]);
  });

  it('answers a direct method invoked through azure-iothub', async () => {
    const conveyor = await connect(hub.registry.connectionString('conveyor-001', hub.hostName));
    const calls: unknown[] = [];
    conveyor.onDeviceMethod('emergencyStop', (request, response) => {
      calls.push(request.payload);
      void response.send(200, { stopped: true, reason: (request.payload as { reason: string }).reason });
    });
    await new Promise((r) => setTimeout(r, 100)); // the subscription is made asynchronously
    const methods = new IotHubDirectMethods({ connectionString: hub.registry.serviceConnectionString(hub.hostName), caPem: hub.caPem });
    const result = await methods.invoke('conveyor-001', 'emergencyStop', { reason: 'vibration critical' }, 10);
    expect(result).toEqual({ status: 200, payload: { stopped: true, reason: 'vibration critical' } });
    expect(calls).toEqual([{ reason: 'vibration critical' }]);
    await expect(methods.invoke('quality-station-009', 'emergencyStop', {}, 5)).rejects.toMatchObject({ code: 'device.offline' });
  });

  it('refuses a device publishing as another device, and counts it', async () => {
    const before = hub.stats.refusedMessages.notAllowed;
    const eventsBefore = telemetryEvents().length;
    const arm = await rawDevice('robotic-arm-001');
    arm.publish('devices/conveyor-001/messages/events/', JSON.stringify({ speed: 0, status: 'running' }), { qos: 0 });
    await until('the hub to refuse it', () => hub.stats.refusedMessages.notAllowed === before + 1);
    arm.end(true);
    expect(telemetryEvents().length).toBe(eventsBefore);
  });

  it('disconnects a device when its SAS token expires, as IoT Hub does', async () => {
    const arm = await rawDevice('robotic-arm-001', 2);
    const closed = new Promise<void>((resolve) => arm.once('close', () => resolve()));
    const started = Date.now();
    await closed;
    expect(Date.now() - started).toBeLessThan(5_000);
    arm.end(true);
  });

  it('keeps no retained message: a device cannot park data in the hub', async () => {
    const arm = await rawDevice('robotic-arm-001');
    await new Promise<void>((resolve, reject) => arm.publish('devices/robotic-arm-001/messages/events/', JSON.stringify({ temperature: 61 }), { qos: 1, retain: true }, (e) => (e ? reject(e) : resolve())));
    arm.end(true);
    const again = await rawDevice('robotic-arm-001');
    const got: string[] = [];
    again.on('message', (topic) => got.push(topic));
    await new Promise<void>((resolve, reject) => again.subscribe('devices/robotic-arm-001/messages/events/#', (e) => (e ? reject(e) : resolve())));
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toEqual([]);
    again.end(true);
  });

  it('takes a direct method answer only from the device it was sent to', async () => {
    const conveyor = await rawDevice('conveyor-001');
    const arm = await rawDevice('robotic-arm-001');
    await new Promise<void>((resolve, reject) => conveyor.subscribe('$iothub/methods/POST/#', (e) => (e ? reject(e) : resolve())));
    conveyor.on('message', (topic) => {
      const rid = /\$rid=(.+)$/.exec(topic)![1]!;
      // Another device answers first with a fake "accepted"; then the real one answers.
      arm.publish(`$iothub/methods/res/200/?$rid=${rid}`, JSON.stringify({ accepted: true, forgedBy: 'robotic-arm-001' }), { qos: 0 }, () => {
        setTimeout(() => conveyor.publish(`$iothub/methods/res/409/?$rid=${rid}`, JSON.stringify({ accepted: false }), { qos: 0 }), 100);
      });
    });
    const methods = new IotHubDirectMethods({ connectionString: hub.registry.serviceConnectionString(hub.hostName), caPem: hub.caPem });
    const result = await methods.invoke('conveyor-001', 'emergencyStop', { reason: 'test' }, 10);
    expect(result).toEqual({ status: 409, payload: { accepted: false } });
    conveyor.end(true);
    arm.end(true);
  });

  it('registers devices through azure-iothub Registry, and the registry survives a restart', async () => {
    const registry = iotHubRegistry({ connectionString: hub.registry.serviceConnectionString(hub.hostName), caPem: hub.caPem });
    const created = await registry.create({ deviceId: 'quality-station-001' });
    expect(created.responseBody).toMatchObject({ deviceId: 'quality-station-001', status: 'enabled', authentication: { type: 'sas' } });
    const got = await registry.get('quality-station-001');
    expect(got.responseBody.authentication?.symmetricKey?.primaryKey).toBe(hub.registry.get('quality-station-001')!.primaryKey);
    const { DeviceRegistry } = await import('../../src/emulators/iothub/registry.ts');
    expect(new DeviceRegistry(join(dir, 'hub', 'registry.json')).list().map((d) => d.deviceId).sort()).toEqual(['conveyor-001', 'quality-station-001', 'robotic-arm-001']);
    await expect(registry.get('nope')).rejects.toThrow();
  });
});

describe("a device's connection, as IoT Hub's registry tells it (IotHubDeviceConnections)", () => {
  it('is connected since it connected and active when it sent; disconnected since it closed; a disabled or unknown identity says so', async () => {
    hub.registry.add('conveyor-002');
    hub.registry.add('quality-station-009', { status: 'disabled' });
    const connections = new IotHubDeviceConnections({ connectionString: hub.registry.serviceConnectionString(hub.hostName), caPem: hub.caPem });
    // Never connected: IoT Hub has no time for it.
    expect((await connections.connectionsOf(['conveyor-002'])).get('conveyor-002')).toEqual({ identity: 'enabled', connected: false });

    const opened = Date.now();
    const device = await connect(hub.registry.connectionString('conveyor-002', hub.hostName));
    await new Promise((r) => setTimeout(r, 50));
    const sent = Date.now();
    await device.sendEvent(new Message(JSON.stringify({ speed: 1 })));
    const online = (await connections.connectionsOf(['conveyor-002'])).get('conveyor-002')!;
    expect(online).toMatchObject({ identity: 'enabled', connected: true });
    expect(online.since).toBeGreaterThanOrEqual(opened - 1000);
    expect(online.since).toBeLessThan(sent);
    expect(online.lastActivity).toBeGreaterThanOrEqual(sent - 1000);

    await device.close();
    const closed = Date.now();
    await until('IoT Hub to see it disconnect', async () => (await connections.connectionsOf(['conveyor-002'])).get('conveyor-002')!.connected === false);
    const all = await connections.connectionsOf(['conveyor-002', 'quality-station-009', 'no-such-device']);
    expect(all.get('conveyor-002')).toMatchObject({ identity: 'enabled', connected: false, lastActivity: online.lastActivity });
    expect(all.get('conveyor-002')!.since).toBeGreaterThanOrEqual(closed - 1000);
    expect(all.get('quality-station-009')).toEqual({ identity: 'disabled', connected: false });
    expect(all.get('no-such-device')).toEqual({ identity: 'unregistered' });
  });

  it('cannot be told when the registry cannot be read: one error for the lookup, not a guess', async () => {
    const wrong = hub.registry.serviceConnectionString(hub.hostName).replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${Buffer.from('not the key').toString('base64')}`);
    await expect(new IotHubDeviceConnections({ connectionString: wrong, caPem: hub.caPem }).connectionsOf(['robotic-arm-001'])).rejects.toThrow(/registry could not be read/);
  });
});

describe("a device's connection, as IoT Hub's connection state events tell it", () => {
  it('routes a connect and a disconnect beside the telemetry, each with its kind, time and a growing sequence number, which the pipeline reads as rows', async () => {
    hub.registry.add('conveyor-003');
    const opened = Date.now();
    const device = await connect(hub.registry.connectionString('conveyor-003', hub.hostName));
    await device.sendEvent(new Message(JSON.stringify({ speed: 1 })));
    await device.close();
    await until('the disconnect to be routed', async () => connectionEvents('conveyor-003').length === 2);
    const [connected, disconnected] = connectionEvents('conveyor-003');
    expect(connected!.properties).toMatchObject({ deviceId: 'conveyor-003', opType: 'deviceConnected', 'iothub-message-schema': 'deviceConnectionStateNotification' });
    expect(disconnected!.properties).toMatchObject({ deviceId: 'conveyor-003', opType: 'deviceDisconnected' });
    expect(connected!.systemProperties).toMatchObject({ 'iothub-connection-device-id': 'conveyor-003', 'iothub-message-source': 'deviceConnectionStateEvents', 'content-type': 'application/json' });
    const rows = [connected!, disconnected!].map((e) => connectionRowOf(e.systemProperties, e.properties, e.body, undefined)!);
    expect(rows.map((r) => r.State)).toEqual(['connected', 'disconnected']);
    expect(rows[0]!.SequenceNumber < rows[1]!.SequenceNumber).toBe(true);
    expect(Date.parse(rows[0]!.Timestamp)).toBeGreaterThanOrEqual(opened - 1000);
    expect(Date.parse(rows[1]!.Timestamp)).toBeGreaterThanOrEqual(Date.parse(rows[0]!.Timestamp));
    // The telemetry between them is the device's own, as before.
    expect(telemetryEvents().filter((e) => e.partitionKey === 'conveyor-003').map((e) => e.body.toString())).toEqual(['{"speed":1}']);
  });

  it('routes none where no route takes them, and refuses a route on a source it does not know', async () => {
    const quiet = EventLog.open(join(dir, 'quiet-log'), { partitions: 1 });
    const bare = await startIotHub({ memory: true, port: 0, endpoints: { events: quiet }, routes: [{ name: 'telemetry-only', endpoint: 'events', condition: 'true' }] });
    try {
      bare.registry.add('arm-x');
      const client = DeviceClient.fromConnectionString(bare.registry.connectionString('arm-x', bare.hostName), Mqtt);
      client.setRetryPolicy(new NoRetry());
      await client.setOptions({ ca: bare.caPem });
      await client.open();
      await client.sendEvent(new Message('{"temperature":1}'));
      await client.close();
      await new Promise((r) => setTimeout(r, 200));
      expect(quiet.read('0', 0, 100).map((e) => e.systemProperties?.['iothub-message-source'])).toEqual(['Telemetry']);
    } finally {
      await bare.close();
      quiet.close();
    }
    await expect(startIotHub({ memory: true, port: 0, endpoints: { events: log }, routes: [{ name: 'twins', endpoint: 'events', condition: 'true', source: 'TwinChangeEvents' as 'DeviceMessages' }] })).rejects.toThrow(/source 'TwinChangeEvents' is not one the local hub routes/);
  });
});

describe('the local IoT Hub refuses', () => {
  it('unknown devices, wrong keys and expired tokens, and counts them', async () => {
    const before = structuredClone(hub.stats.refusedConnections);
    const wrongKey = hub.registry.connectionString('robotic-arm-001', hub.hostName).replace(/SharedAccessKey=.*/, `SharedAccessKey=${Buffer.alloc(32, 7).toString('base64')}`);
    await expect(connect(wrongKey)).rejects.toThrow();
    await expect(connect(`HostName=${hub.hostName};DeviceId=ghost-007;SharedAccessKey=${Buffer.alloc(32, 1).toString('base64')}`)).rejects.toThrow();
    const expired = makeSas(`${hub.hostName}/devices/robotic-arm-001`, hub.registry.get('robotic-arm-001')!.primaryKey, Math.floor(Date.now() / 1000) - 60);
    const client = DeviceClient.fromSharedAccessSignature(expired, Mqtt);
    client.setRetryPolicy(new NoRetry());
    await client.setOptions({ ca: hub.caPem });
    await expect(client.open()).rejects.toThrow();
    expect(hub.stats.refusedConnections.badToken).toBe(before.badToken + 1);
    expect(hub.stats.refusedConnections.unknownDevice).toBe(before.unknownDevice + 1);
    expect(hub.stats.refusedConnections.expiredToken).toBe(before.expiredToken + 1);
  });

  it('a user name for another device, or no password at all, and counts them as bad tokens', async () => {
    const [host, port] = hub.hostName.split(':');
    const password = makeSas(`${hub.hostName}/devices/robotic-arm-001`, hub.registry.get('robotic-arm-001')!.primaryKey, Math.floor(Date.now() / 1000) + 600);
    const attempt = (username: string, pass: string | undefined) =>
      new Promise<string>((resolve) => {
        const client = mqtt.connect({ protocol: 'mqtts', host, port: Number(port), ca: hub.caPem, clientId: 'robotic-arm-001', username, ...(pass === undefined ? {} : { password: pass }), reconnectPeriod: 0, protocolVersion: 4 });
        client.once('connect', () => (client.end(true), resolve('connected')));
        client.once('error', (e) => (client.end(true), resolve(`refused: ${e.message}`)));
      });
    const before = hub.stats.refusedConnections.badToken;
    expect(await attempt(`${hub.hostName}/conveyor-001/?api-version=2021-04-12`, password)).toMatch(/^refused/);
    expect(await attempt(`${hub.hostName}/robotic-arm-001/?api-version=2021-04-12`, undefined)).toMatch(/^refused/);
    expect(await attempt(`robotic-arm-001/?api-version=2021-04-12`, password)).toMatch(/^refused/);
    expect(hub.stats.refusedConnections.badToken).toBe(before + 3);
    expect(await attempt(`${hub.hostName}/robotic-arm-001/?api-version=2021-04-12`, password)).toBe('connected');
  });

  it("a subscription to another device's topics (closing the connection, as IoT Hub does), and grants the device its own", async () => {
    const grant = (client: Awaited<ReturnType<typeof rawDevice>>, topic: string) => new Promise<number>((resolve, reject) => client.subscribe(topic, { qos: 1 }, (e, granted) => (e ? reject(e) : resolve(granted![0]!.qos))));
    for (const topic of ['devices/conveyor-001/messages/devicebound/#', '#', 'devices/+/messages/devicebound/#']) {
      const arm = await rawDevice('robotic-arm-001');
      const closed = new Promise<void>((resolve) => arm.once('close', () => resolve()));
      await expect(grant(arm, topic), topic).rejects.toThrow();
      await closed;
      arm.end(true);
    }
    const arm = await rawDevice('robotic-arm-001');
    expect(await grant(arm, 'devices/robotic-arm-001/messages/devicebound/#')).toBe(1);
    expect(await grant(arm, '$iothub/methods/POST/#')).toBe(1);
    expect(await grant(arm, '$iothub/twin/res/#')).toBe(1);
    arm.end(true);
  });

  it('nothing at the message size limit: a message of exactly the limit is stored', async () => {
    hub.registry.add('edge-sender');
    const arm = await rawDevice('edge-sender');
    const body = Buffer.alloc(64 * 1024, 0x61);
    await new Promise<void>((resolve, reject) => arm.publish('devices/edge-sender/messages/events/', body, { qos: 1 }, (e) => (e ? reject(e) : resolve())));
    await until('the event to be stored', () => telemetryEvents().some((e) => e.partitionKey === 'edge-sender'));
    expect(telemetryEvents().find((e) => e.partitionKey === 'edge-sender')!.body.length).toBe(64 * 1024);
    arm.end(true);
  });

  it('an oversized message, which is not stored, while the device can reconnect and go on', async () => {
    hub.registry.add('big-sender');
    const cs = hub.registry.connectionString('big-sender', hub.hostName);
    const client = await connect(cs);
    await expect(client.sendEvent(new Message('x'.repeat(70 * 1024)))).rejects.toThrow();
    expect(hub.stats.refusedMessages.tooLarge).toBe(1);
    await client.close().catch(() => undefined);
    const again = await connect(cs);
    await again.sendEvent(new Message(JSON.stringify({ ok: true })));
    expect(telemetryEvents().filter((e) => e.partitionKey === 'big-sender').map((e) => e.body.toString())).toEqual(['{"ok":true}']);
  });

  it('a CONNECT declaring 200 MiB, cut off at its header before any of it is buffered', async () => {
    const { connect: tlsConnect } = await import('node:tls');
    const [host, port] = hub.hostName.split(':');
    const before = hub.stats.refusedMessages.tooLarge;
    const rss = process.memoryUsage().rss;
    const socket = tlsConnect({ host, port: Number(port), ca: hub.caPem, servername: 'localhost' });
    await new Promise<void>((resolve) => socket.once('secureConnect', () => resolve()));
    // Fixed header: CONNECT, remaining length 268,435,455 (the largest MQTT can say); then a stream of body.
    socket.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]));
    let sent = 0;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    const chunk = Buffer.alloc(1024 * 1024);
    const pump = setInterval(() => {
      if (!socket.destroyed && sent < 64 * chunk.length) {
        socket.write(chunk);
        sent += chunk.length;
      }
    }, 5);
    await closed;
    clearInterval(pump);
    expect(hub.stats.refusedMessages.tooLarge).toBe(before + 1);
    expect(process.memoryUsage().rss - rss).toBeLessThan(48 * 2 ** 20);
  });

  it('a packet over the message limit after CONNECT: the connection is closed, the device can come back', async () => {
    hub.registry.add('huge-publisher');
    const before = hub.stats.refusedMessages.tooLarge;
    const client = await rawDevice('huge-publisher');
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish('devices/huge-publisher/messages/events/', Buffer.alloc(1024 * 1024, 1));
    await closed;
    client.end(true);
    expect(hub.stats.refusedMessages.tooLarge).toBe(before + 1);
    const again = await rawDevice('huge-publisher');
    again.end(true);
  });

  it('a device deleted or disabled by another process editing the registry (the iothub CLI): it is disconnected and cannot come back', async () => {
    hub.registry.add('leaver');
    hub.registry.add('sleeper');
    const leaver = await connect(hub.registry.connectionString('leaver', hub.hostName));
    const sleeper = await connect(hub.registry.connectionString('sleeper', hub.hostName));
    const cli = new DeviceRegistry(join(dir, 'hub', 'registry.json'));
    cli.remove('leaver');
    cli.setStatus('sleeper', 'disabled');
    await until('both to be disconnected', () => !hub.isConnected('leaver') && !hub.isConnected('sleeper'), { timeoutMs: 5_000 });
    await expect(leaver.sendEvent(new Message('{"late":true}'))).rejects.toThrow();
    await expect(connect(hub.registry.connectionString('sleeper', hub.hostName))).rejects.toThrow();
    expect(telemetryEvents().filter((e) => e.partitionKey === 'leaver' || e.partitionKey === 'sleeper')).toEqual([]);
    await sleeper.close().catch(() => undefined);
  });

  it('service calls without a valid service token', async () => {
    const forged = `HostName=${hub.hostName};SharedAccessKeyName=iothubowner;SharedAccessKey=${Buffer.alloc(32, 9).toString('base64')}`;
    await expect(new IotHubDirectMethods({ connectionString: forged, caPem: hub.caPem }).invoke('conveyor-001', 'emergencyStop', {}, 5)).rejects.toMatchObject({ code: 'iothub.unauthorized' });
  });
});

describe('route conditions', () => {
  const message = { deviceId: 'arm-1', properties: { alert: 'true', level: '3' }, systemProperties: { 'content-type': 'application/json' } };
  it.each([
    ['true', true],
    ['false', false],
    ["alert = 'true'", true],
    ["alert = 'true' AND level > 2", true],
    ["$connectionDeviceId = 'arm-2' OR level >= 3", true],
    ["NOT ($contentType = 'application/json')", false],
    ["missing = 'x'", undefined],
    ["constructor != 'x'", undefined],
    ["toString = 'x' OR alert = 'true'", true],
  ])('%s', (condition, expected) => {
    expect(compileCondition(condition)(message)).toBe(expected);
  });
  it('refuses body queries and broken conditions', () => {
    expect(() => compileCondition('$body.temperature > 50')).toThrow(/body queries/);
    expect(() => compileCondition("alert = ")).toThrow(/unexpected end/);
  });
});
