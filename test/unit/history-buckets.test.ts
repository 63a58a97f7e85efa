/** The equipment history's buckets: average, minimum and maximum per reading, whatever the readings are called. */
import { describe, expect, it } from 'vitest';
import { bucketize } from '../../src/lib/http/plant-api.ts';

const point = (time: string, readings: Record<string, unknown>, anomalyScore = 0) => ({ time, readings, anomalyScore, failureProbability: null });

describe('history buckets', () => {
  it('aggregates each numeric reading per bucket and counts the anomalous readings', () => {
    const buckets = bucketize([point('2026-01-01T00:00:10Z', { temperature: 60, status: 'running' }), point('2026-01-01T00:00:40Z', { temperature: 70 }, 0.7), point('2026-01-01T00:01:05Z', { temperature: 65 })], 60_000, 0.5);
    expect(buckets.map((b) => [b.t, b.values.temperature, b.count, b.anomalies])).toEqual([
      ['2026-01-01T00:00:00.000Z', { avg: 65, min: 60, max: 70 }, 2, 1],
      ['2026-01-01T00:01:00.000Z', { avg: 65, min: 65, max: 65 }, 1, 0],
    ]);
  });

  it('keeps readings named like what every object inherits as readings, and touches no global', () => {
    const readings = Object.fromEntries([['constructor', 3], ['toString', 4], ['valueOf', 5]]);
    const [bucket] = bucketize([point('2026-01-01T00:00:10Z', readings), point('2026-01-01T00:00:20Z', readings)], 60_000, 0.5);
    expect(JSON.parse(JSON.stringify(bucket!.values))).toEqual({ constructor: { avg: 3, min: 3, max: 3 }, toString: { avg: 4, min: 4, max: 4 }, valueOf: { avg: 5, min: 5, max: 5 } });
    expect(Object.hasOwn(Object, 'min')).toBe(false);
  });
});
