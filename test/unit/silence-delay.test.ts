/**
 * How long a machine may send nothing before the communication watch calls it silent: the plant's
 * delay, or, for a machine that reports more slowly, three of its own readings missed in a row (three
 * uploads, for a logger that uploads its readings in arrays). Its usual interval is what its detector
 * learnt and stored on the twin.
 */
import { describe, expect, it } from 'vitest';
import { StreamingDetector } from '../../src/lib/anomaly/streaming-detector.ts';
import { emptyDetectorState, reviveDetectorState, storeDetectorState, storedUsualIntervalMs, type DetectorState } from '../../src/lib/anomaly/detector-state.ts';
import { silenceDelayMs, SILENT_MISSED_READINGS } from '../../src/lib/alerts/communication-watch.ts';
import { harness } from '../support/pipeline-harness.ts';
import { ARM, iso } from '../support/plant.ts';

const SEC = 1_000;
const MIN = 60 * SEC;
const PLANT_DELAY = 10 * MIN;
const T0 = Date.UTC(2026, 11, 1);

/** The twin of a machine that sent `count` readings `everyMs` apart, as the pipeline stores its detector's state. */
function twinReporting(everyMs: number, count = 50): Record<string, unknown> {
  const detector = new StreamingDetector();
  const state = emptyDetectorState();
  for (let i = 0; i < count; i++) detector.step(state, T0 + i * everyMs, { temperature: 65 + (i % 3), vibration: 0.5 + 0.01 * (i % 4) }, 'running');
  return { $dtId: 'conveyor-009', detectorState: storeDetectorState(state)!.json };
}

/** Upload `u` of a logger: fifteen readings a minute apart in one message (only the last ends it). */
function upload(detector: StreamingDetector, state: DetectorState, u: number): void {
  for (let i = 0; i < 15; i++) detector.step(state, T0 + (u * 15 + i) * MIN, { temperature: 65 + (i % 3), vibration: 0.5 }, 'running', ['temperature', 'vibration'], i === 14);
}

