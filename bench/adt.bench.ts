/**
 * npm run bench:adt: the Digital Twins emulator with 10,000 twins and ~20,000 relationships,
 * driven over HTTPS through the product's adapter (@azure/digital-twins-core): latency of a fixed
 * query mix and throughput of concurrent twin patches.
 */
import { startAdtEmulator } from '../src/emulators/adt/server.ts';
import { AdtTwins, StaticTokenCredential } from '../src/lib/twins/adt-twins.ts';
import { readModelDocuments } from '../src/lib/dtdl/index.ts';
import { forEachLimited } from '../src/lib/bounded-set.ts';

const LINES = 99;
const PER_LINE = 100;
const adt = await startAdtEmulator({ memory: true });
const g = adt.graph;
g.createModels(readModelDocuments());
g.upsertTwin('factory', { $metadata: { $model: 'dtmi:manufacturing:Factory;1' }, name: 'Plant' }, {});
const equipment: string[] = [];
for (let l = 0; l < LINES; l++) {
  const line = `line-${l}`;
  g.upsertTwin(line, { $metadata: { $model: 'dtmi:manufacturing:ProductionLine;1' }, name: `Line ${l}` }, {});
  g.upsertRelationship('factory', `f-${l}`, { $targetId: line, $relationshipName: 'contains' }, {});
  for (let e = 0; e < PER_LINE; e++) {
    const id = `eq-${l}-${e}`;
    const arm = e % 2 === 0;
    g.upsertTwin(id, { $metadata: { $model: arm ? 'dtmi:manufacturing:RoboticArm;1' : 'dtmi:manufacturing:Conveyor;1' }, equipmentId: id, status: 'running', ...(arm ? { temperature: 50 + (e % 50) } : { speed: 1 + (e % 10) / 10 }) }, {});
    equipment.push(id);
  }
}
// Each machine sits in its own line and is shared with the next one (cells between lines).
for (let l = 0; l < LINES; l++) {
  for (let e = 0; e < PER_LINE; e++) {
    g.upsertRelationship(`line-${l}`, `c-${l}-${e}`, { $targetId: `eq-${l}-${e}`, $relationshipName: 'contains', position: e }, {});
    g.upsertRelationship(`line-${(l + 1) % LINES}`, `s-${l}-${e}`, { $targetId: `eq-${l}-${e}`, $relationshipName: 'contains', position: PER_LINE + e }, {});
  }
}
const counts = g.counts;
const twins = new AdtTwins({ endpoint: adt.url, credential: new StaticTokenCredential('bench'), caPem: adt.caPem });

const mix = [
  "SELECT * FROM DIGITALTWINS T WHERE T.$dtId = 'eq-42-7'",
  "SELECT T.$dtId, T.temperature FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:manufacturing:RoboticArm;1') AND T.temperature > 95",
  "SELECT E FROM DIGITALTWINS L JOIN E RELATED L.contains WHERE L.$dtId = 'line-12' AND E.status = 'running'",
  "SELECT E.$dtId FROM DIGITALTWINS MATCH (F)-[:contains*2]->(E) WHERE F.$dtId = 'factory' AND E.speed > 1.85",
  "SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:manufacturing:Equipment;1') AND status = 'running'",
];
const latencies: number[] = [];
const byQuery = mix.map(() => [] as number[]);
for (let warm = 0; warm < 20; warm++) await twins.query(mix[warm % mix.length]!);
for (let i = 0; i < 500; i++) {
  const started = performance.now();
  await twins.query(mix[i % mix.length]!);
  latencies.push(performance.now() - started);
  byQuery[i % mix.length]!.push(performance.now() - started);
}
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;

for (const [i, l] of byQuery.entries()) {
  l.sort((a, b) => a - b);
  process.stdout.write(`query ${i + 1} p50_ms=${l[Math.floor(l.length / 2)]!.toFixed(2)}  ${mix[i]!.slice(0, 90)}\n`);
}
const PATCHES = 20_000;
const started = performance.now();
await forEachLimited(Array.from({ length: PATCHES }, (_, i) => i), 64, async (i) => {
  await twins.patch(equipment[i % equipment.length]!, [{ op: 'add', path: '/status', value: i % 3 === 0 ? 'idle' : 'running' }, { op: 'add', path: '/lastTelemetryTime', value: new Date().toISOString() }]);
});
const patchPerS = Math.round(PATCHES / ((performance.now() - started) / 1000));
await adt.close();

process.stdout.write(`graph models=${counts.models} twins=${counts.twins} relationships=${counts.relationships} queries=${latencies.length} patches=${PATCHES} (over HTTPS through @azure/digital-twins-core)\n`);
process.stdout.write(`adt query_p50_ms=${pct(0.5).toFixed(2)} query_p99_ms=${pct(0.99).toFixed(2)} patch_per_s=${patchPerS}\n`);
