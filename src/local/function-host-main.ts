/**
 * The local function host as its own service (see function-host.ts), given where the others are.
 *
 *   tsx src/local/function-host-main.ts --data .data --adt https://localhost:7443 --iothub localhost:8883
 *       --eventhubs <connection string> --storage <connection string> [--ml http://localhost:7080/score] [--api-port 7071] [--fleet N]
 *
 * The CA files and the hub's service key are read from the data folder the emulators keep
 * (<data>/adt/tls, <data>/iothub/tls, <data>/iothub/registry.json). Prints one JSON line once
 * serving: apiUrl, apiKey and what seeding created.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { numberOption, parseCommandLine, portOption } from '../lib/command-line.ts';
import { DeviceRegistry } from '../emulators/iothub/registry.ts';
import { jsonLogger } from '../lib/log.ts';
import { startFunctionHost } from './function-host.ts';
import { LOCAL_ML_KEY } from '../emulators/ml/server.ts';
import { exitOnSignal } from './service-process.ts';
import { fleetPlant } from '../lib/plant/plant.ts';
import { isAppError } from '../lib/errors.ts';

const USAGE = 'usage: tsx src/local/function-host-main.ts --eventhubs <connection string> [--data .data] [--adt https://localhost:7443] [--iothub localhost:8883] [--storage <connection string>] [--ml <url>] [--ml-key <k>] [--api-port 7071] [--fleet N]';
const { values } = parseCommandLine(USAGE, {
  options: {
    data: { type: 'string', default: '.data' },
    'api-port': { type: 'string', default: '7071' },
    adt: { type: 'string', default: 'https://localhost:7443' },
    iothub: { type: 'string', default: 'localhost:8883' },
    eventhubs: { type: 'string' },
    storage: { type: 'string', default: 'UseDevelopmentStorage=true' },
    ml: { type: 'string' },
    'ml-key': { type: 'string', default: LOCAL_ML_KEY },
    /** Seed a fleet of N machines instead of the default plant (benchmarks). */
    fleet: { type: 'string' },
  },
});
if (!values.eventhubs) {
  process.stderr.write('--eventhubs <connection string> is required (the local hub prints it)\n');
  process.exit(2);
}
const dataDir = values.data;
const adtCa = join(dataDir, 'adt', 'tls', 'ca.pem');
const hubCa = join(dataDir, 'iothub', 'tls', 'ca.pem');
const host = await startFunctionHost({
  dataDir,
  logger: jsonLogger('functions', (process.env.LOG_LEVEL as 'info' | undefined) ?? 'info'),
  apiPort: portOption(USAGE, 'api-port', values['api-port']),
  ...(values.fleet ? { plant: fleetPlant(numberOption(USAGE, 'fleet', values.fleet, { min: 1, integer: true })) } : {}),
  endpoints: {
    adt: { url: values.adt, caPem: readFileSync(adtCa, 'utf8'), caFile: adtCa },
    iotHub: { serviceConnectionString: new DeviceRegistry(join(dataDir, 'iothub', 'registry.json')).serviceConnectionString(values.iothub), caPem: readFileSync(hubCa, 'utf8'), caFile: hubCa },
    eventHubs: values.eventhubs,
    storage: values.storage,
    ml: values.ml ? { scoringUri: values.ml, key: values['ml-key'] } : undefined,
  },
}).catch((error: unknown) => {
  // A failure the product names (a plant Digital Twins refuses, say) is told as itself, not as a stack.
  if (!isAppError(error)) throw error;
  process.stderr.write(`functions could not start: ${error.message}\n`);
  process.exit(1);
});
process.stdout.write(`${JSON.stringify({ apiUrl: host.apiUrl, apiKey: host.apiKey, seeded: host.seeded })}\n`);

exitOnSignal(() => host.close());
