/**
 * npm run bench:e2e [-- --devices 500 --rates 2,5,10,20 --seconds 20 --patch-interval-ms 0 --warmup-seconds 8]
 *
 * The stack laid out as `npm start` runs it, a process per service: the local IoT Hub with its
 * Event Hubs endpoint, the function host (the trigger on @azure/event-hubs, blob checkpoints in
 * Azurite) and Azurite each in their own process; the ADT emulator and the ML endpoint in this
 * one, so that every twin change is seen the moment it happens; the devices (azure-iot-device
 * over MQTT/TLS) in a simulator process of their own.
 *
 * After a warm-up pass at the lowest rate (--warmup-seconds, not reported: every process's first
 * batches are not what it sustains), for each rate in turn (messages per second per device), the
 * fleet sends for --seconds; then:
 * what was sent against what was stored, device → stored latency (the row's IngestedAt against
 * the reading's time, the device's clock being this machine's), and device → twin (the first
 * twin change carrying that reading or a newer one). A rate is sustained when nothing is lost and
 * p99 device → stored is at most 1 s (the pipeline keeps up: no backlog builds); the rates stop
 * at the first whose fleet was not all stored.
 * Last line, for the highest sustained rate (or the lowest tried when none held):
 *   e2e sent= stored= lost= duplicated= msgs_per_s= p50_ms= p99_ms= twin_p99_ms=
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startAdtEmulator } from '../src/emulators/adt/server.ts';
import { LOCAL_ML_KEY, startMlEndpoint } from '../src/emulators/ml/server.ts';
import { FailureModel, latestModelFile } from '../src/lib/anomaly/failure-model.ts';
import { DuckDbTelemetryStore } from '../src/lib/store/duckdb-telemetry-store.ts';
import { projectRoot } from '../src/lib/paths.ts';
import { startAzurite } from '../src/local/azurite.ts';
import { readyLine, spawnService, stopService } from '../src/local/service-process.ts';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '500' },
    rates: { type: 'string', default: '2,5,10,20' },
    seconds: { type: 'string', default: '20' },
    'patch-interval-ms': { type: 'string', default: '0' },
    /** A first pass at the lowest rate, not reported: every process's first batches (JIT, first twin patches) are not what it sustains. */
    'warmup-seconds': { type: 'string', default: '8' },
  },
});
const devices = Number(values.devices);
const rates = values.rates!.split(',').map(Number);
const dir = mkdtempSync(join(tmpdir(), 'bench-e2e-'));
const say = (line: string) => process.stderr.write(`${line}\n`);
const children: ChildProcess[] = [];

/** A service in its own process, as npm start runs it; resolves with the JSON line it prints once ready. */
async function service(script: string, args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; info: Record<string, string> }> {
  const child = spawnService(join(projectRoot(), script), args, { env: { ...process.env, LOG_LEVEL: 'error', ...env } });
  children.push(child);
  return { child, info: (await readyLine(child, script)) as Record<string, string> };
}

const azurite = await startAzurite({ location: join(dir, 'azurite'), port: 0 });
const adt = await startAdtEmulator({ dataDir: join(dir, 'adt'), port: 0, token: 'any' });
const modelFile = latestModelFile(join(projectRoot(), 'models'));
const ml = modelFile ? await startMlEndpoint({ model: FailureModel.load(modelFile), key: LOCAL_ML_KEY, port: 0 }) : undefined;
const hub = await service('src/local/hub-process.ts', ['--data', dir, '--port', '0', '--eventhubs-port', '0', '--storage', azurite.connectionString]);
const functions = await service(
  'src/local/function-host-main.ts',
  ['--data', dir, '--api-port', '0', '--adt', adt.url, '--iothub', hub.info.hostName!, '--eventhubs', hub.info.eventHubs!, '--storage', azurite.connectionString, '--fleet', String(devices), ...(ml ? ['--ml', ml.scoringUri, '--ml-key', LOCAL_ML_KEY] : [])],
  { TWIN_PATCH_INTERVAL_MS: values['patch-interval-ms']! },
);
const apiUrl = functions.info.apiUrl!;
const storedNow = async () => ((await (await fetch(`${apiUrl}/local/status`)).json()) as { rows: { EquipmentTelemetry: number } }).rows.EquipmentTelemetry;

// When each twin got each lastTelemetryTime.
const patches = new Map<string, { ltt: number; at: number }[]>();
adt.onChange((e) => {
  if (e.type !== 'Microsoft.DigitalTwins.Twin.Update') return;
  const op = ((e.data.patch ?? []) as { path: string; value?: unknown }[]).find((o) => o.path === '/lastTelemetryTime');
  if (!op) return;
  const list = patches.get(e.subject) ?? [];
  list.push({ ltt: Date.parse(String(op.value)), at: Date.now() });
  patches.set(e.subject, list);
});

interface Pass {
  rate: number;
  sent: number;
  from: number;
  to: number;
  /** CPU time (ms) each process spent during the pass. */
  cpuMs: Record<string, number>;
}

