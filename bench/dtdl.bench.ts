/**
 * npm run bench:dtdl
 * What Microsoft's DTDL parser (WebAssembly) costs this product: loading it once per process, the
 * first parse of the plant's models (the runtime warming up) and a warm one, as the ADT emulator
 * parses on every upload; and the compiled per-device check, which runs per reading, against zod.
 */
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { dtdlParser, readModelDocuments, zodFor } from '../src/lib/dtdl/index.ts';
import { TelemetryCatalog } from '../src/lib/telemetry/catalog.ts';

const t0 = performance.now();
const parser = await dtdlParser();
const loadMs = performance.now() - t0;
const docs = readModelDocuments();
const t1 = performance.now();
const models = parser.parse(docs);
const firstMs = performance.now() - t1;
const warm: number[] = [];
for (let i = 0; i < 20; i++) {
  const t = performance.now();
  parser.parse(docs);
  warm.push(performance.now() - t);
}
warm.sort((a, b) => a - b);
const warmMs = warm[warm.length >> 1]!;

// The per-reading check the catalog compiles, against validating the same reading with zod alone.
const arm = new TelemetryCatalog(models).forTwinModel('dtmi:manufacturing:RoboticArm;1')!;
const device = models.get('dtmi:manufacturing:device:RoboticArm;1')!;
const shape = Object.fromEntries([...device.telemetry.values()].map((t) => [t.name, zodFor(t.schema).optional()]));
const zodOnly = z.strictObject(shape);
const reading = { temperature: 61.5, vibration: 0.42, pressure: 6.1, cycleCount: 120_345, status: 'running' };
const N = 500_000;
let ok = 0;
let t = performance.now();
for (let i = 0; i < N; i++) if (arm.validate(reading).ok) ok++;
const compiledNs = ((performance.now() - t) * 1e6) / N;
t = performance.now();
for (let i = 0; i < N; i++) if (zodOnly.safeParse(reading).success) ok++;
const zodNs = ((performance.now() - t) * 1e6) / N;
if (ok !== 2 * N) throw new Error('a valid reading was rejected');

process.stdout.write(`parser ${parser.version.split(',').slice(0, 2).join(',')}\n`);
process.stdout.write(`plant interfaces=${models.interfaces.size} documents=${docs.length}\n`);
process.stdout.write(`dtdl load_ms=${loadMs.toFixed(0)} first_parse_ms=${firstMs.toFixed(0)} warm_parse_ms=${warmMs.toFixed(1)} check_ns_per_reading=${compiledNs.toFixed(0)} zod_ns_per_reading=${zodNs.toFixed(0)} check_speedup=${(zodNs / compiledNs).toFixed(1)}x\n`);
