/**
 * The alarm lifecycle at its edges: evidence exactly at a threshold, a condition exactly as long
 * as the on-delay, the off-delay and the reopen and flood windows met to the millisecond, and a
 * stored state read field by field. An operator relies on these lines: "at the warning level"
 * means at it, not only above it.
 */
import { describe, expect, it } from 'vitest';
import { AlarmLifecycle, DEFAULT_ALARM_SETTINGS, reviveAlarmState, type AlarmEvidence, type AlarmEvent, type AlarmPriority, type AlarmState } from '../../src/lib/alerts/alarm-lifecycle.ts';

const T0 = Date.UTC(2026, 10, 1, 8);
const SEC = 1000;
const thresholds = { warning: 0.5, critical: 0.8 };
const { sustainReadings, clearLevel, offDelayReadings, offDelayMs, reopenMs, floodWindowMs } = DEFAULT_ALARM_SETTINGS;

const calm = (time = T0): AlarmEvidence => ({ time, evidence: 0, anomalyScore: 0, sustained: 0, sensorsUnusual: 0, driftScore: 0, envelopeScore: 0, failureProbability: undefined, fault: false });
const reading = (extra: Partial<AlarmEvidence>, time = T0): AlarmEvidence => ({ ...calm(time), ...extra });
const warningNow = (time: number): AlarmEvidence => reading({ driftScore: 0.6 }, time);

function run(lifecycle: AlarmLifecycle, state: AlarmState, readings: AlarmEvidence[], context: { line?: string; shelvedUntil?: number } = {}): AlarmEvent[] {
  return lifecycle.evaluate(state, readings, { line: context.line ?? 'line-1', idOf: (i) => `arm-1|${readings[i]!.time}`, shelvedUntil: context.shelvedUntil });
}

describe('the priority one reading supports', () => {
  const lifecycle = new AlarmLifecycle({ thresholds });
  const sustained = sustainReadings;
  const cases: [string, Partial<AlarmEvidence>, AlarmPriority | undefined][] = [
    ['nothing unusual', {}, undefined],
    ['a controller fault', { fault: true }, 'critical'],
    ['drift exactly at critical', { driftScore: 0.8 }, 'critical'],
    ['drift just under critical', { driftScore: 0.79 }, 'warning'],
    ['drift exactly at warning', { driftScore: 0.5 }, 'warning'],
    ['drift just under warning', { driftScore: 0.49 }, undefined],
    ['a failure probability at critical, sustained exactly the on-delay', { failureProbability: 0.8, sustained }, 'critical'],
    ['a failure probability at critical, one reading short of the on-delay', { failureProbability: 0.8, sustained: sustained - 1 }, undefined],
    ['a failure probability just under critical, sustained', { failureProbability: 0.79, sustained }, 'warning'],
    ['a failure probability exactly at warning, sustained', { failureProbability: 0.5, sustained }, 'warning'],
    ['a failure probability just under warning, sustained', { failureProbability: 0.49, sustained }, undefined],
    ['the envelope at its hard limit, sustained', { envelopeScore: 0.8, sustained }, 'critical'],
    ['the envelope exactly at warning, sustained', { envelopeScore: 0.5, sustained }, 'warning'],
    ['the envelope just under warning, sustained', { envelopeScore: 0.49, sustained }, undefined],
    ['critical evidence on two sensors, sustained', { evidence: 0.8, sensorsUnusual: 2, sustained }, 'critical'],
    ['critical evidence on one sensor, sustained', { evidence: 0.8, sensorsUnusual: 1, sustained }, 'warning'],
    ['evidence just under critical on two sensors, sustained', { evidence: 0.79, sensorsUnusual: 2, sustained }, 'warning'],
    ['warning evidence on two sensors, sustained', { evidence: 0.5, sensorsUnusual: 2, sustained }, 'warning'],
    ['evidence exactly at warning, sustained', { evidence: 0.5, sustained }, 'warning'],
    ['evidence exactly at warning, not yet sustained', { evidence: 0.5, sustained: sustained - 1 }, 'low'],
    ['evidence just under warning, sustained', { evidence: 0.49, sustained }, undefined],
    ['an anomaly score exactly at warning', { anomalyScore: 0.5 }, 'low'],
    ['an anomaly score just under warning', { anomalyScore: 0.49 }, undefined],
  ];
  for (const [name, extra, expected] of cases) {
    it(`${name}: ${expected ?? 'none'}`, () => expect(lifecycle.priorityOf(reading(extra))).toBe(expected));
  }
});

