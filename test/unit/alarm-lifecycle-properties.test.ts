/**
 * Whatever the evidence and wherever automated stops fall in it, the lifecycle keeps one incident
 * at a time: people hear of a new incident only when none at warning or above is open, an incident
 * a stop touched is critical and told, and what it tells is never repeated at the same priority;
 * late readings tell of nothing new, and what they left untold is told on the next reading in time;
 * a silence leaves an incident standing at warning or above, raised once.
 * fast-check, fixed seed and bounded runs, so a failure reproduces.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { propertyRuns } from '../support/property-runs.ts';
import { AlarmLifecycle, type AlarmEvidence, type AlarmState } from '../../src/lib/alerts/alarm-lifecycle.ts';

const T0 = Date.UTC(2026, 10, 1, 8);
const thresholds = { warning: 0.5, critical: 0.8 };

/** One reading a second: how unusual it is, how long that has lasted, and whether a stop is decided on it. */
const step = fc.record({
  evidence: fc.constantFrom(0, 0.1, 0.4, 0.6, 0.9),
  anomalyScore: fc.constantFrom(0, 0.6, 0.9),
  run: fc.nat({ max: 12 }),
  sensors: fc.constantFrom(1, 2),
  failure: fc.constantFrom(undefined, 0.2, 0.6, 0.95),
  /** A controller fault now and then. */
  fault: fc.constantFrom(false, false, false, false, false, false, true),
  gap: fc.constantFrom(1, 1, 1, 30, 400),
  stop: fc.boolean(),
  /** Handled long after the hub had it (a backlog): what it raises is recorded, not told. */
  late: fc.constantFrom(false, false, true),
  /** Then nothing for eleven minutes, swept for a communication loss meanwhile. */
  silent: fc.constantFrom(false, false, false, false, false, true),
});

describe('the alarm lifecycle, for any evidence and any automated stops', () => {
  it('tells of a new incident only while none is open above low, and a stop leaves its incident critical and told', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 200 }), fc.constantFrom(0, 1, 3), (steps, floodLimit) => {
        const lifecycle = new AlarmLifecycle({ thresholds, floodLimit });
        const state: AlarmState = {};
        let time = T0;
        const told = new Set<string>();
        for (const [i, s] of steps.entries()) {
          time += s.gap * 1000;
          const reading: AlarmEvidence = { time, evidence: s.evidence, anomalyScore: s.anomalyScore, sustained: s.evidence >= 0.5 ? s.run : 0, sensorsUnusual: s.sensors, driftScore: 0, envelopeScore: 0, failureProbability: s.failure, fault: s.fault };
          const openBefore = state.p === 'warning' || state.p === 'critical';
          const events = lifecycle.evaluate(state, [reading], { line: 'line-1', idOf: () => `arm-1|${i}`, late: () => s.late });
          // A late reading tells of no raise or escalation; a clear of what people were told of, it tells.
          for (const e of events) if (e.notify && e.kind !== 'cleared') expect(s.late, `told on a late reading (reading ${i})`).toBe(false);
          // What stands untold because it came late is told on the first reading in time that bears a warning or more.
          const untold = state.l === 1;
          if (s.stop) {
            const raise = lifecycle.raiseForStop(state, time, 0, `arm-1|${i}`);
            if (raise) events.push(raise);
            expect(state).toMatchObject({ p: 'critical', n: 'critical' });
            expect(raise === undefined || raise.notify).toBe(true);
          }
          if (s.silent) {
            const silence = lifecycle.raiseForSilence(state, time + 660_000, time, { line: 'line-1', id: `arm-1|silent-${i}` });
            if (silence) events.push(silence);
            // Whatever stood before, the machine's incident now stands at warning or above.
            expect(state.p === 'warning' || state.p === 'critical', `a silence left no incident (reading ${i})`).toBe(true);
            expect(lifecycle.raiseForSilence(state, time + 720_000, time, { line: 'line-1', id: `arm-1|silent-${i}` }), 'a silence raised twice').toBeUndefined();
            time += 660_000;
          }
          if (untold && !s.late && lifecycle.priorityOf(reading) !== undefined && lifecycle.priorityOf(reading) !== 'low') expect(state.l, `still untold after a reading in time (reading ${i})`).toBeUndefined();
          let open = openBefore;
          for (const e of events) {
            // Every step says when its incident was raised, never after the step.
            expect(e.raisedAt !== undefined && e.raisedAt <= e.time, `step without its raise time (reading ${i})`).toBe(true);
            if (e.kind === 'raised' && e.priority !== 'low' && e.notify && !e.reopened && !e.delayed) {
              expect(open, `a new incident told while another was open (reading ${i})`).toBe(false);
            }
            // Told late: the open incident itself, raised on late readings, its first notice.
            if (e.delayed) expect([e.incidentId, [...told].some((k) => k.startsWith(`${e.incidentId}|`) && e.kind === 'raised')]).toEqual([state.id ?? e.incidentId, false]);
            if (e.notify && e.kind !== 'cleared') {
              const key = `${e.incidentId}|${e.priority}`;
              expect(told.has(key), `told twice: ${key}`).toBe(false);
              told.add(key);
            }
            if (e.kind === 'cleared') {
              open = false;
              for (const k of [...told]) if (k.startsWith(`${e.incidentId}|`)) told.delete(k);
            } else if (e.priority !== 'low') open = true;
          }
        }
      }),
      propertyRuns(182, 300),
    );
  });
});
