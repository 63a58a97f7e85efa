/**
 * Fuzzing the servers and parsers a client or device can reach, with fast-check (fixed seeds,
 * bounded runs, so a failure reproduces and the suite's time is known). Invariants, whatever the
 * input: no crash, no 5xx for a client's error, no property appears on Object.prototype, the
 * server still answers a good request afterwards, and every good reading is stored exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { propertyRuns } from '../support/property-runs.ts';
import { Agent, request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { connect as netConnect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import mqtt from 'mqtt';
import { startAdtEmulator, type AdtEmulator } from '../../src/emulators/adt/server.ts';
import { startIotHub, type IotHub } from '../../src/emulators/iothub/server.ts';
import { EventLog } from '../../src/emulators/event-log/event-log.ts';
import { makeSas } from '../../src/emulators/sas.ts';
import rhea from 'rhea';
import { EventHubProducerClient } from '@azure/event-hubs';
import { DEVELOPMENT_KEY, DEVELOPMENT_POLICY, startEventHubs, type EventHubsEndpoint } from '../../src/emulators/event-hubs/server.ts';
import { readModelDocuments } from '../../src/lib/dtdl/index.ts';
import { startHttpHost, type HttpHost } from '../../src/local/http-host.ts';
import { createTwinApi } from '../../src/lib/http/twin-api.ts';
import { createPlantApi } from '../../src/lib/http/plant-api.ts';
import { DuckDbTelemetryStore } from '../../src/lib/store/duckdb-telemetry-store.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { scoreCsv } from '../../src/lib/anomaly/score-csv.ts';
import type { Services } from '../../src/lib/composition.ts';
import { InMemoryTwins } from '../support/in-memory-twins.ts';
import { harness } from '../support/pipeline-harness.ts';
import { ARM, LINE } from '../support/plant.ts';

const RUNS = { ...propertyRuns(20261201, 150), endOnFailure: true } as const;
const prototypeIsClean = () => {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(PROTOTYPE_NAMES);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
};
const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype).sort();

/** Sends raw bytes to a local TCP port and waits for the server to close (or 500 ms). */
const blastTcp = (port: number, bytes: Uint8Array) =>
  new Promise<void>((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => socket.end(bytes));
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    socket.setTimeout(500, () => socket.destroy());
    socket.resume();
  });

/** Names that have broken lookups before, mixed with ordinary ones. */
const dangerousKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'polluted', 'toString', 'hasOwnProperty', '$metadata', '$dtId', 'temperature', 'status', '', '~0', '~1', 'x.json');
const anyKey = fc.oneof(dangerousKey, fc.string({ maxLength: 12 }));
const jsonish = fc.jsonValue({ maxDepth: 3 });

