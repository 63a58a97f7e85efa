/**
 * The development corpus (../shared/data/nab-dev: 51 labelled public time series) streamed through
 * `scoreCsv`, exactly what `npm run score` does to a file, and scored in memory with the
 * benchmark's own rules by ../shared/tools/nab-score.mjs (standard profile): threshold swept, and
 * at the product's warning threshold.
 *
 *   npx tsx bench/nab-dev.ts [--files realTweets/] [--per-file]
 */
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { scoreCsv } from '../src/lib/anomaly/score-csv.ts';
import { type Detection, type StreamingDetector } from '../src/lib/anomaly/streaming-detector.ts';
import { emptyDetectorState } from '../src/lib/anomaly/detector-state.ts';
import { alarmEvidence, type AlarmLifecycle, type AlarmState } from '../src/lib/alerts/alarm-lifecycle.ts';

export const SHARED = path.resolve(import.meta.dirname, '..', '..', 'shared');
const CORPUS = path.join(SHARED, 'data', 'nab-dev');

interface Scorer {
  rowWeights(times: number[], windows: [number, number][], profile: Profile): unknown;
  sweepThreshold(files: { rw: unknown; scores: Float64Array }[], profile: Profile): { threshold: number };
  scoreFile(rw: unknown, scores: Float64Array, threshold: number, profile: Profile): { score: number; windowsScored: number; windowsLabelled: number; windowsDetected: number; fp: number };
  loadWindows(file: string): Record<string, [number, number][]>;
  parseTimestamp(text: string): number;
  DEFAULT_PROFILES: { standard: Profile };
}
type Profile = { tpWeight: number; fnWeight: number; fpWeight: number };

export interface CorpusFigures {
  files: number;
  swept: number;
  sweptThreshold: number;
  fixed: number;
  windows: number;
  detectedSwept: number;
  falsePositivesSwept: number;
  detectedFixed: number;
  falsePositivesFixed: number;
  /** Normalised score per category at the swept threshold. */
  categories: Record<string, { swept: number; fixed: number; files: number }>;
  perFile: { file: string; detected: number; windows: number; fp: number; raw: number }[];
}

export function corpusAvailable(): boolean {
  return fs.existsSync(path.join(CORPUS, 'labels', 'combined_windows.json'));
}

/**
 * The baseline the corpus figures are compared with: a rolling z-score over the last `window`
 * readings, graded as the two-sided tail probability's complement (what NAB's windowed Gaussian does).
 */
export function rollingZScores(values: readonly number[], window = 400): Float64Array {
  const out = new Float64Array(values.length);
  const buf: number[] = [];
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (buf.length >= 20) {
      const mean = sum / buf.length;
      const sd = Math.sqrt(Math.max(sumSq / buf.length - mean * mean, 1e-12));
      out[i] = 1 - Math.exp(-0.5 * ((x - mean) / sd) ** 2);
    }
    buf.push(x);
    sum += x;
    sumSq += x * x;
    if (buf.length > window) {
      const old = buf.shift()!;
      sum -= old;
      sumSq -= old * old;
    }
  }
  return out;
}

/** The benchmark's own scorer and the corpus's labelled windows by file. */
async function corpus(): Promise<{ nab: Scorer; windows: Record<string, [number, number][]> }> {
  const nab = (await import(pathToFileURL(path.join(SHARED, 'tools', 'nab-score.mjs')).href)) as Scorer;
  return { nab, windows: nab.loadWindows(path.join(CORPUS, 'labels', 'combined_windows.json')) };
}

/** Whether time `t` (epoch ms) lies in one of a file's labelled windows. */
const inWindows = (windows: Record<string, [number, number][]>, key: string, t: number) => windows[key]!.some(([from, to]) => t >= from && t <= to);

/** A corpus file's rows (timestamp, value), header left out. */
const rowsOf = (key: string) => fs.readFileSync(path.join(CORPUS, 'data', key), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));

