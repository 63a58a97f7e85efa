/**
 * npm run simulate [-- --devices 500 --rate 20 --seconds 30 --data .data --hub localhost:8883]
 * Connects simulated equipment to the local IoT Hub with connection strings from its registry.
 * Without --devices: the default plant (the recipe's robotic arm and conveyor and the rest of two
 * lines), with robotic-arm-003 wearing out (--degrade-onset / --degrade-failure seconds).
 * With --devices N: a fleet of N arms and conveyors (registered if missing).
 * With --shift RUN/REST: every device runs RUN seconds, then stops (and says so) for REST, in turn.
 * With --probe-failure DEVICE:SENSOR@FROM[-TO]: that device sends that sensor as null (not measured) from FROM seconds (until TO).
 * With --silence DEVICE@FROM[-TO]: that device goes off the network (disconnects, sends nothing) from FROM seconds (until TO).
 * The ground truth of the run is written to <data>/simulator/runs/<time>/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { numberOption, parseCommandLine, probeFailureOption, shiftOption, silenceOption } from '../lib/command-line.ts';
import { DeviceRegistry } from '../emulators/iothub/registry.ts';
import { DEFAULT_PLANT, DEFAULT_READINGS_PER_SECOND, fleetPlant } from '../lib/plant/plant.ts';
import { Fleet } from './fleet.ts';
import { probeFailureProblem, silenceProblem, type ProbeFailure, type Silence } from './scenarios.ts';

const USAGE = `usage: npm run simulate -- [--devices N] [--rate R] [--seconds S | --messages-per-device M]
                         [--anomaly-rate 0.05] [--degrade-onset 120] [--degrade-failure 600]
                         [--shift RUN/REST] [--probe-failure DEVICE:SENSOR@FROM[-TO]]... [--silence DEVICE@FROM[-TO]]...
                         [--data .data] [--hub localhost:8883]

Without --devices: the default plant, robotic-arm-003 wearing out between the two --degrade times
(seconds). With --devices N: a fleet of N arms and conveyors (register them by starting the stack
with that plant). With --shift RUN/REST (seconds, e.g. 240/120): every device runs, then stops and
reports status 'stopped' (cooling at rest, warming again after each start), in turn. With
--probe-failure (repeatable), e.g. conveyor-002:motorTemperature@60-600, that probe stops answering
from 60 s to 600 s after the start: its value is sent as null (not measured). With --silence
(repeatable), e.g. conveyor-002@60-900, that device is off the network from 60 s to 900 s (its
gateway lost its network or its power: it disconnects from the hub, and nothing is sent later for
that time either; it connects again after).
Ground truth goes to <data>/simulator/runs/<time>/.
`;

const { values } = parseCommandLine(USAGE, {
  options: {
    data: { type: 'string', default: '.data' },
    hub: { type: 'string', default: 'localhost:8883' },
    devices: { type: 'string' },
    rate: { type: 'string', default: String(DEFAULT_READINGS_PER_SECOND) },
    seconds: { type: 'string' },
    'messages-per-device': { type: 'string' },
    'anomaly-rate': { type: 'string', default: '0.05' },
    'degrade-onset': { type: 'string', default: '120' },
    'degrade-failure': { type: 'string', default: '600' },
    shift: { type: 'string' },
    'probe-failure': { type: 'string', multiple: true },
    silence: { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const number = (name: keyof typeof values, options: Parameters<typeof numberOption>[3]) => numberOption(USAGE, name, String(values[name]), options);
const rate = number('rate', { above: 0 });
const anomalyRate = number('anomaly-rate', { min: 0, max: 1 });
const degradation = { onsetSeconds: number('degrade-onset', { min: 0 }), failureSeconds: number('degrade-failure', { min: 0 }) };
const seconds = values.seconds ? number('seconds', { min: 0 }) : undefined;
const messagesPerDevice = values['messages-per-device'] ? number('messages-per-device', { min: 1, integer: true }) : undefined;
const shift = values.shift !== undefined ? shiftOption(USAGE, 'shift', values.shift) : undefined;
const plant = values.devices ? fleetPlant(number('devices', { min: 1, integer: true })) : DEFAULT_PLANT;
const probeFailures = new Map<string, ProbeFailure>();
for (const text of values['probe-failure'] ?? []) {
  const { deviceId, ...failure } = probeFailureOption(USAGE, 'probe-failure', text, (id, sensor) => probeFailureProblem(plant.equipment, id, sensor));
  probeFailures.set(deviceId, failure);
}
const silences = new Map<string, Silence>();
for (const text of values.silence ?? []) {
  const { deviceId, ...silence } = silenceOption(USAGE, 'silence', text, (id) => silenceProblem(plant.equipment, id));
  silences.set(deviceId, silence);
}
const caFile = join(values.data, 'iothub', 'tls', 'ca.pem');
if (!existsSync(caFile)) {
  process.stderr.write(`no local IoT Hub in ${values.data} (no ${caFile}): start the stack first (npm start), or pass its --data\n`);
  process.exit(2);
}
const registry = new DeviceRegistry(join(values.data, 'iothub', 'registry.json'));
const caPem = readFileSync(caFile, 'utf8');
// A fleet's devices may not be registered yet: the registry file is the hub's own.
for (const e of plant.equipment) if (!registry.get(e.id)) throw new Error(`device ${e.id} is not registered on the hub; start the stack with this plant first`);
const runDir = join(values.data, 'simulator', 'runs', new Date().toISOString().replace(/[:.]/g, '-'));
const fleet = new Fleet({
  devices: plant.equipment.map((equipment) => ({
    equipment,
    connectionString: registry.connectionString(equipment.id, values.hub),
    ...(!values.devices && equipment.id === 'robotic-arm-003' ? { degradation } : {}),
    ...(probeFailures.has(equipment.id) ? { probeFailure: probeFailures.get(equipment.id)! } : {}),
    ...(silences.has(equipment.id) ? { silence: silences.get(equipment.id)! } : {}),
  })),
  caPem,
  rate,
  anomalyRate,
  ...(shift ? { shift } : {}),
  runDir,
  ...(seconds !== undefined ? { seconds } : {}),
  ...(messagesPerDevice !== undefined ? { messagesPerDevice } : {}),
  log: (line) => process.stderr.write(`${line}\n`),
});
await fleet.start();
process.stdout.write(`simulator: ${plant.equipment.length} devices at ${values.rate} msg/s each → ${values.hub}; ground truth in ${runDir}\n`);
const report = setInterval(() => process.stdout.write(`simulator: sent=${fleet.stats.sent} acked=${fleet.stats.acked} failed=${fleet.stats.failed}\n`), 30_000);
report.unref();
const stop = () => void fleet.stop();
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
await fleet.whenDone();
process.stdout.write(`simulator: done, sent=${fleet.stats.sent} acked=${fleet.stats.acked} failed=${fleet.stats.failed}\n`);
process.exit(0);