describe('the Digital Twins emulator, fuzzed over HTTPS', () => {
  let adt: AdtEmulator;
  let agent: Agent;
  const call = (method: string, path: string, body: string, headers: Record<string, string> = {}) =>
    new Promise<number>((resolve, reject) => {
      const { hostname, port } = new URL(adt.url);
      const req = httpsRequest({ hostname, port, method, path, agent, headers: { authorization: 'Bearer dev', 'content-type': 'application/json', ...headers } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end(body);
    });

  beforeAll(async () => {
    adt = await startAdtEmulator({ memory: true });
    agent = new Agent({ ca: adt.caPem, keepAlive: true, maxSockets: 4 });
    expect(await call('POST', '/models?api-version=2023-10-31', JSON.stringify(readModelDocuments()))).toBe(201);
    expect(await call('PUT', '/digitaltwins/arm-1?api-version=2023-10-31', JSON.stringify({ $metadata: { $model: ARM }, temperature: 60, status: 'running' }))).toBe(200);
  }, 60_000);
  afterAll(async () => {
    agent?.destroy();
    await adt?.close();
  });

  it('JSON Patch documents: a 4xx or a 2xx, never a 5xx, never a prototype property', async () => {
    const segment = fc.oneof(dangerousKey, fc.string({ maxLength: 6 }));
    const op = fc.record({
      op: fc.constantFrom('add', 'remove', 'replace', 'move', 'copy', 'test', 'nope'),
      path: fc.oneof(fc.array(segment, { minLength: 0, maxLength: 4 }).map((s) => `/${s.join('/')}`), fc.string({ maxLength: 10 })),
      value: jsonish,
      from: fc.option(fc.array(segment, { maxLength: 3 }).map((s) => `/${s.join('/')}`), { nil: undefined }),
    });
    const body = fc.oneof(fc.array(op, { maxLength: 4 }).map((ops) => JSON.stringify(ops)), jsonish.map((v) => JSON.stringify(v)), fc.string({ maxLength: 40 }));
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const status = await call('PATCH', '/digitaltwins/arm-1?api-version=2023-10-31', b, { 'content-type': 'application/json-patch+json' });
        expect(status).toBeLessThan(500);
        prototypeIsClean();
      }),
      RUNS,
    );
    expect(await call('GET', '/digitaltwins/arm-1?api-version=2023-10-31', '')).toBe(200);
  }, 120_000);

  it('queries: odd text and deep nesting are a 400, never a 5xx', async () => {
    const fragment = fc.constantFrom('SELECT', '*', 'FROM', 'DIGITALTWINS', 'T', 'WHERE', 'T.temperature', '>', '80', 'AND', 'OR', 'NOT', '(', ')', "'x'", 'JOIN', 'RELATED', 'MATCH', '-[r]->', 'TOP(2)', 'COUNT()', ',', '.', 'IS_OF_MODEL(', "'dtmi:x;1'", 'STARTSWITH(', '$dtId', '[', ']', '"', '\\');
    const query = fc.oneof(
      fc.array(fragment, { maxLength: 14 }).map((f) => f.join(' ')),
      fc.string({ maxLength: 60 }),
      fc.integer({ min: 1, max: 5000 }).map((n) => `SELECT * FROM DIGITALTWINS WHERE ${'('.repeat(n)}1 = 1${')'.repeat(n)}`),
    );
    await fc.assert(
      fc.asyncProperty(query, jsonish, async (q, extra) => {
        expect(await call('POST', '/query?api-version=2023-10-31', JSON.stringify({ query: q }))).toBeLessThan(500);
        expect(await call('POST', '/query?api-version=2023-10-31', JSON.stringify(extra))).toBeLessThan(500);
      }),
      RUNS,
    );
  }, 120_000);

  it('twin bodies and headers: never a 5xx, never a prototype property', async () => {
    const twin = fc.dictionary(anyKey, jsonish, { maxKeys: 5 }).map((d) => JSON.stringify({ ...d, $metadata: { $model: ARM } }));
    const header = fc.string({ maxLength: 30 }).filter((h) => !/[\r\n\0]/.test(h) && /^[\x20-\x7e]*$/.test(h));
    await fc.assert(
      fc.asyncProperty(twin, fc.string({ maxLength: 20 }), header, async (body, id, auth) => {
        expect(await call('PUT', `/digitaltwins/${encodeURIComponent(id || 'x')}?api-version=2023-10-31`, body)).toBeLessThan(500);
        expect(await call('GET', '/digitaltwins/arm-1?api-version=2023-10-31', '', { authorization: auth })).toBeLessThan(500);
        prototypeIsClean();
      }),
      RUNS,
    );
  }, 120_000);
});

