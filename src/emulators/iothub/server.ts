/**
 * A local IoT Hub: devices connect with azure-iot-device over MQTT 3.1.1 (TLS, or plain TCP),
 * authenticated by SAS tokens signed with their registry keys; telemetry is routed into event
 * log endpoints before the PUBACK, so an acknowledged message is never lost; azure-iothub's
 * service calls (direct methods, the device registry) are answered over HTTPS. Like IoT Hub, one
 * host name serves both: the TLS port tells MQTT from HTTP by the first byte.
 *
 *   const hub = await startIotHub({ endpoints: { events: eventLog } });
 *   hub.registry.add('arm-1'); hub.registry.connectionString('arm-1', hub.hostName);
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import { ensureTlsMaterial, makeTlsMaterial } from '../local-tls.ts';
import { guardPackets } from './packet-guard.ts';
import { DeviceRegistry, RegistryError, type DeviceIdentity } from './registry.ts';
import { verifySas } from '../sas.ts';
import { compileRoutes, type Route, type RoutedMessage, type RouteSource } from './routing.ts';
import type { EventInput } from '../event-log/event-log.ts';
import { defineOwn, ownValue } from '../../lib/own-properties.ts';

export interface EventSink {
  append(input: EventInput): Promise<unknown>;
}

export interface IotHubOptions {
  /** Registry and certificates (default .data/iothub). */
  dataDir?: string;
  /** Registry in memory, fresh certificates: nothing survives close(). */
  memory?: boolean;
  host?: string;
  /** MQTT over TLS and HTTPS service API (default 8883; 0 picks a free port). */
  port?: number;
  /** Plain-TCP MQTT for tools without TLS (default off; 0 picks a free port). */
  mqttPort?: number;
  /** Where routes write; the route's `endpoint` names one. */
  endpoints: Record<string, EventSink>;
  /** Default: the recipe's route, all device telemetry to `events`. */
  routes?: Route[];
  /** Device-to-cloud message size limit (IoT Hub's is 256 KB). */
  maxMessageBytes?: number;
  log?: (line: string) => void;
}

export interface HubStats {
  connections: number;
  connected: number;
  refusedConnections: { unknownDevice: number; disabledDevice: number; badToken: number; expiredToken: number };
  messagesRouted: number;
  messagesUnrouted: number;
  refusedMessages: { tooLarge: number; notAllowed: number };
  methodsInvoked: number;
}

export interface MethodResult {
  status: number;
  payload: unknown;
}

export interface IotHub {
  /** `localhost:<port>`: the HostName of device and service connection strings. */
  hostName: string;
  port: number;
  mqttPort: number | undefined;
  caPem: string;
  caFile: string | undefined;
  registry: DeviceRegistry;
  stats: HubStats;
  isConnected(deviceId: string): boolean;
  invokeDeviceMethod(deviceId: string, call: { methodName: string; payload?: unknown; responseTimeoutInSeconds?: number }): Promise<MethodResult>;
  close(): Promise<void>;
}

export class HubError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** What IoT Hub reports for a time that never was (a device never connected). */
const NEVER = '0001-01-01T00:00:00Z';
/** The recipe's routes (infra/modules/iothub.bicep): device telemetry, and devices' connection state events, to `events`. */
export const DEFAULT_ROUTES: readonly Route[] = [
  { name: 'telemetry-to-eventhub', endpoint: 'events', condition: 'true' },
  { name: 'connection-state-to-eventhub', source: 'DeviceConnectionStateEvents', endpoint: 'events', condition: 'true' },
];
const PROPERTY_KEYS: Record<string, string> = {
  '$.mid': 'message-id',
  '$.cid': 'correlation-id',
  '$.ct': 'content-type',
  '$.ce': 'content-encoding',
  '$.ctime': 'iothub-creation-time-utc',
  '$.uid': 'user-id',
  // Devices set their own creation time as this application property; IoT Hub lifts it into the system ones.
  'iothub-creation-time-utc': 'iothub-creation-time-utc',
};

function authError(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/** `k=v&k2=v2` after the events topic, URL-encoded keys and values. */
function topicProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!text) return out;
  for (const part of text.split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    try {
      out.set(decodeURIComponent(part.slice(0, eq)), decodeURIComponent(part.slice(eq + 1)));
    } catch {
      // A malformed escape: IoT Hub drops the property, not the message.
    }
  }
  return out;
}