describe('an incident at the edges of its windows', () => {
  it('records a lone outlier as low, tells nobody, and does not escalate on a second one', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = {};
    const events = run(lifecycle, state, [reading({ anomalyScore: 0.7 }), reading({ anomalyScore: 0.7 }, T0 + SEC)]);
    expect(events).toEqual([{ kind: 'raised', incidentId: `arm-1|${T0}`, priority: 'low', time: T0, notify: false, quiet: 'low', raisedAt: T0, index: 0 }]);
    expect(state.p).toBe('low');
  });

  it('a condition after lone outliers is an incident of its own; its escalation keeps that incident', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = {};
    const events = run(lifecycle, state, [reading({ anomalyScore: 0.7 }), warningNow(T0 + SEC), reading({ driftScore: 0.9 }, T0 + 2 * SEC)]);
    expect(events.map((e) => [e.kind, e.priority, e.incidentId, e.notify])).toEqual([
      ['raised', 'low', `arm-1|${T0}`, false],
      ['raised', 'warning', `arm-1|${T0 + SEC}`, true],
      ['escalated', 'critical', `arm-1|${T0 + SEC}`, true],
    ]);
    expect(state.r).toBe(T0 + SEC);
  });

  it('clears exactly when the off-delay is met in readings and in time, not a reading sooner', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = {};
    run(lifecycle, state, [warningNow(T0)]);
    const step = offDelayMs / (offDelayReadings - 1);
    const quietReadings = Array.from({ length: offDelayReadings }, (_, i) => calm(T0 + SEC + i * step));
    const events = run(lifecycle, state, quietReadings.slice(0, -1));
    expect(events).toEqual([]);
    expect(state.qn).toBe(offDelayReadings - 1);
    const cleared = run(lifecycle, state, quietReadings.slice(-1));
    // The clear says when its incident was raised: the state, cleared, no longer does.
    expect(cleared).toEqual([{ kind: 'cleared', incidentId: `arm-1|${T0}`, priority: 'warning', time: quietReadings.at(-1)!.time, notify: true, raisedAt: T0, index: 0 }]);
    expect(state).toEqual({ ci: `arm-1|${T0}`, c: quietReadings.at(-1)!.time });
  });

  it('needs the off-delay in time too: enough quiet readings inside a minute do not clear', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = {};
    run(lifecycle, state, [warningNow(T0)]);
    const quick = Array.from({ length: offDelayReadings + 5 }, (_, i) => calm(T0 + SEC + i));
    expect(run(lifecycle, state, quick)).toEqual([]);
    expect(run(lifecycle, state, [calm(T0 + SEC + offDelayMs)]).map((e) => e.kind)).toEqual(['cleared']);
  });

  it('holds a condition open while evidence sits at the deadband and persists; a lone reading there does not', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const held: AlarmState = {};
    run(lifecycle, held, [warningNow(T0)]);
    run(lifecycle, held, Array.from({ length: 30 }, (_, i) => reading({ evidence: clearLevel, sustained: 2 }, T0 + (i + 1) * 10 * SEC)));
    expect(held.id).toBe(`arm-1|${T0}`);
    expect(held.qn).toBeUndefined();

    const counting: AlarmState = {};
    run(lifecycle, counting, [warningNow(T0)]);
    run(lifecycle, counting, [reading({ evidence: clearLevel, sustained: 1 }, T0 + SEC), reading({ evidence: 0.3, sustained: 5 }, T0 + 2 * SEC)]);
    expect(counting.qn).toBe(2);
  });

  it('a cleared low incident tells nobody, and one cleared while shelved says so', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const low: AlarmState = {};
    run(lifecycle, low, [reading({ anomalyScore: 0.7 })]);
    const lowCleared = run(lifecycle, low, Array.from({ length: offDelayReadings }, (_, i) => calm(T0 + (i + 1) * 10 * SEC)));
    expect(lowCleared.map((e) => [e.kind, e.priority, e.notify, e.quiet])).toEqual([['cleared', 'low', false, 'low']]);

    const shelved: AlarmState = {};
    const shelvedUntil = T0 + 3_600_000;
    run(lifecycle, shelved, [warningNow(T0)]);
    const shelvedCleared = run(lifecycle, shelved, Array.from({ length: offDelayReadings }, (_, i) => calm(T0 + (i + 1) * 10 * SEC)), { shelvedUntil });
    expect(shelvedCleared.map((e) => [e.kind, e.notify, e.quiet])).toEqual([['cleared', false, 'shelved']]);
  });

  it('a shelf ends at its instant: a raise at shelvedUntil itself is told', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    expect(run(lifecycle, {}, [warningNow(T0)], { shelvedUntil: T0 }).map((e) => [e.notify, e.quiet])).toEqual([[true, undefined]]);
    expect(run(lifecycle, {}, [warningNow(T0)], { shelvedUntil: T0 + 1, line: 'line-2' }).map((e) => [e.notify, e.quiet])).toEqual([[false, 'shelved']]);
  });

  it('reopens only within the reopen window, and only when both the cleared id and time are known', () => {
    const lifecycle = new AlarmLifecycle({ thresholds, floodLimit: 100 });
    const cleared = T0;
    const within: AlarmState = { ci: 'old', c: cleared };
    expect(run(lifecycle, within, [warningNow(cleared + reopenMs - 1)]).map((e) => [e.incidentId, e.reopened])).toEqual([['old', true]]);
    expect(within.o).toBe(1);
    const atWindow: AlarmState = { ci: 'old', c: cleared };
    expect(run(lifecycle, atWindow, [warningNow(cleared + reopenMs)]).map((e) => [e.incidentId, e.reopened])).toEqual([[`arm-1|${cleared + reopenMs}`, undefined]]);
    expect(atWindow.o).toBeUndefined();
    const noTime: AlarmState = { ci: 'old' };
    expect(run(lifecycle, noTime, [warningNow(T0)]).map((e) => e.incidentId)).toEqual([`arm-1|${T0}`]);
    const noId: AlarmState = { c: cleared };
    expect(run(lifecycle, noId, [warningNow(T0)]).map((e) => e.incidentId)).toEqual([`arm-1|${T0}`]);
  });

  it('a lone outlier soon after a clear reopens the incident as low and says it reopened', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const state: AlarmState = { ci: 'old', c: T0 };
    expect(run(lifecycle, state, [reading({ anomalyScore: 0.7 }, T0 + SEC)])).toEqual([
      { kind: 'raised', incidentId: 'old', priority: 'low', time: T0 + SEC, notify: false, quiet: 'low', reopened: true, raisedAt: T0 + SEC, index: 0 },
    ]);
  });

  it('does not tell twice what it has told at that priority already (a stored state that says so)', () => {
    const lifecycle = new AlarmLifecycle({ thresholds });
    const toldCritical: AlarmState = { id: 'x', p: 'low', n: 'critical', r: T0 };
    expect(run(lifecycle, toldCritical, [warningNow(T0 + SEC)]).map((e) => [e.notify, e.quiet])).toEqual([[false, 'low']]);
    const toldWarning: AlarmState = { id: 'y', p: 'low', n: 'warning', r: T0 };
    expect(run(lifecycle, toldWarning, [warningNow(T0 + SEC)]).map((e) => [e.notify, e.quiet])).toEqual([[false, 'low']]);
  });

  it('lets a new raise through once the oldest of the last three left the flood window, to the millisecond', () => {
    const lifecycle = new AlarmLifecycle({ thresholds, reopenMs: 0 });
    const raiseAt = (time: number, who: string) => lifecycle.evaluate({}, [warningNow(time)], { line: 'line-1', idOf: () => `${who}|${time}` })[0]!;
    for (let i = 0; i < 3; i++) expect(raiseAt(T0 + i, `m${i}`).notify).toBe(true);
    expect(raiseAt(T0 + floodWindowMs - 1, 'm3').quiet).toBe('flood');
    expect(raiseAt(T0 + floodWindowMs, 'm4').notify).toBe(true);
    expect(raiseAt(T0 + 10 * floodWindowMs, 'm5').notify).toBe(true);
  });
});

