/**
 * The streaming detector: per equipment, over all its sensors together, causal (a reading is
 * scored against state built from earlier readings only, then folded in), and its whole state is
 * a small JSON value, so it can live on the twin and move with a partition to another instance
 * (./detector-state.ts; its settings are in ./detector-settings.ts).
 *
 * Every time scale is counted in readings, not hours, so the same code holds at one reading a
 * second over twenty minutes and at one reading every five minutes over weeks. The daily profile
 * alone reads the clock (the hour of the day), and judges only once it has seen an hour on two days.
 *
 * Per sensor it keeps a robust baseline (a Huber-clipped exponentially weighted mean and mean
 * absolute deviation over about `baselineReadings`) of the value and of its step-to-step change.
 * The baseline always learns: slowly while a reading is an outlier, and slowly while the level
 * moves toward a known failure limit, so a persisting level shift becomes the new normal unless
 * it heads toward failure. Evidence per reading:
 * - surprise: how far the value, or its change since the last reading, is from its baseline;
 * - pattern: how far each pair of sensors that usually move together has come apart (a change in
 *   how sensors move together is evidence even when each sensor alone looks normal);
 * - drift (domain): the fast level moved from the baseline toward the sensor's failure side,
 *   combined over sensors as a root-sum-square;
 * - envelope (domain): the plant's hard operating limits; stuck (domain): an analog sensor that
 *   varied repeating one value far longer than it ever did.
 * - novelty: each sensor's pattern memory (./pattern-memory.ts) says how new the shape of its
 *   recent blocks of readings is, or how far a value went beyond every earlier one;
 * - deviation: each sensor's distance from its baseline averaged over `levelReadings`, and the
 *   second-largest of those: two or more sensors off together, for as long as they stay off;
 * - apart: each correlated pair's residual averaged over `levelReadings`, and the largest: sensors
 *   that usually move together staying apart, for as long as they do (one sensor no longer following
 *   its partner, the other looking normal);
 * - daily: each sensor's distance from what it usually reads at this hour of the day
 *   (./daily-profile.ts), once that hour has been seen on a few days, averaged over `dailyReadings`.
 * `anomalyScore` (what is stored, ranked and shown) is the strongest of novelty, daily, deviation,
 * apart, drift, stuck and envelope. Novelty and daily are reported once per episode (only what
 * exceeds a refractory level, the largest recent one decaying over `refractoryReadings`, and for
 * `holdOffReadings` after a flag only what goes several times beyond it), so the score ranks the onset of
 * something new rather than saturating while it lasts, and against the stream's usual novelty,
 * so noise must go further to score; deviation keeps an anomaly of several sensors flagged while
 * it lasts (the baselines learn at half rate meanwhile), and a single series never has it.
 * `evidence` is what the alarm lifecycle raises, sustains and clears incidents on: surprise and
 * pattern turned into an anomaly likelihood against what this stream has shown (the short-term
 * mean of the evidence against its own long-run distribution, so a bursty stream must burst more
 * than usual), with drift, stuck and envelope.
 * Nothing is assumed about unknown columns: the domain parts apply only to sensors with an
 * operating envelope (src/lib/anomaly/operating-envelopes.ts).
 * Equipment that says it is stopped or idle is judged by its envelope alone, and the start-up that
 * follows (or follows a silence of `levelReadings` usual intervals) is not judged against the
 * working baselines until it has settled, for up to `startupFactor` times the longest start-up seen.
 */
import { OPERATING_ENVELOPES, type Envelope } from './operating-envelopes.ts';
import { sensorScore } from './envelope-detector.ts';
import { MAX_LEARNT, PatternMemory, type PatternSettings } from './pattern-memory.ts';
import { DailyProfile, type DailySettings } from './daily-profile.ts';
import { DEFAULT_DETECTOR_SETTINGS, type DetectorSettings } from './detector-settings.ts';
import { MAX_EXCURSIONS, boundedSlope, type DetectorState, type PairState, type SensorState } from './detector-state.ts';
import { defineOwn, dict } from '../own-properties.ts';

export const STREAMING_MODEL_VERSION = 'streaming-11';

/** `novel`: a shape or a value the stream has not shown before; `daily`: unusual for the hour of the day; `pattern`: sensors that move together came apart. */
export type DetectionKind = 'normal' | 'spike' | 'shift' | 'novel' | 'daily' | 'quiet' | 'burst' | 'pattern' | 'drift' | 'stuck' | 'envelope' | 'fault';

