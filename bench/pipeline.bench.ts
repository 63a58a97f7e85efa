/**
 * npm run bench:pipeline [-- --devices 1000 --rate 10 --seconds 60]
 * Pushes one generated stream through the telemetryIngest handler (in-memory far ends) and through
 * a one-patch-per-event baseline, in the same run, and prints throughput and twin patches: first
 * cut into one batch a second of every device (the last line, comparable across versions), then
 * as the Functions host cuts it (a batch at most host.json's maxEventBatchSize events of one of
 * the deployment's partitions), which is what an instance meets in production. The per-second cut
 * also runs the pipeline with a detector that does no work, which measures what the rest of the
 * pipeline costs and so what the detector costs per event.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import azureFunctions from '@azure/functions';

const { InvocationContext } = azureFunctions;
import { TelemetryPipeline } from '../src/lib/pipeline.ts';
import { createTelemetryIngest } from '../src/lib/telemetry-ingest.ts';
import { ResilientScorer } from '../src/lib/anomaly/resilient-scorer.ts';
import { StreamingDetector, type Detection } from '../src/lib/anomaly/streaming-detector.ts';
import { emptyDetectorState } from '../src/lib/anomaly/detector-state.ts';
import { silentLogger } from '../src/lib/log.ts';
import { InMemoryTwins } from '../test/support/in-memory-twins.ts';
import type { StoreBatch, TelemetryStorePort } from '../src/lib/ports.ts';
import { CapturedAlerts, defaultSettings } from '../test/support/pipeline-harness.ts';
import { ARM, CONVEYOR, plantCatalog } from '../test/support/plant.ts';
import { baselineBatch } from './baseline.ts';
import { deviceId, generateStream, type StreamOptions } from './stream.ts';

const { values: args } = parseArgs({
  options: {
    devices: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '60' },
    /** Timed runs of each side after one to warm up; the fastest counts. */
    rounds: { type: 'string', default: '3' },
    /** Run one side only (for profiling): `pipeline`, `baseline` or `idle` (the pipeline with the detector that does no work). */
    only: { type: 'string' },
    /** Run one cut of the stream only, `second` or `host` (for profiling). */
    shape: { type: 'string' },
  },
});

/**
 * The store's far end is another service: here it counts what it receives and keeps nothing, so
 * neither side pays for holding a million rows in this process.
 */
class CountingStore implements TelemetryStorePort {
  rows = 0;
  writes = 0;
  async write(batch: StoreBatch): Promise<void> {
    this.writes++;
    this.rows += batch.telemetry.length;
  }
  async latestReadings() {
    return [];
  }
}
const devices = Number(args.devices);
const rate = Number(args.rate);
const seconds = Number(args.seconds);

const catalog = plantCatalog();
const start = Date.now() - (seconds + 60) * 1000;
const streamOptions: StreamOptions = { devices, ratePerDevice: rate, seconds, batchSeconds: 1, episodeShare: 0.02 };
// infra/main.bicep's default partitionCount, and the batch size host.json gives the Event Hubs trigger
// (host.json is beside bench/, whether this runs from bench/ or compiled into .bench-build/bench/).
const hostJson = new URL('../host.json', import.meta.url.replace('/.bench-build/', '/'));
const host = { partitions: 4, maxBatch: (JSON.parse(readFileSync(hostJson, 'utf8')) as { extensions: { eventHubs: { maxEventBatchSize: number } } }).extensions.eventHubs.maxEventBatchSize };
const batches = Math.ceil(seconds);
const events = devices * rate * batches;

function plant() {
  const twins = new InMemoryTwins(false);
  const models = new Map<string, string>();
  for (let d = 0; d < devices; d++) {
    const model = d % 2 === 0 ? ARM : CONVEYOR;
    twins.add(deviceId(d), model);
    models.set(deviceId(d), model);
  }
  return { twins, models, store: new CountingStore() };
}

const quiet = () => {};

/**
 * Scores every reading as normal without looking at it: the pipeline around the detector (decode,
 * store, patch plan, alarms, journal) at its own cost. A measurement, never a product part.
 */
class IdleDetector extends StreamingDetector {
  private readonly normal = new StreamingDetector().step(emptyDetectorState(), 0, {});
  override step(_state: unknown, time: number): Detection {
    return { ...this.normal, time };
  }
}

async function runPipeline(options: StreamOptions, detector?: StreamingDetector) {
  const { twins, store } = plant();
  const alerts = new CapturedAlerts();
  const pipeline = new TelemetryPipeline({
    catalog, twins, store, alerts, logger: silentLogger, settings: defaultSettings,
    scorer: new ResilientScorer(undefined, silentLogger),
    ...(detector ? { detector } : {}),
  });
  const ingest = createTelemetryIngest(pipeline);
  let deadLettered = 0;
  let ms = 0;
  let i = 0;
  // Only the handler is timed: making each batch is the event source's work, not ours.
  for (const b of generateStream(options, start)) {
    const context = new InvocationContext({ invocationId: `b${i++}`, functionName: 'telemetryIngest', triggerMetadata: b.meta as Record<string, unknown>, logHandler: quiet });
    const began = performance.now();
    deadLettered += (await ingest(b.bodies, context)).deadLettered;
    ms += performance.now() - began;
  }
  return { ms, patches: twins.patchCount, rows: store.rows, alerts: alerts.sent.length, deadLettered, rssMb: Math.round(process.memoryUsage().rss / 2 ** 20) };
}

