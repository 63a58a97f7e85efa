/**
 * How alarms are counted against ground truth (bench:detect and backtests), and the baselines.
 */
import { describe, expect, it } from 'vitest';
import { EpisodeTracker, evaluateAlarms, type GroundTruth } from '../../src/lib/anomaly/evaluate.ts';
import { RollingZScore, ThresholdRule } from '../../src/lib/anomaly/baselines.ts';

const H = 3_600_000;
const DAY = 24 * H;

describe('counting alarms against ground truth', () => {
  it('turns alarming readings into episodes re-armed after a quiet period', () => {
    const t = new EpisodeTracker(H);
    for (const [time, alarm] of [[0, true], [10, true], [H / 2, true], [H / 2 + 1, false], [3 * H, true], [3 * H + 60_000, true]] as const) t.observe(time, alarm);
    expect(t.starts).toEqual([0, 3 * H]);
  });

  it('scores recall, precision, lead time and false alarms per healthy device-week', () => {
    const truth: GroundTruth[] = [
      { deviceId: 'a', startTime: 0, endTime: 10 * DAY, onsetTime: 5 * DAY, failureTime: 7 * DAY },
      { deviceId: 'b', startTime: 0, endTime: 10 * DAY, onsetTime: 5 * DAY, failureTime: 7 * DAY },
      { deviceId: 'c', startTime: 0, endTime: 14 * DAY },
    ];
    const starts = new Map([
      ['a', [6 * DAY]], // caught half-way: lead 50 %
      ['b', [2 * DAY, 7.5 * DAY]], // a false alarm before onset; the one after failure counts for nothing
      ['c', [DAY]], // a false alarm on a healthy machine
    ]);
    const r = evaluateAlarms(truth, starts);
    expect(r).toMatchObject({ failing: 2, detected: 1, falseAlarms: 2, recall: 0.5, medianLeadTimePct: 50 });
    expect(r.precision).toBeCloseTo(1 / 3);
    expect(r.f1).toBeCloseTo(0.4);
    expect(r.healthyDeviceWeeks).toBeCloseTo((5 + 5 + 14) / 7);
    expect(r.falseAlarmsPerDeviceWeek).toBeCloseTo(2 / ((5 + 5 + 14) / 7));
  });
});

describe('the baselines', () => {
  it('threshold rule: a breach of the normal band must persist three readings', () => {
    const rule = new ThresholdRule();
    expect([80, 80, 70, 80, 80, 80].map((temperature, i) => rule.step(i, { temperature }))).toEqual([false, false, false, false, false, true]);
  });

  it('rolling z-score: a jump alarms, then the window learns it as normal', () => {
    const z = new RollingZScore(30, 3, 3);
    const alarms = Array.from({ length: 120 }, (_, i) => z.step(i, { vibration: (i % 2 ? 0.49 : 0.51) + (i >= 60 ? 1 : 0) }));
    expect(alarms.slice(0, 60).some(Boolean)).toBe(false);
    expect(alarms.slice(60, 70).some(Boolean)).toBe(true);
    expect(alarms.slice(100).some(Boolean)).toBe(false);
  });
});