describe('the telemetry pipeline, fuzzed with device bodies', () => {
  it('stores every good reading exactly once, dead-letters the rest, and never throws', async () => {
    const h = harness();
    h.twins.add('robotic-arm-001', ARM);
    // Every row as written (the store itself is keyed, as Data Explorer's dedup views read).
    const written: { DeviceId: string; Readings: unknown }[] = [];
    const write = h.store.write.bind(h.store);
    h.store.write = async (b) => {
      await write(b);
      written.push(...b.telemetry);
    };
    let clock = Date.parse('2026-12-01T10:00:00Z');
    let goodSent = 0;
    const bad = fc.oneof(
      jsonish.map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 40 }),
      fc.dictionary(anyKey, jsonish, { maxKeys: 5 }).map((d) => JSON.stringify(d)),
      fc.record({ timestamp: fc.constantFrom('2024-02-30T10:00:00Z', 'yesterday', '9999-01-01T00:00:00Z', ''), temperature: fc.double() }).map((r) => JSON.stringify(r)),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(bad, { maxLength: 6 }), fc.integer({ min: 1, max: 4 }), async (bads, goods) => {
        const messages = bads.map((body, i) => ({ device: i % 2 ? 'robotic-arm-001' : 'ghost-device', body }));
        for (let g = 0; g < goods; g++) {
          clock += 1000;
          goodSent++;
          messages.push({ device: 'robotic-arm-001', body: JSON.stringify({ timestamp: new Date(clock).toISOString(), temperature: 60 + g, vibration: 0.3, pressure: 6, cycleCount: goodSent, status: 'running' }) });
        }
        await h.send(messages);
        prototypeIsClean();
      }),
      RUNS,
    );
    const stored = written.filter((r) => r.DeviceId === 'robotic-arm-001' && typeof (r.Readings as Record<string, unknown>).cycleCount === 'number');
    const cycleCounts = stored.map((r) => (r.Readings as Record<string, unknown>).cycleCount as number);
    expect(new Set(cycleCounts).size).toBe(cycleCounts.length); // no reading twice
    for (let n = 1; n <= goodSent; n++) expect(cycleCounts).toContain(n); // none lost
  }, 120_000);
});

describe('the HTTP API of the local host, fuzzed', () => {
  let host: HttpHost;
  let store: DuckDbTelemetryStore;
  beforeAll(async () => {
    const twins = new InMemoryTwins();
    twins.add('factory-01', 'dtmi:manufacturing:Factory;1');
    twins.add('line-a', LINE);
    twins.add('robotic-arm-001', ARM, { temperature: 60 });
    store = await DuckDbTelemetryStore.open(':memory:');
    const services = {
      twinApi: createTwinApi({ twins, logger: silentLogger, maxBodyBytes: 4096, version: 'fuzz' }),
      plantApi: createPlantApi({ twins, store, logger: silentLogger, maxBodyBytes: 4096, maxPageSize: 100, warningThreshold: 0.5, measuredOf: () => ['temperature'] }),
      logger: silentLogger,
      config: { API_MAX_BODY_BYTES: 4096 },
    } as unknown as Services;
    host = await startHttpHost({ services: () => services, port: 0, apiKey: 'fuzz-key' });
  }, 60_000);
  afterAll(async () => {
    await host?.close();
    await store?.close();
  });

  const send = (method: string, path: string, body: string, headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      // A fresh connection per request: a reused keep-alive socket the server has just closed is the client's race, not the server's answer.
      const req = httpRequest({ host: '127.0.0.1', port: host.port, method, path, headers, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('answers every request, good key or bad, with no 5xx and no prototype property', async () => {
    const route = fc.constantFrom('/api/twins/query', '/api/twins/robotic-arm-001', '/api/twins/%2e%2e', '/api/twins/x/relationships', '/api/plant', '/api/equipment/robotic-arm-001/history', '/api/alerts', '/api/alarms/performance', '/api/alerts/a-1/ack', '/api/equipment/robotic-arm-001/shelve', '/api/lines/production-line-a/status', '/api/lines/robotic-arm-001/status', '/api/models', '/api/telemetry/kept', '/api/telemetry/kept/redeliver', '/api/telemetry/dead-letters', '/api/telemetry/dead-letters/readmit', '/api/health', '/api/openapi.json', '/api/dashboard/app.js', '/x.json', '/__proto__', '//', '/local/status', '/local/teams-webhook/outage');
    const query = fc.dictionary(fc.oneof(dangerousKey, fc.constantFrom('from', 'to', 'limit', 'since', 'top', 'code', 'line')), fc.oneof(fc.string({ maxLength: 12 }), fc.integer().map(String)), { maxKeys: 3 });
    const headerValue = fc.string({ maxLength: 20 }).filter((v) => /^[\x20-\x7e]*$/.test(v));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'), route, query, jsonish, headerValue, fc.boolean(), async (method, path, q, body, contentType, keyed) => {
        const search = new URLSearchParams(Object.entries(q)).toString();
        const headers: Record<string, string> = { 'content-type': contentType || 'application/json', host: '127.0.0.1' };
        if (keyed) headers['x-functions-key'] = 'fuzz-key';
        const status = await send(method, `${path}${search ? `?${search}` : ''}`, JSON.stringify(body) ?? '', headers);
        // 503 only for a far end that is down; nothing here is down.
        expect(status, `${method} ${path}?${search}`).toBeLessThan(500);
        prototypeIsClean();
      }),
      RUNS,
    );
  }, 120_000);
});