/** Scores every labelled file (or those under `filter`) with `detector`, at `warning` and swept. */
export async function scoreCorpus(options: { detector?: StreamingDetector; warning?: number; filter?: string; zscore?: boolean } = {}): Promise<CorpusFigures> {
  const { nab, windows } = await corpus();
  const profile = nab.DEFAULT_PROFILES.standard;
  const keys = Object.keys(windows).sort().filter((k) => !options.filter || k.startsWith(options.filter));
  const files: { key: string; rw: unknown; scores: Float64Array }[] = [];
  for (const key of keys) {
    if (options.zscore) {
      const rows = rowsOf(key);
      files.push({ key, rw: nab.rowWeights(rows.map((r) => nab.parseTimestamp(r[0]!)), windows[key]!, profile), scores: rollingZScores(rows.map((r) => Number(r[1]))) });
      continue;
    }
    const input = fs.createReadStream(path.join(CORPUS, 'data', key));
    const chunks: string[] = [];
    const sink = new Writable({ write(chunk, _enc, done) { chunks.push(String(chunk)); done(); } });
    await scoreCsv(input, sink, options.detector ? { detector: options.detector } : {});
    const lines = chunks.join('').trim().split('\n');
    const header = lines[0]!.split(',');
    const ti = header.indexOf('timestamp');
    const ai = header.indexOf('anomaly_score');
    const times: number[] = [];
    const scores = new Float64Array(lines.length - 1);
    for (let i = 1; i < lines.length; i++) {
      const cells = lines[i]!.split(',');
      times.push(nab.parseTimestamp(cells[ti]!));
      scores[i - 1] = Number(cells[ai]);
    }
    files.push({ key, rw: nab.rowWeights(times, windows[key]!, profile), scores });
  }
  const total = (set: typeof files, threshold: number) => {
    let raw = 0, nul = 0, perfect = 0, detected = 0, fp = 0, labelled = 0;
    for (const f of set) {
      const r = nab.scoreFile(f.rw, f.scores, threshold, profile);
      raw += r.score;
      nul -= profile.fnWeight * r.windowsScored;
      perfect += profile.tpWeight * r.windowsLabelled;
      detected += r.windowsDetected;
      labelled += r.windowsLabelled;
      fp += r.fp;
    }
    return { score: perfect === nul ? 0 : (100 * (raw - nul)) / (perfect - nul), detected, fp, labelled };
  };
  const threshold = nab.sweepThreshold(files, profile).threshold;
  const warning = options.warning ?? 0.5;
  const swept = total(files, threshold);
  const fixed = total(files, warning);
  const categories: CorpusFigures['categories'] = {};
  const byCategory = new Map<string, typeof files>();
  for (const f of files) {
    const c = f.key.split('/')[0]!;
    byCategory.set(c, [...(byCategory.get(c) ?? []), f]);
  }
  for (const [c, set] of byCategory) categories[c] = { swept: total(set, threshold).score, fixed: total(set, warning).score, files: set.length };
  const perFile = files.map((f) => {
    const r = nab.scoreFile(f.rw, f.scores, threshold, profile);
    return { file: f.key, detected: r.windowsDetected, windows: r.windowsLabelled, fp: r.fp, raw: r.score };
  });
  return {
    files: files.length,
    swept: swept.score,
    sweptThreshold: threshold,
    fixed: fixed.score,
    windows: swept.labelled,
    detectedSwept: swept.detected,
    falsePositivesSwept: swept.fp,
    detectedFixed: fixed.detected,
    falsePositivesFixed: fixed.fp,
    categories,
    perFile,
  };
}

/**
 * The corpus's real series streamed three at a time as one machine's sensors (row by row, their
 * own timestamps set aside), past the first 750 rows: the share of rows flagged at `warning`
 * outside every labelled window of the three, and the share flagged as a deviation (several
 * sensors off together). Independent series, so a bound for sensors that do not share a load:
 * what the multivariate parts flag on real, non-stationary streams rather than on ours.
 */
export async function realSeriesAsSensors(detector: StreamingDetector, warning = 0.5): Promise<{ rows: number; flaggedPct: number; deviationPct: number }> {
  const { nab, windows } = await corpus();
  const series = Object.keys(windows).sort().filter((k) => k.startsWith('real')).map((key) => {
    const rows = rowsOf(key);
    const times = rows.map((r) => nab.parseTimestamp(r[0]!));
    const labelled = times.map((t) => inWindows(windows, key, t));
    return { values: rows.map((r) => Number(r[1])), labelled };
  });
  let rows = 0, flagged = 0, deviation = 0;
  const names = ['a', 'b', 'c'];
  for (let i = 0; i < series.length; i++) {
    const three = [series[i]!, series[(i + 7) % series.length]!, series[(i + 13) % series.length]!];
    const n = Math.min(...three.map((s) => s.values.length));
    const state = emptyDetectorState();
    for (let t = 0; t < n; t++) {
      const d = detector.step(state, Date.UTC(2020, 0, 1) + t * 300_000, { a: three[0]!.values[t]!, b: three[1]!.values[t]!, c: three[2]!.values[t]! }, 'running', names);
      if (t < 750 || three.some((s) => s.labelled[t])) continue;
      rows++;
      if (d.anomalyScore >= warning) {
        flagged++;
        if (d.kind === 'shift') deviation++;
      }
    }
  }
  return { rows, flaggedPct: (100 * flagged) / Math.max(1, rows), deviationPct: (100 * deviation) / Math.max(1, rows) };
}

export interface RealAlarmFigures {
  /** Device-weeks streamed past the first 750 rows, at each series' own timestamps. */
  deviceWeeks: number;
  /** Incidents told in Teams (a card) raised outside every labelled window, and per device-week. */
  told: number;
  toldPerDeviceWeek: number;
  /** Incidents made critical outside the labelled windows (what could stop a machine). */
  critical: number;
  /** Labelled windows past the first 750 rows, and those in which an incident was told. */
  windows: number;
  windowsTold: number;
}

/**
 * Each real series of the corpus streamed as a one-sensor machine at its own timestamps, through
 * the detector, the failure model (`probability`) and the alarm lifecycle, as the pipeline runs
 * them: how many Teams incidents an operator would get on real streams outside their labelled
 * windows (the false incidents per device-week, measured on our simulator's fleet, asked
 * of real data), whether any became critical, and in how many labelled windows an incident was told.
 */