describe('a stored alarm state read from a twin', () => {
  const full = { id: 'arm-1|1', p: 'warning', n: 'critical', r: 1, o: 1, q: 2, qn: 3, ci: 'arm-1|0', c: 4, b: { temperature: 5, pressure: 6 } } as const;

  it('keeps every field it knows, exactly', () => {
    expect(reviveAlarmState(JSON.stringify(full))).toStrictEqual(full);
    expect(reviveAlarmState(JSON.stringify({ p: 'low', n: 'warning' }))).toStrictEqual({ p: 'low', n: 'warning' });
    expect(reviveAlarmState(JSON.stringify({ p: 'critical' }))).toStrictEqual({ p: 'critical' });
  });

  it('drops what is not what it should be, and sets no key for it', () => {
    const bad = { id: 7, p: 'severe', n: '', r: '1', q: 1e999, qn: null, o: true, ci: 'x'.repeat(513), c: [4] };
    expect(reviveAlarmState(JSON.stringify(bad).replace('"q":null', '"q":1e999'))).toStrictEqual({});
    expect(reviveAlarmState(JSON.stringify({ id: 'x'.repeat(512) }))).toStrictEqual({ id: 'x'.repeat(512) });
  });

  it('keeps of the sensors not measured only names with times, at most 32 of them', () => {
    for (const b of [[1], 'temperature', { temperature: 'x' }, { ['x'.repeat(65)]: 1 }, {}]) expect(reviveAlarmState(JSON.stringify({ b }))).toStrictEqual({});
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`s${i}`, i]));
    expect(Object.keys(reviveAlarmState(JSON.stringify({ b: many })).b!)).toHaveLength(32);
    // A key an attacker chose is kept as a plain own key, never as the record's prototype.
    const revived = reviveAlarmState('{"b":{"__proto__":{"polluted":1},"temperature":3,"constructor":4}}');
    expect(revived.b).toStrictEqual(Object.defineProperty({ temperature: 3 }, 'constructor', { value: 4, enumerable: true, writable: true, configurable: true }));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('starts afresh from a value that is not an object', () => {
    for (const json of [undefined, '', 'not json', '[1,2]', 'null', '5', '"text"']) expect(reviveAlarmState(json)).toStrictEqual({});
  });
});