export interface Detection {
  /** The reading's time; what the alarm lifecycle reads is on the detection itself (AlarmEvidence). */
  time: number;
  /** The controller reported a fault with this reading. */
  fault: boolean;
  /** Set by the caller once the failure model has scored the reading. */
  failureProbability: number | undefined;
  /** [0,1], graded: the strongest of pattern novelty (once per episode), drift, stuck and envelope. */
  anomalyScore: number;
  /** [0,1]: the anomaly likelihood now, with drift, stuck and envelope: what the alarm lifecycle reads; clears with the data. */
  evidence: number;
  /** [0,1]: sustained drift toward failure only (0.5 at `driftSigma`). */
  driftScore: number;
  /** [0,1]: the plant's operating envelope (0.5 at the normal band's edge, 1 at the hard limit). */
  envelopeScore: number;
  kind: DetectionKind;
  /** Readings in a row, this one included, that are unusual themselves with evidence at the warning level. */
  sustained: number;
  /** Sensors whose own reading is unusual (more than 3 spreads out). */
  sensorsUnusual: number;
  /** Sensor → share of the evidence it carries (empty when nothing stands out). */
  contributions: Record<string, number>;
  /** What the failure model reads (see FAILURE_FEATURES). */
  features: FailureFeatures;
  /** Hours until a drifting sensor reaches its hard limit at its current slope, when one is heading there. */
  rulHours: number | undefined;
  /** STREAMING_MODEL_VERSION: with it a detection is a complete score (the pipeline stores it as one when no endpoint adds to it). */
  modelVersion: string;
}

/**
 * Equipment-independent features of recent telemetry for failure prediction, all toward each
 * sensor's failure side: the largest and the combined level shift (in `driftSigma` units), the
 * steepest slope of the fast level (spreads per `levelReadings` readings), how far the nearest sensor has gone from
 * its normal edge toward its hard limit (0 at the edge, 1 at the limit), and the envelope score.
 */
export interface FailureFeatures {
  drift: number;
  driftRss: number;
  slope: number;
  proximity: number;
  envelope: number;
}
export const FAILURE_FEATURES = ['drift', 'driftRss', 'slope', 'proximity', 'envelope'] as const satisfies readonly (keyof FailureFeatures)[];

/*
 * A detection is made by a constructor, not an object literal: in the pipeline's conditions (a
 * thousand devices, a batch's detections held until it is stored) the 13-field literal with its
 * optional numbers cost V8 1 to 1.7 µs a reading more than these (alternating runs).
 */
class FailureFeaturesOf implements FailureFeatures {
  constructor(public drift: number, public driftRss: number, public slope: number, public proximity: number, public envelope: number) {}
}

class DetectionOf implements Detection {
  failureProbability: number | undefined = undefined;
  modelVersion = STREAMING_MODEL_VERSION;
  constructor(
    public time: number,
    public fault: boolean,
    public anomalyScore: number,
    public evidence: number,
    public driftScore: number,
    public envelopeScore: number,
    public kind: DetectionKind,
    public sustained: number,
    public sensorsUnusual: number,
    public contributions: Record<string, number>,
    public features: FailureFeatures,
    public rulHours: number | undefined,
  ) {}
}


/**
 * How unlikely `seen` events are where `expected` were (nats: the Chernoff bound on a Poisson upper
 * tail, seen·ln(seen/expected) − seen + expected); 0 below `fewest` or when no more than expected.
 */
function poissonSurprise(seen: number, expected: number, fewest: number): number {
  return seen >= fewest && seen > expected ? seen * Math.log(seen / Math.max(expected, 1e-3)) - seen + expected : 0;
}

/** Upper tail of the standard normal distribution (Numerical Recipes' erfc, |error| < 1.2e-7). */
function upperTail(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return 0.5 * (x >= 0 ? r : 2 - r);
}

/** The warning threshold the calibrations map to. */
const WARNING = 0.5;
const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);
/** Maps evidence e (1 = at the decision point) to a score: 0 → 0, 1 → 0.5, 2 → 1. */
const evidenceScore = (e: number) => clamp01(e / 2);
/** An averaged distance as a score in [0, 1): 0.5 where it reaches `at`, graded on both sides (never saturating). */
const halfAt = (x: number, at: number) => (x * x) / (x * x + at * at);
const LOG_1E10 = Math.log(1e-10);
const NO_CONTRIBUTIONS: Record<string, number> = Object.freeze({}) as Record<string, number>;

/** A state's sensors and pairs by position in `names` (pairs at i * names.length + j, i < j), valid while the state keeps its `s` and `p`. */
interface Layout {
  names: readonly string[];
  s: Record<string, SensorState>;
  p: Record<string, PairState>;
  sensors: (SensorState | undefined)[];
  pairs: (PairState | undefined)[];
  /** 1 where names[i] < names[j]: the pair is stored as "names[i]|names[j]". */
  inOrder: Uint8Array;
  /** Categories each sensor's pattern memory keeps (see `patternCapacity`). */
  capacity: number;
}