describe('the local IoT Hub, fuzzed with raw MQTT bytes', () => {
  let dir: string;
  let log: EventLog;
  let hub: IotHub;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fuzz-hub-'));
    log = EventLog.open(join(dir, 'log'), { partitions: 2 });
    hub = await startIotHub({ memory: true, port: 0, mqttPort: 0, endpoints: { events: log } });
    hub.registry.add('fuzz-device', {});
  }, 60_000);
  afterAll(async () => {
    await hub?.close();
    log?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const blast = (bytes: Uint8Array) => blastTcp(hub.mqttPort!, bytes);
  /** An MQTT connection as the registered device, with a valid SAS token. */
  const signedIn = () =>
    mqtt.connect(`mqtt://127.0.0.1:${hub.mqttPort}`, {
      clientId: 'fuzz-device',
      username: `${hub.hostName}/fuzz-device/?api-version=2021-04-12`,
      password: makeSas(`${hub.hostName}/devices/fuzz-device`, hub.registry.get('fuzz-device')!.primaryKey, Math.floor(Date.now() / 1000) + 600),
      protocolVersion: 4,
      reconnectPeriod: 0,
    });

  it('survives arbitrary packets (CONNECT-shaped and not), then still serves a real device', async () => {
    const connectLike = fc.uint8Array({ maxLength: 80 }).map((b) => Uint8Array.from([0x10, ...b]));
    await fc.assert(fc.asyncProperty(fc.oneof(connectLike, fc.uint8Array({ minLength: 1, maxLength: 80 })), async (bytes) => blast(bytes)), { ...RUNS, numRuns: 200 });
    const client = signedIn();
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    client.end(true);
  }, 120_000);

  it('takes whatever a signed-in device publishes (odd topics, property bags, payloads) with a store or a refusal, never a failure, and keeps what it stores as sent', async () => {
    /** One connection per message: a refused publish closes it, as IoT Hub does. Resolves whether the hub acknowledged it. */
    const publish = (topic: string, body: string | Buffer, qos: 0 | 1) =>
      new Promise<boolean>((resolve) => {
        const client = signedIn();
        const finish = (acked: boolean) => {
          clearTimeout(timer);
          client.end(true);
          resolve(acked);
        };
        const timer = setTimeout(() => finish(false), 1000);
        client.once('error', () => undefined);
        client.once('close', () => finish(false));
        client.once('connect', () =>
          client.publish(topic, body, { qos }, (error) => {
            if (qos === 1) finish(!error);
            else setTimeout(() => finish(false), 20);
          }),
        );
      });
    const piece = fc.oneof(fc.constantFrom('$.mid', '$.ct', '$.ce', '$.ctime', '$.uid', '$.cid', 'iothub-creation-time-utc', '__proto__', 'constructor', 'toString', '%', '%E0%A4%A', '&', '=', ''), fc.string({ maxLength: 10 }));
    const bag = fc.array(fc.tuple(piece, piece, fc.boolean()), { maxLength: 4 }).map((pairs) => pairs.map(([k, v, raw]) => (raw ? `${k}=${v}` : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join('&'));
    const topic = fc.oneof(
      { weight: 4, arbitrary: bag.map((b) => `devices/fuzz-device/messages/events/${b}`) },
      fc.constantFrom('devices/other-device/messages/events/', '$iothub/methods/res/200/?$rid=1', '$iothub/methods/res/x/?$rid=', '$iothub/twin/PATCH/properties/reported/?$rid=1', 'devices/fuzz-device/messages/devicebound/'),
      fc.string({ minLength: 1, maxLength: 30 }),
    );
    const payload = fc.oneof(fc.json({ maxDepth: 2 }), fc.string({ maxLength: 60 }), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)));
    const before = log.partitionIds.reduce((n, p) => n + log.bounds(p).next, 0);
    let acknowledged = 0;
    await fc.assert(
      fc.asyncProperty(topic, payload, fc.constantFrom<0 | 1>(0, 1), async (t, body, qos) => {
        if (await publish(t, body, qos)) acknowledged++;
        prototypeIsClean();
      }),
      { ...RUNS, numRuns: 120 },
    );
    // Every acknowledged message is in the log (QoS 0 ones may be too), each with plain objects of properties.
    const records = log.partitionIds.flatMap((p) => log.read(p, 0, 100_000));
    expect(acknowledged).toBeGreaterThan(0);
    expect(records.length - before).toBeGreaterThanOrEqual(acknowledged);
    for (const r of records) {
      expect(Object.getPrototypeOf(r.properties)).toBe(Object.prototype);
      expect(r.systemProperties['iothub-connection-device-id']).toBe('fuzz-device');
      expect(Object.keys(r.systemProperties).filter((k) => k.includes('[native code]') || k.startsWith('[object'))).toEqual([]);
    }
    // Still the hub it was: a real device connects.
    expect(await publish('devices/fuzz-device/messages/events/after=fuzz', '{"ok":true}', 1)).toBe(true);
  }, 180_000);
});

