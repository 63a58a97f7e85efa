/**
 * Scores any CSV with the streaming detector: a `timestamp` column (ISO 8601, or epoch seconds or
 * milliseconds) and one or more numeric columns; every row is written back unchanged with an
 * `anomaly_score` column in [0, 1] added. Streams, so the file's size does not matter. A `status`
 * column, when present, is passed to the detector; with `groupBy` each value of that column (a
 * device id) gets its own detector state. A row whose timestamp cannot be read is kept, with an
 * empty score, and reported.
 */
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify';
import { AppError } from '../errors.ts';
import { StreamingDetector, emptyDetectorState, type DetectorState } from './streaming-detector.ts';

export interface ScoreCsvOptions {
  groupBy?: string;
  detector?: StreamingDetector;
}

export interface ScoreCsvResult {
  rows: number;
  scored: number;
  /** Data lines (1 = the header) whose timestamp could not be read: kept, not scored. */
  unreadable: number[];
  unreadableCount: number;
  numericColumns: string[];
}

/** ISO 8601, or epoch seconds / milliseconds (told apart by size). */
export function parseTimestamp(text: string): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  if (/^-?\d+(\.\d+)?$/.test(t)) {
    const n = Number(t);
    return Math.abs(n) < 1e11 ? n * 1000 : n;
  }
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

export async function scoreCsv(input: Readable, output: Writable, options: ScoreCsvOptions = {}): Promise<ScoreCsvResult> {
  const detector = options.detector ?? new StreamingDetector();
  const states = new Map<string, DetectorState>();
  const result: ScoreCsvResult = { rows: 0, scored: 0, unreadable: [], unreadableCount: 0, numericColumns: [] };
  const numeric = new Set<string>();
  let header: string[] | undefined;
  let timeIndex = -1;
  let statusIndex = -1;
  let groupIndex = -1;

  const score = new Transform({
    objectMode: true,
    transform(record: string[], _enc, done) {
      if (!header) {
        header = record.map((h) => h.trim());
        timeIndex = header.findIndex((h) => h.toLowerCase() === 'timestamp');
        if (timeIndex < 0) return done(new AppError('csv.noTimestamp', `the CSV needs a 'timestamp' column; its header is: ${header.join(', ')}`, { status: 400 }));
        if (header.includes('anomaly_score')) return done(new AppError('csv.alreadyScored', "the CSV already has an 'anomaly_score' column", { status: 400 }));
        statusIndex = header.findIndex((h) => h.toLowerCase() === 'status');
        if (options.groupBy !== undefined) {
          groupIndex = header.indexOf(options.groupBy);
          if (groupIndex < 0) return done(new AppError('csv.noGroupColumn', `--group-by '${options.groupBy}' is not a column; the header is: ${header.join(', ')}`, { status: 400 }));
        }
        return done(null, [...record, 'anomaly_score']);
      }
      result.rows++;
      const time = parseTimestamp(record[timeIndex] ?? '');
      if (time === undefined) {
        result.unreadableCount++;
        if (result.unreadable.length < 20) result.unreadable.push(result.rows + 1);
        return done(null, [...record, '']);
      }
      // Null prototype: a column may be called anything, `__proto__` and `constructor` included.
      const features: Record<string, number | null> = Object.create(null) as Record<string, number | null>;
      for (let i = 0; i < header.length; i++) {
        if (i === timeIndex || i === statusIndex || i === groupIndex) continue;
        const text = (record[i] ?? '').trim();
        if (text === '') continue;
        const value = Number(text);
        if (Number.isFinite(value)) {
          features[header[i]!] = value;
          numeric.add(header[i]!);
        }
      }
      const key = groupIndex >= 0 ? (record[groupIndex] ?? '') : '';
      let state = states.get(key);
      if (!state) states.set(key, (state = emptyDetectorState()));
      const status = statusIndex >= 0 ? record[statusIndex]?.trim() || undefined : undefined;
      const d = detector.step(state, time, features, status);
      result.scored++;
      // Six decimals: a threshold sweep needs distinct scores for distinct evidence.
      done(null, [...record, d.anomalyScore.toFixed(6)]);
    },
  });

  await pipeline(input, parse({ relax_column_count: true, skip_empty_lines: true, bom: true }), score, stringify(), output);
  if (!header) throw new AppError('csv.empty', 'the CSV is empty: it needs a header with a timestamp column', { status: 400 });
  if (result.rows > 0 && numeric.size === 0) throw new AppError('csv.noNumericColumns', 'no column holds numbers: nothing to score', { status: 400 });
  result.numericColumns = [...numeric];
  return result;
}
