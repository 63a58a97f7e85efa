/**
 * npm run bench:e2e -- --devices 500 --rate 20 --seconds 30 [--patch-interval-ms 0]
 *
 * The local stack in this process; the simulator (azure-iot-device over MQTT/TLS) in its own, as
 * devices are. Counts what the devices sent against what was stored, and measures, for every
 * stored reading, the time from the device sending it to the first twin patch carrying it (or a
 * newer reading of the same device), seen as ADT change events.
 * Last line: e2e sent=<n> stored=<n> lost=<n> duplicated=<n> msgs_per_s=<n> p50_ms=<n> p99_ms=<n>
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startLocalStack } from '../src/local/stack.ts';
import { fleetPlant } from '../src/lib/plant/plant.ts';
import { jsonLogger } from '../src/lib/log.ts';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '500' },
    rate: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '30' },
    'patch-interval-ms': { type: 'string', default: '0' },
  },
});
const devices = Number(values.devices);
const phases = { twinStatesMs: 0, scoreMs: 0, storeMs: 0, alertsMs: 0, twinPatchesMs: 0 };
let batchEvents = 0;
const errors = jsonLogger('bench', 'error');
const dir = mkdtempSync(join(tmpdir(), 'bench-e2e-'));
const stack = await startLocalStack({
  dataDir: dir,
  ports: { api: 0, adt: 0, iothub: 0, ml: 0, eventHubs: 0, azurite: 0 },
  plant: fleetPlant(devices),
  env: { TWIN_PATCH_INTERVAL_MS: values['patch-interval-ms'], LOG_LEVEL: 'error' },
  logger: {
    log(level, message, fields) {
      // The handler logs each batch with where its time went: add those up.
      if (message.startsWith('batch processed ')) {
        const f = JSON.parse(message.slice('batch processed '.length)) as Record<string, number>;
        for (const k of Object.keys(phases)) phases[k as keyof typeof phases] += f[k] ?? 0;
        batchEvents += f.events ?? 0;
      } else errors.log(level, message, fields);
    },
  },
});

// When each twin got each lastTelemetryTime.
const patches = new Map<string, { ltt: number; at: number }[]>();
stack.adt.onChange((e) => {
  if (e.type !== 'Microsoft.DigitalTwins.Twin.Update') return;
  const op = ((e.data.patch ?? []) as { path: string; value?: unknown }[]).find((o) => o.path === '/lastTelemetryTime');
  if (!op) return;
  const list = patches.get(e.subject) ?? [];
  list.push({ ltt: Date.parse(String(op.value)), at: Date.now() });
  patches.set(e.subject, list);
});

const sim = spawn(process.execPath, [...process.execArgv, join(import.meta.dirname, '../src/simulator/main.ts'), '--data', dir, '--hub', stack.hub.hostName, '--devices', values.devices!, '--rate', values.rate!, '--seconds', values.seconds!, '--anomaly-rate', '0.05'], { stdio: ['ignore', 'pipe', 'inherit'] });
let simOut = '';
sim.stdout!.on('data', (d: Buffer) => (simOut += d.toString()));
await new Promise((resolve) => sim.once('exit', resolve));
const done = /done, sent=(\d+) acked=(\d+) failed=(\d+)/.exec(simOut);
if (!done) throw new Error(`the simulator did not finish:\n${simOut}`);
const sent = Number(done[1]);

// Wait for the pipeline to drain (no new rows for 3 s, or everything stored).
let stored = 0;
let lastChange = Date.now();
let lastStoredAt = Date.now();
while (Date.now() - lastChange < 3000 && stored < sent) {
  await new Promise((r) => setTimeout(r, 200));
  const n = await stack.store.count('EquipmentTelemetry');
  if (n !== stored) {
    stored = n;
    lastChange = Date.now();
    lastStoredAt = Date.now();
  }
}
await new Promise((r) => setTimeout(r, 1000)); // the last twin patches
const rows = await stack.store.rows('EquipmentTelemetry');
const distinct = new Set(rows.map((r) => r.MessageId)).size;

const latencies: number[] = [];
for (const r of rows) {
  const t = Date.parse(String(r.Timestamp));
  const first = patches.get(String(r.DeviceId))?.find((p) => p.ltt >= t);
  if (first) latencies.push(first.at - t);
}
latencies.sort((a, b) => a - b);
const pct = (p: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]! : NaN);
// Throughput over the stream: from the first reading sent to the last one stored.
const firstSent = rows.reduce((m, r) => Math.min(m, Date.parse(String(r.Timestamp))), Infinity);
const seconds = (lastStoredAt - firstSent) / 1000;
const runner = stack.runner.stats;
await stack.close();
rmSync(dir, { recursive: true, force: true });

process.stdout.write(`devices=${devices} rate_per_device=${values.rate} seconds=${values.seconds} acked=${done[2]} failed=${done[3]} batches=${runner.batches} redelivered_batches=${runner.retries} twin_updates=${[...patches.values()].reduce((n, l) => n + l.length, 0)} readings_with_twin_update=${latencies.length} patch_interval_ms=${values['patch-interval-ms']}\n`);
process.stdout.write(`handler time per 1,000 events (ms): ${Object.entries(phases).map(([k, v]) => `${k.replace(/Ms$/, '')}=${(v / (batchEvents / 1000)).toFixed(1)}`).join(' ')}\n`);
process.stdout.write(`e2e sent=${sent} stored=${distinct} lost=${sent - distinct} duplicated=${rows.length - distinct} msgs_per_s=${Math.round(distinct / seconds)} p50_ms=${Math.round(pct(0.5))} p99_ms=${Math.round(pct(0.99))}\n`);
process.exit(0);
