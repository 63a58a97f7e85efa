/**
 * An arm that runs hot now and then, in batches cut anywhere and sometimes delivered twice (the
 * host retries), through the pipeline with its automated stop on. Whatever the sequence: every
 * reading is stored once, no card goes out twice, every card names an incident the alarm events
 * know, and a stop is sent at most once and only inside an incident people were told of as
 * critical. fast-check, fixed seed and bounded runs, so a failure reproduces.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { ScoreResult, ScorerPort } from '../../src/lib/ports.ts';
import { CapturedCommands, harness } from '../support/pipeline-harness.ts';
import { ARM, LINE, iso, type Msg } from '../support/plant.ts';

/** A failure model that is sure about hot readings: 95 % failure probability at 95 °C and above. */
const model: ScorerPort = {
  async score(inputs): Promise<ScoreResult[]> {
    return inputs.map((i): ScoreResult => ((i.features.temperature ?? 0) >= 95 ? { anomalyScore: 0.9, failureProbability: 0.95, contributions: { temperature: 1 }, modelVersion: 'fp-1' } : { anomalyScore: 0, failureProbability: 0.01, contributions: {}, modelVersion: 'fp-1' }));
  },
};
const autoStop = { mode: 'on' as const, minProbability: 0.9, confirmReadings: 3, maxPerHour: 3, incidentMs: 4 * 3_600_000, maxAgeMs: 120_000 };

/** Runs of readings, normal or hot, half a second apart; cut into batches; some batches delivered twice. */
const scenario = fc.record({
  /** A run may follow a pause of 70 s (long enough for an incident to clear). */
  runs: fc.array(fc.record({ hot: fc.boolean(), length: fc.integer({ min: 1, max: 12 }), pause: fc.constantFrom(0, 0, 0, 70_000) }), { minLength: 1, maxLength: 14 }),
  cuts: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 40 }),
  replays: fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
  /** The device does not take the first stop (offline). */
  stopFails: fc.boolean(),
});

describe('the automated stop and the incidents, for any run of hot readings', () => {
  it('stores every reading once, tells each step once, and stops only inside an incident told as critical', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ runs, cuts, replays, stopFails }) => {
        const commands = new CapturedCommands();
        if (stopFails) commands.failNext.push(new Error('device offline'));
        const h = harness({ endpoint: model, commands, settings: { autoStop } });
        h.twins.add('production-line-a', LINE);
        h.twins.add('robotic-arm-001', ARM, { equipmentId: 'robotic-arm-001' });
        h.twins.relate('production-line-a', 'robotic-arm-001', 'contains');
        // Pauses add up to at most 3.5 minutes past now: within the clock skew a reading may have.
        let time = Date.now() - 90_000;
        const readings: (Msg & { body: { timestamp: string; temperature: number; status: string } })[] = [];
        for (const run of runs) {
          time += Math.min(run.pause, Math.max(0, 210_000 - (time - Date.now())));
          for (let k = 0; k < run.length; k++) {
            const n = readings.length;
            const temperature = run.hot ? 97 : 62 + (n % 5) * 0.3;
            readings.push({ device: 'robotic-arm-001', body: { timestamp: iso(time), temperature, status: 'running' }, messageId: `m-${n}` });
            time += 500;
          }
        }
        let at = 0;
        for (let b = 0; at < readings.length; b++) {
          const batch = readings.slice(at, at + cuts[b % cuts.length]!);
          at += batch.length;
          await h.send(batch);
          if (replays[b % replays.length]) await h.send(batch);
        }

        expect(h.store.telemetry.size).toBe(readings.length);
        const ids = h.alerts.sent.map((a) => a.id);
        expect(new Set(ids).size, 'a card sent twice').toBe(ids.length);
        const events = h.store.alarmEvents;
        const known = new Set(events.map((e) => e.IncidentId));
        for (const card of h.alerts.sent) expect(known.has(card.incident.id), `a card for an incident the alarm events do not know: ${card.incident.id}`).toBe(true);

        expect(commands.calls.length, 'more than one stop sent').toBeLessThanOrEqual(1);
        for (const action of h.store.actions.values()) {
          const at = Date.parse(action.Timestamp as string);
          // The incident open at the stop: the last raise at or before it, not cleared before it.
          const raise = events.filter((e) => e.Event === 'raised' && e.Priority !== 'low' && Date.parse(e.Timestamp) <= at).at(-1);
          expect(raise, 'a stop outside any incident').toBeDefined();
          // From that raise (a reopened incident keeps its id) to the stop.
          const steps = events.filter((e) => e.IncidentId === raise!.IncidentId && Date.parse(e.Timestamp) >= Date.parse(raise!.Timestamp) && Date.parse(e.Timestamp) <= at);
          expect(steps.some((e) => e.Event === 'cleared' && Date.parse(e.Timestamp) < at), 'a stop after its incident cleared').toBe(false);
          expect(steps.some((e) => e.Priority === 'critical' && e.Notified === 'yes'), 'a stop inside an incident nobody was told of as critical').toBe(true);
          // Confirmed: three hot readings in a row, or an incident critical before this reading and not cleared since.
          const i = readings.findIndex((r) => r.body.timestamp === action.Timestamp);
          let run = 0;
          while (i - run >= 0 && readings[i - run]!.body.temperature === 97) run++;
          const criticalBefore = steps.some((e) => e.Priority === 'critical' && Date.parse(e.Timestamp) < at);
          expect(run >= autoStop.confirmReadings || criticalBefore, `a stop on ${run} hot reading(s), with no critical incident before it`).toBe(true);
        }
      }),
      { seed: 4242, numRuns: 300 },
    );
  }, 120_000);
});
