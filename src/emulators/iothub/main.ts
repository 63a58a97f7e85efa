/**
 * The local IoT Hub on its own, and its device registry.
 *
 *   npm run iothub -- serve [--port 8883] [--mqtt-port 1883] [--data .data]
 *   npm run iothub -- device add <id> | list | show <id> | remove <id> | disable <id> | enable <id> [--data .data]
 *
 * The registry is a file (<data>/iothub/registry.json); a running hub picks up changes to it.
 * `serve` routes device telemetry into the event log at <data>/eventlog.
 */
import { join } from 'node:path';
import { parseCommandLine, portOption } from '../../lib/command-line.ts';
import { DeviceRegistry, RegistryError } from './registry.ts';
import { startIotHub } from './server.ts';
import { EventLog } from '../event-log/event-log.ts';

const USAGE = 'usage: npm run iothub -- serve [--port 8883] [--mqtt-port 1883] [--data .data] | service-string | device add|list|show|remove|disable|enable <id> [--data .data]';
const { values, positionals } = parseCommandLine(USAGE, {
  allowPositionals: true,
  options: {
    data: { type: 'string', default: '.data' },
    port: { type: 'string', default: '8883' },
    'mqtt-port': { type: 'string' },
    host: { type: 'string', default: 'localhost:8883' },
  },
});
const [command, sub, id] = positionals;
const out = (line: string) => process.stdout.write(`${line}\n`);

try {
  if (command === 'serve') {
    const log = EventLog.open(join(values.data, 'eventlog'));
    const hub = await startIotHub({ dataDir: join(values.data, 'iothub'), port: portOption(USAGE, 'port', values.port), ...(values['mqtt-port'] ? { mqttPort: portOption(USAGE, 'mqtt-port', values['mqtt-port']) } : {}), endpoints: { events: log }, log: (l) => process.stderr.write(`${l}\n`) });
    out(`local IoT Hub on ${hub.hostName} (MQTT over TLS and the service API${hub.mqttPort ? `; plain MQTT on ${hub.mqttPort}` : ''})`);
    out(`  CA: ${hub.caFile}`);
    out(`  service connection string: npm run iothub -- service-string (the iothubowner key is not printed unasked)`);
    out(`  routes device telemetry to ${join(values.data, 'eventlog')} (${log.partitionIds.length} partitions)`);
    const stop = () => void hub.close().then(() => (log.close(), process.exit(0)));
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } else if (command === 'device') {
    const registry = new DeviceRegistry(join(values.data, 'iothub', 'registry.json'));
    const need = () => {
      if (!id) throw new RegistryError(400, 'ArgumentInvalid', `usage: iothub device ${sub} <device id>`);
      return id;
    };
    switch (sub) {
      case 'add': {
        const d = registry.add(need());
        out(registry.connectionString(d.deviceId, values.host));
        break;
      }
      case 'list':
        for (const d of registry.list()) out(`${d.deviceId}\t${d.status}\t${d.createdAt}`);
        break;
      case 'show':
        out(registry.connectionString(need(), values.host));
        break;
      case 'remove':
        registry.remove(need());
        out(`removed ${id}`);
        break;
      case 'disable':
      case 'enable':
        registry.setStatus(need(), sub === 'disable' ? 'disabled' : 'enabled');
        out(`${id} ${sub}d`);
        break;
      default:
        throw new RegistryError(400, 'ArgumentInvalid', 'usage: iothub device add|list|show|remove|disable|enable <id>');
    }
  } else if (command === 'service-string') {
    // Asked for on purpose, like `az iot hub connection-string show`.
    out(new DeviceRegistry(join(values.data, 'iothub', 'registry.json')).serviceConnectionString(values.host));
  } else {
    throw new RegistryError(400, 'ArgumentInvalid', 'usage: iothub serve | iothub service-string | iothub device add|list|show|remove|disable|enable <id>');
  }
} catch (error) {
  process.stderr.write(`iothub: ${(error as Error).message}\n`);
  process.exit(error instanceof RegistryError && error.status < 500 ? 2 : 1);
}
