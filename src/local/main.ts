/**
 * npm start: the whole product on this machine, no Azure and no Docker, each part in its own
 * process as the services they stand for are: Azurite (storage), the ADT emulator, the local
 * Azure ML endpoint, the local IoT Hub with its Event Hubs-compatible endpoint over the durable
 * event log, the function host (the Event Hub trigger on the Event Hubs SDK, the HTTP API and the
 * dashboard), and the device simulator. A service that dies is started again; Ctrl-C stops them
 * all, and each also stops when this process goes (even killed). State stays in .data/.
 *
 *   npm start [-- --no-simulator --rate 2 --data .data --api-port 7071 ...]
 *   npm run start:services     the emulators only, for `func start` (Core Tools) to consume
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { numberOption, parseCommandLine, portOption, probeFailureOption, shiftOption, silenceOption } from '../lib/command-line.ts';
import { latestModelFile } from '../lib/anomaly/failure-model.ts';
import { projectRoot } from '../lib/paths.ts';
import { DEFAULT_PLANT, DEFAULT_READINGS_PER_SECOND } from '../lib/plant/plant.ts';
import { jsonLogger } from '../lib/log.ts';
import { DeviceRegistry } from '../emulators/iothub/registry.ts';
import { LOCAL_ML_KEY } from '../emulators/ml/server.ts';
import { startAzurite } from './azurite.ts';
import { seedLocalPlant } from './seed-local.ts';
import { probeFailureProblem, silenceProblem } from '../simulator/scenarios.ts';
import { freePorts } from './free-ports.ts';
import { exitOnSignal, readyLine, spawnService, stopService } from './service-process.ts';

const USAGE = `usage: npm start -- [--no-simulator] [--rate 1] [--shift RUN/REST] [--probe-failure DEVICE:SENSOR@FROM[-TO]]...
                 [--silence DEVICE@FROM[-TO]]...
                 [--data .data] [--api-port 7071] [--adt-port 7443]
                 [--iothub-port 8883] [--ml-port 7080] [--eventhubs-port 5672] [--azurite-port 10000]
                 [--no-functions] [--json]   (a port of 0 picks a free one)`;

const { values } = parseCommandLine(USAGE, {
  options: {
    data: { type: 'string', default: '.data' },
    'no-simulator': { type: 'boolean', default: false },
    /** Emulators only: `func start` runs the functions. */
    'no-functions': { type: 'boolean', default: false },
    rate: { type: 'string', default: String(DEFAULT_READINGS_PER_SECOND) },
    /** The simulated equipment runs RUN seconds, then stops for REST, in turn (as between shifts). */
    shift: { type: 'string' },
    /** A simulated probe stops answering (its value sent as null) from FROM seconds after the start (until TO). */
    'probe-failure': { type: 'string', multiple: true },
    /** A simulated device sends nothing (its gateway lost its network) from FROM seconds after the start (until TO). */
    silence: { type: 'string', multiple: true },
    'api-port': { type: 'string', default: '7071' },
    'adt-port': { type: 'string', default: '7443' },
    'iothub-port': { type: 'string', default: '8883' },
    'ml-port': { type: 'string', default: '7080' },
    'eventhubs-port': { type: 'string', default: '5672' },
    'azurite-port': { type: 'string', default: '10000' },
    /** Print one JSON line with the endpoints (and each service's pid) once ready. */
    json: { type: 'boolean', default: false },
  },
});
const dataDir = values.data;
// Checked here too, so that a mistyped rate stops npm start before any service starts.
numberOption(USAGE, 'rate', values.rate, { above: 0 });
if (values.shift !== undefined) shiftOption(USAGE, 'shift', values.shift);
for (const text of values['probe-failure'] ?? []) probeFailureOption(USAGE, 'probe-failure', text, (id, sensor) => probeFailureProblem(DEFAULT_PLANT.equipment, id, sensor));
for (const text of values.silence ?? []) silenceOption(USAGE, 'silence', text, (id) => silenceProblem(DEFAULT_PLANT.equipment, id));
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const say = (line: string) => process.stderr.write(`${line}\n`);

async function listening(port: number, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => (socket.end(), resolve(true)));
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on port ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let stopping = false;

/**
 * One service in its own Node process. `start` resolves with its ready line when it prints JSON,
 * else once its port answers. If it dies while we are not stopping, it is started again with the
 * same arguments (same ports, same data), as a service manager would.
 */
class Service {
  child: ChildProcess | undefined;
  constructor(
    readonly name: string,
    private readonly script: string,
    private readonly args: string[],
    private readonly readiness: { json: true } | { port: number },
  ) {}

