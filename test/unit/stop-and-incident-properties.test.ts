/**
 * Arms that run hot now and then, in batches cut anywhere, sometimes delivered twice and sometimes
 * failed by a far end (the host retries), through the pipeline with its automated stop on: one arm;
 * a line of four with an operator's shelf; one arm whose partition moves between two instances.
 * Some runs come late (a backlog), some blind (the probe sends null; long enough, a diagnostic alarm),
 * and the communication watch sweeps between batches (a pause is a silence to it). Whatever the sequence: every reading is stored once, no step of an incident is told twice (but
 * for the at-least-once repeat of a batch that failed after its cards), every card names an
 * incident the alarm events know, nothing but a clear or a stop is told on a late reading, a clear
 * follows what was told, a flood tells at most three new
 * incidents, and a stop is sent at most within the hourly limit, once per machine, and only inside
 * an incident people were told of as critical. fast-check, fixed seeds and bounded runs, so a
 * failure reproduces.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { propertyRuns } from '../support/property-runs.ts';
import { AppError } from '../../src/lib/errors.ts';
import type { Alert } from '../../src/lib/ports.ts';
import { AUTO_STOP, CapturedCommands, HOT_FAILURE_MODEL, defaultSettings, harness } from '../support/pipeline-harness.ts';
import { ARM, LINE, iso, plantCatalog, type Msg } from '../support/plant.ts';
import { CommunicationWatch } from '../../src/lib/alerts/communication-watch.ts';
import { silentLogger } from '../../src/lib/log.ts';

const model = HOT_FAILURE_MODEL;
const autoStop = AUTO_STOP;
/**
 * A blind run of three seconds or more is a diagnostic alarm here (five minutes in the product), so
 * blind runs raise incidents too; a pause of a minute is a silence the communication watch raises
 * (ten in the product).
 */
const alarms = { blindAfterMs: 3_000, silentAfterMs: 60_000 };

/** Runs of readings, normal or hot, half a second apart; cut into batches; some batches delivered twice. */
const scenario = fc.record({
  /** A run may follow a pause of 70 s (long enough for an incident to clear). */
  /** A blind run: the temperature probe does not answer (sent as null, not measured). */
  runs: fc.array(fc.record({ hot: fc.boolean(), length: fc.integer({ min: 1, max: 12 }), pause: fc.constantFrom(0, 0, 0, 70_000), late: fc.constantFrom(false, false, false, true), blind: fc.constantFrom(false, false, false, false, true) }), { minLength: 1, maxLength: 14 }),
  cuts: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 40 }),
  replays: fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
  /** The device does not take the first stop (offline). */
  stopFails: fc.boolean(),
  /** A far end that fails once while a batch is handled, so the host retries the batch. */
  faults: fc.array(fc.constantFrom<Fault>('none', 'none', 'none', 'store', 'twins', 'teams'), { minLength: 1, maxLength: 40 }),
  /** Before which batches the communication watch sweeps (on Digital Twins' clock, which follows the readings here). */
  sweeps: fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
});

type Fault = 'none' | 'store' | 'twins' | 'teams';

/** Which step of which incident a card tells (a step told again later has another card id: its reading's time). */
const stepOf = (card: Alert) => `${card.incident.id}|${card.incident.event}|${card.severity}`;

/** Sends a batch with one far end failing once while it is handled, as the host does: retried until it goes through. */
async function sendWithRetries(h: ReturnType<typeof harness>, batch: Msg[], fault: Fault, retries = 3): Promise<void> {
  if (fault === 'store') h.store.failNext.push(new AppError('store.http503', 'Data Explorer answered 503', { retryable: true }));
  if (fault === 'twins') h.twins.failNext.patch = [new AppError('twins.unavailable', 'Digital Twins: 429', { retryable: true, status: 503 })];
  if (fault === 'teams') h.alerts.failNext.push(new AppError('teams.http503', 'teams answered 503', { retryable: true }));
  for (let attempt = 0; ; attempt++) {
    try {
      await h.send(batch);
      break;
    } catch (error) {
      if (attempt >= retries) {
        clearFaults(h);
        throw error;
      }
    }
  }
  clearFaults(h);
}

/** A fault not met (no card was due, say) must not fail the next batch. */
function clearFaults(h: ReturnType<typeof harness>): void {
  h.store.failNext.length = 0;
  h.twins.failNext.patch = [];
  h.alerts.failNext.length = 0;
}

