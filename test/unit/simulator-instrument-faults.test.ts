/**
 * The simulator's failing probe (`--probe-failure DEVICE:SENSOR@FROM[-TO]`): from FROM seconds the
 * device sends that sensor as null, the rest of its reading unchanged, until TO. And its silent
 * device (`--silence DEVICE@FROM[-TO]`): nothing sent from FROM until TO.
 */
import { describe, expect, it } from 'vitest';
import { isSilent, newState, probeFailureProblem, sample, sensorsOf, silenceProblem, withProbeFailure } from '../../src/simulator/scenarios.ts';
import { DEFAULT_PLANT } from '../../src/lib/plant/plant.ts';

describe('a simulated probe that stops answering', () => {
  it('sends its sensor as null between FROM and TO, and every other value as before', () => {
    const failure = { sensor: 'motorTemperature', fromSeconds: 60, toSeconds: 600 };
    const state = newState('Conveyor', 7);
    for (const t of [0, 59.9, 60, 300, 599.9, 600, 900]) {
      const s = sample(state, t);
      const sent = withProbeFailure(s, failure, t);
      const out = t >= 60 && t < 600;
      expect(sent.body.motorTemperature, `t=${t}`).toBe(out ? null : s.body.motorTemperature);
      expect({ ...sent.body, motorTemperature: 0 }).toEqual({ ...s.body, motorTemperature: 0 });
      expect(sent.anomaly).toBe(s.anomaly);
    }
    // Without TO it never comes back.
    expect(withProbeFailure(sample(state, 5_000), { sensor: 'speed', fromSeconds: 1 }, 5_000).body.speed).toBeNull();
  });

  it('names only a device of the plant and a sensor that device sends', () => {
    expect(sensorsOf('RoboticArm')).toEqual(['temperature', 'vibration', 'pressure', 'cycleCount']);
    expect(probeFailureProblem(DEFAULT_PLANT.equipment, 'robotic-arm-001', 'temperature')).toBeUndefined();
    expect(probeFailureProblem(DEFAULT_PLANT.equipment, 'robotic-arm-001', 'speed')).toBe("robotic-arm-001 sends temperature, vibration, pressure, cycleCount, not 'speed'");
    expect(probeFailureProblem(DEFAULT_PLANT.equipment, 'press-9', 'temperature')).toBe("no device 'press-9' in the plant");
  });
});

describe('a simulated device that falls silent', () => {
  it('sends nothing from FROM until TO, and for good without TO; only a device of the plant', () => {
    expect([0, 59.9, 60, 899.9, 900].map((t) => isSilent({ fromSeconds: 60, toSeconds: 900 }, t))).toEqual([false, false, true, true, false]);
    expect(isSilent({ fromSeconds: 60 }, 1e6)).toBe(true);
    expect(isSilent(undefined, 100)).toBe(false);
    expect(silenceProblem(DEFAULT_PLANT.equipment, 'conveyor-002')).toBeUndefined();
    expect(silenceProblem(DEFAULT_PLANT.equipment, 'press-9')).toBe("no device 'press-9' in the plant");
  });
});