describe('the Event Hubs endpoint, fuzzed with raw bytes and odd AMQP requests', () => {
  let dir: string;
  let log: EventLog;
  let endpoint: EventHubsEndpoint;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fuzz-eh-'));
    log = EventLog.open(join(dir, 'log'), { partitions: 2 });
    endpoint = await startEventHubs({ eventLog: log, hubName: 'telemetry', port: 0, log: (m) => said.push(m) });
    for (let i = 0; i < 5; i++) await log.append({ partitionKey: 'fuzz', partitionId: '1', body: Buffer.from(`{"n":${i}}`) });
  }, 60_000);
  /** What the endpoint said: refusals, never a failure of its own. */
  const said: string[] = [];
  afterAll(async () => {
    await endpoint?.close();
    log?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const blast = (bytes: Uint8Array) => blastTcp(endpoint.port, bytes);

  /** Opens an AMQP connection with rhea, runs `use`, and closes it; resolves whatever the server does. */
  const session = (use: (connection: rhea.Connection) => void, ms = 150) =>
    new Promise<void>((resolve) => {
      const container = rhea.create_container();
      const connection = container.connect({ host: '127.0.0.1', port: endpoint.port, reconnect: false });
      connection.on('connection_open', () => use(connection));
      connection.on('error', () => {});
      connection.on('disconnected', () => resolve());
      setTimeout(() => {
        connection.close();
        setTimeout(resolve, 20);
      }, ms);
    });

  it('survives arbitrary bytes, AMQP- and SASL-headed or not', async () => {
    const headed = fc.tuple(fc.constantFrom([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0], [0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]), fc.uint8Array({ maxLength: 120 })).map(([h, b]) => Uint8Array.from([...h, ...b]));
    await fc.assert(fc.asyncProperty(fc.oneof(headed, fc.uint8Array({ minLength: 1, maxLength: 120 })), async (bytes) => blast(bytes)), { ...RUNS, numRuns: 200 });
  }, 120_000);

  it('answers a consumer that holds a valid token, whatever position, owner level and address it asks for, with events or a clear refusal', async () => {
    // A token as the SDK makes one: Service Bus signs with the key's text as its bytes.
    const token = () => makeSas(`sb://127.0.0.1:${endpoint.port}/telemetry`, Buffer.from(DEVELOPMENT_KEY).toString('base64'), Math.floor(Date.now() / 1000) + 600, DEVELOPMENT_POLICY);
    // Numbers of every kind, most of them near the partition's few events (sequence numbers 0-4).
    const number = fc.oneof(
      { weight: 3, arbitrary: fc.integer({ min: -20, max: 80 }).map((n) => n / 10) },
      { weight: 2, arbitrary: fc.integer({ min: -3, max: 8 }) },
      fc.double(),
      fc.constantFrom('1e3', '0x10', '', ' ', '-0', '9007199254740993', '@latest', 'NaN', 'Infinity', '-1'),
    );
    const filter = fc.oneof(
      { weight: 4, arbitrary: fc.tuple(fc.constantFrom('offset', 'sequence-number', 'enqueued-time'), fc.constantFrom('>', '>='), number, fc.boolean()).map(([field, op, n, quoted]) => `amqp.annotation.x-opt-${field} ${op} ${quoted ? `'${String(n)}'` : String(n)}`) },
      fc.string({ maxLength: 40 }),
    );
    const attach = fc.record({
      address: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('telemetry/ConsumerGroups/$Default/Partitions/1', 'telemetry/ConsumerGroups/$default/Partitions/1', 'telemetry/ConsumerGroups/$Default/Partitions/0', 'telemetry/ConsumerGroups/$Default/Partitions/01', 'telemetry/ConsumerGroups/$Default/Partitions/-1') }, fc.string({ maxLength: 30 })),
      filter,
      epoch: fc.option(fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constantFrom(2 ** 40, -(2 ** 40)))),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(attach, { minLength: 1, maxLength: 3 }), async (attaches) =>
        session((connection) => {
          connection.open_receiver({ source: { address: '$cbs' }, target: { address: 'cbs-reply' } }).once('message', () => {
            for (const { address, filter: f, epoch } of attaches) {
              connection.open_receiver({ source: { address, filter: { 'apache.org:selector-filter:string': rhea.types.wrap_described(f, 0x468c00000004) } }, ...(epoch === null ? {} : { properties: { 'com.microsoft:epoch': rhea.types.wrap_long(epoch) } }) });
            }
          });
          const cbs = connection.open_sender({ target: { address: '$cbs' } });
          cbs.once('sendable', () => cbs.send({ message_id: 'put', reply_to: 'cbs-reply', application_properties: { operation: 'put-token', type: 'servicebus.windows.net:sastoken', name: `sb://127.0.0.1:${endpoint.port}/telemetry` }, body: token() }));
        }, 250),
      ),
      { ...propertyRuns(8008, 60), interruptAfterTimeLimit: 90_000 },
    );
    expect(endpoint.stats.refusedTokens).toBe(0);
    // Refusals ("refused link …: sequence number '2.5' is not a whole number"), never a failure inside the endpoint.
    expect(said.filter((m) => !/refused link|no reply link/.test(m))).toEqual([]);
    expect(endpoint.stats.eventsDelivered).toBeGreaterThan(0);
  }, 180_000);

  it('answers odd put-tokens, management requests, addresses and filters with refusals, never a crash', async () => {
    const value = fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.boolean(), fc.constant(null), dangerousKey);
    const request = fc.record({
      node: fc.constantFrom('$cbs', '$management'),
      properties: fc.dictionary(fc.oneof(fc.constantFrom('operation', 'name', 'type', 'partition', 'security_token'), anyKey), value, { maxKeys: 6 }),
      body: fc.oneof(fc.string({ maxLength: 60 }), fc.constant(undefined), fc.jsonValue({ maxDepth: 2 })),
      replyTo: fc.oneof(fc.constant('reply'), fc.string({ maxLength: 8 })),
    });
    const attach = fc.record({
      address: fc.oneof(fc.constantFrom('telemetry', 'telemetry/Partitions/0', 'telemetry/ConsumerGroups/$Default/Partitions/1', 'telemetry/Partitions/9', 'other', '/telemetry/ConsumerGroups/x/Partitions/0'), fc.string({ maxLength: 40 })),
      filter: fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom("amqp.annotation.x-opt-offset > '-1'", 'amqp.annotation.x-opt-sequence-number >= 99999999999', "amqp.annotation.x-opt-enqueued-time > 'x'", 'amqp.annotation.x-opt-offset > @latest')),
      epoch: fc.option(fc.integer({ min: -5, max: 5 })),
      receiving: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.oneof(request.map((r) => ({ kind: 'request' as const, r })), attach.map((a) => ({ kind: 'attach' as const, a }))), async (input) =>
        session((connection) => {
          if (input.kind === 'request') {
            const { node, properties, body, replyTo } = input.r;
            connection.open_receiver({ source: { address: node }, target: { address: replyTo } });
            const sender = connection.open_sender({ target: { address: node } });
            sender.once('sendable', () => sender.send({ message_id: 'fuzz', reply_to: replyTo, application_properties: properties as Record<string, string>, body }));
          } else {
            const { address, filter, epoch, receiving } = input.a;
            if (receiving) connection.open_receiver({ source: { address, filter: { 'apache.org:selector-filter:string': rhea.types.wrap_described(filter, 0x468c00000004) } }, ...(epoch === null ? {} : { properties: { 'com.microsoft:epoch': rhea.types.wrap_long(epoch) } }) });
            else {
              const sender = connection.open_sender({ target: { address } });
              sender.once('sendable', () => sender.send({ body: rhea.message.data_section(Buffer.from(filter)) }));
            }
          }
        }),
      ),
      { ...RUNS, numRuns: 120 },
    );
    prototypeIsClean();
    // Still the service it was: the SDK reads the hub and sends to it.
    const producer = new EventHubProducerClient(endpoint.connectionString(), { retryOptions: { maxRetries: 0, timeoutInMs: 5000 } });
    expect((await producer.getEventHubProperties()).partitionIds).toEqual(['0', '1']);
    const before = log.bounds('0').next;
    await producer.sendBatch([{ body: { after: 'fuzz' } }], { partitionId: '0' });
    await producer.close();
    expect(log.bounds('0').next).toBe(before + 1);
    // Nothing the fuzzer sent without a token was written.
    expect(endpoint.stats.eventsReceived).toBe(1);
  }, 180_000);
});