describe("a machine's delay before it is silent", () => {
  it('is the plant’s ten minutes for a machine that reports every second or every minute', () => {
    expect(silenceDelayMs(twinReporting(SEC), PLANT_DELAY)).toEqual({ delayMs: PLANT_DELAY, usualMs: SEC });
    expect(silenceDelayMs(twinReporting(MIN), PLANT_DELAY)).toEqual({ delayMs: PLANT_DELAY, usualMs: MIN });
  });

  it('is three missed readings for one that reports every five minutes (a ten-minute delay would call one lost message a silence), and more for one every quarter hour', () => {
    expect(SILENT_MISSED_READINGS).toBe(3);
    expect(silenceDelayMs(twinReporting(5 * MIN), PLANT_DELAY)).toEqual({ delayMs: 20 * MIN, usualMs: 5 * MIN });
    expect(silenceDelayMs(twinReporting(15 * MIN), PLANT_DELAY).delayMs).toBe(60 * MIN);
    // A plant that set a longer delay keeps it.
    expect(silenceDelayMs(twinReporting(5 * MIN), 30 * MIN).delayMs).toBe(30 * MIN);
  });

  it('is three missed uploads for a logger that uploads its readings in arrays, from its first upload on', () => {
    // Fifteen readings a minute apart, uploaded at once every fifteen minutes: nothing is missing between uploads.
    const detector = new StreamingDetector();
    const state = emptyDetectorState();
    const delayAfter = (u: number) => {
      upload(detector, state, u);
      return silenceDelayMs({ $dtId: 'logger-1', detectorState: storeDetectorState(state)!.json }, PLANT_DELAY);
    };
    // The first upload spans fourteen minutes: already more than the plant's ten.
    expect(delayAfter(0).delayMs).toBe(4 * 14 * MIN);
    for (let u = 1; u < 40; u++) upload(detector, state, u);
    const { delayMs, usualMs } = delayAfter(40);
    expect(usualMs).toBeGreaterThan(14.5 * MIN);
    expect(usualMs).toBeLessThan(15.5 * MIN);
    expect(delayMs).toBe(4 * usualMs);
    // The same readings each sent alone: the plant's delay, as before.
    expect(silenceDelayMs(twinReporting(MIN, 600), PLANT_DELAY)).toEqual({ delayMs: PLANT_DELAY, usualMs: MIN });
  });

  it('is hardly moved by a device that sends a backlog of two hours as one array once', () => {
    const detector = new StreamingDetector();
    const state = emptyDetectorState();
    let t = T0;
    for (let i = 0; i < 300; i++, t += MIN) detector.step(state, t, { temperature: 65 + (i % 3) }, 'running');
    // Offline for two hours, then everything it buffered in one message.
    for (let i = 0; i < 120; i++, t += MIN) detector.step(state, t, { temperature: 65 + (i % 3) }, 'running', ['temperature'], i === 119);
    for (let i = 0; i < 30; i++, t += MIN) detector.step(state, t, { temperature: 65 + (i % 3) }, 'running');
    expect(silenceDelayMs({ $dtId: 'x', detectorState: storeDetectorState(state)!.json }, PLANT_DELAY).delayMs).toBe(PLANT_DELAY);
  });

  it('learns a logger\'s uploads again on a twin patched to say its last message ended far in the future', () => {
    const detector = new StreamingDetector();
    const state = emptyDetectorState();
    for (let u = 0; u < 3; u++) upload(detector, state, u);
    // The seventeen packed numbers; the sixteenth is when the last message ended.
    const stored = JSON.parse(storeDetectorState(state)!.json) as { z: string };
    const z = Buffer.from(stored.z, 'base64url');
    expect(z.length).toBe(17 * 8);
    z.writeDoubleLE(1e15, 15 * 8);
    z.writeDoubleLE(24 * 60 * MIN, 16 * 8);
    const patched = reviveDetectorState({ ...stored, z: z.toString('base64url') });
    // Frozen at a day for good before; now halved within a few uploads, then back to its own.
    for (let u = 3; u < 8; u++) upload(detector, patched, u);
    expect(storedUsualIntervalMs(storeDetectorState(patched)!.json)).toBeLessThan(12 * 60 * MIN);
    for (let u = 8; u < 250; u++) upload(detector, patched, u);
    expect(storedUsualIntervalMs(storeDetectorState(patched)!.json)).toBeLessThan(16 * MIN);
  });

  it('follows the stream when its rate changes, within a hundred readings: a machine set to report every five minutes after days at one a minute', () => {
    const detector = new StreamingDetector();
    const state = emptyDetectorState();
    for (let i = 0; i < 2_000; i++) detector.step(state, T0 + i * MIN, { temperature: 65 + (i % 3) }, 'running');
    const usualAfter = (readings: number, from: number) => {
      for (let i = from; i < readings; i++) detector.step(state, T0 + 2_000 * MIN + i * 5 * MIN, { temperature: 65 + (i % 3) }, 'running');
      return storedUsualIntervalMs(storeDetectorState(state)!.json);
    };
    // The usual interval is a running median: a few long gaps hardly move it.
    expect(usualAfter(10, 0)).toBeLessThan(1.3 * MIN);
    expect(usualAfter(100, 10)).toBeGreaterThan(4.5 * MIN);
  });

  it('is the plant’s for a twin with no state, a foreign or malformed one, and at most four days for one patched to say it reports once a year', () => {
    for (const detectorState of [undefined, '', 'not json', '{"version":3}', '{"version":4,"z":"AAAA"}', 42, { version: 4 }]) {
      expect(silenceDelayMs({ $dtId: 'x', ...(detectorState === undefined ? {} : { detectorState }) }, PLANT_DELAY), String(detectorState)).toEqual({ delayMs: PLANT_DELAY, usualMs: 0 });
    }
    const yearly = twinReporting(365 * 24 * 60 * MIN, 5);
    expect(silenceDelayMs(yearly, PLANT_DELAY).delayMs).toBe(4 * 24 * 60 * MIN);
    // Inherited, not own: a prototype's state is not the twin's.
    const inherited = Object.create(twinReporting(5 * MIN)) as Record<string, unknown>;
    expect(silenceDelayMs(inherited, PLANT_DELAY).delayMs).toBe(PLANT_DELAY);
  });
});

describe('a logger whose uploads reach the pipeline', () => {
  it('is timed by its uploads even when the last reading of each is refused: the reading taken in before it ends the message', async () => {
    const h = harness({ settings: { twinPatchIntervalMs: 0 } });
    h.twins.add('robotic-arm-001', ARM, { equipmentId: 'robotic-arm-001' });
    const start = Date.now() - 12 * 60 * MIN;
    // Fifteen readings a minute apart in one message every quarter hour; its firmware writes the last one's temperature as text.
    for (let u = 0; u < 40; u++) {
      const body = Array.from({ length: 15 }, (_, k) => ({ timestamp: iso(start + (15 * u + k) * MIN), temperature: k === 14 ? '70.2 C' : 70 + 0.1 * (k % 4), vibration: 0.4, pressure: 6, ...(u === 0 && k === 0 ? { status: 'running' } : {}) }));
      expect(await h.send([{ device: 'robotic-arm-001', body }])).toMatchObject({ deadLettered: 1 });
    }
    // Untimed, its usual interval was the readings' minute, and so its delay the plant's ten minutes: a card between two uploads.
    const { delayMs, usualMs } = silenceDelayMs(h.twins.props('robotic-arm-001'), PLANT_DELAY);
    expect(usualMs).toBeGreaterThan(14.5 * MIN);
    expect(usualMs).toBeLessThan(15.5 * MIN);
    expect(delayMs).toBe(4 * usualMs);
  });
});