export async function realSeriesThroughAlarms(detector: StreamingDetector, lifecycle: AlarmLifecycle, probability: (d: Detection) => number | undefined): Promise<RealAlarmFigures> {
  const { nab, windows } = await corpus();
  const out: RealAlarmFigures = { deviceWeeks: 0, told: 0, toldPerDeviceWeek: 0, critical: 0, windows: 0, windowsTold: 0 };
  for (const key of Object.keys(windows).sort().filter((k) => k.startsWith('real'))) {
    const rows = rowsOf(key);
    const state = emptyDetectorState();
    const alarms: AlarmState = {};
    const fileWindows = windows[key]!;
    const toldIn = new Set<number>();
    let from = Infinity;
    let to = -Infinity;
    rows.forEach((row, i) => {
      const time = nab.parseTimestamp(row[0]!);
      const d = detector.step(state, time, { value: Number(row[1]) }, 'running');
      const events = lifecycle.evaluate(alarms, [alarmEvidence(d, probability(d))], { line: key, idOf: () => `${key}|${time}` });
      if (i < 750) return;
      from = Math.min(from, time);
      to = Math.max(to, time);
      const w = fileWindows.findIndex(([a, b]) => time >= a && time <= b);
      for (const e of events) {
        if (w < 0 && e.priority === 'critical' && (e.kind === 'raised' || e.kind === 'escalated')) out.critical++;
        if (!e.notify || !(e.kind === 'raised' || e.firstNotice)) continue;
        if (w < 0) out.told++;
        else toldIn.add(w);
      }
    });
    if (to > from) out.deviceWeeks += (to - from) / (7 * 86_400_000);
    out.windows += fileWindows.filter(([, b]) => b >= from).length;
    out.windowsTold += toldIn.size;
  }
  out.toldPerDeviceWeek = out.told / Math.max(1e-9, out.deviceWeeks);
  return out;
}

/** Series of the corpus measured at one place: a traffic station's speed and occupancy, an ad exchange's cost per click and per thousand. */
const RELATED = [
  ['realTraffic/speed_6005.csv', 'realTraffic/occupancy_6005.csv'],
  ['realTraffic/speed_t4013.csv', 'realTraffic/occupancy_t4013.csv'],
  ['realAdExchange/exchange-2_cpc_results.csv', 'realAdExchange/exchange-2_cpm_results.csv'],
  ['realAdExchange/exchange-3_cpc_results.csv', 'realAdExchange/exchange-3_cpm_results.csv'],
  ['realAdExchange/exchange-4_cpc_results.csv', 'realAdExchange/exchange-4_cpm_results.csv'],
] as const;

/**
 * Related real series of the corpus (RELATED) streamed as one machine's two sensors, row by row at
 * the times both have, past the benchmark's probation: the share of rows outside both files'
 * labelled windows flagged at `warning`. Where the three-at-a-time check has independent series
 * (rarely a pair that moves together), these move together for real, as a machine's sensors do:
 * what the pair evidence flags when two real streams part for a while.
 */
export async function relatedSeriesAsSensors(detector: StreamingDetector, warning = 0.5): Promise<{ rows: number; flaggedPct: number }> {
  const { nab, windows } = await corpus();
  let rows = 0, flagged = 0;
  for (const [a, b] of RELATED) {
    const byTime = (key: string) => new Map(rowsOf(key).map((r) => [nab.parseTimestamp(r[0]!), Number(r[1])] as const));
    const A = byTime(a), B = byTime(b);
    const times = [...A.keys()].filter((t) => B.has(t)).sort((x, y) => x - y);
    const labelled = (t: number) => inWindows(windows, a, t) || inWindows(windows, b, t);
    const probation = Math.min(750, Math.floor(0.15 * times.length));
    const state = emptyDetectorState();
    times.forEach((t, i) => {
      const d = detector.step(state, t, { a: A.get(t)!, b: B.get(t)! }, 'running', ['a', 'b']);
      if (i < probation || labelled(t)) return;
      rows++;
      if (d.anomalyScore >= warning) flagged++;
    });
  }
  return { rows, flaggedPct: (100 * flagged) / Math.max(1, rows) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const filterAt = process.argv.indexOf('--files');
  const figures = await scoreCorpus({ filter: filterAt > 0 ? process.argv[filterAt + 1] : undefined });
  if (process.argv.includes('--per-file')) for (const f of figures.perFile) console.log(`${f.file} ${f.detected}/${f.windows} fp=${f.fp} raw=${f.raw.toFixed(2)}`);
  for (const [c, v] of Object.entries(figures.categories)) console.log(`${c}: swept=${v.swept.toFixed(2)} fixed=${v.fixed.toFixed(2)} (${v.files} files)`);
  console.log(`nab_dev swept=${figures.swept.toFixed(2)} (threshold ${figures.sweptThreshold.toFixed(4)}, ${figures.detectedSwept}/${figures.windows} windows, ${figures.falsePositivesSwept} fp) fixed=${figures.fixed.toFixed(2)} (${figures.detectedFixed} windows, ${figures.falsePositivesFixed} fp)`);
}
