/**
 * The two baselines the detector is measured against (bench:detect, backtests), both streaming
 * and causal like it, both given the same persistence rule a plant would use (an alarm needs
 * `persistence` breaching readings in a row):
 * - a static threshold rule like the recipe's: any sensor outside its normal operating band;
 * - a per-sensor z-score over a rolling window of recent readings.
 */
import { OPERATING_ENVELOPES, type Envelope } from './operating-envelopes.ts';

export interface AlarmScorer {
  /** True when this reading raises (or keeps) an alarm. */
  step(time: number, features: Readonly<Record<string, number | null | undefined>>): boolean;
}

export class ThresholdRule implements AlarmScorer {
  private streak = 0;
  constructor(private readonly persistence = 3, private readonly envelopes: Readonly<Record<string, Envelope>> = OPERATING_ENVELOPES) {}

  step(_time: number, features: Readonly<Record<string, number | null | undefined>>): boolean {
    let breach = false;
    for (const name in features) {
      const x = features[name];
      const env = this.envelopes[name];
      if (x === null || x === undefined || !env) continue;
      if ((env.normalHigh !== undefined && x > env.normalHigh) || (env.normalLow !== undefined && x < env.normalLow)) breach = true;
    }
    this.streak = breach ? this.streak + 1 : 0;
    return this.streak >= this.persistence;
  }
}

export class RollingZScore implements AlarmScorer {
  private readonly windows = new Map<string, { values: number[]; next: number; sum: number; sumSq: number }>();
  private streak = 0;
  constructor(private readonly window = 60, private readonly threshold = 3, private readonly persistence = 3) {}

  step(_time: number, features: Readonly<Record<string, number | null | undefined>>): boolean {
    let breach = false;
    for (const name in features) {
      const x = features[name];
      if (x === null || x === undefined) continue;
      let w = this.windows.get(name);
      if (!w) this.windows.set(name, (w = { values: [], next: 0, sum: 0, sumSq: 0 }));
      if (w.values.length >= Math.min(this.window, 20)) {
        const n = w.values.length;
        const mean = w.sum / n;
        const sd = Math.sqrt(Math.max(w.sumSq / n - mean * mean, 1e-12));
        if (Math.abs(x - mean) / sd > this.threshold) breach = true;
      }
      if (w.values.length < this.window) w.values.push(x);
      else {
        const old = w.values[w.next]!;
        w.sum -= old;
        w.sumSq -= old * old;
        w.values[w.next] = x;
        w.next = (w.next + 1) % this.window;
      }
      w.sum += x;
      w.sumSq += x * x;
    }
    this.streak = breach ? this.streak + 1 : 0;
    return this.streak >= this.persistence;
  }
}
