/**
 * IoT Hub's service side through azure-iothub: direct methods (the equipment's emergencyStop)
 * and the device registry. In Azure the client authenticates with the managed identity; against
 * the local hub, with the hub's service connection string and its CA. azure-iothub dials the
 * HostName as a bare host, so a `localhost:<port>` host gets an agent that connects to that port.
 */
import type { CommandsPort, DeviceConnection, DeviceConnectionsPort, MethodResult } from '../ports.ts';
import { forEachLimited } from '../bounded-set.ts';
import { Agent, type AgentOptions, type RequestOptions } from 'node:https';
import { connect } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { TokenCredential } from '@azure/identity';
import iothub from 'azure-iothub';
// azure-iothub's own HTTP client (not re-exported): given to Client and Registry so its agent can be set.
import restApi from 'azure-iothub/dist/common-http/rest_api_client.js';
import { AppError } from '../errors.ts';

const { Client, Registry, ConnectionString, SharedAccessSignature } = iothub;
const { RestApiClient } = restApi;
type RestApiClientType = InstanceType<typeof RestApiClient>;

export type IotHubServiceOptions = { connectionString: string; caPem?: string } | { hostName: string; credential: TokenCredential };

/** An HTTPS agent that reaches `host:port` when azure-iothub asks for "host:port" as a host name. */
class HostPortAgent extends Agent {
  constructor(
    private readonly host: string,
    private readonly port: number,
    options: AgentOptions,
  ) {
    super(options);
  }

  // Returning the socket is enough: the agent only uses the callback when none is returned.
  override createConnection(options: RequestOptions): Duplex {
    return connect({ ...(options as object), host: this.host, port: this.port, servername: this.host, ca: this.options.ca });
  }
}

interface ServiceConfig {
  host: string;
  keyName: string;
  sharedAccessSignature: string;
}

function serviceConfig(connectionString: string): ServiceConfig {
  const cn = ConnectionString.parse(connectionString);
  if (!cn.HostName || !cn.SharedAccessKeyName || !cn.SharedAccessKey) throw new Error('an IoT Hub service connection string needs HostName, SharedAccessKeyName and SharedAccessKey');
  const expiry = Math.floor(Date.now() / 1000) + 3600;
  return { host: cn.HostName, keyName: cn.SharedAccessKeyName, sharedAccessSignature: SharedAccessSignature.create(cn.HostName, cn.SharedAccessKeyName, cn.SharedAccessKey, expiry).toString() };
}

/** Points a REST client at `host:port` with the given CA (call after Client/Registry set their own agent). */
function useLocalAgent(rest: RestApiClientType, hostName: string, caPem: string | undefined): void {
  const [host, port] = hostName.split(':');
  if (port || caPem) rest.setOptions({ http: { agent: new HostPortAgent(host!, Number(port ?? 443), { keepAlive: true, ...(caPem ? { ca: caPem } : {}) }) } });
}

/** Invokes direct methods on devices. */
export class IotHubDirectMethods implements CommandsPort {
  constructor(private readonly options: IotHubServiceOptions) {}

  async invoke(deviceId: string, methodName: string, payload: unknown, responseTimeoutInSeconds = 30): Promise<MethodResult> {
    // A client per call: calls are rare (stops), and each gets a fresh SAS token.
    const client = (() => {
      if (!('connectionString' in this.options)) return Client.fromTokenCredential(this.options.hostName, this.options.credential);
      const config = serviceConfig(this.options.connectionString);
      const rest = new RestApiClient(config, 'manufacturing-twins');
      const c = new Client(new iothub.Amqp(config), rest);
      useLocalAgent(rest, config.host, this.options.caPem);
      return c;
    })();
    try {
      const { result } = await client.invokeDeviceMethod(deviceId, { methodName, payload, responseTimeoutInSeconds });
      return { status: (result as { status: number }).status, payload: (result as { payload: unknown }).payload };
    } catch (error) {
      throw translateHubError(error, deviceId, methodName);
    }
  }
}

/** The device registry, for seeding identities (local stack, post-provision). */
export function iotHubRegistry(options: IotHubServiceOptions): InstanceType<typeof Registry> {
  if ('connectionString' in options) {
    const config = serviceConfig(options.connectionString);
    const rest = new RestApiClient(config, 'manufacturing-twins');
    const registry = new Registry(config, rest);
    useLocalAgent(rest, config.host, options.caPem);
    return registry;
  }
  return Registry.fromTokenCredential(options.hostName, options.credential);
}

/** Devices' connections from the registry: a registry client per lookup (a SAS token lasts an hour; lookups are rare: machines found silent). */
export class IotHubDeviceConnections implements DeviceConnectionsPort {
  constructor(
    private readonly options: IotHubServiceOptions,
    private readonly concurrency = 4,
  ) {}

  async connectionsOf(deviceIds: readonly string[]): Promise<Map<string, DeviceConnection>> {
    const out = new Map<string, DeviceConnection>();
    if (!deviceIds.length) return out;
    const registry = iotHubRegistry(this.options);
    const failures: Error[] = [];
    await forEachLimited(deviceIds, this.concurrency, async (deviceId) => {
      try {
        const { responseBody: d } = await registry.get(deviceId);
        out.set(deviceId, {
          identity: d.status === 'disabled' ? 'disabled' : 'enabled',
          // The service says 'Connected'; the SDK's type says 'connected'.
          connected: String(d.connectionState).toLowerCase() === 'connected',
          ...timeOf('since', d.connectionStateUpdatedTime),
          ...timeOf('lastActivity', d.lastActivityTime),
        });
      } catch (error) {
        if (isDeviceNotFound(error)) out.set(deviceId, { identity: 'unregistered' });
        else failures.push(error as Error);
      }
    });
    // None could be read: say why (the caller tells the cards without it); some: those are left out.
    if (failures.length === deviceIds.length) throw new AppError('iothub.registry', `IoT Hub's registry could not be read: ${failures[0]!.message}`, { status: 502, retryable: true, cause: failures[0] });
    return out;
  }
}

/** A registry time as ms, or nothing for IoT Hub's "never" (year 1) or a value that is no time. */
function timeOf<K extends string>(key: K, value: unknown): Partial<Record<K, number>> {
  const t = typeof value === 'string' || value instanceof Date ? new Date(value).getTime() : NaN;
  return Number.isFinite(t) && t > Date.UTC(2000, 0, 1) ? ({ [key]: t } as Record<K, number>) : {};
}

/** azure-iothub's answer for a device the hub does not know (or, for a direct method, one not online). */
const hubStatus = (error: unknown) => (error as { response?: { statusCode?: number } } | undefined)?.response?.statusCode;
const isDeviceNotFound = (error: unknown) => (error as Error | undefined)?.name === 'DeviceNotFoundError' || hubStatus(error) === 404;

function translateHubError(error: unknown, deviceId: string, methodName: string): AppError {
  const name = (error as Error)?.name ?? '';
  const status = hubStatus(error);
  const message = `${methodName} on ${deviceId}: ${(error as Error)?.message ?? String(error)}`;
  if (isDeviceNotFound(error)) return new AppError('device.offline', message, { status: 404, retryable: true, cause: error });
  if (name === 'GatewayTimeoutError' || status === 504) return new AppError('device.timeout', message, { status: 504, retryable: true, cause: error });
  if (name === 'UnauthorizedError' || status === 401) return new AppError('iothub.unauthorized', message, { status: 502, cause: error });
  return new AppError('iothub.error', message, { status: 502, retryable: true, cause: error });
}