describe('npm run score, fuzzed with CSV files', () => {
  it('scores or refuses with a clear error; never crashes, never writes onto a prototype', async () => {
    const header = fc.array(fc.oneof(fc.constantFrom('timestamp', 'datetime', 'time', 'value', 'constructor', '__proto__', 'prototype', 'toString', ''), fc.stringMatching(/^[a-z]{1,6}$/)), { minLength: 1, maxLength: 4 });
    const cell = fc.oneof(fc.double().map(String), fc.constantFrom('', 'NaN', 'x', '2024-02-30 10:00:00', '2026-12-01 10:00:00', '2026-12-01T10:00', '1e999', '0,25', '-1,5', ',5', '1,2,3', '"a;b"'), fc.integer().map(String));
    // Any of the delimiters it recognises, decimal commas among the cells; sometimes a column left out by name.
    const csv = fc.tuple(header, fc.constantFrom(',', ';', '\t', '|')).chain(([h, d]) =>
      fc.tuple(fc.array(fc.array(cell, { minLength: h.length, maxLength: h.length }), { maxLength: 30 }), fc.option(fc.constantFrom(...h, 'missing'))).map(([rows, ignore]) => ({ text: [h.join(d), ...rows.map((r) => r.join(d))].join('\n'), ignore })),
    );
    await fc.assert(
      fc.asyncProperty(csv, async ({ text, ignore }) => {
        const sink = new Writable({ write(_c, _e, done) { done(); } });
        try {
          await scoreCsv(Readable.from([text]), sink, ignore === null ? {} : { ignore: [ignore] });
        } catch (error) {
          expect(error).toBeInstanceOf(Error);
          expect((error as Error).message.length).toBeGreaterThan(0);
        }
        prototypeIsClean();
      }),
      RUNS,
    );
  }, 120_000);
});
