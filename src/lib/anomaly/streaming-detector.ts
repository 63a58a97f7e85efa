/**
 * The streaming detector: per equipment, over all its sensors together, causal (a reading is
 * scored against state built from earlier readings only, then folded in), and its whole state is
 * a small JSON value, so it can live on the twin and move with a partition to another instance.
 *
 * Per sensor it keeps a slow baseline (exponentially weighted mean, time constant `baselineHours`,
 * a plain mean during warm-up; the spread is that of readings around the fast level) and a fast level (an exponentially
 * weighted mean with time constant `levelMinutes`: an EWMA control chart). What it reports:
 * - spike: one reading far from the baseline (|z| past `spikeZ`),
 * - drift: the fast level shifted from the baseline toward the sensor's failure side by more than
 *   `driftSigma` baseline standard deviations, combined over sensors as a root-sum-square, so
 *   two sensors drifting together count more than either alone,
 * - stuck: a sensor that used to vary repeats one value,
 * - envelope: the plant's hard operating limits (domain knowledge the baseline cannot learn).
 * The baseline learns only from ordinary readings (not outliers, not while the level is shifting),
 * so a slow degradation is not learnt away as the new normal; the fast level averages noise and
 * glitches out, and the baseline's spread already holds shift-to-shift load changes, so neither
 * adds up to an alarm. A machine back from maintenance starts a new baseline.
 */
import { OPERATING_ENVELOPES, type Envelope } from './operating-envelopes.ts';
import { sensorScore } from './envelope-detector.ts';

export const STREAMING_MODEL_VERSION = 'streaming-1';

export interface DetectorSettings {
  /** Baseline time constant. Long: degradation develops over days. */
  baselineHours: number;
  /** Readings learnt before anything is scored against the baseline. */
  warmupReadings: number;
  spikeZ: number;
  /** Time constant of the fast level. */
  levelMinutes: number;
  /** Level shift, in baseline standard deviations, at which drift scores 0.5. */
  driftSigma: number;
  /** Readings in a row with one value that make a varying sensor "stuck". */
  stuckReadings: number;
  /** Relative floor on the standard deviation (of |mean|): a very quiet sensor is not hair-trigger. */
  sdFloor: number;
}

export const DEFAULT_DETECTOR_SETTINGS: Readonly<DetectorSettings> = Object.freeze({
  baselineHours: 24,
  warmupReadings: 60,
  spikeZ: 5,
  levelMinutes: 60,
  driftSigma: 3,
  stuckReadings: 30,
  sdFloor: 0.005,
});

/** One sensor's state; short keys because it is stored on every twin. */
export interface SensorState {
  /** readings learnt */
  n: number;
  /** baseline mean and variance */
  m: number;
  v: number;
  /** fast level */
  f: number;
  /** slope of the fast level, in standard deviations per hour (absent in older states) */
  g?: number;
  /** last value, and how many readings in a row repeated it */
  l: number;
  r: number;
}

export interface DetectorState {
  version: 1;
  /** Time (epoch ms) of the newest reading folded in; older readings are scored but not learnt. */
  t: number;
  s: Record<string, SensorState>;
}

export interface Detection {
  /** [0,1]: the strongest of spike, drift, stuck and envelope evidence. */
  anomalyScore: number;
  /** [0,1]: sustained drift toward failure only (0.5 at `driftSigma`). */
  driftScore: number;
  kind: 'normal' | 'spike' | 'drift' | 'stuck' | 'envelope';
  /** Sensor → share of the evidence it carries. */
  contributions: Record<string, number>;
  /** Per sensor: the standardised residual, for features and explanations. */
  z: Record<string, number>;
  /** What the failure model reads (see FAILURE_FEATURES). */
  features: FailureFeatures;
  /** Hours until a drifting sensor reaches its hard limit at its current slope, when one is heading there. */
  rulHours: number | undefined;
}