/** One arm's readings, half a second apart, hot or not run by run; a pause moves the clock on, up to 3.5 minutes past now (within the clock skew a reading may have). */
function armReadings(runs: readonly { hot: boolean; length: number; pause: number; late?: boolean; blind?: boolean }[]) {
  let time = Date.now() - 90_000;
  const readings: (Msg & { body: { timestamp: string; temperature: number | null; status: string }; late: boolean })[] = [];
  for (const run of runs) {
    time += Math.min(run.pause, Math.max(0, 210_000 - (time - Date.now())));
    for (let k = 0; k < run.length; k++) {
      const n = readings.length;
      // IoT Hub takes a reading in when it is sent, on the clock the readings keep here (the watch counts a silence from then);
      // a late run it had twenty minutes before it is handled (a backlog).
      readings.push({ device: 'robotic-arm-001', body: { timestamp: iso(time), temperature: run.blind ? null : run.hot ? 97 : 62 + (n % 5) * 0.3, status: 'running' }, messageId: `m-${n}`, enqueued: run.late ? Date.now() - 20 * 60_000 : time, late: run.late === true });
      time += 500;
    }
  }
  return readings;
}

describe('the automated stop and the incidents, for any run of hot readings', () => {
  it('stores every reading once, tells each step once, and stops only inside an incident told as critical', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ runs, cuts, replays, stopFails, faults, sweeps }) => {
        const commands = new CapturedCommands();
        if (stopFails) commands.failNext.push(new Error('device offline'));
        const h = harness({ endpoint: model, commands, settings: { autoStop, alarms } });
        h.twins.add('production-line-a', LINE);
        h.twins.add('robotic-arm-001', ARM, { equipmentId: 'robotic-arm-001' });
        h.twins.relate('production-line-a', 'robotic-arm-001', 'contains');
        // Digital Twins' clock follows the readings: a pause between runs is a silence to it.
        let clock = Date.now();
        h.twins.now = () => clock;
        const watch = new CommunicationWatch({ catalog: plantCatalog(), twins: h.twins, store: h.store, alerts: h.alerts, settings: { ...defaultSettings, alarms }, logger: silentLogger, concurrency: 2, now: () => clock });
        const readings = armReadings(runs);
        let at = 0;
        for (let b = 0; at < readings.length; b++) {
          const batch = readings.slice(at, at + cuts[b % cuts.length]!);
          at += batch.length;
          if (sweeps[b % sweeps.length]) {
            clock = Date.parse(batch[0]!.body.timestamp);
            await watch.run();
          }
          clock = Date.parse(batch.at(-1)!.body.timestamp);
          await sendWithRetries(h, batch, faults[b % faults.length]!);
          if (replays[b % replays.length]) await h.send(batch);
        }

        expect(h.store.telemetry.size).toBe(readings.length);
        const ids = h.alerts.sent.map((a) => a.id);
        expect(new Set(ids).size, 'a card sent twice').toBe(ids.length);
        const events = h.store.storedAlarmEvents;
        const known = new Set(events.map((e) => e.IncidentId));
        for (const card of h.alerts.sent) expect(known.has(card.incident.id), `a card for an incident the alarm events do not know: ${card.incident.id}`).toBe(true);
        // A raise or escalation is told on a reading in time (or with a stop's card); what late ones raised is told, if at all, on one in time.
        const lateAt = new Set(readings.filter((r) => r.late).map((r) => Date.parse(r.body.timestamp)));
        for (const card of h.alerts.sent) if (card.incident.event !== 'cleared' && !card.action) expect(lateAt.has(card.time), `told on a late reading: ${stepOf(card)}`).toBe(false);

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
          // Hot readings in a row back from it, a reading that measured nothing (blind) neither counting nor breaking the row.
          let run = 0;
          for (let j = i; j >= 0; j--) {
            const t = readings[j]!.body.temperature;
            if (t === null) continue;
            if (t !== 97) break;
            run++;
          }
          const criticalBefore = steps.some((e) => e.Priority === 'critical' && Date.parse(e.Timestamp) < at);
          expect(run >= autoStop.confirmReadings || criticalBefore, `a stop on ${run} hot reading(s), with no critical incident before it`).toBe(true);
        }
      }),
      {
        ...propertyRuns(4242, 300),
        // Found by a hunting run (seed 11100): a diagnostic warning told, then late hot readings make
        // it critical quietly at the very reading the stop is decided on; the stop's told step and
        // the quiet one shared an AlarmEvents key, and the row kept said nobody was told.
        // And (seed 11800): three hot readings, then the probe dead for a minute, in one batch: the
        // diagnostic raise on the last reading opened a new incident after the lone outliers, and the
        // stop, confirmed on the third, escalated that later incident at an earlier time.
        examples: [
          [{ runs: [{ hot: false, length: 7, pause: 0, late: false, blind: true }, { hot: true, length: 5, pause: 0, late: true, blind: false }], cuts: [2, 2, 8, 1], replays: [false], stopFails: true, faults: ['twins' as Fault], sweeps: [false] }],
          [{ runs: [{ hot: true, length: 3, pause: 0, late: false, blind: false }, { hot: false, length: 1, pause: 0, late: false, blind: true }, { hot: false, length: 1, pause: 70_000, late: false, blind: true }], cuts: [5], replays: [false], stopFails: false, faults: ['none' as Fault], sweeps: [false] }],
        ],
      },
    );
  }, 120_000);

  it('on a line of four arms, some shelved by an operator midway: a flood tells at most three new incidents, a shelved arm only of a stop, and a clear only of what was told', async () => {
    const arms = ['robotic-arm-001', 'robotic-arm-002', 'robotic-arm-003', 'robotic-arm-004'];
    const line = fc.record({
      runs: fc.array(fc.array(fc.record({ hot: fc.boolean(), length: fc.integer({ min: 1, max: 14 }) }), { minLength: 1, maxLength: 8 }), { minLength: 4, maxLength: 4 }),
      cuts: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 30 }),
      replays: fc.array(fc.boolean(), { minLength: 1, maxLength: 30 }),
      /** Before which batch an operator shelves which arm (none: -1). */
      shelf: fc.record({ batch: fc.integer({ min: -1, max: 10 }), arm: fc.integer({ min: 0, max: 3 }) }),
      faults: fc.array(fc.constantFrom<Fault>('none', 'none', 'store', 'twins', 'teams'), { minLength: 1, maxLength: 30 }),
    });
    await fc.assert(
      fc.asyncProperty(line, async ({ runs, cuts, replays, shelf, faults }) => {
        const commands = new CapturedCommands();
        const h = harness({ endpoint: model, commands, settings: { autoStop, alarms } });
        h.twins.add('production-line-a', LINE);
        for (const arm of arms) {
          h.twins.add(arm, ARM, { equipmentId: arm });
          h.twins.relate('production-line-a', arm, 'contains');
        }
        // Each arm's readings, half a second apart, all arms in step.
        const t0 = Date.now() - 90_000;
        const hot = arms.map((_, a) => runs[a]!.flatMap((r) => Array.from({ length: r.length }, () => r.hot)));
        const steps = Math.max(...hot.map((h) => h.length));
        const stepMsgs = Array.from({ length: steps }, (_, n) =>
          arms.flatMap((arm, a) => (n < hot[a]!.length ? [{ device: arm, body: { timestamp: iso(t0 + n * 500), temperature: hot[a]![n] ? 97 : 62 + (n % 5) * 0.3, status: 'running' }, messageId: `${arm}-${n}` }] : [])),
        );
        const sentIn: number[] = [];
        let shelvedFrom = Infinity;
        let at = 0;
        for (let b = 0; at < steps; b++) {
          if (b === shelf.batch) {
            shelvedFrom = h.alerts.sent.length;
            await h.twins.patch(arms[shelf.arm]!, [{ op: 'add', path: '/shelvedUntil', value: iso(t0 + 3_600_000) }, { op: 'add', path: '/shelvedBy', value: 'ops: sensor swap' }]);
          }
          const batch = stepMsgs.slice(at, at + cuts[b % cuts.length]!).flat();
          at += cuts[b % cuts.length]!;
          await sendWithRetries(h, batch, faults[b % faults.length]!);
          if (replays[b % replays.length]) await h.send(batch);
          while (sentIn.length < h.alerts.sent.length) sentIn.push(b);
        }

        expect(h.store.telemetry.size).toBe(stepMsgs.flat().length);
        const ids = h.alerts.sent.map((a) => a.id);
        expect(new Set(ids).size, 'a card sent twice').toBe(ids.length);
        const events = h.store.storedAlarmEvents;
        const known = new Set(events.map((e) => e.IncidentId));
        const told = new Set<string>();
        for (const [i, card] of h.alerts.sent.entries()) {
          expect(known.has(card.incident.id), `a card for an incident the alarm events do not know: ${card.incident.id}`).toBe(true);
          if (card.incident.event === 'cleared') expect(told.has(card.incident.id), `a clear of an incident nobody was told of: ${card.incident.id}`).toBe(true);
          else told.add(card.incident.id);
          if (card.deviceId === arms[shelf.arm] && i >= shelvedFrom) expect(card.action, `a card for a shelved arm without a stop: ${card.incident.event}`).toBeDefined();
        }
        // Flood suppression: new incidents told on the line (a stop's own raise always gets through).
        const stopAt = new Set([...h.store.actions.values()].map((r) => `${r.DeviceId}|${new Date(r.Timestamp as string).toISOString()}`));
        const newlyTold = events.filter((e) => e.Event === 'raised' && e.Notified === 'yes' && !stopAt.has(`${e.DeviceId}|${e.Timestamp}`));
        expect(newlyTold.length, 'more than three new incidents told in ten minutes on one line').toBeLessThanOrEqual(3);
        expect(commands.calls.length, 'more stops than the hourly limit').toBeLessThanOrEqual(autoStop.maxPerHour);
      }),
      propertyRuns(4242, 150),
    );
  }, 120_000);

  it('with the partition moving between two instances at any batch: each reading stored once, each step told once, one stop', async () => {
    const handover = fc.record({
      runs: fc.array(fc.record({ hot: fc.boolean(), length: fc.integer({ min: 1, max: 12 }), pause: fc.constantFrom(0, 0, 0, 70_000) }), { minLength: 1, maxLength: 14 }),
      cuts: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 40 }),
      /** Which instance the partition is with for each batch. */
      owner: fc.array(fc.constantFrom(0, 1), { minLength: 1, maxLength: 40 }),
      replays: fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
      /** A far end that fails once while a batch is handled; the retry goes to whichever instance has the partition by then. */
      faults: fc.array(fc.constantFrom<Fault>('none', 'none', 'store', 'twins', 'teams'), { minLength: 1, maxLength: 30 }),
    });
    await fc.assert(
      fc.asyncProperty(handover, async ({ runs, cuts, owner, replays, faults }) => {
        const commands = new CapturedCommands();
        const a = harness({ endpoint: model, commands, settings: { autoStop, alarms } });
        const b = harness({ endpoint: model, commands, settings: { autoStop, alarms }, twins: a.twins, sequences: a.sequences });
        a.twins.add('production-line-a', LINE);
        a.twins.add('robotic-arm-001', ARM, { equipmentId: 'robotic-arm-001' });
        a.twins.relate('production-line-a', 'robotic-arm-001', 'contains');
        const readings = armReadings(runs);
        // Every card either instance sent, in the order they went out.
        const cards: Alert[] = [];
        const mayRepeat = new Set<string>();
        const sentBy = new Map([[a, 0], [b, 0]]);
        const collect = (h: typeof a) => {
          cards.push(...h.alerts.sent.slice(sentBy.get(h)));
          sentBy.set(h, h.alerts.sent.length);
        };
        let at = 0;
        for (let k = 0; at < readings.length; k++) {
          const batch = readings.slice(at, at + cuts[k % cuts.length]!);
          at += batch.length;
          let handler = owner[k % owner.length] === 0 ? a : b;
          try {
            await sendWithRetries(handler, batch, faults[k % faults.length]!, 0);
            collect(handler);
          } catch {
            // The batch failed after its cards went out, before its twin patch: the instance that
            // redelivers it may tell those steps again (cards are at least once; a stop is not).
            for (const card of handler.alerts.sent.slice(sentBy.get(handler))) mayRepeat.add(stepOf(card));
            collect(handler);
            handler = owner[(k + 1) % owner.length] === 0 ? a : b;
            await handler.send(batch);
            collect(handler);
          }
          // A replay of the batch (IoT Hub's routing) reaches the instance that handled it.
          if (replays[k % replays.length]) {
            await handler.send(batch);
            collect(handler);
          }
        }

        const stored = new Set([...a.store.telemetry.keys(), ...b.store.telemetry.keys()]);
        expect(stored.size).toBe(readings.length);
        const ids = cards.filter((c) => !mayRepeat.has(stepOf(c))).map((c) => c.id);
        expect(new Set(ids).size, 'a card sent twice').toBe(ids.length);
        // Per incident, the steps told since it was raised (a clear ends them; a reopen starts again).
        const told = new Map<string, Set<string>>();
        const cleared = new Set<string>();
        for (const card of cards) {
          const { id, event } = card.incident;
          const step = `${event}|${card.severity}`;
          const steps = told.get(id);
          const repeat = event === 'cleared' ? cleared.has(id) : steps?.has(step) === true;
          // A step told again by the instance that redelivered its batch is the same news.
          if (repeat && mayRepeat.has(stepOf(card))) continue;
          if (event === 'cleared') {
            expect(steps, 'a clear of an incident nobody was told of').toBeDefined();
            told.delete(id);
            cleared.add(id);
          } else {
            // Each step once, whichever instance had the partition (a stop's own card adds to what was told).
            if (!card.action) expect(repeat, `told twice: ${id} ${step}`).toBe(false);
            told.set(id, (steps ?? new Set()).add(step));
            cleared.delete(id);
          }
        }
        expect(commands.calls.length, 'more than one stop sent').toBeLessThanOrEqual(1);
      }),
      propertyRuns(4242, 200),
    );
  }, 120_000);
});
