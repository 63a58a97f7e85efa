/**
 * npm start: the whole product on this machine, no Azure and no Docker. Starts the emulators, the
 * pipeline and the API, seeds the plant on first start, runs the device simulator in its own
 * process, prints where everything is, and stops cleanly on Ctrl-C. State stays in .data/.
 *
 *   npm start [-- --no-simulator --rate 2 --data .data]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { startLocalStack } from './stack.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    'no-simulator': { type: 'boolean', default: false },
    rate: { type: 'string', default: '1' },
    'api-port': { type: 'string' },
    'adt-port': { type: 'string' },
    'iothub-port': { type: 'string' },
    'ml-port': { type: 'string' },
    'eventhubs-port': { type: 'string' },
    'azurite-port': { type: 'string' },
    /** Print one JSON line with the endpoints once ready (for tests and scripts). */
    json: { type: 'boolean', default: false },
  },
});
const port = (v: string | undefined) => (v === undefined ? undefined : Number(v));

const stack = await startLocalStack({
  ...(values.data ? { dataDir: values.data } : {}),
  ports: { api: port(values['api-port']), adt: port(values['adt-port']), iothub: port(values['iothub-port']), ml: port(values['ml-port']), eventHubs: port(values['eventhubs-port']), azurite: port(values['azurite-port']) },
});
const dataDir = values.data ?? '.data';
let simulator: ChildProcess | undefined;
if (!values['no-simulator']) {
  simulator = spawn(process.execPath, [...process.execArgv, fileURLToPath(new URL('../simulator/main.ts', import.meta.url)), '--data', dataDir, '--hub', stack.hub.hostName, '--rate', values.rate], { stdio: 'inherit' });
}

if (values.json) {
  process.stdout.write(`${JSON.stringify({ apiUrl: stack.apiUrl, apiKey: stack.apiKey, adtUrl: stack.adt.url, iotHubHostName: stack.hub.hostName, caFile: stack.hub.caFile, adtCaFile: stack.adt.caFile })}\n`);
} else {
  const { seeded } = stack;
  process.stdout.write(
    [
      '',
      'manufacturing-twins is running locally',
      `  dashboard       ${stack.apiUrl}/?code=${stack.apiKey}`,
      `  API             ${stack.apiUrl}/api/openapi.json   (key: x-functions-key: ${stack.apiKey}, kept in ${dataDir}/api-key)`,
      `  status          ${stack.apiUrl}/local/status   alerts: ${stack.apiUrl}/local/alerts`,
      `  Digital Twins   ${stack.adt.url}   (CA: ${stack.adt.caFile})`,
      `  IoT Hub         ${stack.hub.hostName}   (MQTT over TLS; CA: ${stack.hub.caFile})`,
      `  Event Hubs      ${stack.eventHubs.connectionString()}`,
      `  Azurite         ${stack.azurite.connectionString}   (the trigger's leases and checkpoints)`,
      `  ML scoring      ${stack.ml ? `${stack.ml.scoringUri}   (Azure ML contract, key local-development)` : 'off: no model in models/ (npm run train)'}`,
      `  service string  npm run iothub -- service-string${values.data ? ` --data ${values.data}` : ''} --host ${stack.hub.hostName}   (iothubowner; kept in ${join(dataDir, 'iothub', 'registry.json')}, mode 0600)`,
      `  telemetry       ${dataDir}/telemetry.duckdb (DuckDB, the Data Explorer tables)`,
      `  seeded          ${seeded.modelsCreated} models, ${seeded.twinsCreated} twins, ${seeded.relationshipsCreated} relationships, ${seeded.devicesCreated} devices (0 = already there)`,
      `  simulator       ${simulator ? `${values.rate} msg/s per device` : 'off'}`,
      'Ctrl-C stops everything; the next start resumes from the checkpoints.',
      '',
    ].join('\n'),
  );
}

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  if (simulator && simulator.exitCode === null) {
    simulator.kill('SIGTERM');
    await new Promise((resolve) => simulator!.once('exit', resolve));
  }
  await stack.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
