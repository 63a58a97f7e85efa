/**
 * Failure prediction: the probability that a machine fails within `horizonHours`, from the
 * streaming detector's failure features (src/lib/anomaly/streaming-detector.ts). A logistic
 * regression: small enough to read, to serve from a JSON file in any language (ml/score.py does
 * the same arithmetic for Azure ML), and trained deterministically, so the same data and seed
 * give the same model file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { FAILURE_FEATURES, StreamingDetector, type FailureFeatures } from './streaming-detector.ts';
import { emptyDetectorState } from './detector-state.ts';

export const MODEL_FORMAT = 'manufacturing-twins/failure-model@1';

const modelFileSchema = z.object({
  format: z.literal(MODEL_FORMAT),
  version: z.string().min(1),
  horizonHours: z.number().positive(),
  features: z.array(z.enum(FAILURE_FEATURES)).min(1),
  mean: z.array(z.number()),
  scale: z.array(z.number().positive()),
  weights: z.array(z.number()),
  bias: z.number(),
  trainedAt: z.string(),
  trainedOn: z.record(z.string(), z.unknown()),
  metrics: z.record(z.string(), z.number()),
}).refine((m) => m.mean.length === m.features.length && m.scale.length === m.features.length && m.weights.length === m.features.length, 'mean, scale and weights need one entry per feature');
export type FailureModelFile = z.infer<typeof modelFileSchema>;

export class FailureModel {
  constructor(readonly file: FailureModelFile) {}

  static parse(json: unknown, where = 'model'): FailureModel {
    const parsed = modelFileSchema.safeParse(json);
    if (!parsed.success) throw new AppError('model.invalid', `${where} is not a failure model file: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ')}`, { status: 400 });
    return new FailureModel(parsed.data);
  }

  static load(path: string): FailureModel {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new AppError('model.unreadable', `cannot read model ${path}: ${(error as Error).message}`, { status: 400 });
    }
    return FailureModel.parse(json, path);
  }

  get version(): string {
    return this.file.version;
  }

  predict(features: Readonly<Partial<Record<keyof FailureFeatures, number>>>): number {
    const m = this.file;
    let logit = m.bias;
    for (let i = 0; i < m.features.length; i++) {
      const x = features[m.features[i]!];
      // A missing feature counts as its training mean: it adds nothing either way.
      if (x === undefined || !Number.isFinite(x)) continue;
      logit += m.weights[i]! * ((x - m.mean[i]!) / m.scale[i]!);
    }
    return 1 / (1 + Math.exp(-logit));
  }
}

/** The newest versioned model in a directory (failure-model-v<N>.json), or undefined. */
export function latestModelFile(dir: string): string | undefined {
  let best: { n: number; name: string } | undefined;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  for (const name of names) {
    const m = /^failure-model-v(\d+)\.json$/.exec(name);
    if (m && (!best || Number(m[1]) > best.n)) best = { n: Number(m[1]), name };
  }
  return best && join(dir, best.name);
}

export interface Sample {
  x: number[];
  y: 0 | 1;
}

/** One labelled sample per reading: 1 when the machine fails within the horizon after it. */
export interface LabelledRun {
  failureTime?: number;
  onsetTime?: number;
  readings: Iterable<{ time: number; features: Record<string, number>; status?: string }>;
}

export function samplesOf(runs: Iterable<LabelledRun>, options: { horizonHours: number; every?: number; detector?: StreamingDetector; onRun?: (done: number) => void }): Sample[] {
  const detector = options.detector ?? new StreamingDetector();
  const horizon = options.horizonHours * 3_600_000;
  const every = options.every ?? 1;
  const samples: Sample[] = [];
  let done = 0;
  for (const run of runs) {
    const state = emptyDetectorState();
    let i = 0;
    for (const r of run.readings) {
      const d = detector.step(state, r.time, r.features, r.status);
      if (r.status === 'fault' || i++ % every !== 0) continue;
      const toFailure = run.failureTime === undefined ? Infinity : run.failureTime - r.time;
      samples.push({ x: FAILURE_FEATURES.map((f) => d.features[f]), y: toFailure >= 0 && toFailure <= horizon ? 1 : 0 });
    }
    options.onRun?.(++done);
  }
  return samples;
}

