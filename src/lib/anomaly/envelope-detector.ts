/**
 * Scores against the plant's operating envelopes: the streaming detector's domain-knowledge part,
 * and on its own the stateless rule the one-patch-per-event baseline benchmark uses. Each sensor
 * scores 0 well inside its normal band, 0.5 at the band's edge and 1 at the hard limit, linearly
 * in between; the reading's score is the worst sensor's, and a controller that
 * reports `fault` scores at least 0.9. It cannot predict failure, so failureProbability stays unset.
 */
import type { ScoreInput, ScoreResult } from '../ports.ts';
import { OPERATING_ENVELOPES, type Envelope } from './operating-envelopes.ts';

export const ENVELOPE_MODEL_VERSION = 'envelope-1';
/** Shared by every reading that nothing stood out in; never mutated. */
const NONE: Record<string, number> = Object.freeze({}) as Record<string, number>;
const NOT_RUNNING = new Set(['idle', 'stopped', 'maintenance', 'emergencyStopped']);

function ramp(value: number, edge: number, limit: number): number {
  const span = Math.abs(limit - edge) || 1;
  // Distance past the normal edge, in spans: -1 → 0, 0 → 0.5, +1 → 1.
  const past = (limit > edge ? value - edge : edge - value) / span;
  return Math.min(1, Math.max(0, 0.5 + 0.5 * past));
}

export function sensorScore(value: number, env: Envelope, running: boolean): number {
  let score = 0;
  if (env.normalHigh !== undefined && env.limitHigh !== undefined) score = Math.max(score, ramp(value, env.normalHigh, env.limitHigh));
  if (env.normalLow !== undefined && env.limitLow !== undefined && (running || !env.lowOnlyWhileRunning)) {
    score = Math.max(score, ramp(value, env.normalLow, env.limitLow));
  }
  return score;
}

export function scoreReading(input: ScoreInput): ScoreResult {
  const status = input.status;
  const running = status === undefined || !NOT_RUNNING.has(status);
  let contributions: Record<string, number> | undefined;
  let worst = 0;
  let total = 0;
  for (const name in input.features) {
    const value = input.features[name];
    const env = OPERATING_ENVELOPES[name];
    if (value === null || value === undefined || !env) continue;
    const s = sensorScore(value, env, running);
    if (s > 0) {
      (contributions ??= {})[name] = s;
      total += s;
    }
    if (s > worst) worst = s;
  }
  contributions ??= NONE;
  if (status === 'fault') worst = Math.max(worst, 0.9);
  if (total > 0) for (const k in contributions) contributions[k] = contributions[k]! / total;
  return { anomalyScore: worst, failureProbability: undefined, contributions, modelVersion: ENVELOPE_MODEL_VERSION };
}

