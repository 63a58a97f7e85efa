/**
 * The simulator on shifts (`npm start -- --shift 240/120`): the plant's machines stop between runs
 * and say so, cool at rest and warm again after each start, and the detector that watches them
 * finds no evidence in any of it: neither the rest nor the start-ups.
 */
import { describe, expect, it } from 'vitest';
import { StreamingDetector } from '../../src/lib/anomaly/streaming-detector.ts';
import { emptyDetectorState } from '../../src/lib/anomaly/detector-state.ts';
import { newState, sample, seedOf } from '../../src/simulator/scenarios.ts';
import { ARM, CONVEYOR, plantCatalog } from '../support/plant.ts';

const shift = { runSeconds: 240, restSeconds: 120 };
const CYCLE = shift.runSeconds + shift.restSeconds;
const T0 = Date.UTC(2026, 11, 1);

describe('the simulated plant on shifts', () => {
  const catalog = plantCatalog();

  it.each([
    ['RoboticArm', ARM, 'robotic-arm-001', 'temperature'],
    ['Conveyor', CONVEYOR, 'conveyor-001', 'motorTemperature'],
  ] as const)('%s: stops and says so between runs, cools at rest and warms after each start, and raises no evidence', (kind, model, id, heat) => {
    const sim = newState(kind, seedOf(id), 0, undefined, shift);
    const measured = catalog.forTwinModel(model)!.measuredTelemetry;
    const detector = new StreamingDetector();
    const state = emptyDetectorState();
    const readings = Array.from({ length: 6 * CYCLE }, (_, t) => sample(sim, t).body);
    const detections = readings.map((body, t) => detector.step(state, T0 + t * 1000, body as Record<string, number>, body.status as string, measured));

    expect(readings.map((_, t) => (t % CYCLE < shift.runSeconds ? 'running' : 'stopped'))).toEqual(readings.map((b) => b.status));
    const temperature = (t: number) => readings[t]![heat] as number;
    // At the end of a rest it has cooled well below its working temperature (60–65 °C)...
    expect(temperature(2 * CYCLE - 1)).toBeLessThan(45);
    // ...and after the next start it is back there within a few minutes.
    expect(temperature(2 * CYCLE)).toBeLessThan(45);
    expect(Math.min(...readings.slice(2 * CYCLE + 180, 2 * CYCLE + 240).map((b) => b[heat] as number))).toBeGreaterThan(45);
    if (kind === 'Conveyor') expect(readings[CYCLE - 1]).toMatchObject({ speed: 0, load: 0 });

    // Nothing of six runs, six rests and five start-ups is evidence of a fault.
    expect(detections.filter((d) => d.evidence >= 0.5)).toEqual([]);
  });
});