async function runBaseline(options: StreamOptions) {
  const { twins, store, models } = plant();
  let ms = 0;
  for (const b of generateStream(options, start)) {
    const began = performance.now();
    await baselineBatch(b, catalog, twins, store, models);
    ms += performance.now() - began;
  }
  return { ms, patches: twins.patchCount, rows: store.rows };
}

const idle = { ms: NaN, patches: 0, rows: 0, alerts: 0, deadLettered: 0, rssMb: 0 };
type Run = typeof idle;
/**
 * Every side once to warm the JIT up alike, then `rounds` rounds taking turns, and each side's
 * fastest run counts: on a shared two-core machine a run is only ever slowed by its neighbours,
 * so the fastest is the least disturbed, and taking turns exposes each side to the same drift.
 */
async function fastest(sides: (() => Promise<Run>)[]): Promise<Run[]> {
  for (const side of sides) await side();
  const best = sides.map(() => idle);
  for (let r = 0; r < Number(args.rounds); r++) {
    for (let i = 0; i < sides.length; i++) {
      const run = await sides[i]!();
      if (!(run.ms >= best[i]!.ms)) best[i] = run;
    }
  }
  return best;
}
const only = (name: string) => args.only === undefined || args.only === name;
const side = (skip: boolean, run: () => Promise<Run>) => (skip ? async () => idle : run);
const [pipeline, baseline, withoutDetection] = await fastest([
  side(args.shape === 'host' || !only('pipeline'), () => runPipeline(streamOptions)),
  side(args.shape === 'host' || !only('baseline'), async () => ({ ...idle, ...(await runBaseline(streamOptions)) })),
  side(args.shape === 'host' || !only('idle'), () => runPipeline(streamOptions, new IdleDetector())),
]) as [Run, Run, Run];
const hostOptions = { ...streamOptions, host };
const [hostPipeline, hostBaseline] = await fastest([
  side(args.shape === 'second' || !only('pipeline'), () => runPipeline(hostOptions)),
  side(args.shape === 'second' || !only('baseline'), async () => ({ ...idle, ...(await runBaseline(hostOptions)) })),
]) as [Run, Run];

const per1000 = (patches: number) => ((patches / events) * 1000).toFixed(2);
const perSecond = (ms: number) => Math.round(events / (ms / 1000));
process.stdout.write(`node ${process.version} flags=${process.execArgv.filter((a) => a.startsWith('--max')).join(' ') || 'default'}\n`);
process.stdout.write(`stream devices=${devices} rate=${rate}/s seconds=${seconds} batches=${batches} events=${events}\n`);
process.stdout.write(`pipeline ms=${pipeline.ms.toFixed(0)} rows=${pipeline.rows} patches=${pipeline.patches} alerts=${pipeline.alerts} dead_lettered=${pipeline.deadLettered} rss_mb=${pipeline.rssMb}\n`);
process.stdout.write(`baseline ms=${baseline.ms.toFixed(0)} rows=${baseline.rows} patches=${baseline.patches}\n`);
process.stdout.write(
  `host_batches partitions=${host.partitions} max_batch=${host.maxBatch} pipeline_events_per_s=${perSecond(hostPipeline.ms)} baseline_events_per_s=${perSecond(hostBaseline.ms)} throughput_ratio=${(hostBaseline.ms / hostPipeline.ms).toFixed(2)}x twin_patches_per_1000_events=${per1000(hostPipeline.patches)} rows=${hostPipeline.rows}\n`,
);
process.stdout.write(
  `without_detection pipeline_events_per_s=${perSecond(withoutDetection.ms)} throughput_ratio=${(baseline.ms / withoutDetection.ms).toFixed(2)}x detector_us_per_event=${(((pipeline.ms - withoutDetection.ms) / events) * 1000).toFixed(2)} budget_us_per_event_for_1.2x=${(((baseline.ms / 1.2 - withoutDetection.ms) / events) * 1000).toFixed(2)}\n`,
);
process.stdout.write(`patch_ratio=${(baseline.patches / Math.max(1, pipeline.patches)).toFixed(1)}x throughput_ratio=${(baseline.ms / pipeline.ms).toFixed(2)}x\n`);
process.stdout.write(
  `pipeline events_per_s=${perSecond(pipeline.ms)} baseline_events_per_s=${perSecond(baseline.ms)} twin_patches_per_1000_events=${per1000(pipeline.patches)} baseline_twin_patches_per_1000_events=${per1000(baseline.patches)}\n`,
);