const sameNames = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((name, i) => name === b[i]);

export class StreamingDetector {
  readonly settings: Readonly<DetectorSettings>;
  /**
   * Scratch for one step (step is synchronous): warm sensors' clipped residuals and positions, grown
   * as needed and never emptied (emptying an array frees its storage, so each step allocated anew).
   */
  private zs = new Float64Array(8);
  private warmAt = new Int32Array(8);
  /** Per state, its sensors and pairs by position in the names it was last stepped with: the hot path looks nothing up by name. */
  private readonly layouts = new WeakMap<DetectorState, Layout>();
  /** Envelopes by sensor name: a Map, so no name finds an inherited property. */
  private readonly envelopeOf: ReadonlyMap<string, Envelope>;
  private readonly pattern: PatternSettings;
  private readonly daily: DailySettings;
  constructor(settings: Partial<DetectorSettings> = {}, envelopes: Readonly<Record<string, Envelope>> = OPERATING_ENVELOPES) {
    this.settings = { ...DEFAULT_DETECTOR_SETTINGS, ...settings };
    const cfg = this.settings;
    this.pattern = { block: cfg.patternBlock, length: cfg.patternLength, vigilance: cfg.vigilance, learning: cfg.patternLearning };
    this.daily = { days: cfg.dailyDays, learningDays: cfg.dailyLearningDays, minReadings: cfg.dailyMinReadings, readings: cfg.dailyReadings, clip: cfg.clip };
    this.envelopeOf = new Map(Object.entries(envelopes));
  }

  /** A log-likelihood (0..1) mapped to a score so that `at` lands on 0.5. */
  private calibrated(logLikelihood: number, at: number): number {
    return logLikelihood <= 0 ? 0 : 1 - Math.pow(2, -logLikelihood / at);
  }

