/**
 * Alarm management: an incident is raised, escalated and cleared with a deadband and an
 * off-delay; a lone outlier is recorded and tells nobody; nothing chatters; shelving silences
 * notifications without losing the record; a flood on one line is capped.
 */
import { describe, expect, it } from 'vitest';
import { AlarmLifecycle, bearsOnAlarms, reviveAlarmState, type AlarmEvidence, type AlarmEvent, type AlarmState } from '../../src/lib/alerts/alarm-lifecycle.ts';

const T0 = Date.UTC(2026, 10, 1, 8);
const SEC = 1000;
const thresholds = { warning: 0.5, critical: 0.8 };

const quiet = (time: number): AlarmEvidence => ({ time, evidence: 0.1, anomalyScore: 0, sustained: 0, sensorsUnusual: 0, driftScore: 0, envelopeScore: 0, failureProbability: undefined, fault: false });
/** An unusual reading, the `run`-th in a row. */
const unusual = (time: number, run: number, extra: Partial<AlarmEvidence> = {}): AlarmEvidence => ({ ...quiet(time), evidence: 0.7, anomalyScore: run === 1 ? 0.7 : 0, sustained: run, sensorsUnusual: 1, ...extra });

/** Feeds one reading a second through the lifecycle, returning every event. */
function feed(lifecycle: AlarmLifecycle, state: AlarmState, readings: AlarmEvidence[], context: { line?: string; shelvedUntil?: number; late?: boolean } = {}): AlarmEvent[] {
  const events: AlarmEvent[] = [];
  for (const r of readings) events.push(...lifecycle.evaluate(state, [r], { line: context.line ?? 'line-1', idOf: () => `arm-1|${r.time}`, shelvedUntil: context.shelvedUntil, late: () => context.late === true }));
  return events;
}

const seconds = (from: number, count: number, make: (time: number, i: number) => AlarmEvidence) => Array.from({ length: count }, (_, i) => make(T0 + (from + i) * SEC, i));

