/**
 * npm run train [-- --simulate --seed 7 --devices 60 --days 14]                 (a simulated fleet)
 * npm run train -- --truth RUN/ground-truth.json [--db .data/telemetry.duckdb]  (what npm start stored)
 * Trains the failure model (probability of failure within --horizon-hours) and writes the next
 * versioned file, models/failure-model-v<N>.json, which `npm start` serves on its scoring endpoint.
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseCommandLine } from '../lib/command-line.ts';
import { latestModelFile, samplesOf, trainFailureModel, type LabelledRun, type Sample } from '../lib/anomaly/failure-model.ts';
import { degradationFleet, runReadings } from '../simulator/degradation.ts';
import { readGroundTruth } from '../lib/anomaly/backtest.ts';
import { DuckDbTelemetryStore } from '../lib/store/duckdb-telemetry-store.ts';
import { projectRoot } from '../lib/paths.ts';
import { progressBar } from './progress.ts';

const USAGE = `usage: npm run train -- [--simulate] [--seed 7] [--devices 60] [--days 14] [--horizon-hours 24] [--out models]
       npm run train -- --truth RUN/ground-truth.json [--db .data/telemetry.duckdb] [--horizon-hours 24] [--out models]`;

function simulatedRuns(seed: number, devices: number, days: number): LabelledRun[] {
  return degradationFleet({ seed, devices, failingShare: 2 / 3, days, periodMs: 60_000 }).map((plan) => ({
    ...(plan.failure ? { failureTime: plan.failure.failureTime, onsetTime: plan.failure.onsetTime } : {}),
    readings: { [Symbol.iterator]: () => runReadings(plan) },
  }));
}

async function storedRuns(db: string, truthPath: string): Promise<LabelledRun[]> {
  const truth = readGroundTruth(truthPath);
  const failures = new Map(truth.degradation.map((d) => [d.deviceId, Date.parse(d.failure)]));
  const store = await DuckDbTelemetryStore.open(db);
  try {
    const runs: LabelledRun[] = [];
    for (const deviceId of await store.devices()) {
      const readings: { time: number; features: Record<string, number>; status?: string }[] = [];
      for (let after = Date.parse(truth.startedAt) - 1; ; ) {
        const page = await store.readingsAfter(deviceId, after, 10_000);
        for (const r of page) {
          const features: Record<string, number> = {};
          for (const [k, v] of Object.entries(r.readings)) if (typeof v === 'number') features[k] = v;
          readings.push({ time: r.time, features, ...(typeof r.readings.status === 'string' ? { status: r.readings.status } : {}) });
        }
        if (page.length < 10_000) break;
        after = page[page.length - 1]!.time;
      }
      const failureTime = failures.get(deviceId);
      runs.push({ readings, ...(failureTime !== undefined ? { failureTime } : {}) });
    }
    return runs;
  } finally {
    await store.close();
  }
}

async function main(): Promise<number> {
  const { values } = parseCommandLine(USAGE, {
    options: {
      simulate: { type: 'boolean' },
      seed: { type: 'string', default: '7' },
      devices: { type: 'string', default: '60' },
      days: { type: 'string', default: '14' },
      truth: { type: 'string' },
      db: { type: 'string', default: '.data/telemetry.duckdb' },
      'horizon-hours': { type: 'string', default: '24' },
      out: { type: 'string', default: join(projectRoot(), 'models') },
      'trained-at': { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return console.log(USAGE), 0;
  const horizonHours = Number(values['horizon-hours']);
  if (!(horizonHours > 0)) return console.error(`--horizon-hours must be positive\n${USAGE}`), 2;
  let train: Sample[];
  let validation: Sample[];
  let trainedOn: Record<string, unknown>;
  try {
    if (values.truth) {
      if (!existsSync(values.db)) return console.error(`no telemetry store at ${values.db}`), 2;
      const runs = await storedRuns(values.db, values.truth);
      // Every fifth device is held out for validation.
      train = samplesOf(runs.filter((_, i) => i % 5 !== 4), { horizonHours });
      validation = samplesOf(runs.filter((_, i) => i % 5 === 4), { horizonHours });
      trainedOn = { source: 'stored telemetry', db: values.db, truth: values.truth, devices: runs.length };
    } else {
      const seed = Number(values.seed);
      const devices = Number(values.devices);
      const days = Number(values.days);
      if (![seed, devices, days].every((n) => Number.isInteger(n) && n >= 0) || devices < 6 || days < 8) return console.error(`--seed, --devices (≥ 6) and --days (≥ 8) must be whole numbers\n${USAGE}`), 2;
      // Every 5th reading: neighbouring minutes say nearly the same thing.
      const bar = progressBar('simulating and featurising', 2 * devices, { quiet: values.quiet ?? false });
      train = samplesOf(simulatedRuns(seed, devices, days), { horizonHours, every: 5, onRun: (n) => bar.update(n) });
      validation = samplesOf(simulatedRuns(seed + 1, devices, days), { horizonHours, every: 5, onRun: (n) => bar.update(devices + n) });
      bar.finish();
      trainedOn = { source: 'simulated fleet', seed, validationSeed: seed + 1, devices, days, periodMinutes: 1 };
    }
    const latest = latestModelFile(values.out);
    const n = latest ? Number(/-v(\d+)\.json$/.exec(latest)![1]) + 1 : 1;
    const model = trainFailureModel(train, { version: `failure-lr-v${n}`, horizonHours, trainedOn, validation, ...(values['trained-at'] ? { trainedAt: values['trained-at'] } : {}) });
    mkdirSync(values.out, { recursive: true });
    const path = join(values.out, `failure-model-v${n}.json`);
    writeFileSync(path, `${JSON.stringify(model, null, 2)}\n`);
    const m = model.metrics;
    console.log(`trained ${model.version} on ${m.trainSamples} samples (${m.trainPositives} within ${horizonHours} h of a failure): train auc=${m.trainAuc} brier=${m.trainBrier}; validation auc=${m.validationAuc ?? 'n/a'} brier=${m.validationBrier ?? 'n/a'} → ${path}`);
    return 0;
  } catch (error) {
    console.error(`train: ${(error as Error).message}`);
    return 1;
  }
}

process.exitCode = await main();