/** Area under the ROC curve, by ranks (ties averaged). */
export function auc(scores: readonly number[], labels: readonly (0 | 1)[]): number {
  const order = scores.map((s, i) => [s, labels[i]!] as const).sort((a, b) => a[0] - b[0]);
  let rankSum = 0;
  let positives = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j < order.length && order[j]![0] === order[i]![0]) j++;
    const rank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (order[k]![1] === 1) (rankSum += rank), positives++;
    i = j;
  }
  const negatives = order.length - positives;
  return positives && negatives ? (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives) : 0.5;
}

/**
 * Fits the logistic regression by full-batch gradient descent (Adam) with a little L2, features
 * standardised. Unweighted, so its output stays a calibrated probability. Deterministic: no
 * random initialisation.
 */
export function trainFailureModel(train: readonly Sample[], options: { version: string; horizonHours: number; trainedOn: Record<string, unknown>; validation?: readonly Sample[]; iterations?: number; l2?: number; trainedAt?: string }): FailureModelFile {
  if (train.length === 0) throw new AppError('model.noData', 'no training samples', { status: 400 });
  const positives = train.filter((s) => s.y === 1).length;
  if (positives === 0 || positives === train.length) throw new AppError('model.oneClass', `training needs both failing and healthy readings (got ${positives} of ${train.length} within the horizon)`, { status: 400 });
  const k = FAILURE_FEATURES.length;
  const mean = Array.from({ length: k }, (_, j) => train.reduce((a, s) => a + s.x[j]!, 0) / train.length);
  const scale = Array.from({ length: k }, (_, j) => Math.sqrt(train.reduce((a, s) => a + (s.x[j]! - mean[j]!) ** 2, 0) / train.length) || 1);
  const xs = train.map((s) => s.x.map((v, j) => (v - mean[j]!) / scale[j]!));
  const w = new Float64Array(k + 1);
  const m1 = new Float64Array(k + 1);
  const m2 = new Float64Array(k + 1);
  const l2 = options.l2 ?? 1e-3;
  const iterations = options.iterations ?? 400;
  for (let it = 1; it <= iterations; it++) {
    const grad = new Float64Array(k + 1);
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i]!;
      let logit = w[k]!;
      for (let j = 0; j < k; j++) logit += w[j]! * x[j]!;
      const p = 1 / (1 + Math.exp(-logit));
      const err = p - train[i]!.y;
      for (let j = 0; j < k; j++) grad[j] = grad[j]! + err * x[j]!;
      grad[k] = grad[k]! + err;
    }
    for (let j = 0; j <= k; j++) {
      const g = grad[j]! / xs.length + (j < k ? l2 * w[j]! : 0);
      m1[j] = 0.9 * m1[j]! + 0.1 * g;
      m2[j] = 0.999 * m2[j]! + 0.001 * g * g;
      w[j] = w[j]! - (0.1 * (m1[j]! / (1 - 0.9 ** it))) / (Math.sqrt(m2[j]! / (1 - 0.999 ** it)) + 1e-8);
    }
  }
  const file: FailureModelFile = {
    format: MODEL_FORMAT,
    version: options.version,
    horizonHours: options.horizonHours,
    features: [...FAILURE_FEATURES],
    mean,
    scale,
    weights: [...w.slice(0, k)],
    bias: w[k]!,
    trainedAt: options.trainedAt ?? new Date().toISOString(),
    trainedOn: options.trainedOn,
    metrics: {},
  };
  const model = new FailureModel(file);
  const evaluate = (set: readonly Sample[], prefix: string) => {
    const scores = set.map((s) => model.predict(Object.fromEntries(FAILURE_FEATURES.map((f, j) => [f, s.x[j]!]))));
    file.metrics[`${prefix}Auc`] = round(auc(scores, set.map((s) => s.y)));
    file.metrics[`${prefix}Brier`] = round(scores.reduce((a, p, i) => a + (p - set[i]!.y) ** 2, 0) / set.length);
    file.metrics[`${prefix}Samples`] = set.length;
    file.metrics[`${prefix}Positives`] = set.filter((s) => s.y === 1).length;
  };
  evaluate(train, 'train');
  if (options.validation?.length) evaluate(options.validation, 'validation');
  return file;
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;
