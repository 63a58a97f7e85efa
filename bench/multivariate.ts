/**
 * A synthetic, labelled set of multivariate equipment runs, for what the univariate development
 * corpus cannot show: whether an anomaly that lasts minutes on several sensors is flagged for its
 * minutes, row by row, at the product's warning threshold (0.5). Each file is one run of a
 * machine at one reading a second (15–23 minutes): 3 to 12 sensors driven by a shared load (a
 * slow random walk), a periodic duty cycle, noise with rare glitches, and in half the runs an
 * unlabelled step of the load (normal operation changing). One or two labelled anomalies of 100
 * to 400 seconds each hit 1 to 4 sensors: a level shift, more noise, a ramp, a sensor no longer
 * following the load, or a new oscillation. Seeded, so every run of the bench sees the same files.
 *
 * It is ours (no public data of this kind is available here), so it is a check of behaviour,
 * not a benchmark to tune on: the figures are printed beside the "alarm on every row" baseline.
 */
import { Readable, Writable } from 'node:stream';
import { scoreCsv } from '../src/lib/anomaly/score-csv.ts';
import type { StreamingDetector } from '../src/lib/anomaly/streaming-detector.ts';
import { gauss, rng } from '../src/simulator/scenarios.ts';

export interface MultivariateRun {
  csv: string;
  /** 1 for each row inside a labelled anomaly. */
  label: Uint8Array;
}

export function multivariateRun(seed: number): MultivariateRun {
  const r = rng(seed);
  const rows = 900 + Math.floor(r() * 500);
  const sensors = 3 + Math.floor(r() * 10);
  const weight = Array.from({ length: sensors }, () => r() * 2 - 1);
  const scale = Array.from({ length: sensors }, () => 0.5 + r() * 50);
  const offset = Array.from({ length: sensors }, () => r() * 100);
  const noise = Array.from({ length: sensors }, () => 0.1 + r() * 0.5);
  const period = 30 + r() * 90;
  const step = r() < 0.5 ? { at: Math.floor(rows * (0.2 + 0.7 * r())), by: (r() - 0.5) * 3 } : undefined;
  const label = new Uint8Array(rows);
  const anomalies: { from: number; to: number; kind: number; hit: Set<number>; size: number }[] = [];
  const count = r() < 0.3 ? 2 : 1;
  for (let k = 0; k < count; k++) {
    const from = Math.floor(rows * (0.3 + 0.5 * r()));
    const to = Math.min(rows - 1, from + 100 + Math.floor(r() * 300));
    const hit = new Set([...Array(sensors).keys()].sort(() => r() - 0.5).slice(0, 1 + Math.floor(r() * 4)));
    anomalies.push({ from, to, kind: Math.floor(r() * 5), hit, size: 1.5 + r() * 4 });
    label.fill(1, from, to + 1);
  }
  const lines = ['timestamp,' + Array.from({ length: sensors }, (_, i) => `s${i}`).join(',')];
  const t0 = Date.UTC(2024, 2, 1);
  let load = 0;
  for (let t = 0; t < rows; t++) {
    load = 0.98 * load + 0.2 * gauss(r) + (step && t === step.at ? step.by : 0);
    const cycle = Math.sin((2 * Math.PI * t) / period);
    const values: string[] = [];
    for (let i = 0; i < sensors; i++) {
      let z = weight[i]! * load + 0.5 * weight[(i + 3) % sensors]! * cycle + noise[i]! * gauss(r) + (r() < 0.01 ? noise[i]! * 8 * gauss(r) : 0);
      for (const a of anomalies) {
        if (t < a.from || t > a.to || !a.hit.has(i)) continue;
        const progress = (t - a.from) / Math.max(1, a.to - a.from);
        if (a.kind === 0) z += a.size * (weight[i]! >= 0 ? 1 : -1);
        else if (a.kind === 1) z += noise[i]! * gauss(r) * a.size * 1.5;
        else if (a.kind === 2) z += a.size * 1.5 * progress;
        else if (a.kind === 3) z += a.size * 0.4 * gauss(r) - weight[i]! * load;
        else z += a.size * 0.7 * Math.sin((2 * Math.PI * t) / 7);
      }
      values.push((offset[i]! + scale[i]! * z).toFixed(4));
    }
    lines.push(`${new Date(t0 + t * 1000).toISOString()},${values.join(',')}`);
  }
  return { csv: lines.join('\n') + '\n', label };
}

export interface RowFigures {
  files: number;
  f1: number;
  precision: number;
  recall: number;
  /** Share of normal rows flagged. */
  falseAlarmRate: number;
  anomalies: number;
  /** Anomalies with at least one flagged row. */
  anomaliesFlagged: number;
  /** F1 of flagging every row. */
  everyRowF1: number;
}

/** Every run through `scoreCsv` (what `npm run score` does), flagged at `threshold`, scored row by row. */
export async function scoreMultivariate(detector: StreamingDetector, files = 40, threshold = 0.5): Promise<RowFigures> {
  let tp = 0, fp = 0, positives = 0, rows = 0, anomalies = 0, flagged = 0;
  for (let f = 1; f <= files; f++) {
    const run = multivariateRun(f * 7919);
    const chunks: string[] = [];
    await scoreCsv(Readable.from([run.csv]), new Writable({ write(chunk, _enc, done) { chunks.push(String(chunk)); done(); } }), { detector });
    const lines = chunks.join('').trim().split('\n');
    const at = lines[0]!.split(',').indexOf('anomaly_score');
    let inside = false;
    let caught = false;
    for (let i = 0; i < run.label.length; i++) {
      const flag = Number(lines[i + 1]!.split(',')[at]) >= threshold;
      rows++;
      if (run.label[i]) {
        positives++;
        if (!inside) anomalies++;
        inside = true;
        if (flag) tp++;
        if (flag && !caught) flagged++;
        caught ||= flag;
      } else {
        inside = caught = false;
        if (flag) fp++;
      }
    }
  }
  const precision = tp / Math.max(1, tp + fp);
  const recall = tp / Math.max(1, positives);
  const share = positives / rows;
  return {
    files,
    f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0,
    precision,
    recall,
    falseAlarmRate: fp / Math.max(1, rows - positives),
    anomalies,
    anomaliesFlagged: flagged,
    everyRowF1: (2 * share) / (1 + share),
  };
}