  /**
   * Scores one reading against `state`, then folds it into `state` (mutated in place). A reading
   * older than the state's newest is scored but not learnt, so a replay cannot rewind the state.
   * `names` picks the sensors to read (default: every own key of `features`). `endsMessage`: the
   * reading is the last of the message it came in (false for the others of a message that carries
   * several, an array a logger uploads): how often the device is heard from is learnt from these.
   */
  step(state: DetectorState, time: number, features: Readonly<Record<string, number | null | undefined>>, status?: string, names: readonly string[] = Object.keys(features), endsMessage = true): Detection {
    const cfg = this.settings;
    const running = status === undefined || status === 'running';
    // Out of service (stopped, idle): its sensors read what a machine at rest reads, so nothing is
    // judged against the working baselines nor learnt into them (state-based alarming, as ISA-18.2
    // has it); the operating envelope and a reported fault still speak.
    const resting = status === 'idle' || status === 'stopped';
    // Back from maintenance: what was normal before may not be normal now.
    if (status === 'maintenance') {
      state.s = dict();
      state.p = dict();
      state.d = 0;
    }
    const learn = time > state.t || (cfg.learnLateReadings && time > state.rt);
    // Time since the newest reading learnt (0 for the first, or one that is not newer).
    const dt = state.t > 0 && time > state.t ? time - state.t : 0;
    const dtHours = dt / 3_600_000;
    if (this.zs.length < names.length) {
      this.zs = new Float64Array(names.length);
      this.warmAt = new Int32Array(names.length);
    }
    const zs = this.zs;
    const warmAt = this.warmAt;
    let warmCount = 0;
    const layout = this.layoutOf(state, names);
    let surprise = 0;
    let surpriseSensor: string | undefined;
    // The two warm sensors furthest from their baselines on average (clipped spreads): the second is how far the equipment as a whole is off.
    let farthest = 0;
    let farthestSensor: string | undefined;
    let second = 0;
    let unusual = 0;
    let stuck = 0;
    let stuckSensor: string | undefined;
    let envelope = 0;
    let envelopeSensor: string | undefined;
    let driftSq = 0;
    let driftMax = 0;
    let driftSensor: string | undefined;
    let slopeMax = 0;
    let proximity = -1;
    let rulHours: number | undefined;
    // Pattern novelty of the blocks this reading completed (-1: none completed).
    let novel = -1;
    let seed = 0;
    let novelSensor: string | undefined;
    // The largest distance from a daily profile (averaged), and its sensor.
    let daily = 0;
    let dailySensor: string | undefined;
    // A lull in a sensor's excursions, or a burst of them (scores, each at its onset), and its sensor.
    let quiet = 0;
    let quietSensor: string | undefined;
    let burst = 0;
    let burstSensor: string | undefined;
    const capacity = layout.capacity;
    // The stream's usual interval, a running median (±2 % a reading, so a gap hardly moves it): a gap
    // of `levelReadings` of them is equipment that was off without saying so, and a start-up follows.
    // An interval `levelReadings` times or more off moves it at least halfway (in log terms) to that
    // mark, so one far from the stream's (patched on the twin) cannot make every reading a start-up
    // for thousands of readings: a few dozen at most; a night's silence stretches it for a few minutes.
    if (dt > 0) {
      if (running && state.su === 0 && state.iv > 0 && dt / state.iv >= cfg.levelReadings) state.su = 1;
      state.iv = usualInterval(state.iv, dt, cfg.levelReadings);
    }
    // How often its messages come, the same way, from the newest reading of each (the first reading
    // of all opens the first message): what the communication watch waits for.
    if (state.ut === 0) state.ut = time;
    if (endsMessage && time > state.ut) {
      state.uv = usualInterval(state.uv, time - state.ut, cfg.levelReadings);
      state.ut = time;
    }
    // Back in service after a rest, a machine warms up, a pressure builds: that start-up is judged
    // the same way until every sensor is back near its baseline, for up to `startupFactor` times the
    // longest start-up seen to settle; a start-up that takes longer is evidence like any reading.
    const startingUp = running && state.su > 0;
    const quieted = resting || (startingUp && state.su <= Math.max(cfg.levelReadings, cfg.startupFactor * state.sl));
    let unsettled = false;
    const offTogether = state.d >= cfg.deviationSigma;
    for (let at = 0; at < names.length; at++) {
      const name = names[at]!;
      const x = features[name];
      if (x === null || x === undefined || !Number.isFinite(x)) continue;
      const env = this.envelopeOf.get(name);
      if (env) {
        const e = sensorScore(x, env, running);
        if (e > envelope) {
          envelope = e;
          envelopeSensor = name;
        }
      }
      // Beyond what a state may learn: judged by its envelope above, never learnt.
      if (Math.abs(x) > MAX_LEARNT) continue;
      let s = layout.sensors[at] ?? state.s[name];
      const first = !s;
      if (!s) {
        s = { n: 1, m: x, s: 0, dm: 0, ds: 0, f: x, g: 0, l: x, r: 0, x: 0, o: 0, eg: 0, el: 0, ec: 0, ei: 0, ef: 0, es: 0, eb: 0, q: new PatternMemory(), y: new DailyProfile() };
        state.s[name] = s;
      }
      layout.sensors[at] = s;
      if (learn && running) {
        const dy = s.y.observe(time, x, this.daily);
        if (dy > daily) {
          daily = dy;
          dailySensor = name;
        }
        const nv = s.q.observe(x, capacity, this.pattern);
        if (nv >= 0) {
          const counted = s.q.j > cfg.patternWarmup ? nv : 0;
          // The warm-up's last blocks, the memory nearly learnt, are the stream's recent novelty: the
          // first block judged is measured against them, not against nothing.
          if (s.q.j <= cfg.patternWarmup && s.q.j > cfg.patternWarmup - cfg.patternSeedBlocks && nv > seed) seed = nv;
          if (counted > novel) {
            novel = counted;
            novelSensor = name;
          }
        }
      }
      if (first) continue; // the first reading only starts the baseline
      const floor = 1e-6 + 1e-3 * Math.abs(s.m);
      const sd = Math.max(s.s, floor);
      const sdd = Math.max(s.ds, floor);
      const z = (x - s.m) / sd;
      const step = x - s.l;
      const zd = (step - s.dm) / sdd;
      const e = Math.max(Math.abs(z), Math.abs(zd));
      if (e > surprise) {
        surprise = e;
        surpriseSensor = name;
      }
      const warm = s.n >= cfg.warmupReadings;
      if (warm && Math.abs(z) > 3) unusual++;
      if (startingUp && warm && Math.abs(z) > cfg.settleSigma) unsettled = true;
      // The rhythm of the sensor's excursions (runs of readings past the clip): a lull longer than any
      // gap between them so far (a cycling machine that stopped cycling, transients that ceased) is
      // `quiet`; far more of them lately than its long-run rate makes likely is a `burst` (chatter, a
      // loosening part). Each is reported once, as it begins.
      if (warm && learn && running && !quieted) {
        const outside = Math.abs(z) > cfg.clip;
        const began = outside && s.ei === 0 ? 1 : 0;
        const recent = s.ef + (began - s.ef) / Math.min(s.n, cfg.burstReadings);
        if (s.n > cfg.burstWarmup) {
          const b = poissonSurprise(recent * cfg.burstReadings, s.es * cfg.burstReadings, cfg.burstExcursions);
          if (s.eb === 0 && b > cfg.burstSurprise) {
            s.eb = 1;
            const score = b / (b + cfg.burstSurprise);
            if (score > burst) {
              burst = score;
              burstSensor = name;
            }
          } else if (s.eb === 1 && b < cfg.burstSurprise / 2) s.eb = 0;
        }
        // Rounded as they are stored, so a state read back from the twin continues exactly.
        s.ef = Math.fround(recent);
        s.es = Math.fround(s.es + (began - s.es) / Math.min(s.n, cfg.historyReadings));
        if (began) {
          if (s.ec > 0 && s.eg > s.el) s.el = s.eg;
          s.ec = Math.min(s.ec + 1, MAX_EXCURSIONS);
          s.eg = 0;
        } else if (!outside && s.eg < MAX_EXCURSIONS) {
          s.eg++;
          // Judged as the lull passes its mark, so once (the mark stays put while the lull lasts).
          const mark = Math.max(cfg.quietReadings, cfg.quietFactor * s.el);
          if (s.ec >= cfg.quietExcursions && s.eg > mark && s.eg - 1 <= mark) {
            const score = s.ec / (s.ec + cfg.quietExcursions);
            if (score > quiet) {
              quiet = score;
              quietSensor = name;
            }
          }
        }
        s.ei = outside ? 1 : 0;
      }
      const repeated = x === s.l;
      // Level shift of the fast level from the baseline, toward the failure side (domain sensors only).
      const shift = (s.f - s.m) / sd;
      let towardFailure = false;
      if (env && warm && !quieted) {
        // The side it fails toward: its hard high limit, its low limit, or either when both are known.
        const up = env.limitHigh !== undefined;
        const down = env.limitLow !== undefined;
        const drift = Math.max(up ? shift : 0, down ? -shift : 0) / cfg.driftSigma;
        towardFailure = drift > 1 / cfg.driftSigma;
        driftSq += drift * drift;
        if (drift > driftMax) {
          driftMax = drift;
          driftSensor = name;
        }
        const g = up && down ? Math.abs(s.g) : up ? s.g : -s.g;
        // The failure model reads the slope per level window (in readings, not hours), so one
        // model serves one reading a second and one a minute alike; the remaining life is in hours.
        slopeMax = Math.max(slopeMax, g * cfg.levelReadings);
        const perHour = dtHours > 0 ? g / dtHours : 0;
        const edge = up ? env.normalHigh : env.normalLow;
        const limit = up ? env.limitHigh : env.limitLow;
        if (edge !== undefined && limit !== undefined && limit !== edge) {
          proximity = Math.max(proximity, Math.max(-2, Math.min(2, (s.f - edge) / (limit - edge))));
          // Remaining useful life: only for a clear, sustained trend toward the limit.
          if (perHour > 0.05 && drift > 0.5) {
            const hours = Math.abs(limit - s.f) / (perHour * sd);
            rulHours = Math.min(rulHours ?? Infinity, hours);
          }
        }
      }
      // Stuck: only for the plant's analog sensors; counts and rates repeat by nature.
      if (env && warm && !quieted && repeated && s.r + 1 >= Math.max(cfg.stuckReadings, 3 * s.x) && s.s > floor) {
        stuck = 1;
        stuckSensor = name;
      }
      if (warm) {
        const clipped = Math.max(-cfg.clip, Math.min(cfg.clip, z));
        // Averaged per sensor before the two farthest are taken: noise alone then keeps every
        // sensor near 0.8 spreads however many there are (the second-largest of single readings grew with their number).
        const off = s.o + ((running && !quieted ? Math.abs(clipped) : 0) - s.o) / Math.min(s.n, cfg.levelReadings);
        if (learn) s.o = off;
        if (off > farthest) {
          second = farthest;
          farthest = off;
          farthestSensor = name;
        } else if (off > second) second = off;
        // Sensor pairs read only these: nothing of them is judged or learnt while quieted.
        if (!quieted) {
          zs[warmCount] = clipped;
          warmAt[warmCount++] = at;
        }
      }
      if (learn) {
        const stuckAfter = Math.max(cfg.stuckReadings, 3 * s.x);
        // Repeats at rest or while starting up say nothing of how long the sensor repeats at work.
        if (!quieted) {
          if (repeated) s.r++;
          else {
            // A run of repeats that ended before it looked stuck: this sensor repeats that much by nature.
            if (s.r > s.x && s.r < stuckAfter) s.x = s.r;
            s.r = 0;
          }
        }
        if (running && !quieted && s.r < stuckAfter) {
          s.n++;
          // Never frozen: slower while this reading is an outlier, several sensors are off together, or the level heads toward a limit.
          const slow = (Math.abs(z) > cfg.clip || offTogether ? cfg.outlierLearning : 1) * (towardFailure ? 0.25 : 1);
          const a = slow / Math.min(s.n, cfg.baselineReadings);
          s.m += a * Math.max(-cfg.clip, Math.min(cfg.clip, z)) * sd;
          s.s += a * (Math.abs(x - s.m) * 1.2533 - s.s);
          s.dm += a * Math.max(-cfg.clip, Math.min(cfg.clip, zd)) * sdd;
          s.ds += a * (Math.abs(step - s.dm) * 1.2533 - s.ds);
          const before = s.f;
          // A normal-looking reading pulls a shifted level back four times faster: evidence clears
          // soon after the data returns to normal, while a real shift (few normal readings) stays smoothed.
          const returning = Math.abs(z) < 1.5 && Math.abs(s.f - s.m) > Math.abs(x - s.m);
          s.f += (x - s.f) * Math.min(0.5, (returning ? 4 : 1) / Math.min(s.n, cfg.levelReadings));
          s.g = boundedSlope(s.g + ((s.f - before) / sd - s.g) / Math.min(s.n, cfg.levelReadings));
        }
        s.l = x;
      }
    }

    // Pairs that move together: evidence when they come apart (standardised regression residual).
    let pattern = 0;
    let patternSensor: string | undefined;
    // The pair furthest apart on average, and its sensor further from its own baseline.
    let apart = 0;
    let apartSensor: string | undefined;
    const count = names.length;
    for (let i = 0; i < warmCount; i++) {
      for (let j = i + 1; j < warmCount; j++) {
        // A pair is stored once, under its names in order ("a|b", a < b).
        const slot = warmAt[i]! * count + warmAt[j]!;
        const inOrder = layout.inOrder[slot] === 1;
        const ia = inOrder ? warmAt[i]! : warmAt[j]!;
        const ib = inOrder ? warmAt[j]! : warmAt[i]!;
        const za = inOrder ? zs[i]! : zs[j]!;
        const zb = inOrder ? zs[j]! : zs[i]!;
        // Looked up by name once per state and layout, then by position.
        let p = layout.pairs[slot];
        if (!p) {
          const key = `${names[ia]!}|${names[ib]!}`;
          p = state.p[key];
          if (!p) {
            p = { ab: 0, aa: 0, bb: 0, r: 0, n: 0 };
            state.p[key] = p;
          }
          layout.pairs[slot] = p;
        }
        // A pair judged only once it has learnt as long as a sensor does before it counts: its first
        // estimates of spread and correlation are too rough to say the two came apart.
        if (p.n >= cfg.warmupReadings && p.aa > 0 && p.bb > 0) {
          const sa = Math.sqrt(p.aa);
          const sb = Math.sqrt(p.bb);
          const rho = p.ab / (sa * sb);
          // |rho| > 1 cannot come from learning (a patched state): such a pair is only relearnt.
          if (Math.abs(rho) >= cfg.minCorrelation && Math.abs(rho) <= 1) {
            const e = Math.abs(za / sa - rho * (zb / sb)) / Math.sqrt(Math.max(1 - rho * rho, 0.04));
            const lead = names[Math.abs(za / sa) >= Math.abs(zb / sb) ? ia : ib];
            if (e > pattern) {
              pattern = e;
              patternSensor = lead;
            }
            // Averaged like each sensor's distance (running only): one reading apart is a spike of
            // the evidence above, a pair that stays apart is a changed relation.
            const r = p.r + ((running ? Math.min(e, cfg.clip) : 0) - p.r) / cfg.levelReadings;
            if (learn) p.r = r;
            if (r > apart) {
              apart = r;
              apartSensor = lead;
            }
          }
        }
        if (learn) {
          p.n++;
          const rate = 1 / Math.min(p.n, cfg.baselineReadings);
          p.ab += rate * (za * zb - p.ab);
          p.aa += rate * (za * za - p.aa);
          p.bb += rate * (zb * zb - p.bb);
        }
      }
    }

    // Anomaly likelihood: the short-term mean of the log evidence against its own history.
    const h = state.h;
    const raw = Math.log1p(Math.max(surprise, pattern));
    const short = h.e + (raw - h.e) / Math.min(h.n + 1, cfg.shortReadings);
    let logLikelihood = 0;
    if (h.n > 30) {
      const tail = upperTail((short - h.m) / Math.sqrt(Math.max(h.v, 1e-9)));
      logLikelihood = Math.min(1, Math.log(1.0000000001 - (1 - tail)) / LOG_1E10);
    }
    const evidenceNow = quieted ? 0 : this.calibrated(logLikelihood, cfg.evidenceCalibration);
    if (learn) {
      if (!quieted) {
        h.e = short;
        h.n++;
        const b = 1 / Math.min(h.n, cfg.historyReadings);
        const d = short - h.m;
        h.m += b * d;
        h.v += b * (d * d - h.v);
      }
      if (time > state.t) state.t = time;
      // A rest is followed by a start-up; a start-up ends once settled (its length learnt), or is given up after `historyReadings`.
      if (resting) state.su = 1;
      else if (startingUp) {
        if (!unsettled) {
          state.sl = Math.min(Math.max(state.sl, state.su), MAX_EXCURSIONS);
          state.su = 0;
        } else state.su = state.su >= cfg.historyReadings ? 0 : state.su + 1;
      }
    }
    // Pattern novelty, reported once per episode: only what goes beyond the recent novelty counts.
    let noveltyScore = 0;
    if (novel >= 0) {
      // Within the hold-off after a reported novelty, what grows out of the same episode (its next
      // steps beyond the range, its echo) is not a second flag; a novelty several times larger still is.
      const above = Math.max(0, novel - (state.w > 0 ? cfg.holdOffBar : 1) * state.u);
      // A stream whose patterns are always somewhat new (noise) must go further to score.
      noveltyScore = above / (above + cfg.calibration + cfg.typicalNovelty * state.a);
      state.u = Math.max(state.u * (1 - cfg.patternBlock / cfg.refractoryReadings), novel);
      if (seed > state.u) state.u = seed;
      state.an++;
      state.a += (novel - state.a) / Math.min(state.an, cfg.historyReadings);
    }
    // Daily distance, reported once per episode as novelty is: beyond its floor and its own refractory
    // level (raised only by what it reports, so a stretch that slowly grows odder still scores).
    let dailyScore = 0;
    if (learn) {
      const above = Math.max(0, daily - Math.max((state.w > 0 ? cfg.holdOffBar : 1) * state.y, cfg.dailyFloor));
      dailyScore = above / (above + cfg.dailyCalibration);
      state.y = Math.max(state.y * (1 - 1 / cfg.refractoryReadings), dailyScore >= WARNING ? daily : 0);
      // Any flag reported once per episode (novelty, daily, a lull or a burst of excursions) starts the hold-off.
      if (state.w > 0) state.w--;
      else if (noveltyScore >= WARNING || dailyScore >= WARNING || quiet >= WARNING || burst >= WARNING) state.w = cfg.holdOffReadings;
    }

    const driftRss = Math.sqrt(driftSq);
    const driftScore = evidenceScore(driftRss);
    const stuckScore = stuck ? 0.6 : 0;
    const faultScore = status === 'fault' ? 0.9 : 0;
    const envelopeScore = envelope >= 0.5 ? envelope : 0;
    // Equipment deviation: two or more sensors off together for a while (only while running: a
    // stopped machine's readings are off by nature). It lasts as long as they stay off, so an anomaly
    // of minutes scores for its minutes; one sensor alone never makes it, so a univariate stream
    // is scored by novelty alone.
    const deviation = second;
    if (learn) state.d = deviation;
    const deviationScore = quieted ? 0 : halfAt(deviation, cfg.deviationSigma);
    const apartScore = halfAt(apart, cfg.apartSigma);
    const anomalyScore = Math.max(noveltyScore, dailyScore, quiet, burst, driftScore, stuckScore, envelopeScore, faultScore, deviationScore, apartScore);
    const evidence = Math.max(evidenceNow, driftScore, stuckScore, envelopeScore, faultScore);
    // Sustained: readings in a row that are themselves unusual (a lone outlier's echo in the
    // short-term mean does not count), while the evidence stands at the warning level.
    const itself = unusual > 0 || pattern > 3 || driftScore >= 0.5 || stuckScore > 0 || envelopeScore > 0 || faultScore > 0;
    const sustained = itself && evidence >= 0.5 ? state.k + 1 : 0;
    if (learn) state.k = sustained;

    let kind: DetectionKind = 'normal';
    let lead: string | undefined;
    if (anomalyScore >= 0.5 || evidence >= 0.5) {
      const top = Math.max(anomalyScore, evidence);
      // Plain assignments: destructuring a literal here sent V8 back to the interpreter hundreds of times a run.
      if (top === faultScore) kind = 'fault';
      else if (top === envelopeScore) {
        kind = 'envelope';
        lead = envelopeSensor;
      } else if (top === driftScore) {
        kind = 'drift';
        lead = driftSensor;
      } else if (top === stuckScore) {
        kind = 'stuck';
        lead = stuckSensor;
      } else if (burst >= WARNING) {
        // A burst is flagged on the excursion that is one too many, which is itself a spike (and
        // usually the larger score): named by its rhythm, the more telling of the two.
        kind = 'burst';
        lead = burstSensor;
      } else if (quiet >= WARNING) {
        kind = 'quiet';
        lead = quietSensor;
      } else if (top === noveltyScore) {
        kind = 'novel';
        lead = novelSensor;
      } else if (top === dailyScore) {
        kind = 'daily';
        lead = dailySensor;
      } else if (top === deviationScore) {
        kind = 'shift';
        lead = farthestSensor;
      } else if (top === apartScore) {
        kind = 'pattern';
        lead = apartSensor;
      } else if (pattern > surprise) {
        kind = 'pattern';
        lead = patternSensor;
      } else {
        kind = sustained > cfg.shortReadings ? 'shift' : 'spike';
        lead = surpriseSensor;
      }
    }
    const contributions = lead === undefined ? NO_CONTRIBUTIONS : this.contributions(state, features, lead, kind);
    const failure = new FailureFeaturesOf(driftMax, driftRss, slopeMax, proximity, envelope);
    return new DetectionOf(time, status === 'fault', anomalyScore, evidence, driftScore, envelopeScore, kind, sustained, unusual, contributions, failure, rulHours);
  }

