/**
 * npm run bench:adt: the Digital Twins emulator with 10,000 twins and ~20,000 relationships,
 * running in its own process as a real ADT instance would, driven over HTTPS through the
 * product's adapter (@azure/digital-twins-core): latency of a fixed query mix, then throughput
 * of concurrent twin patches.
 *
 * patch_per_s is the emulator's capacity, driven by plain keep-alive HTTPS clients. The SDK
 * spends ~400 µs of CPU per call on the client side, so on a 2-core machine a single client
 * process saturates before the emulator does: that figure is printed too (sdk_patch_per_s).
 */
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:https';
import { createInterface } from 'node:readline';
import { AdtTwins, StaticTokenCredential } from '../src/lib/twins/adt-twins.ts';
import type { JsonPatchOp } from '../src/lib/ports.ts';
import { forEachLimited } from '../src/lib/bounded-set.ts';
import { LINES, PER_LINE, equipmentId } from './adt-plant.ts';

const child = spawn(process.execPath, [...process.execArgv, new URL('./adt-plant.ts', import.meta.url).pathname, '--serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
const first = await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next();
const server = JSON.parse(first.value as string) as { url: string; caPem: string; counts: { models: number; twins: number; relationships: number } };
const twins = new AdtTwins({ endpoint: server.url, credential: new StaticTokenCredential('bench'), caPem: server.caPem });
const equipment = Array.from({ length: LINES * PER_LINE }, (_, i) => equipmentId(Math.floor(i / PER_LINE), i % PER_LINE));

const mix = [
  "SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'eq-42-7'",
  "SELECT T.$dtId, T.temperature FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:manufacturing:RoboticArm;1') AND T.temperature > 95",
  "SELECT E FROM DIGITALTWINS L JOIN E RELATED L.contains WHERE L.$dtId = 'line-12' AND E.status = 'running'",
  "SELECT E.$dtId FROM DIGITALTWINS MATCH (F)-[:contains*2]->(E) WHERE F.$dtId = 'factory' AND E.speed > 1.85",
  "SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:manufacturing:Equipment;1') AND status = 'running'",
];
const latencies: number[] = [];
const byQuery = mix.map(() => [] as number[]);
for (let warm = 0; warm < 50; warm++) await twins.query(mix[warm % mix.length]!);
for (let i = 0; i < 500; i++) {
  const started = performance.now();
  await twins.query(mix[i % mix.length]!);
  const ms = performance.now() - started;
  latencies.push(ms);
  byQuery[i % mix.length]!.push(ms);
}
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
for (const [i, l] of byQuery.entries()) {
  l.sort((a, b) => a - b);
  process.stdout.write(`query ${i + 1} p50_ms=${l[Math.floor(l.length / 2)]!.toFixed(2)}  ${mix[i]!.slice(0, 90)}\n`);
}

const PATCHES = 20_000;
const patchOf = (i: number): JsonPatchOp[] => [{ op: 'add', path: '/status', value: i % 3 === 0 ? 'idle' : 'running' }, { op: 'add', path: '/lastTelemetryTime', value: new Date().toISOString() }];
const agent = new Agent({ ca: server.caPem, keepAlive: true });
const { hostname, port } = new URL(server.url);
const rawPatch = (i: number) =>
  new Promise<void>((resolve, reject) => {
    const body = JSON.stringify(patchOf(i));
    const path = `/digitaltwins/${equipment[i % equipment.length]!}?api-version=2023-10-31`;
    const headers = { authorization: 'Bearer bench', 'content-type': 'application/json-patch+json', 'content-length': Buffer.byteLength(body) };
    request({ hostname, port, path, method: 'PATCH', agent, headers }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`PATCH ${path}: ${res.statusCode}`))));
    }).on('error', reject).end(body);
  });
const throughput = async (count: number, concurrency: number, patch: (i: number) => Promise<unknown>) => {
  const started = performance.now();
  await forEachLimited(Array.from({ length: count }, (_, i) => i), concurrency, patch);
  return Math.round(count / ((performance.now() - started) / 1000));
};
await throughput(5_000, 32, rawPatch); // warm the emulator's JIT
const patchPerS = await throughput(PATCHES, 32, rawPatch);
const sdkPatchPerS = await throughput(PATCHES / 2, 64, (i) => twins.patch(equipment[i % equipment.length]!, patchOf(i)));
child.kill('SIGTERM');

const { counts } = server;
process.stdout.write(`sdk_patch_per_s=${sdkPatchPerS} (${PATCHES / 2} patches through AdtTwins, 64 in flight; bound by the client's CPU)\n`);
process.stdout.write(`graph models=${counts.models} twins=${counts.twins} relationships=${counts.relationships} queries=${latencies.length} patches=${PATCHES} (emulator in its own process; queries through @azure/digital-twins-core, patches over keep-alive HTTPS, 32 in flight)\n`);
process.stdout.write(`adt query_p50_ms=${pct(0.5).toFixed(2)} query_p99_ms=${pct(0.99).toFixed(2)} patch_per_s=${patchPerS}\n`);