/**
 * Equipment-independent features of recent telemetry for failure prediction, all toward each
 * sensor's failure side: the largest and the combined level shift (in `driftSigma` units), the
 * steepest slope of the fast level (standard deviations per hour), how far the nearest sensor has
 * gone from its normal edge toward its hard limit (0 at the edge, 1 at the limit), and the
 * envelope score.
 */
export interface FailureFeatures {
  drift: number;
  driftRss: number;
  slope: number;
  proximity: number;
  envelope: number;
}
export const FAILURE_FEATURES = ['drift', 'driftRss', 'slope', 'proximity', 'envelope'] as const satisfies readonly (keyof FailureFeatures)[];

export function emptyDetectorState(): DetectorState {
  return { version: 1, t: 0, s: {} };
}

/** Reads a stored state, or starts afresh when it is missing or from another version. */
export function reviveDetectorState(value: unknown): DetectorState {
  const v = value as DetectorState | undefined;
  return v && v.version === 1 && typeof v.t === 'number' && v.s && typeof v.s === 'object' ? v : emptyDetectorState();
}

const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);
/** Maps evidence e (1 = at the decision point) to a score: 0 → 0, 1 → 0.5, 2 → 1. */
const evidenceScore = (e: number) => clamp01(e / 2);

/** Which way a sensor fails: toward its hard high limit, its low limit, or either when unknown. */
function failureSides(env: Envelope | undefined): { up: boolean; down: boolean } {
  if (!env) return { up: true, down: true };
  return { up: env.limitHigh !== undefined, down: env.limitLow !== undefined };
}

export class StreamingDetector {
  private readonly settings: DetectorSettings;
  constructor(settings: Partial<DetectorSettings> = {}, private readonly envelopes: Readonly<Record<string, Envelope>> = OPERATING_ENVELOPES) {
    this.settings = { ...DEFAULT_DETECTOR_SETTINGS, ...settings };
  }