  async start(): Promise<Record<string, unknown>> {
    const child = spawnService(this.script, this.args);
    this.child = child;
    // What it prints besides its ready line goes to our stderr: stdout carries only ours (--json).
    const forward = (l: string) => say(`[${this.name}] ${l}`);
    let info: Record<string, unknown> = {};
    if ('json' in this.readiness) info = await readyLine(child, this.name, forward);
    else {
      createInterface({ input: child.stdout! }).on('line', forward);
      const exited = new Promise<never>((_, reject) => child.once('exit', (code, signal) => reject(new Error(`${this.name} exited (${signal ?? code}) before it was ready`))));
      exited.catch(() => {});
      await Promise.race([listening(this.readiness.port), exited]);
    }
    child.once('exit', (code, signal) => {
      if (stopping || this.child !== child) return;
      say(`${this.name} stopped unexpectedly (${signal ?? code}); starting it again`);
      setTimeout(() => void this.start().catch((e: Error) => say(`${this.name} could not start again: ${e.message}`)), 500);
    });
    return { ...info, pid: child.pid };
  }

  stop(): Promise<void> {
    return this.child ? stopService(this.child) : Promise.resolve();
  }
}

// A port of 0 gets a free one, fixed for the run so that a restarted service keeps it.
const asked = {
  api: portOption(USAGE, 'api-port', values['api-port']),
  adt: portOption(USAGE, 'adt-port', values['adt-port']),
  iothub: portOption(USAGE, 'iothub-port', values['iothub-port']),
  ml: portOption(USAGE, 'ml-port', values['ml-port']),
  eventHubs: portOption(USAGE, 'eventhubs-port', values['eventhubs-port']),
  azurite: portOption(USAGE, 'azurite-port', values['azurite-port']),
};
const picked = await freePorts(Object.values(asked).filter((port) => port === 0).length);
const ports = Object.fromEntries(Object.entries(asked).map(([name, port]) => [name, port === 0 ? picked.pop()! : port])) as typeof asked;
// After a crash the services of the run before may take a moment to go (they exit as their stdin
// closes): wait for the ports to be free rather than fail on the first.
async function free(port: number, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (ok || Date.now() > end) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
await Promise.all(Object.values(ports).map((p) => free(p)));
const services: Service[] = [];
const azurite = await startAzurite({ location: join(dataDir, 'azurite'), port: ports.azurite });
const adt = new Service('adt', join(projectRoot(), 'src/emulators/adt/main.ts'), ['--port', String(ports.adt), '--data', join(dataDir, 'adt')], { port: ports.adt });
services.push(adt);
await adt.start();
const modelFile = latestModelFile(join(projectRoot(), 'models'));
const ml = modelFile ? new Service('ml', join(projectRoot(), 'src/emulators/ml/main.ts'), ['--port', String(ports.ml), '--key', LOCAL_ML_KEY, '--model', modelFile], { port: ports.ml }) : undefined;
if (ml) {
  services.push(ml);
  await ml.start();
} else say('no failure model in models/: run npm run train; scoring with the streaming detector alone');
const hub = new Service('iothub', here('./hub-process.ts'), ['--data', dataDir, '--port', String(ports.iothub), '--eventhubs-port', String(ports.eventHubs), '--storage', azurite.connectionString], { json: true });
services.push(hub);
const hubInfo = (await hub.start()) as { hostName: string; caFile: string; eventHubs: string; pid: number };

/** A run that cannot go on ends as Ctrl-C would end it, saying why, without a stack. */
async function endRun(why: string): Promise<never> {
  say(`npm start: ${why}; stopping`);
  stopping = true;
  for (const s of [...services].reverse()) await s.stop();
  await azurite.close();
  process.exit(1);
}

let functionsInfo: { apiUrl: string; apiKey: string; seeded: Record<string, number>; pid: number } | undefined;
if (values['no-functions']) {
  // The function host seeds the plant when it runs; `func start` does not, so it is done here.
  await seedLocalPlant(
    {
      adt: { url: `https://localhost:${ports.adt}`, caPem: readFileSync(join(dataDir, 'adt', 'tls', 'ca.pem'), 'utf8') },
      iotHub: { serviceConnectionString: new DeviceRegistry(join(dataDir, 'iothub', 'registry.json')).serviceConnectionString(hubInfo.hostName), caPem: readFileSync(hubInfo.caFile, 'utf8') },
    },
    DEFAULT_PLANT,
    jsonLogger('seed', 'warn'),
  ).catch((error: Error) => endRun(`the plant could not be seeded: ${error.message}`));
} else {
  const functions = new Service(
    'functions',
    here('./function-host-main.ts'),
    ['--data', dataDir, '--api-port', String(ports.api), '--adt', `https://localhost:${ports.adt}`, '--iothub', hubInfo.hostName, '--eventhubs', hubInfo.eventHubs, '--storage', azurite.connectionString, ...(ml ? ['--ml', `http://localhost:${ports.ml}/score`, '--ml-key', LOCAL_ML_KEY] : [])],
    { json: true },
  );
  services.push(functions);
  // Its reason is what it printed, above.
  functionsInfo = (await functions.start().catch((error: Error) => endRun(error.message))) as typeof functionsInfo;
}

let simulator: ChildProcess | undefined;
if (!values['no-simulator'] && functionsInfo) {
  simulator = spawnService(here('../simulator/main.ts'), ['--data', dataDir, '--hub', hubInfo.hostName, '--rate', values.rate, ...(values.shift !== undefined ? ['--shift', values.shift] : []), ...(values['probe-failure'] ?? []).flatMap((p) => ['--probe-failure', p]), ...(values.silence ?? []).flatMap((s) => ['--silence', s])], { stdout: 'inherit' });
}

const adtCa = join(dataDir, 'adt', 'tls', 'ca.pem');
if (values.json) {
  process.stdout.write(
    `${JSON.stringify({
      apiUrl: functionsInfo?.apiUrl,
      apiKey: functionsInfo?.apiKey,
      adtUrl: `https://localhost:${ports.adt}`,
      iotHubHostName: hubInfo.hostName,
      caFile: hubInfo.caFile,
      adtCaFile: adtCa,
      eventHubs: hubInfo.eventHubs,
      storage: azurite.connectionString,
      pids: Object.fromEntries(services.map((s) => [s.name, s.child?.pid])),
    })}\n`,
  );
} else if (functionsInfo) {
  const { seeded } = functionsInfo;
  process.stdout.write(
    [
      '',
      'manufacturing-twins is running locally (one process per service)',
      `  dashboard       ${functionsInfo.apiUrl}/?code=${functionsInfo.apiKey}`,
      `  API             ${functionsInfo.apiUrl}/api/openapi.json   (key: x-functions-key: ${functionsInfo.apiKey}, kept in ${dataDir}/api-key)`,
      `  status          ${functionsInfo.apiUrl}/local/status   alerts: ${functionsInfo.apiUrl}/local/alerts`,
      `  Digital Twins   https://localhost:${ports.adt}   (CA: ${adtCa})`,
      `  IoT Hub         ${hubInfo.hostName}   (MQTT over TLS; CA: ${hubInfo.caFile})`,
      `  Event Hubs      ${hubInfo.eventHubs}`,
      `  Azurite         ${azurite.connectionString}   (the trigger's leases and checkpoints)`,
      `  ML scoring      ${ml ? `http://localhost:${ports.ml}/score   (Azure ML contract, key ${LOCAL_ML_KEY})` : 'off: no model in models/ (npm run train)'}`,
      `  service string  npm run iothub -- service-string --data ${dataDir} --host ${hubInfo.hostName}   (iothubowner; kept in ${join(dataDir, 'iothub', 'registry.json')}, mode 0600)`,
      `  telemetry       ${dataDir}/telemetry.duckdb (DuckDB, the Data Explorer tables)`,
      `  seeded          ${seeded.modelsCreated} models, ${seeded.twinsCreated} twins, ${seeded.relationshipsCreated} relationships, ${seeded.devicesCreated} devices (0 = already there)`,
      `  simulator       ${simulator ? `${values.rate} msg/s per device${values.shift !== undefined ? `, running and stopped in turn (${values.shift} s)` : ''}${values['probe-failure']?.length ? `, probes failing: ${values['probe-failure'].join(' ')}` : ''}${values.silence?.length ? `, silent: ${values.silence.join(' ')}` : ''}` : 'off'}`,
      'Ctrl-C stops everything; the next start resumes from the checkpoints.',
      '',
    ].join('\n'),
  );
} else {
  // For `func start`: what local.settings.json needs (see local.settings.example.json).
  process.stdout.write(
    [
      '',
      'manufacturing-twins services are running locally, for `func start`',
      `  EventHubConnection     ${hubInfo.eventHubs}`,
      `  AzureWebJobsStorage    ${azurite.connectionString}`,
      `  DIGITAL_TWINS_URL      https://localhost:${ports.adt}   DIGITAL_TWINS_CA_FILE ${adtCa}`,
      `  IoT Hub                ${hubInfo.hostName}   IOTHUB_CA_FILE ${hubInfo.caFile}   (npm run iothub -- service-string --data ${dataDir} --host ${hubInfo.hostName})`,
      `  ML_ENDPOINT_URL        ${ml ? `http://localhost:${ports.ml}/score   ML_ENDPOINT_KEY ${LOCAL_ML_KEY}` : '(none: npm run train)'}`,
      '  The plant is seeded (models, twins, device identities); Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

// The simulator first (its last messages acknowledged), then the function host (it checkpoints
// what it handled), then the services it used.
exitOnSignal(async () => {
  stopping = true;
  if (simulator) await stopService(simulator, 60_000);
  for (const s of [...services].reverse()) await s.stop();
  await azurite.close();
});