describe('the alarm lifecycle', () => {
  it('raises a sensor not measured for five minutes as a diagnostic alarm: warning, no more on its own, cleared a minute after it measures again', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = {};
    const blindFrom = T0 + 10 * SEC;
    const blind = (time: number) => (time >= blindFrom && time < T0 + 400 * SEC ? { sensors: ['temperature'], since: blindFrom, measuredNothing: false } : undefined);
    const events: AlarmEvent[] = [];
    for (const r of seconds(0, 600, quiet)) events.push(...lifecycle.evaluate(state, [r], { line: 'line-1', idOf: () => `arm-1|${r.time}`, blind: () => blind(r.time) }));
    expect(events.map((e) => [e.kind, e.priority, e.notify, (e.time - T0) / SEC])).toEqual([
      ['raised', 'warning', true, 310],
      ['cleared', 'warning', true, 460],
    ]);
    expect(events[0]!.blind).toEqual({ sensors: ['temperature'], since: blindFrom });
  });

  it('neither clears an incident nor raises one on readings that measured nothing', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = {};
    const raised = feed(lifecycle, state, seconds(0, 10, (t, i) => unusual(t, i + 1)));
    expect(raised.filter((e) => e.notify).map((e) => e.kind)).toEqual(['raised']);
    // Four minutes of every sensor null (a gateway that lost the PLC): nothing judged, nothing cleared.
    const dark = seconds(10, 240, quiet);
    const during = dark.flatMap((r) => lifecycle.evaluate(state, [r], { line: 'line-1', idOf: () => `arm-1|${r.time}`, blind: () => ({ sensors: ['temperature', 'vibration'], since: T0 + 10 * SEC, measuredNothing: true }) }));
    expect(during).toEqual([]);
    expect(state.p).toBe('warning');
    // Measured and normal again: cleared after the off-delay.
    expect(feed(lifecycle, state, seconds(250, 120, quiet)).map((e) => e.kind)).toEqual(['cleared']);
  });

  it('records a lone outlier as a low-priority incident that tells nobody and clears by itself', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = {};
    const events = feed(lifecycle, state, [...seconds(0, 10, quiet), unusual(T0 + 10 * SEC, 1, { envelopeScore: 0.9 }), ...seconds(11, 120, quiet)]);
    expect(events.map((e) => [e.kind, e.priority, e.notify])).toEqual([['raised', 'low', false], ['cleared', 'low', false]]);
    expect(state.id).toBeUndefined();
  });

  it('raises a sustained condition once, escalates it once, and clears it once after the off-delay', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = {};
    const readings = [
      ...seconds(0, 10, (t, i) => unusual(t, i + 1)),
      // Now on two sensors, at the critical level: escalation.
      ...seconds(10, 20, (t, i) => unusual(t, 11 + i, { evidence: 0.9, sensorsUnusual: 2 })),
      ...seconds(30, 120, quiet),
    ];
    const events = feed(lifecycle, state, readings);
    expect(events.map((e) => [e.kind, e.priority, e.notify])).toEqual([
      ['raised', 'low', false],
      ['raised', 'warning', true],
      ['escalated', 'critical', true],
      ['cleared', 'critical', true],
    ]);
    // The lone outlier that came first is a record of its own; the condition is one incident.
    const ids = new Set(events.filter((e) => e.priority !== 'low').map((e) => e.incidentId));
    expect(ids.size).toBe(1);
    expect(events[1]!.incidentId).not.toBe(events[0]!.incidentId);
    // Raised at the 5th unusual reading in a row (the on-delay), cleared a minute after it ended.
    expect(events[1]!.time).toBe(T0 + 4 * SEC);
    expect(events[3]!.time).toBeGreaterThanOrEqual(T0 + 30 * SEC + 60 * SEC - SEC);
    expect(events[3]!.time).toBeLessThanOrEqual(T0 + 30 * SEC + 62 * SEC);
  });

  it('does not chatter: evidence hovering around the threshold keeps one incident open', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = {};
    let run = 0;
    // Ten minutes of a noisy signal: above the warning level two seconds in three, below the deadband now and then.
    const readings = seconds(0, 600, (t, i) => {
      if (i % 3 === 2) {
        run = 0;
        return { ...quiet(t), evidence: i % 9 === 2 ? 0.2 : 0.45 };
      }
      run++;
      return unusual(t, i < 10 ? i + 1 : 5 + run);
    });
    const events = feed(lifecycle, state, readings);
    const notified = events.filter((e) => e.notify);
    expect(notified.map((e) => e.kind)).toEqual(['raised']);
  });

  it('clears on equipment that keeps throwing lone outliers: they do not hold the condition open', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = {};
    // A sustained condition, then normal running with a lone outlier every 20 seconds.
    const after = seconds(10, 200, (t, i) => (i % 20 === 7 ? unusual(t, 1, { envelopeScore: 0.9 }) : quiet(t)));
    const events = feed(lifecycle, state, [...seconds(0, 10, (t, i) => unusual(t, i + 1)), ...after]);
    const cleared = events.find((e) => e.kind === 'cleared' && e.priority !== 'low');
    expect(cleared).toBeDefined();
    expect(cleared!.time).toBeLessThanOrEqual(T0 + 75 * SEC);
  });

  it('reopens the same incident when the condition is back soon after it cleared, telling people again', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = {};
    const episode = (from: number) => seconds(from, 10, (t, i) => unusual(t, i + 1));
    const events = feed(lifecycle, state, [...episode(0), ...seconds(10, 80, quiet), ...episode(90)]);
    const raises = events.filter((e) => e.kind === 'raised' && e.priority !== 'low');
    expect(raises).toHaveLength(2);
    expect(raises[1]!.incidentId).toBe(raises[0]!.incidentId);
    expect(raises[1]!.reopened).toBe(true);
  });

  it('does not call a condition reopened when what cleared before it was only recorded: nobody was told of it', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = {};
    // A lone outlier (recorded, low), quiet until it clears, then a sustained condition minutes later.
    const events = feed(lifecycle, state, [unusual(T0, 1), ...seconds(1, 120, quiet), ...seconds(121, 10, (t, i) => unusual(t, i + 1))]);
    const raise = events.find((e) => e.kind === 'raised' && e.priority === 'warning')!;
    expect(raise.notify).toBe(true);
    expect(raise.reopened).toBeUndefined();
    expect(raise.incidentId).not.toBe(events[0]!.incidentId);
  });

  it('raises critical at once for a fault or strong drift, and for a high failure probability once it persists', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    expect(lifecycle.priorityOf({ ...quiet(T0), fault: true })).toBe('critical');
    // A failure probability counts once the condition persists: the model reads a lone outlier's envelope too.
    expect(lifecycle.priorityOf({ ...quiet(T0), failureProbability: 0.85, evidence: 0.9, sustained: 1 })).toBe('low');
    expect(lifecycle.priorityOf({ ...quiet(T0), failureProbability: 0.85, evidence: 0.9, sustained: 5 })).toBe('critical');
    expect(lifecycle.priorityOf({ ...quiet(T0), driftScore: 0.9 })).toBe('critical');
    expect(lifecycle.priorityOf({ ...quiet(T0), driftScore: 0.6 })).toBe('warning');
    // An envelope breach near the hard limit is critical only once it persists.
    expect(lifecycle.priorityOf({ ...quiet(T0), envelopeScore: 0.9, evidence: 0.9, sustained: 1 })).toBe('low');
    expect(lifecycle.priorityOf({ ...quiet(T0), envelopeScore: 0.9, evidence: 0.9, sustained: 5 })).toBe('critical');
  });

  it('while shelved records everything and tells nobody, then tells again once the shelf expires', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = {};
    const until = T0 + 60 * SEC;
    const during = feed(lifecycle, state, [...seconds(0, 10, (t, i) => unusual(t, i + 1)), ...seconds(10, 100, quiet)], { shelvedUntil: until });
    expect(during.filter((e) => e.priority !== 'low').map((e) => [e.kind, e.notify, e.quiet])).toEqual([['raised', false, 'shelved'], ['cleared', false, 'low']]);
    const after = feed(lifecycle, state, seconds(1000, 10, (t, i) => unusual(t, i + 1)), { shelvedUntil: until });
    expect(after.filter((e) => e.notify).map((e) => e.kind)).toEqual(['raised']);
  });

  it('can be asked what would be told without counting toward the flood cap', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const raise = seconds(0, 10, (t, i) => unusual(t, i + 1));
    for (let k = 0; k < 5; k++) {
      const peeked = lifecycle.evaluate({}, raise, { line: 'line-1', idOf: () => 'arm-1|peek', peek: true });
      expect(peeked.filter((e) => e.notify).map((e) => e.kind)).toEqual(['raised']);
    }
    // Three real raises still notify after five peeks.
    const told = [0, 1, 2, 3].map((m) => lifecycle.evaluate({}, seconds(m * 10, 10, (t, i) => unusual(t, i + 1)), { line: 'line-1', idOf: () => `arm-${m}` }).some((e) => e.notify));
    expect(told).toEqual([true, true, true, false]);
  });

  it('caps a flood: at most three new incidents notify per line in ten minutes; the rest are recorded', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const events: AlarmEvent[] = [];
    for (let m = 0; m < 6; m++) {
      const state: AlarmState = {};
      events.push(...feed(lifecycle, state, seconds(m * 10, 10, (t, i) => unusual(t, i + 1)), { line: 'line-1' }));
    }
    const raises = events.filter((e) => e.kind === 'raised' && e.priority !== 'low');
    expect(raises).toHaveLength(6);
    expect(raises.filter((e) => e.notify)).toHaveLength(3);
    expect(raises.filter((e) => e.quiet === 'flood')).toHaveLength(3);
    // Another line is not affected.
    const other = feed(lifecycle, {}, seconds(100, 10, (t, i) => unusual(t, i + 1)), { line: 'line-2' });
    expect(other.filter((e) => e.notify)).toHaveLength(1);
  });

  it('a batch the host retries raises its incident again in the same flood place, not a second one', () => {
    const lifecycle = new AlarmLifecycle({ thresholds, floodLimit: 1 });
    const stored: AlarmState = {};
    const readings = seconds(0, 10, (t, i) => unusual(t, i + 1));
    // The pipeline runs each batch on a copy of the stored state, kept only once the batch succeeds.
    const first = feed(lifecycle, { ...stored }, readings);
    const retry = feed(lifecycle, { ...stored }, readings);
    expect(first.filter((e) => e.priority === 'warning').map((e) => [e.kind, e.notify])).toEqual([['raised', true]]);
    expect(retry).toEqual(first);
    // Another incident on the line is still held back.
    expect(feed(lifecycle, {}, seconds(10, 10, (t, i) => unusual(t, i + 1))).filter((e) => e.priority === 'warning').map((e) => e.quiet)).toEqual(['flood']);
  });

  it('lets an incident held back by a flood through once it turns critical, as the first the operator hears of it', () => {
    const lifecycle = new AlarmLifecycle({ thresholds, floodLimit: 1 });
    feed(lifecycle, {}, seconds(0, 10, (t, i) => unusual(t, i + 1)), { line: 'line-1' });
    const held: AlarmState = {};
    const warning = feed(lifecycle, held, seconds(10, 10, (t, i) => unusual(t, i + 1)), { line: 'line-1' });
    expect(warning.filter((e) => e.priority === 'warning').map((e) => [e.kind, e.quiet])).toEqual([['raised', 'flood']]);
    const critical = feed(lifecycle, held, seconds(20, 10, (t, i) => unusual(t, i + 11, { evidence: 0.9, sensorsUnusual: 2 })), { line: 'line-1' });
    expect(critical.map((e) => [e.kind, e.priority, e.notify, e.firstNotice])).toEqual([['escalated', 'critical', true, true]]);
    // Escalating an incident people were told of is not news of a new one.
    const told: AlarmState = {};
    const later = new AlarmLifecycle({ thresholds });
    feed(later, told, seconds(0, 10, (t, i) => unusual(t, i + 1)));
    expect(feed(later, told, seconds(10, 10, (t, i) => unusual(t, i + 11, { evidence: 0.9, sensorsUnusual: 2 }))).map((e) => [e.kind, e.firstNotice])).toEqual([['escalated', undefined]]);
  });

  it('an automated stop makes the incident critical at once: raised with the stop, escalated, or the one that just cleared reopened', () => {
    const lifecycle = new AlarmLifecycle({ thresholds, floodLimit: 0 });
    const idOf = (t: number) => `arm-1|${t}`;
    // Nothing open (two unusual readings: a low record only): the stop raises a new incident and tells, flood or not.
    const sudden: AlarmState = {};
    feed(lifecycle, sudden, seconds(0, 2, (t, i) => unusual(t, i + 1)));
    const raised = lifecycle.raiseForStop(sudden, T0 + 2 * SEC, 1, idOf(T0 + 2 * SEC));
    expect(raised).toMatchObject({ kind: 'raised', priority: 'critical', notify: true, incidentId: `arm-1|${T0 + 2 * SEC}` });
    expect(sudden).toMatchObject({ id: raised!.incidentId, p: 'critical', n: 'critical', r: T0 + 2 * SEC });
    // The evidence sustained afterwards is that incident, not a new one, and nothing more to tell.
    expect(feed(lifecycle, sudden, seconds(3, 10, (t, i) => unusual(t, i + 3, { evidence: 0.9, sensorsUnusual: 2 })))).toEqual([]);
    // Already critical: nothing to raise (the stop's own card tells it).
    expect(lifecycle.raiseForStop(sudden, T0 + 13 * SEC, 0, idOf(T0 + 13 * SEC))).toBeUndefined();

    // A warning incident open: escalated, same incident.
    const open: AlarmState = {};
    const warned = feed(new AlarmLifecycle({ thresholds }), open, seconds(0, 10, (t, i) => unusual(t, i + 1)));
    const id = warned.find((e) => e.priority === 'warning')!.incidentId;
    expect(lifecycle.raiseForStop(open, T0 + 10 * SEC, 0, idOf(T0 + 10 * SEC))).toMatchObject({ kind: 'escalated', priority: 'critical', notify: true, incidentId: id });

    // Back moments after a notified incident cleared: that incident reopens, critical.
    const back: AlarmState = {};
    const first = new AlarmLifecycle({ thresholds });
    const cleared = feed(first, back, [...seconds(0, 10, (t, i) => unusual(t, i + 1)), ...seconds(10, 80, quiet)]).find((e) => e.kind === 'cleared')!;
    expect(back.id).toBeUndefined();
    expect(lifecycle.raiseForStop(back, T0 + 95 * SEC, 0, idOf(T0 + 95 * SEC))).toMatchObject({ kind: 'raised', priority: 'critical', reopened: true, incidentId: cleared.incidentId });
  });

  it('records what late readings raise and tells nobody: an incident raised and over within a backlog stays a record', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = {};
    // Hours of readings handled at once after the function was down: a condition that came and went.
    const backlog = feed(lifecycle, state, [...seconds(0, 10, (t, i) => unusual(t, i + 1)), ...seconds(10, 20, (t, i) => unusual(t, 11 + i, { evidence: 0.9, sensorsUnusual: 2 })), ...seconds(30, 120, quiet)], { late: true });
    expect(backlog.map((e) => [e.kind, e.priority, e.notify, e.quiet])).toEqual([
      ['raised', 'low', false, 'low'],
      ['raised', 'warning', false, 'late'],
      ['escalated', 'critical', false, 'late'],
      ['cleared', 'critical', false, 'low'],
    ]);
    expect(state).toEqual({});
    // Readings in time afterwards find nothing standing, and take no flood place.
    expect(feed(lifecycle, state, seconds(200, 30, quiet))).toEqual([]);
  });

  it('tells an incident raised on late readings once, when a reading in time shows it still stands, as standing since its raise', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = {};
    feed(lifecycle, state, seconds(0, 10, (t, i) => unusual(t, i + 1)), { late: true });
    expect(state).toMatchObject({ p: 'warning', l: 1, r: T0 + 4 * SEC });
    expect(state.n).toBeUndefined();
    // The state travels on the twin: another instance tells it.
    const moved = reviveAlarmState(JSON.stringify(state));
    expect(moved).toEqual(state);
    const now = feed(lifecycle, moved, seconds(10, 5, (t, i) => unusual(t, 11 + i)));
    expect(now.map((e) => [e.kind, e.priority, e.notify, e.delayed, e.time])).toEqual([['raised', 'warning', true, true, T0 + 10 * SEC]]);
    expect(moved).toMatchObject({ id: state.id, n: 'warning', r: T0 + 4 * SEC });
    expect(moved.l).toBeUndefined();
    // Then as any incident: it clears once, and people are told, since they were told it stood.
    expect(feed(lifecycle, moved, seconds(15, 80, quiet)).map((e) => [e.kind, e.notify])).toEqual([['cleared', true]]);
  });

  it('tells an escalation that late readings held back as an escalation, and lets the flood window judge a standing raise told late', () => {
    // Told at warning before the backlog; critical within it; still critical after.
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = {};
    feed(lifecycle, state, seconds(0, 10, (t, i) => unusual(t, i + 1)));
    const held = feed(lifecycle, state, seconds(10, 10, (t, i) => unusual(t, 11 + i, { evidence: 0.9, sensorsUnusual: 2 })), { late: true });
    expect(held.map((e) => [e.kind, e.priority, e.quiet])).toEqual([['escalated', 'critical', 'late']]);
    const told = feed(lifecycle, state, seconds(20, 3, (t, i) => unusual(t, 21 + i, { evidence: 0.9, sensorsUnusual: 2 })));
    expect(told.map((e) => [e.kind, e.priority, e.notify, e.delayed])).toEqual([['escalated', 'critical', true, true]]);
    // An automated stop in time tells it (the stop's card): nothing is told again after it.
    const stopped: AlarmState = {};
    feed(lifecycle, stopped, seconds(0, 10, (t, i) => unusual(t, i + 1)), { late: true });
    expect(lifecycle.raiseForStop(stopped, T0 + 30 * SEC, 0, 'arm-1|stop')).toMatchObject({ kind: 'escalated', priority: 'critical', notify: true, firstNotice: true });
    expect(feed(lifecycle, stopped, seconds(31, 5, (t, i) => unusual(t, 11 + i, { evidence: 0.9, sensorsUnusual: 2 })))).toEqual([]);
    // A lone outlier in time is not the condition standing: nothing told on it.
    const quietly: AlarmState = {};
    feed(lifecycle, quietly, seconds(0, 10, (t, i) => unusual(t, i + 1)), { late: true });
    expect(feed(lifecycle, quietly, [unusual(T0 + 100 * SEC, 1)])).toEqual([]);
    // Another incident took the line's one place: one told late is judged by the window like any new one.
    const busy = new AlarmLifecycle({ thresholds, floodLimit: 1 });
    feed(busy, {}, seconds(0, 10, (t, i) => unusual(t, i + 1)));
    const late: AlarmState = {};
    feed(busy, late, seconds(10, 10, (t, i) => unusual(t, i + 1)), { late: true });
    expect(feed(busy, late, seconds(20, 2, (t, i) => unusual(t, 11 + i))).map((e) => [e.kind, e.notify, e.quiet])).toEqual([['raised', false, 'flood']]);
  });

  it('raises a machine silent for ten minutes (a communication loss) to warning once, at the moment the silence became an alarm, and clears it on the readings that come again', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = {};
    const since = T0;
    const context = { line: 'line-1', id: `arm-1|silent-${since}` };
    expect(lifecycle.raiseForSilence(state, since + 599 * SEC, since, context)).toBeUndefined();
    expect(state).toEqual({});
    const raised = lifecycle.raiseForSilence(state, since + 660 * SEC, since, context);
    expect(raised).toMatchObject({ kind: 'raised', priority: 'warning', notify: true, time: since + 600 * SEC, incidentId: context.id, silent: { since }, index: -1 });
    // The next sweep, the machine still silent: told already.
    expect(lifecycle.raiseForSilence(state, since + 720 * SEC, since, context)).toBeUndefined();
    // Readings again, normal: cleared after the off-delay, told to those told it began.
    const events = feed(lifecycle, state, seconds(800, 70, quiet));
    expect(events.map((e) => [e.kind, e.incidentId, e.notify])).toEqual([['cleared', context.id, true]]);
  });

  it("waits for a slow reporter's own delay when it is longer than the plant's, never less", () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const context = { line: 'line-1', id: 'arm-1|silent', delayMs: 1_200 * SEC };
    expect(lifecycle.raiseForSilence({}, T0 + 1_199 * SEC, T0, context)).toBeUndefined();
    expect(lifecycle.raiseForSilence({}, T0 + 1_260 * SEC, T0, context)).toMatchObject({ kind: 'raised', time: T0 + 1_200 * SEC });
    // A shorter one is the plant's ten minutes still.
    expect(lifecycle.raiseForSilence({}, T0 + 300 * SEC, T0, { ...context, delayMs: 60 * SEC })).toBeUndefined();
    expect(lifecycle.raiseForSilence({}, T0 + 700 * SEC, T0, { ...context, delayMs: 60 * SEC })).toMatchObject({ time: T0 + 600 * SEC });
    // Unless IoT Hub saw its device disconnect: then its own delay stands, and so does a falling silent.
    expect(lifecycle.raiseForSilence({}, T0 + 59 * SEC, T0, { ...context, delayMs: 60 * SEC, offNetwork: true })).toBeUndefined();
    expect(lifecycle.raiseForSilence({}, T0 + 70 * SEC, T0, { ...context, delayMs: 60 * SEC, offNetwork: true })).toMatchObject({ kind: 'raised', time: T0 + 60 * SEC });
    const standing: AlarmState = { id: 'arm-1|1', p: 'warning', n: 'warning', r: T0 - 60 * SEC };
    expect(lifecycle.fallSilent(standing, T0 + 70 * SEC, T0, { delayMs: 60 * SEC, offNetwork: true })).toMatchObject({ kind: 'silent', time: T0 + 60 * SEC });
  });

  it('a silence tells nobody while shelved, nor beyond the flood limit, nor when the incident stands at warning or above already; a lone outlier before it is its own record', () => {
    const lifecycle = new AlarmLifecycle({ thresholds, floodLimit: 1 });
    const at = T0 + 700 * SEC;
    const shelved: AlarmState = {};
    expect(lifecycle.raiseForSilence(shelved, at, T0, { line: 'line-1', id: 'arm-1|s', shelvedUntil: at })).toMatchObject({ kind: 'raised', notify: false, quiet: 'shelved' });
    expect(lifecycle.raiseForSilence({}, at, T0, { line: 'line-1', id: 'arm-2|s' })).toMatchObject({ notify: true });
    expect(lifecycle.raiseForSilence({}, at, T0, { line: 'line-1', id: 'arm-3|s' })).toMatchObject({ notify: false, quiet: 'flood' });
    // The shared window's verdict, when there is one, decides instead.
    expect(lifecycle.raiseForSilence({}, at, T0, { line: 'line-1', id: 'arm-4|s', admitted: () => true })).toMatchObject({ notify: true });
    const critical: AlarmState = { id: 'arm-5|x', p: 'critical', n: 'critical', r: T0 };
    expect(lifecycle.raiseForSilence(critical, at, T0, { line: 'line-2', id: 'arm-5|s' })).toBeUndefined();
    expect(critical).toEqual({ id: 'arm-5|x', p: 'critical', n: 'critical', r: T0 });
    // An outlier recorded just before the silence: the silence is an incident of its own.
    const low: AlarmState = {};
    feed(lifecycle, low, [unusual(T0, 1)], { line: 'line-3' });
    expect(low).toMatchObject({ p: 'low' });
    expect(lifecycle.raiseForSilence(low, at, T0, { line: 'line-3', id: 'arm-6|s' })).toMatchObject({ kind: 'raised', incidentId: 'arm-6|s', notify: true });
  });

  it('tells those told of a warning incident once that its machine fell silent, its priority unchanged; a new incident may be told again', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = {};
    feed(lifecycle, state, seconds(0, 10, (t, i) => unusual(t, i + 1)));
    expect(state).toMatchObject({ p: 'warning', n: 'warning' });
    const since = T0 + 10 * SEC;
    const context = { silenceId: `arm-1|silent-${since}` };
    expect(lifecycle.fallSilent(state, since + 599 * SEC, since, context)).toBeUndefined();
    const fell = lifecycle.fallSilent(state, since + 660 * SEC, since, context);
    expect(fell).toMatchObject({ kind: 'silent', incidentId: state.id, priority: 'warning', notify: true, time: since + 600 * SEC, silent: { since }, raisedAt: state.r, index: -1 });
    expect(state).toMatchObject({ p: 'warning', n: 'warning', s: since });
    // The next sweep, still silent: recorded already. Nor does it raise a silence of its own.
    expect(lifecycle.fallSilent(state, since + 720 * SEC, since, context)).toBeUndefined();
    expect(lifecycle.raiseForSilence(state, since + 720 * SEC, since, { line: 'line-1', id: context.silenceId })).toBeUndefined();
    // Kept on the twin with the incident; gone once it clears, so the next incident's silence is news again.
    expect(reviveAlarmState(JSON.stringify(state)).s).toBe(since);
    expect(feed(lifecycle, state, seconds(800, 70, quiet)).map((e) => e.kind)).toEqual(['cleared']);
    expect(state.s).toBeUndefined();
    feed(lifecycle, state, seconds(2000, 10, (t, i) => unusual(t, i + 1)));
    expect(lifecycle.fallSilent(state, T0 + 2700 * SEC, T0 + 2010 * SEC, {})).toMatchObject({ kind: 'silent', notify: true });
  });

  it('records a silence in a critical incident at critical, and tells nobody of one shelved or never told; a low or a silence incident is not one to tell of', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const at = T0 + 700 * SEC;
    expect(lifecycle.fallSilent({ id: 'arm-1|x', p: 'critical', n: 'critical', r: T0 }, at, T0, {})).toMatchObject({ kind: 'silent', priority: 'critical', notify: true });
    expect(lifecycle.fallSilent({ id: 'arm-2|x', p: 'warning', n: 'warning', r: T0 }, at, T0, { shelvedUntil: at })).toMatchObject({ notify: false, quiet: 'shelved' });
    // Raised to warning on readings, its raise held back by flood suppression: nobody to tell.
    expect(lifecycle.fallSilent({ id: 'arm-3|x', p: 'warning', r: T0 }, at, T0, {})).toMatchObject({ notify: false, quiet: 'low' });
    expect(lifecycle.fallSilent({ id: 'arm-4|x', p: 'low', r: T0 }, at, T0, {})).toBeUndefined();
    expect(lifecycle.fallSilent({}, at, T0, {})).toBeUndefined();
    // Raised for this very silence (by a version that did not note it): not told twice.
    const silenced: AlarmState = {};
    lifecycle.raiseForSilence(silenced, at, T0, { line: 'line-1', id: 'arm-5|silent' });
    expect(lifecycle.fallSilent(silenced, at, T0, {})).toBeUndefined();
    const older: AlarmState = { id: 'arm-6|silent-1', p: 'warning', n: 'warning', r: T0 + 600 * SEC };
    expect(lifecycle.fallSilent(older, at, T0, { silenceId: 'arm-6|silent-1' })).toBeUndefined();
    expect(older.s).toBe(T0);
  });

  it("clears the open incident of a machine whose line is set at rest, telling those told it began (unless shelved); with none open, nothing happens", () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = {};
    lifecycle.raiseForSilence(state, T0 + 700 * SEC, T0, { line: 'line-1', id: 'arm-1|silent' });
    const cleared = lifecycle.clearAtRest(state, T0 + 900 * SEC, undefined);
    expect(cleared).toMatchObject({ kind: 'cleared', incidentId: 'arm-1|silent', priority: 'warning', notify: true, time: T0 + 900 * SEC, raisedAt: T0 + 600 * SEC, index: -1 });
    // Cleared as any told incident clears: it may reopen if the silence is back soon.
    expect(state).toEqual({ ci: 'arm-1|silent', c: T0 + 900 * SEC });
    expect(lifecycle.clearAtRest(state, T0 + 960 * SEC, undefined)).toBeUndefined();
    // Shelved: recorded, nobody told; never before the incident was raised.
    const shelved: AlarmState = { id: 'arm-2|x', p: 'critical', n: 'critical', r: T0 + 100 * SEC };
    expect(lifecycle.clearAtRest(shelved, T0, T0 + 3_600 * SEC)).toMatchObject({ kind: 'cleared', priority: 'critical', notify: false, quiet: 'shelved', time: T0 + 100 * SEC });
    // A lone outlier's record clears quietly.
    const low: AlarmState = {};
    feed(lifecycle, low, [unusual(T0, 1)]);
    expect(lifecycle.clearAtRest(low, T0 + 700 * SEC, undefined)).toMatchObject({ kind: 'cleared', priority: 'low', notify: false, quiet: 'low' });
    expect(low).toEqual({});
  });

  it('continues an incident from its stored state, and ignores a malformed one', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = {};
    feed(lifecycle, state, seconds(0, 10, (t, i) => unusual(t, i + 1)));
    const moved = reviveAlarmState(JSON.stringify(state));
    expect(moved).toEqual(state);
    const events = feed(lifecycle, moved, seconds(10, 100, quiet));
    expect(events.map((e) => [e.kind, e.incidentId])).toEqual([['cleared', state.id]]);
    expect(reviveAlarmState('{"id": 5, "p": "urgent", "__proto__": {"x": 1}}')).toEqual({});
    expect(reviveAlarmState('not json')).toEqual({});
  });
});

describe('which readings bear on alarms', () => {
  it('all that measured something or scored something, and a status alone only when it takes the equipment out of service', () => {
    const statusOnly = quiet(T0);
    expect(bearsOnAlarms(statusOnly, true, 'running')).toBe(true);
    expect(bearsOnAlarms(statusOnly, false, 'emergencyStopped')).toBe(false);
    expect(bearsOnAlarms(statusOnly, false, undefined)).toBe(false);
    expect(bearsOnAlarms({ ...statusOnly, fault: true, anomalyScore: 1 }, false, 'fault')).toBe(true);
    expect(bearsOnAlarms({ ...statusOnly, anomalyScore: 0.6 }, false, 'running')).toBe(true);
    for (const rest of ['stopped', 'idle', 'maintenance']) expect(bearsOnAlarms(statusOnly, false, rest)).toBe(true);
    // A status name is looked up in a set, not on an object: an inherited name is no status.
    expect(bearsOnAlarms(statusOnly, false, 'constructor')).toBe(false);
  });
});