/** CPU time (user + system, ms) a process has used so far, from /proc. */
function cpuMsOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks (USER_HZ 100)
  } catch {
    return 0;
  }
}
const passes: Pass[] = [];
let storedBefore = 0;
const warmup = Number(values['warmup-seconds']);
for (const [i, rate] of (warmup > 0 ? [rates[0]!, ...rates] : rates).entries()) {
  const warming = warmup > 0 && i === 0;
  const from = Date.now();
  const processes: Record<string, number | undefined> = { iothub: hub.child.pid, functions: functions.child.pid, azurite: azurite.pid, bench_adt_ml: process.pid };
  const cpuBefore = Object.fromEntries(Object.entries(processes).map(([k, pid]) => [k, cpuMsOf(pid)]));
  let simulatorCpu = 0;
  const sim = spawnService(join(projectRoot(), 'src/simulator/main.ts'), ['--data', dir, '--hub', hub.info.hostName!, '--devices', String(devices), '--rate', String(rate), '--seconds', warming ? String(warmup) : values.seconds!, '--anomaly-rate', '0.05']);
  let out = '';
  sim.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const sampler = setInterval(() => (simulatorCpu = Math.max(simulatorCpu, cpuMsOf(sim.pid))), 200);
  await new Promise((resolve) => sim.once('exit', resolve));
  clearInterval(sampler);
  const done = /done, sent=(\d+) acked=(\d+) failed=(\d+)/.exec(out);
  if (!done) throw new Error(`the simulator did not finish:\n${out}`);
  const sent = Number(done[1]);
  // Drained: everything stored, or nothing new for 3 s.
  let stored = await storedNow();
  let lastChange = Date.now();
  while (stored - storedBefore < sent && Date.now() - lastChange < 3000) {
    await new Promise((r) => setTimeout(r, 200));
    const n = await storedNow();
    if (n !== stored) [stored, lastChange] = [n, Date.now()];
  }
  await new Promise((r) => setTimeout(r, 1000)); // the last twin patches
  const total = await storedNow();
  const cpuMs = Object.fromEntries(Object.entries(processes).map(([k, pid]) => [k, cpuMsOf(pid) - cpuBefore[k]!]));
  if (!warming) passes.push({ rate, sent, from, to: Date.now(), cpuMs: { simulator: simulatorCpu, ...cpuMs } });
  say(`${warming ? 'warm-up at ' : ''}rate ${rate}/s per device: sent ${sent}, stored ${total - storedBefore}`);
  const lostSome = total - storedBefore < sent;
  storedBefore = total;
  if (lostSome) break; // it did not keep up: no point going faster
}

// The function host holds the DuckDB file: stop it, then read what it wrote.
await stopService(functions.child);
const store = await DuckDbTelemetryStore.open(join(dir, 'telemetry.duckdb'));
const rows = await store.rows('EquipmentTelemetry');

const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : NaN);
const lines: string[] = [];
let best: string | undefined;
for (const pass of passes) {
  const inPass = rows.filter((r) => {
    const t = Date.parse(String(r.Timestamp));
    return t >= pass.from && t <= pass.to;
  });
  const distinct = new Set(inPass.map((r) => `${r.DeviceId}|${r.MessageId}`)).size;
  const times = await store.ingestionTimes('EquipmentTelemetry', pass.from, pass.to);
  const lags = times.map((t) => t.ingestedAt - t.time).sort((a, b) => a - b);
  const twin: number[] = [];
  for (const r of inPass) {
    const t = Date.parse(String(r.Timestamp));
    const first = patches.get(String(r.DeviceId))?.find((p) => p.ltt >= t);
    if (first) twin.push(first.at - t);
  }
  twin.sort((a, b) => a - b);
  // Throughput over the stream: from the first reading sent to the last one stored.
  // A loop, not Math.min(...): a pass holds more rows than a call's arguments may.
  let firstSent = Infinity;
  let lastStored = -Infinity;
  for (const t of times) {
    if (t.time < firstSent) firstSent = t.time;
    if (t.ingestedAt > lastStored) lastStored = t.ingestedAt;
  }
  const msgsPerS = Math.round(distinct / Math.max(0.001, (lastStored - firstSent) / 1000));
  const line = `e2e sent=${pass.sent} stored=${distinct} lost=${pass.sent - distinct} duplicated=${inPass.length - distinct} msgs_per_s=${msgsPerS} p50_ms=${Math.round(pct(lags, 0.5))} p99_ms=${Math.round(pct(lags, 0.99))} twin_p99_ms=${Math.round(pct(twin, 0.99))}`;
  const sustained = pass.sent === distinct && pct(lags, 0.99) <= 1000;
  lines.push(`rate_per_device=${pass.rate} offered_msgs_per_s=${devices * pass.rate} sustained=${sustained} ${line.slice(4)}`);
  // What bounds the rate: each process's CPU per 1,000 messages (2 cores = 2,000 ms of CPU a second).
  lines.push(`  cpu_ms_per_1000_msgs ${Object.entries(pass.cpuMs).map(([k, ms]) => `${k}=${Math.round((ms / Math.max(1, distinct)) * 1000)}`).join(' ')} wall_s=${((pass.to - pass.from) / 1000).toFixed(1)}`);
  if (sustained || best === undefined) best = line;
}
await store.close();

await Promise.all(children.map((c) => stopService(c)));
await azurite.close();
await adt.close();
await ml?.close();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`devices=${devices} seconds_per_rate=${values.seconds} patch_interval_ms=${values['patch-interval-ms']} cores=2\n`);
for (const l of lines) process.stdout.write(`${l}\n`);
process.stdout.write(`${best}\n`);
process.exit(0);