  /**
   * Scores one reading against `state`, then folds it into `state` (mutated in place). A reading
   * older than the state's newest is scored but not learnt, so a replay cannot rewind the state.
   */
  step(state: DetectorState, time: number, features: Readonly<Record<string, number | null | undefined>>, status?: string): Detection {
    const cfg = this.settings;
    const running = status === undefined || status === 'running';
    // Back from maintenance: what was normal before may not be normal now.
    if (status === 'maintenance') state.s = {};
    const learn = time > state.t;
    const dtMs = state.t > 0 && learn ? time - state.t : 0;
    const alpha = 1 - Math.exp(-Math.max(dtMs, 1000) / (cfg.baselineHours * 3_600_000));
    const beta = 1 - Math.exp(-Math.max(dtMs, 1000) / (cfg.levelMinutes * 60_000));
    const z: Record<string, number> = {};
    const evidence: Record<string, number> = {};
    let spike = 0;
    let stuck = 0;
    let envelope = 0;
    let driftSq = 0;
    let driftMax = 0;
    let slopeMax = 0;
    let proximity = -1;
    let rulHours: number | undefined;
    for (const name in features) {
      const x = features[name];
      if (x === null || x === undefined || !Number.isFinite(x)) continue;
      const env = this.envelopes[name];
      // The envelope speaks only past the normal band's edge; inside it the baseline knows better.
      let envelopeEv = 0;
      if (env) {
        const e = sensorScore(x, env, running);
        if (e >= 0.5) {
          envelope = Math.max(envelope, e);
          envelopeEv = 2 * e;
        }
      }
      let s = state.s[name];
      if (!s) {
        s = { n: 0, m: x, v: 0, f: x, l: x, r: 0 };
        state.s[name] = s;
      }
      const repeated = x === s.l;
      const warm = s.n >= cfg.warmupReadings;
      const sd = Math.max(Math.sqrt(s.v), cfg.sdFloor * Math.abs(s.m), 1e-9);
      const zi = warm ? (x - s.m) / sd : 0;
      z[name] = zi;
      // The spread is measured around the fast level, so a slow drift does not inflate it.
      const noise = x - s.f;
      // Only readings while the machine runs say anything about wear.
      if (learn && running) {
        const before = s.f;
        s.f += (warm ? beta : 1 / (s.n + 1)) * noise;
        if (warm && dtMs > 0) s.g = (s.g ?? 0) + beta * ((s.f - before) / sd / (dtMs / 3_600_000) - (s.g ?? 0));
      }
      let ev = envelopeEv;
      let shift = 0;
      if (warm) {
        shift = (s.f - s.m) / sd;
        const sides = failureSides(env);
        const drift = Math.max(sides.up ? shift : 0, sides.down ? -shift : 0) / cfg.driftSigma;
        driftSq += drift * drift;
        driftMax = Math.max(driftMax, drift);
        const g = s.g ?? 0;
        const towardFailure = sides.up && sides.down ? Math.abs(g) : sides.up ? g : -g;
        slopeMax = Math.max(slopeMax, towardFailure);
        if (env) {
          const [edge, limit] = sides.up ? [env.normalHigh, env.limitHigh] : [env.normalLow, env.limitLow];
          if (edge !== undefined && limit !== undefined && limit !== edge) {
            proximity = Math.max(proximity, Math.max(-2, Math.min(2, (s.f - edge) / (limit - edge))));
            // Remaining useful life: only for a clear, sustained trend toward the limit.
            if (towardFailure > 0.05 && drift > 0.5) {
              const hours = (limit - s.f) / (sides.up ? g : -g) / sd;
              if (hours >= 0) rulHours = Math.min(rulHours ?? Infinity, hours);
            }
          }
        }
        const spikeEv = Math.abs(zi) / cfg.spikeZ;
        spike = Math.max(spike, spikeEv);
        ev = Math.max(ev, drift, spikeEv >= 1 ? spikeEv : 0);
        if (repeated && s.r + 1 >= cfg.stuckReadings && s.v > 0) {
          stuck = 1;
          ev = Math.max(ev, 1.2);
        }
      }
      if (ev > 0) evidence[name] = ev;
      if (learn) {
        s.r = repeated ? s.r + 1 : 0;
        s.l = x;
        // Learn the baseline from ordinary readings only: not from outliers, not while the level shifts.
        const ordinary = !warm || (Math.abs(zi) < 3 && Math.abs(shift) < cfg.driftSigma / 2);
        if (ordinary && running && s.r < cfg.stuckReadings) {
          s.n++;
          const rate = warm ? alpha : 1 / s.n;
          s.m += rate * (x - s.m);
          s.v += rate * (noise * noise - s.v);
        }
      }
    }
    if (learn) state.t = time;
    // Drift over several sensors together: root-sum-square of each sensor's level-shift evidence
    // (never below the largest one alone).
    const driftRss = Math.sqrt(driftSq);
    const driftScore = evidenceScore(driftRss);
    const spikeScore = evidenceScore(spike);
    const stuckScore = stuck ? 0.6 : 0;
    const anomalyScore = Math.max(driftScore, spikeScore, stuckScore, envelope, status === 'fault' ? 0.9 : 0);
    let kind: Detection['kind'] = 'normal';
    // Named only when it matters: at or past the warning level.
    if (anomalyScore >= 0.5) {
      if (anomalyScore === driftScore) kind = 'drift';
      else if (anomalyScore === spikeScore) kind = 'spike';
      else if (anomalyScore === stuckScore) kind = 'stuck';
      else kind = 'envelope';
    }
    let total = 0;
    for (const k in evidence) total += evidence[k]!;
    const contributions: Record<string, number> = {};
    if (total > 0) for (const k in evidence) contributions[k] = evidence[k]! / total;
    const failure: FailureFeatures = { drift: driftMax, driftRss, slope: slopeMax, proximity, envelope };
    return { anomalyScore, driftScore, kind, contributions, z, features: failure, rulHours };
  }
}