export async function startIotHub(options: IotHubOptions): Promise<IotHub> {
  const dataDir = options.dataDir ?? '.data/iothub';
  const tls = options.memory ? { ...makeTlsMaterial(), caFile: undefined } : ensureTlsMaterial(join(dataDir, 'tls'));
  const registry = new DeviceRegistry(options.memory ? undefined : join(dataDir, 'registry.json'));
  const routes = compileRoutes(options.routes ?? DEFAULT_ROUTES);
  /** The routes on `source` that take the message. */
  const routedTo = (source: RouteSource, message: RoutedMessage) => routes.filter((r) => r.source === source && r.matches(message));
  for (const r of routes) if (!options.endpoints[r.endpoint]) throw new Error(`route ${r.name} writes to endpoint '${r.endpoint}', which is not configured`);
  const maxBytes = options.maxMessageBytes ?? 256 * 1024;
  const log = options.log ?? (() => {});
  let hostName = '';
  const stats: HubStats = {
    connections: 0,
    connected: 0,
    refusedConnections: { unknownDevice: 0, disabledDevice: 0, badToken: 0, expiredToken: 0 },
    messagesRouted: 0,
    messagesUnrouted: 0,
    refusedMessages: { tooLarge: 0, notAllowed: 0 },
    methodsInvoked: 0,
  };
  const clients = new Map<string, Client>();
  const methodSubscribers = new Set<string>();
  const pendingMethods = new Map<string, { deviceId: string; resolve: (r: MethodResult) => void }>();
  /** When each connection's SAS token expires (epoch ms): IoT Hub disconnects it then. */
  const tokenExpiry = new WeakMap<Client, number>();
  let nextRid = 1;

  // Room for the topic (with its property bag) around IoT Hub's message limit; a CONNECT carries
  // only a client id, a user name and a SAS token.
  const packetLimits = { maxConnectBytes: 16 * 1024, maxPacketBytes: maxBytes + 16 * 1024 };
  const broker = await Aedes.createBroker({
    concurrency: 1000,
    authenticate(client, username, password, done) {
      const deviceId = client.id;
      const device = registry.get(deviceId);
      // IoT Hub's CONNACK codes: 4 bad user name or password, 5 not authorized.
      if (!device) {
        stats.refusedConnections.unknownDevice++;
        return done(authError(5, `device '${deviceId}' is not registered`), false);
      }
      if (device.status !== 'enabled') {
        stats.refusedConnections.disabledDevice++;
        return done(authError(5, `device '${deviceId}' is disabled`), false);
      }
      const expectedUser = `${hostName}/${deviceId}/`;
      if (!username?.startsWith(expectedUser)) {
        stats.refusedConnections.badToken++;
        return done(authError(4, `user name must start with ${expectedUser}`), false);
      }
      const check = verifySas(password?.toString('utf8') ?? '', `${hostName}/devices/${deviceId}`, [device.primaryKey, device.secondaryKey], Math.floor(Date.now() / 1000));
      if (!check.ok) {
        if (check.reason === 'expired') stats.refusedConnections.expiredToken++;
        else stats.refusedConnections.badToken++;
        log(`iothub: refused ${deviceId}: ${check.reason}`);
        return done(authError(4, `SAS token refused: ${check.reason}`), false);
      }
      tokenExpiry.set(client, check.expiresAtSeconds * 1000);
      done(null, true);
    },
    authorizeSubscribe(client, sub, done) {
      const t = sub.topic;
      const own = t.startsWith(`devices/${client.id}/`) || t.startsWith('$iothub/methods/POST/') || t.startsWith('$iothub/twin/');
      if (!own) return done(new Error(`subscription to ${t} is not allowed`));
      if (t.startsWith('$iothub/methods/POST/')) methodSubscribers.add(client.id);
      done(null, sub);
    },
    authorizePublish(client, packet, done) {
      if (!client) return done(null);
      const topic = packet.topic;
      const eventsPrefix = `devices/${client.id}/messages/events/`;
      // IoT Hub keeps no retained messages: a device cannot park data in the hub's memory.
      if (packet.retain) packet.retain = false;
      if (topic.startsWith(eventsPrefix)) return void route(client, packet, topic.slice(eventsPrefix.length)).then(() => done(null), (e: Error) => done(e));
      if (topic.startsWith('$iothub/methods/res/')) {
        const m = /^\$iothub\/methods\/res\/(\d+)\/\?\$rid=(.+)$/.exec(topic);
        const pending = m ? pendingMethods.get(m[2]!) : undefined;
        if (pending && pending.deviceId === client.id) {
          pendingMethods.delete(m![2]!);
          const text = packet.payload.toString();
          let payload: unknown = text;
          try {
            payload = text ? JSON.parse(text) : null;
          } catch {
            // A device may answer with plain text.
          }
          pending.resolve({ status: Number(m![1]), payload });
        }
        return done(null);
      }
      stats.refusedMessages.notAllowed++;
      done(new Error(`publishing to ${topic} is not allowed`));
    },
  });

  async function route(client: Client, packet: PublishPacket, propertyText: string): Promise<void> {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    if (payload.length > maxBytes) {
      stats.refusedMessages.tooLarge++;
      log(`iothub: ${client.id} sent ${payload.length} bytes; the limit is ${maxBytes}`);
      throw new Error(`message of ${payload.length} bytes is over the ${maxBytes}-byte limit`);
    }
    // Checked against the registry when it connected and once a second since (registryWatch).
    const device = registry.peek(client.id) as DeviceIdentity;
    const seen = connections.get(client.id);
    if (seen) seen.lastActivity = new Date().toISOString();
    const properties: Record<string, string> = {};
    const systemProperties: Record<string, unknown> = {
      'iothub-connection-device-id': client.id,
      'iothub-connection-auth-method': '{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}',
      'iothub-connection-auth-generation-id': device.generationId,
      'iothub-enqueuedtime': new Date().toISOString(),
      'iothub-message-source': 'Telemetry',
    };
    // The device names its properties: `constructor` or `__proto__` is one like any other.
    for (const [k, v] of topicProperties(propertyText)) {
      const system = ownValue(PROPERTY_KEYS, k);
      if (system) systemProperties[system] = v;
      else if (!k.startsWith('$.')) defineOwn(properties, k, v);
    }
    const message = { deviceId: client.id, properties, systemProperties };
    const targets = routedTo('DeviceMessages', message);
    if (targets.length === 0) {
      stats.messagesUnrouted++;
      return;
    }
    await Promise.all(targets.map((r) => options.endpoints[r.endpoint]!.append({ partitionKey: client.id, body: payload, properties, systemProperties })));
    stats.messagesRouted++;
  }

  /** When each device's connection state last changed and when it was last active (connected or sent), as the registry reports them; in memory, as a restarted hub has seen no one. */
  const connections = new Map<string, { stateUpdated: string; lastActivity: string }>();

  // A device deleted or disabled in the registry — through the service API or by another process
  // editing its file (the iothub CLI) — is disconnected, as IoT Hub does. Looked at once a second,
  // not on every message.
  const registryWatch = setInterval(() => {
    registry.list();
    const now = Date.now();
    for (const [id, client] of clients) {
      if (registry.peek(id)?.status !== 'enabled' || (tokenExpiry.get(client) ?? Infinity) <= now) client.close();
    }
  }, 1000).unref();

  /**
   * IoT Hub's connection state events, as a route on `DeviceConnectionStateEvents` receives them:
   * `opType` and `operationTimestamp` among the application properties, the source among the system
   * ones, and a sequence number in the body that orders a device's events (hexadecimal, growing).
   */
  let sequence = 0n;
  function connectionEvent(deviceId: string, opType: 'deviceConnected' | 'deviceDisconnected'): void {
    const at = new Date();
    sequence = sequence + 1n > BigInt(at.getTime()) * 10_000n ? sequence + 1n : BigInt(at.getTime()) * 10_000n;
    const hubName = hostName.split(/[.:]/)[0] ?? 'localhost';
    const properties: Record<string, string> = { hubName, deviceId, opType, 'iothub-message-schema': 'deviceConnectionStateNotification', operationTimestamp: at.toISOString() };
    const systemProperties: Record<string, unknown> = {
      'iothub-connection-device-id': deviceId,
      'iothub-enqueuedtime': at.toISOString(),
      'iothub-message-source': 'deviceConnectionStateEvents',
      'content-type': 'application/json',
      'content-encoding': 'utf-8',
      'correlation-id': randomUUID(),
      'user-id': hubName,
    };
    const message = { deviceId, properties, systemProperties };
    const body = Buffer.from(JSON.stringify({ sequenceNumber: sequence.toString(16).toUpperCase().padStart(64, '0') }));
    for (const r of routedTo('DeviceConnectionStateEvents', message)) {
      options.endpoints[r.endpoint]!.append({ partitionKey: deviceId, body, properties, systemProperties }).catch((error: Error) => log(`iothub: ${deviceId}'s ${opType} event not routed to ${r.endpoint}: ${error.message}`));
    }
  }

  broker.on('client', (client) => {
    clients.get(client.id)?.close();
    clients.set(client.id, client);
    stats.connected = clients.size;
    const now = new Date().toISOString();
    connections.set(client.id, { stateUpdated: now, lastActivity: now });
    connectionEvent(client.id, 'deviceConnected');
  });
  broker.on('clientDisconnect', (client) => {
    if (clients.get(client.id) === client) {
      clients.delete(client.id);
      methodSubscribers.delete(client.id);
      const seen = connections.get(client.id);
      if (seen) seen.stateUpdated = new Date().toISOString();
      connectionEvent(client.id, 'deviceDisconnected');
    }
    stats.connected = clients.size;
  });

  async function invokeDeviceMethod(deviceId: string, call: { methodName: string; payload?: unknown; responseTimeoutInSeconds?: number }): Promise<MethodResult> {
    registry.require(deviceId);
    const client = clients.get(deviceId);
    if (!client || !methodSubscribers.has(deviceId)) throw new HubError(404, 'DeviceNotOnline', `Device ${deviceId} is not online or not listening for direct methods.`);
    const rid = String(nextRid++);
    const timeoutMs = Math.min(Math.max(call.responseTimeoutInSeconds ?? 30, 5), 300) * 1000;
    stats.methodsInvoked++;
    return new Promise<MethodResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        pendingMethods.delete(rid);
        reject(new HubError(504, 'GatewayTimeout', `Device ${deviceId} did not answer ${call.methodName} within ${timeoutMs / 1000} s.`));
      }, timeoutMs);
      pendingMethods.set(rid, { deviceId, resolve: (r) => (clearTimeout(timer), resolve(r)) });
      client.publish({ cmd: 'publish', topic: `$iothub/methods/POST/${call.methodName}/?$rid=${rid}`, payload: Buffer.from(JSON.stringify(call.payload ?? null)), qos: 0, retain: false, dup: false }, (error) => {
        if (!error) return;
        clearTimeout(timer);
        pendingMethods.delete(rid);
        reject(new HubError(404, 'DeviceNotOnline', `Device ${deviceId} went offline: ${error.message}`));
      });
    });
  }

  // ---- the service API (what azure-iothub calls) -------------------------------------------------
  const deviceJson = (d: DeviceIdentity) => ({
    deviceId: d.deviceId,
    generationId: d.generationId,
    etag: Buffer.from(d.generationId + d.status).toString('base64'),
    connectionState: clients.has(d.deviceId) ? 'Connected' : 'Disconnected',
    status: d.status,
    statusReason: null,
    connectionStateUpdatedTime: connections.get(d.deviceId)?.stateUpdated ?? NEVER,
    statusUpdatedTime: d.createdAt,
    lastActivityTime: connections.get(d.deviceId)?.lastActivity ?? NEVER,
    cloudToDeviceMessageCount: 0,
    authentication: { symmetricKey: { primaryKey: d.primaryKey, secondaryKey: d.secondaryKey }, x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null }, type: 'sas' },
    capabilities: { iotEdge: false },
  });
  const send = (res: ServerResponse, status: number, body?: unknown) => {
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const readJson = async (req: IncomingMessage): Promise<Record<string, any>> => {
    let size = 0;
    const chunks: Buffer[] = [];
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > 128 * 1024) throw new HubError(413, 'MessageTooLarge', 'The request body is over 128 KB.');
      chunks.push(c as Buffer);
    }
    try {
      const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString() || '{}');
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      return parsed as Record<string, any>;
    } catch (error) {
      throw new HubError(400, 'ArgumentInvalid', `The request body is not a JSON object: ${(error as Error).message}`);
    }
  };
  async function service(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const auth = req.headers.authorization ?? '';
    const policy = registry.servicePolicy;
    const check = verifySas(auth, hostName, [policy.primaryKey, policy.secondaryKey], Math.floor(Date.now() / 1000));
    if (!check.ok) throw new HubError(401, 'IotHubUnauthorizedAccess', `Unauthorized: the SharedAccessSignature was refused (${check.reason}).`);
    const url = new URL(req.url ?? '/', 'https://localhost');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    if (parts[0] === 'twins' && parts[1] && parts[2] === 'methods' && parts.length === 3 && method === 'POST') {
      const body = await readJson(req);
      if (typeof body.methodName !== 'string' || !body.methodName) throw new HubError(400, 'ArgumentInvalid', 'methodName is required.');
      return send(res, 200, await invokeDeviceMethod(parts[1], { methodName: body.methodName, payload: body.payload, responseTimeoutInSeconds: body.responseTimeoutInSeconds }));
    }
    if (parts[0] === 'devices' && parts.length === 1 && method === 'GET') return send(res, 200, registry.list().map(deviceJson));
    if (parts[0] === 'devices' && parts.length === 2) {
      const id = parts[1]!;
      if (method === 'GET') return send(res, 200, deviceJson(registry.require(id)));
      if (method === 'PUT') {
        const body = await readJson(req);
        const keys = body.authentication?.symmetricKey ?? {};
        const status = body.status === 'disabled' ? 'disabled' : 'enabled';
        const existing = registry.get(id);
        if (existing) return send(res, 200, deviceJson(registry.setStatus(id, status)));
        return send(res, 200, deviceJson(registry.add(id, { status, ...(keys.primaryKey ? { primaryKey: keys.primaryKey } : {}), ...(keys.secondaryKey ? { secondaryKey: keys.secondaryKey } : {}) })));
      }
      if (method === 'DELETE') {
        registry.remove(id);
        clients.get(id)?.close();
        return send(res, 204);
      }
    }
    throw new HubError(404, 'NotFound', `No such operation: ${method} ${url.pathname}`);
  }
  const http = createHttpServer((req, res) => {
    service(req, res).catch((error: unknown) => {
      const e = error instanceof HubError || error instanceof RegistryError ? error : new HubError(500, 'ServerError', (error as Error).message);
      send(res, e.status, { Message: `ErrorCode:${e.code};${e.message}`, ExceptionMessage: e.message });
    });
  });

  // ---- listeners ---------------------------------------------------------------------------------
  const serveMqtt = (socket: Socket | TLSSocket) => {
    guardPackets(socket, packetLimits, (reason) => {
      stats.refusedMessages.tooLarge++;
      log(`iothub: closed a connection: ${reason}`);
    });
    broker.handle(socket);
  };
  const dispatch = (socket: Socket | TLSSocket) => {
    stats.connections++;
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      // An MQTT session opens with CONNECT (0x10); anything else on this port is HTTP.
      if (first[0] === 0x10) serveMqtt(socket);
      else http.emit('connection', socket);
      socket.resume();
    });
    socket.on('error', () => socket.destroy());
  };
  const tlsServer = createTlsServer({ key: tls.keyPem, cert: tls.certPem }, dispatch);
  const listen = (server: NetServer, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, options.host ?? '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  const port = await listen(tlsServer, options.port ?? 8883);
  hostName = `localhost:${port}`;
  let plain: NetServer | undefined;
  let mqttPort: number | undefined;
  if (options.mqttPort !== undefined) {
    plain = createNetServer((socket) => {
      stats.connections++;
      socket.on('error', () => socket.destroy());
      serveMqtt(socket);
    });
    mqttPort = await listen(plain, options.mqttPort);
  }

  return {
    hostName,
    port,
    mqttPort,
    caPem: tls.caPem,
    caFile: tls.caFile,
    registry,
    stats,
    isConnected: (id) => clients.has(id),
    invokeDeviceMethod,
    close: async () => {
      clearInterval(registryWatch);
      for (const c of clients.values()) c.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      http.closeAllConnections();
      await Promise.all([tlsServer, plain].filter((s): s is NetServer => s !== undefined).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