  private layoutOf(state: DetectorState, names: readonly string[]): Layout {
    const known = this.layouts.get(state);
    if (known && known.s === state.s && known.p === state.p && (known.names === names || sameNames(known.names, names))) return known;
    const n = names.length;
    const inOrder = new Uint8Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) inOrder[i * n + j] = names[i]! < names[j]! ? 1 : 0;
    // The sensors the equipment has, not those this reading carries: a row of a CSV with a value
    // missing must not swing the others' share of the memory (and so cut it) from one row to the next.
    let sensors = n;
    for (const name in state.s) if (!names.includes(name)) sensors++;
    // One sensor has the twin's 4 KB to itself, so its memory can hold what a stream shows over its
    // life; the sensors of a machine share a smaller one (their baselines, profiles and pairs fill the rest).
    const cfg = this.settings;
    const capacity = sensors > 1 ? Math.max(4, Math.floor(cfg.patternCapacity / sensors)) : cfg.streamPatternCapacity;
    const layout: Layout = { names, s: state.s, p: state.p, sensors: new Array<SensorState | undefined>(n), pairs: new Array<PairState | undefined>(n * n), inOrder, capacity };
    this.layouts.set(state, layout);
    return layout;
  }

  /** Shares of the evidence per sensor, from each one's distance to its baseline; the leading sensor first. */
  private contributions(state: DetectorState, features: Readonly<Record<string, number | null | undefined>>, lead: string, kind: DetectionKind): Record<string, number> {
    if (kind === 'stuck' || kind === 'quiet' || kind === 'fault') return { [lead]: 1 };
    const weights: [string, number][] = [];
    let total = 0;
    for (const name of Object.keys(features)) {
      const x = features[name];
      const s = state.s[name];
      if (x === null || x === undefined || !Number.isFinite(x) || !s) continue;
      // Capped: a reading near the double's limit (judged by its envelope, never learnt) made this
      // Infinity, and its share Infinity / Infinity, a NaN on the card and in AnomalyFlags.
      const w = Math.min(1e9, Math.abs(x - s.m) / Math.max(s.s, 1e-6 + 1e-3 * Math.abs(s.m)));
      if (w < 2 && name !== lead) continue;
      weights.push([name, Math.max(w, name === lead ? 1 : 0)]);
      total += Math.max(w, name === lead ? 1 : 0);
    }
    const out: Record<string, number> = {};
    for (const [name, w] of weights.sort((a, b) => (a[0] === lead ? -1 : b[0] === lead ? 1 : b[1] - a[1]))) defineOwn(out, name, total > 0 ? w / total : 1);
    return out;
  }
}

/**
 * A running median of intervals (ms) taking `dt`: ±2 % a step, so a gap hardly moves it; one
 * `levelReadings` times or more off moves it at least halfway (in log terms) to that mark, so one
 * far from the stream's (a stored state patched to 1e-300) is the stream's again within a few dozen.
 */
function usualInterval(usual: number, dt: number, levelReadings: number): number {
  if (!(usual > 0)) return dt;
  const ratio = dt / usual;
  if (ratio > 1) return usual * Math.max(1.02, Math.sqrt(ratio / levelReadings));
  if (ratio < 1) return usual / Math.max(1.02, Math.sqrt(1 / (ratio * levelReadings)));
  return usual;
}
