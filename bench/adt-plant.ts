/**
 * The bench:adt plant, seeded straight into the graph: a factory, 99 lines of 100 machines,
 * each machine contained by its own line and shared with the next one (~20,000 relationships).
 * Run as a child process it serves that plant and prints one JSON line: { url, caPem }.
 */
import { startAdtEmulator } from '../src/emulators/adt/server.ts';
import type { TwinGraph } from '../src/emulators/adt/twin-graph.ts';
import { readModelDocuments } from '../src/lib/dtdl/index.ts';

export const LINES = 99;
export const PER_LINE = 100;
export const equipmentId = (l: number, e: number) => `eq-${l}-${e}`;

export function seedPlant(g: TwinGraph): void {
  g.createModels(readModelDocuments());
  g.upsertTwin('factory', { $metadata: { $model: 'dtmi:manufacturing:Factory;1' }, name: 'Plant' }, {});
  for (let l = 0; l < LINES; l++) {
    const line = `line-${l}`;
    g.upsertTwin(line, { $metadata: { $model: 'dtmi:manufacturing:ProductionLine;1' }, name: `Line ${l}` }, {});
    g.upsertRelationship('factory', `f-${l}`, { $targetId: line, $relationshipName: 'contains' }, {});
    for (let e = 0; e < PER_LINE; e++) {
      const id = equipmentId(l, e);
      const arm = e % 2 === 0;
      g.upsertTwin(id, { $metadata: { $model: arm ? 'dtmi:manufacturing:RoboticArm;1' : 'dtmi:manufacturing:Conveyor;1' }, equipmentId: id, status: 'running', ...(arm ? { temperature: 50 + (e % 50) } : { speed: 1 + (e % 10) / 10 }) }, {});
    }
  }
  for (let l = 0; l < LINES; l++) {
    for (let e = 0; e < PER_LINE; e++) {
      g.upsertRelationship(`line-${l}`, `c-${l}-${e}`, { $targetId: equipmentId(l, e), $relationshipName: 'contains', position: e }, {});
      g.upsertRelationship(`line-${(l + 1) % LINES}`, `s-${l}-${e}`, { $targetId: equipmentId(l, e), $relationshipName: 'contains', position: PER_LINE + e }, {});
    }
  }
}

if (process.argv.includes('--serve')) {
  const adt = await startAdtEmulator({ memory: true });
  seedPlant(adt.graph);
  process.stdout.write(`${JSON.stringify({ url: adt.url, caPem: adt.caPem, counts: adt.graph.counts })}\n`);
  process.on('SIGTERM', () => void adt.close().then(() => process.exit(0)));
}
