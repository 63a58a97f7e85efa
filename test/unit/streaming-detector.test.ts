/**
 * The streaming detector on generated signals, one reading a minute: it stays quiet on noise,
 * flags spikes, level shifts, slow drift toward a limit and a stuck sensor, scores causally, and
 * its state survives a JSON round trip (a restart, or the partition moving to another instance).
 */
import { describe, expect, it } from 'vitest';
import { StreamingDetector, emptyDetectorState, reviveDetectorState, type Detection, type DetectorState } from '../../src/lib/anomaly/streaming-detector.ts';
import { rng } from '../../src/simulator/scenarios.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 1);
const detector = new StreamingDetector();

/** Gaussian noise from a seeded stream. */
function noise(seed: number) {
  const r = rng(seed);
  return (sd: number) => sd * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** Runs `minutes` readings of `signal(i)` through a fresh (or given) state. */
function run(minutes: number, signal: (i: number) => Record<string, number>, state: DetectorState = emptyDetectorState(), from = 0): Detection[] {
  const out: Detection[] = [];
  for (let i = from; i < from + minutes; i++) out.push(detector.step(state, T0 + i * MIN, signal(i), 'running'));
  return out;
}

const normalArm = (n = noise(1)) => () => ({ temperature: 65 + n(2.5), vibration: 0.5 + n(0.08), pressure: 6 + n(0.25) });

describe('the streaming detector', () => {
  it('stays quiet on noise alone for a week', () => {
    const scores = run(7 * 24 * 60, normalArm());
    const alarms = scores.filter((d) => d.driftScore >= 0.5).length;
    const spikes = scores.filter((d) => d.anomalyScore >= 0.5).length;
    expect(alarms).toBe(0);
    // Gaussian noise past 5 sd on one of three sensors: essentially never.
    expect(spikes).toBeLessThanOrEqual(2);
  });

  it('flags a single spike at once, names the sensor, and does not call it drift', () => {
    const n = noise(2);
    const scores = run(600, (i) => ({ temperature: 65 + n(2.5) + (i === 500 ? 30 : 0), vibration: 0.5 + n(0.08) }));
    const spike = scores[500]!;
    expect(spike.anomalyScore).toBeGreaterThanOrEqual(0.5);
    expect(spike.kind).toBe('spike');
    expect(Object.keys(spike.contributions)).toEqual(['temperature']);
    expect(Math.max(...scores.map((d) => d.driftScore))).toBeLessThan(0.5);
    expect(scores[510]!.anomalyScore).toBeLessThan(0.5);
  });

  it('flags a level shift toward failure within the hour, but not a shift away from it', () => {
    const n = noise(3);
    const up = run(600, (i) => ({ vibration: 0.5 + n(0.08) + (i >= 400 ? 0.6 : 0) }));
    const firstUp = up.findIndex((d) => d.driftScore >= 0.5);
    expect(firstUp).toBeGreaterThan(400);
    expect(firstUp).toBeLessThan(460);
    // Vibration falling is not wear: its failure side is up.
    const down = run(600, (i) => ({ vibration: 0.5 + n(0.08) - (i >= 400 ? 0.3 : 0) }));
    expect(down.every((d) => d.driftScore < 0.5)).toBe(true);
  });

  it('catches a slow drift long before the sensor reaches its limit, with the drifting sensor named', () => {
    const n = noise(4);
    // Three days of normal running, then temperature climbs 30 °C over two days.
    const onset = 3 * 24 * 60;
    const span = 2 * 24 * 60;
    const signal = (i: number) => ({ temperature: 65 + n(2.5) + (i > onset ? (30 * Math.min(i - onset, span)) / span : 0), pressure: 6 + n(0.25) });
    const scores = run(onset + span, signal);
    const first = scores.findIndex((d) => d.driftScore >= 0.5);
    expect(first).toBeGreaterThan(onset);
    const leadPct = (100 * (onset + span - first)) / span;
    expect(leadPct).toBeGreaterThan(60);
    expect(scores[first]!.contributions.temperature).toBeGreaterThan(0.9);
  });

  it('counts two sensors drifting together before either would alone', () => {
    const n = noise(5);
    const onset = 2 * 24 * 60;
    // Each sensor alone moves 2.4 sd (under the 3 sd drift threshold); together they cross it.
    const both = run(onset + 600, (i) => ({ temperature: 65 + n(2.5) + (i > onset ? 6 : 0), vibration: 0.5 + n(0.08) + (i > onset ? 0.19 : 0) }));
    const alone = run(onset + 600, (i) => ({ temperature: 65 + n(2.5) + (i > onset ? 6 : 0), vibration: 0.5 + n(0.08) }));
    expect(both.slice(onset).some((d) => d.driftScore >= 0.5)).toBe(true);
    expect(alone.slice(onset).every((d) => d.driftScore < 0.5)).toBe(true);
  });

  it('notices a stuck sensor', () => {
    const n = noise(6);
    const scores = run(400, (i) => ({ pressure: i >= 300 ? 6.02 : 6 + n(0.25) }));
    expect(scores[310]!.kind).not.toBe('stuck');
    expect(scores[340]!.kind).toBe('stuck');
    expect(scores[340]!.anomalyScore).toBeGreaterThanOrEqual(0.5);
  });

  it('scores causally: a reading gets the same score whatever comes after it', () => {
    const n = noise(7);
    const values = Array.from({ length: 900 }, (_, i) => ({ temperature: 65 + n(2.5) + (i > 600 ? (i - 600) * 0.05 : 0) }));
    const full = run(900, (i) => values[i]!);
    const prefix = run(700, (i) => values[i]!);
    expect(prefix.map((d) => d.anomalyScore)).toEqual(full.slice(0, 700).map((d) => d.anomalyScore));
  });

  it('resumes from its stored state exactly as if it had never stopped', () => {
    const n = noise(8);
    const values = Array.from({ length: 1200 }, (_, i) => ({ vibration: 0.5 + n(0.08) + (i > 800 ? (i - 800) * 0.002 : 0) }));
    const straight = run(1200, (i) => values[i]!);
    const state = emptyDetectorState();
    run(700, (i) => values[i]!, state);
    // The state as the twin stores it: JSON, read back by another instance.
    const moved = reviveDetectorState(JSON.parse(JSON.stringify(state)));
    const resumed = run(500, (i) => values[i]!, moved, 700);
    expect(resumed.map((d) => d.anomalyScore)).toEqual(straight.slice(700).map((d) => d.anomalyScore));
    expect(JSON.stringify(state).length).toBeLessThan(400);
  });

  it('scores but does not learn from a replayed older reading', () => {
    const state = emptyDetectorState();
    run(200, normalArm(noise(9)), state);
    const before = JSON.stringify(state);
    detector.step(state, T0, { temperature: 99, vibration: 3, pressure: 1 }, 'running');
    expect(JSON.stringify(state)).toBe(before);
  });

  it('starts afresh from a missing or foreign state, and after maintenance', () => {
    expect(reviveDetectorState(undefined)).toEqual(emptyDetectorState());
    expect(reviveDetectorState({ version: 99 })).toEqual(emptyDetectorState());
    const state = emptyDetectorState();
    run(200, normalArm(noise(10)), state);
    detector.step(state, T0 + 201 * MIN, { temperature: 65 }, 'maintenance');
    expect(state.s.temperature!.n).toBe(0);
  });
});
