/**
 * The streaming detector's settings (./streaming-detector.ts), with the values it runs with. Every
 * time scale is counted in readings; docs/design-notes.md says how each value was chosen.
 */
export interface DetectorSettings {
  /** Readings the robust baselines average over (the learning rate is 1/min(n, this)). */
  baselineReadings: number;
  /** Readings of evidence history the likelihood is measured against. */
  historyReadings: number;
  /** Readings the short-term evidence averages over. */
  shortReadings: number;
  /** Readings over which the reported novelty's refractory level decays by 1/e. */
  refractoryReadings: number;
  /** Readings after a novelty reported at the warning level during which another must go `holdOffBar` times beyond the refractory level to count. */
  holdOffReadings: number;
  /** How many times the refractory level a novelty must exceed during the hold-off. */
  holdOffBar: number;
  /** Readings the fast level (drift) averages over. */
  levelReadings: number;
  /** Readings learnt before drift, stuck and pattern evidence count. */
  warmupReadings: number;
  /** Level shift toward failure, in baseline spreads, at which drift scores 0.5. */
  driftSigma: number;
  /**
   * Equipment deviation (each sensor's distance from its baseline, in spreads, averaged over
   * `levelReadings`; the second-largest of those) at which it scores 0.5: two sensors that stay off together.
   */
  deviationSigma: number;
  /**
   * A correlated pair's residual (in its spreads, clipped, averaged over `levelReadings`) at which it
   * scores 0.5: sensors that usually move together staying apart. Noise alone averages about 0.8.
   */
  apartSigma: number;
  /** Readings in a row with one value that make a varying sensor "stuck". */
  stuckReadings: number;
  /** Huber clip, in spreads: a reading beyond it moves the baseline as if it were this far. */
  clip: number;
  /** Pattern novelty above the refractory level that maps to anomalyScore 0.5 (the warning threshold) in a stream whose patterns are rarely new. */
  calibration: number;
  /** How much the stream's usual pattern novelty adds to `calibration`. */
  typicalNovelty: number;
  /** Log-likelihood (0..1) that maps to evidence 0.5: -log10 of the tail probability over 10 (0.3: one in a thousand). */
  evidenceCalibration: number;
  /** Pairs whose correlation is at least this are watched for coming apart. */
  minCorrelation: number;
  /** Learning rate, relative, from a reading past the clip (an outlier): slower, never zero. */
  outlierLearning: number;
  /**
   * Learn from a reading older than the newest learnt (off: such a reading is scored only, so a
   * replay cannot count twice). On where the caller drops replays itself (the pipeline).
   */
  learnLateReadings: boolean;
  /** Readings averaged into one block of a pattern. */
  patternBlock: number;
  /** Blocks in a pattern. */
  patternLength: number;
  /** Mean difference (share of the range seen) within which a pattern matches a remembered one. */
  vigilance: number;
  /** How far a remembered pattern moves toward one that matches it (at least 1/matches). */
  patternLearning: number;
  /** Blocks a sensor learns before its pattern novelty counts. */
  patternWarmup: number;
  /** The warm-up's last blocks whose novelty the refractory level starts from, so that the first block judged is not flagged for being the first. */
  patternSeedBlocks: number;
  /** Remembered patterns per equipment of two or more sensors, shared among them (at least 4 each): the state stays under 4 KB. */
  patternCapacity: number;
  /** Remembered patterns of a single-sensor stream (a CSV column, a one-sensor device): about 1.7 KB of the twin's 4 at most. */
  streamPatternCapacity: number;
  /** Days an hour of the day must have been seen on before the daily profile judges it. */
  dailyDays: number;
  /** Days of an hour's readings its daily level and spread average over (at least `dailyMinReadings` readings). */
  dailyLearningDays: number;
  dailyMinReadings: number;
  /** Readings the distance from the daily profile (spreads) is averaged over. */
  dailyReadings: number;
  /** Averaged daily distance (spreads) from which it scores, and how much further it scores 0.5. */
  dailyFloor: number;
  dailyCalibration: number;
  /**
   * Excursions (runs of readings past the clip) a sensor must have shown before a lull in them is
   * judged: a lull `quietFactor` times longer than the longest gap between excursions so far, and
   * at least `quietReadings` long, is `quiet`.
   */
  quietExcursions: number;
  quietFactor: number;
  quietReadings: number;
  /** Readings over which the recent rate of excursions is measured against the sensor's long-run rate (over `historyReadings`). */
  burstReadings: number;
  /** Fewest excursions in the recent window that can be a burst. */
  burstExcursions: number;
  /** Surprise (nats: how unlikely so many excursions are at the long-run rate) at which a burst scores 0.5. */
  burstSurprise: number;
  /** Readings learnt before bursts are judged (the long-run rate must mean something). */
  burstWarmup: number;
  /** A start-up is judged on its own for up to this many times the longest one seen to settle (at least `levelReadings`). */
  startupFactor: number;
  /** A start-up has settled once every sensor reads within this many spreads of its baseline. */
  settleSigma: number;
}

export const DEFAULT_DETECTOR_SETTINGS: Readonly<DetectorSettings> = Object.freeze({
  baselineReadings: 2000,
  historyReadings: 3000,
  shortReadings: 5,
  refractoryReadings: 200,
  holdOffReadings: 100,
  holdOffBar: 3,
  levelReadings: 30,
  warmupReadings: 30,
  driftSigma: 3,
  deviationSigma: 1.75,
  apartSigma: 2,
  stuckReadings: 30,
  clip: 5,
  calibration: 0.027,
  typicalNovelty: 0.35,
  evidenceCalibration: 0.3,
  minCorrelation: 0.6,
  outlierLearning: 0.5,
  learnLateReadings: false,
  patternBlock: 2,
  patternLength: 4,
  vigilance: 0.1,
  patternLearning: 0.01,
  patternWarmup: 50,
  patternSeedBlocks: 25,
  patternCapacity: 32,
  streamPatternCapacity: 128,
  dailyDays: 2,
  dailyLearningDays: 1,
  dailyMinReadings: 10,
  dailyReadings: 16,
  dailyFloor: 1.5,
  dailyCalibration: 0.5,
  quietExcursions: 40,
  quietFactor: 1.2,
  quietReadings: 30,
  burstReadings: 100,
  burstExcursions: 3,
  burstSurprise: 10,
  burstWarmup: 500,
  startupFactor: 2,
  settleSigma: 1.5,
});
