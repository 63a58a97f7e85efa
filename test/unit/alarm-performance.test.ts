/**
 * The alarm system's performance, as ISA-18.2 and EEMUA 191 measure it for one operating position:
 * an alarm manager reviewing a week, a flood, a chattering conveyor, a stale incident.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { propertyRuns } from '../support/property-runs.ts';
import { storeWithReads } from '../support/in-memory-store.ts';
import { createPlantApi, MAX_ALARM_EVENTS } from '../../src/lib/http/plant-api.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { alarmPerformance, type AlarmEventRecord } from '../../src/lib/alerts/alarm-performance.ts';

const T0 = Date.UTC(2026, 11, 1, 0, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
let n = 0;
const ev = (minutes: number, deviceId: string, event: string, priority = 'warning', notified = 'yes', incidentId = `${deviceId}#${n++}`): AlarmEventRecord => ({ time: T0 + minutes * MIN, incidentId, deviceId, event, priority, notified });

describe('alarm system performance (ISA-18.2, EEMUA 191)', () => {
  it('a quiet week: one alarm a day is acceptable, with nothing in flood, chattering or stale', () => {
    const week = Array.from({ length: 7 }, (_, d) => [ev(d * 1440 + 600, 'conveyor-001', 'raised', 'warning', 'yes', `c${d}`), ev(d * 1440 + 640, 'conveyor-001', 'cleared', 'warning', 'yes', `c${d}`)]).flat();
    const p = alarmPerformance(week, T0, T0 + 7 * DAY);
    expect(p).toMatchObject({ events: 14, alarms: 7, perDay: 1, peak: { alarms: 1, at: new Date(T0 + 600 * MIN).toISOString() }, flood: { periods: 0, of: 1008, share: 0 } });
    expect(p.per10Min).toBeCloseTo(7 / 1008, 3);
    expect(p.busyHours).toEqual({ hours: 0, of: 168, share: 0 });
    expect(p.verdicts).toEqual({ rate: 'acceptable', peak: 'ok', flood: 'ok', busyHours: 'ok', chattering: 'ok', stale: 'ok' });
  });

  it('a busy hour: 31 alarms within a clock hour, none ten in ten minutes, make it one of more than 30 (ISA-18.2 asks for under 1 % of hours)', () => {
    const spread = Array.from({ length: 31 }, (_, i) => ev(60 + i * 1.9, `conveyor-00${i % 3}`, 'raised'));
    const p = alarmPerformance(spread, T0, T0 + DAY);
    expect(p.peak.alarms).toBeLessThanOrEqual(10);
    expect(p.busyHours).toEqual({ hours: 1, of: 24, share: 0.0417 });
    expect(p.verdicts).toMatchObject({ peak: 'ok', flood: 'ok', busyHours: 'over' });
    // Thirty is the most an hour may hold; over four days one busy hour in 96 is still too many, over five one in 120 is not.
    expect(alarmPerformance(spread.slice(1), T0, T0 + DAY).busyHours.hours).toBe(0);
    expect(alarmPerformance(spread, T0, T0 + 4 * DAY).verdicts.busyHours).toBe('over');
    expect(alarmPerformance(spread, T0, T0 + 5 * DAY).verdicts.busyHours).toBe('ok');
  });

  it('a flood: twelve alarms within ten minutes make that period a flood, and the peak says when', () => {
    const burst = Array.from({ length: 12 }, (_, i) => ev(121 + i * 0.5, `robotic-arm-00${i % 4}`, 'raised', i % 3 ? 'warning' : 'critical'));
    const later = [ev(200, 'conveyor-002', 'raised'), ev(201, 'conveyor-002', 'escalated', 'critical', 'yes', 'c')];
    const p = alarmPerformance([...later, ...burst], T0, T0 + 6 * HOUR);
    expect(p.alarms).toBe(14);
    expect(p.peak).toEqual({ alarms: 12, at: new Date(T0 + 120 * MIN).toISOString() });
    expect(p.flood).toEqual({ periods: 1, of: 36, share: 0.0278 });
    expect(p.priorities).toEqual({ warning: 9, critical: 5 });
    expect(p.verdicts).toMatchObject({ peak: 'over', flood: 'over', rate: 'acceptable' });
    // Ten in ten minutes is the most the standards accept, not a flood.
    expect(alarmPerformance(burst.slice(0, 10), T0, T0 + 6 * HOUR).verdicts).toMatchObject({ peak: 'ok', flood: 'ok' });
    // The target is under 1 % of periods: one flood in 100 periods is at it, so over; one in 200 is within.
    expect(alarmPerformance(burst, T0, T0 + 1000 * MIN)).toMatchObject({ flood: { periods: 1, of: 100, share: 0.01 }, verdicts: { flood: 'over' } });
    expect(alarmPerformance(burst, T0, T0 + 2000 * MIN)).toMatchObject({ flood: { periods: 1, of: 200 }, verdicts: { flood: 'ok' } });
    // Likewise hours with more than 30 alarms: one in 100 hours is over, one in 101 within.
    const busy = Array.from({ length: 31 }, (_, i) => ev(i, 'conveyor-001', 'raised'));
    expect(alarmPerformance(busy, T0, T0 + 100 * HOUR).verdicts.busyHours).toBe('over');
    expect(alarmPerformance(busy, T0, T0 + 101 * HOUR).verdicts.busyHours).toBe('ok');
  });

  it('chattering: raised three times within a minute is; three raises over three minutes are not', () => {
    const chatter = [ev(10, 'conveyor-001', 'raised'), ev(10.3, 'conveyor-001', 'raised'), ev(10.9, 'conveyor-001', 'raised'), ev(11.2, 'conveyor-001', 'raised')];
    const slow = [ev(20, 'conveyor-002', 'raised'), ev(21.5, 'conveyor-002', 'raised'), ev(23, 'conveyor-002', 'raised')];
    const p = alarmPerformance([...chatter, ...slow], T0, T0 + DAY);
    expect(p.chattering).toEqual({ devices: ['conveyor-001'], episodes: 1 });
    expect(p.verdicts.chattering).toBe('over');
    expect(alarmPerformance(slow, T0, T0 + DAY).chattering).toEqual({ devices: [], episodes: 0 });
    // Within a minute counts the minute itself; six raises in it are two episodes (each takes three raises).
    expect(alarmPerformance([ev(0, 'arm-1', 'raised'), ev(0.5, 'arm-1', 'raised'), ev(1, 'arm-1', 'raised')], T0, T0 + DAY).chattering.episodes).toBe(1);
    const six = Array.from({ length: 6 }, (_, i) => ev(i / 10, 'arm-1', 'raised'));
    expect(alarmPerformance(six, T0, T0 + DAY).chattering).toEqual({ devices: ['arm-1'], episodes: 2 });
    // The chattering machines are listed by name, whichever chattered first.
    expect(alarmPerformance([...six.map((e) => ({ ...e, deviceId: 'conveyor-9' })), ...chatter.map((e) => ({ ...e, time: e.time + HOUR }))], T0, T0 + DAY).chattering.devices).toEqual(['conveyor-001', 'conveyor-9']);
  });

  it('counts only what reached people: clears, low records and withheld raises are not alarms, and say why they were withheld', () => {
    const events = [
      ev(1, 'arm-1', 'raised', 'low', 'low'),
      ev(2, 'arm-1', 'raised', 'warning', 'flood'),
      ev(3, 'arm-2', 'raised', 'critical', 'shelved'),
      ev(4, 'arm-3', 'raised', 'warning', 'yes', 'i3'),
      ev(9, 'arm-3', 'cleared', 'warning', 'yes', 'i3'),
      ev(5, 'arm-2', 'cleared', 'critical', 'shelved'),
    ];
    const p = alarmPerformance(events, T0, T0 + HOUR);
    expect(p).toMatchObject({ events: 6, alarms: 1, withheld: { flood: 1, shelved: 1, low: 1, late: 0 }, topSources: [{ deviceId: 'arm-3', alarms: 1, share: 1 }] });
  });

  it('stale: an incident at warning or above, raised over a day before the end and not cleared, is stale; cleared or low ones are not', () => {
    const events = [
      ev(0, 'arm-1', 'raised', 'warning', 'yes', 'standing'),
      ev(30, 'arm-1', 'escalated', 'critical', 'yes', 'standing'),
      ev(10, 'arm-2', 'raised', 'warning', 'yes', 'closed'),
      ev(1000, 'arm-2', 'cleared', 'warning', 'yes', 'closed'),
      ev(20, 'arm-3', 'raised', 'low', 'low', 'low-one'),
      ev(1500, 'arm-4', 'raised', 'critical', 'yes', 'recent'),
    ];
    const p = alarmPerformance(events, T0, T0 + 25 * HOUR);
    expect(p.stale).toEqual([{ incidentId: 'standing', deviceId: 'arm-1', since: new Date(T0).toISOString() }]);
    expect(p.verdicts.stale).toBe('ok');
    // Raised critical, or raised low and escalated to warning: stale as well.
    const critical = [ev(0, 'arm-5', 'raised', 'critical', 'yes', 'crit'), ev(5, 'arm-6', 'raised', 'low', 'low', 'grew'), ev(60, 'arm-6', 'escalated', 'warning', 'yes', 'grew')];
    expect(alarmPerformance(critical, T0, T0 + 25 * HOUR).stale.map((s) => s.incidentId)).toEqual(['crit', 'grew']);
    const five = Array.from({ length: 5 }, (_, i) => ev(i, `arm-${i}`, 'raised', 'warning', 'yes', `s${i}`));
    expect(alarmPerformance(five, T0, T0 + 2 * DAY).verdicts.stale).toBe('over');
  });

  it('stale also from what stands now: an incident raised before the period and quiet since is stale, a low or young one is not, a cleared one never', () => {
    const end = T0 + 7 * DAY;
    const standing = [
      { incidentId: 'arm-1#old', deviceId: 'arm-1', raisedAt: T0 - DAY, priority: 'warning' },
      { incidentId: 'arm-2#low', deviceId: 'arm-2', raisedAt: T0 - DAY, priority: 'low' },
      { incidentId: 'arm-3#young', deviceId: 'arm-3', raisedAt: end - HOUR, priority: 'critical' },
      // Escalated in the period, raised long before it: stale since its raise.
      { incidentId: 'arm-4#esc', deviceId: 'arm-4', raisedAt: T0 - 2 * DAY, priority: 'critical' },
    ];
    const events = [ev(6 * 1440, 'arm-4', 'escalated', 'critical', 'yes', 'arm-4#esc')];
    const p = alarmPerformance(events, T0, end, standing);
    expect(p.stale).toEqual([
      { incidentId: 'arm-4#esc', deviceId: 'arm-4', since: new Date(T0 - 2 * DAY).toISOString() },
      { incidentId: 'arm-1#old', deviceId: 'arm-1', since: new Date(T0 - DAY).toISOString() },
    ]);
    // Without what stands now, the period's events alone see none of them (the escalation is under a day before the end).
    expect(alarmPerformance(events, T0, end).stale).toEqual([]);
    // Raised low in the period, standing at warning on its twin now (its escalation not among the events read): stale.
    expect(alarmPerformance([ev(0, 'arm-5', 'raised', 'low', 'low', 'arm-5#grew')], T0, end, [{ incidentId: 'arm-5#grew', deviceId: 'arm-5', raisedAt: T0, priority: 'warning' }]).stale.map((x) => x.incidentId)).toEqual(['arm-5#grew']);
    // An incident the period's events show cleared is over, whatever a stale twin still says.
    expect(alarmPerformance([ev(100, 'arm-1', 'cleared', 'warning', 'yes', 'arm-1#old')], T0, end, standing.slice(0, 1)).stale).toEqual([]);
  });

  it('how people answered: acknowledged after the first card (an acknowledgement before it counts as at once), cleared after it, the unanswered counted', () => {
    const acked = (e: AlarmEventRecord, minutes: number): AlarmEventRecord => ({ ...e, ackedAt: T0 + minutes * MIN });
    const events = [
      // Raised as a low record at 0, carded at 5 on escalation, acknowledged at 6, cleared at 35.
      acked(ev(0, 'arm-1', 'raised', 'low', 'low', 'a'), 6),
      acked(ev(5, 'arm-1', 'escalated', 'warning', 'yes', 'a'), 6),
      acked(ev(35, 'arm-1', 'cleared', 'warning', 'yes', 'a'), 6),
      // Carded at 10, acknowledged a day later (after the period: it still counts), never cleared.
      acked(ev(10, 'arm-2', 'raised', 'warning', 'yes', 'b'), 1450),
      acked(ev(11, 'arm-2', 'escalated', 'critical', 'yes', 'b'), 1450),
      // Acknowledged on the dashboard before its card, cleared at 22.
      acked(ev(20, 'arm-3', 'raised', 'warning', 'yes', 'c'), 19),
      acked(ev(22, 'arm-3', 'cleared', 'warning', 'yes', 'c'), 19),
      // Carded, never answered.
      ev(30, 'arm-4', 'raised', 'critical', 'yes', 'd'),
      // Never carded: not an alarm, not counted however it was answered.
      acked(ev(40, 'arm-5', 'raised', 'low', 'low', 'e'), 41),
    ];
    expect(alarmPerformance(events, T0, T0 + HOUR).response).toEqual({
      incidents: 4,
      acknowledged: 3,
      // 0 s, 60 s and 1440 min: the median the middle one, the 90th the slowest.
      ackSeconds: { median: 60, p90: 86_400 },
      cleared: 2,
      clearedMinutes: { median: 2, p90: 30 },
    });
    expect(alarmPerformance([ev(3, 'arm-1', 'raised', 'low', 'low')], T0, T0 + HOUR).response).toEqual({ incidents: 0, acknowledged: 0, ackSeconds: { median: null, p90: null }, cleared: 0, clearedMinutes: { median: null, p90: null } });
  });

  it('ranks the sources of most alarms, with their share of all', () => {
    const events = [
      ...Array.from({ length: 6 }, (_, i) => ev(i * 30, 'conveyor-002', 'raised')),
      ...Array.from({ length: 3 }, (_, i) => ev(i * 30 + 5, 'robotic-arm-003', 'raised')),
      ev(400, 'quality-station-001', 'raised'),
    ];
    // Ranked by count, whichever came first; equal counts by name.
    const ranked = alarmPerformance([...events].reverse(), T0, T0 + DAY).topSources.map((s) => s.deviceId);
    expect(ranked).toEqual(['conveyor-002', 'robotic-arm-003', 'quality-station-001']);
    expect(alarmPerformance([ev(1, 'b-2', 'raised'), ev(2, 'a-1', 'raised')], T0, T0 + DAY).topSources.map((s) => s.deviceId)).toEqual(['a-1', 'b-2']);
    // The ten most frequent, no more.
    const eleven = Array.from({ length: 11 }, (_, i) => ev(i * 20, `press-${String(i).padStart(2, '0')}`, 'raised'));
    expect(alarmPerformance(eleven, T0, T0 + DAY).topSources.map((s) => s.deviceId)).toEqual(eleven.slice(0, 10).map((e) => e.deviceId));
    expect(alarmPerformance(events, T0, T0 + DAY).topSources).toEqual([
      { deviceId: 'conveyor-002', alarms: 6, share: 0.6 },
      { deviceId: 'robotic-arm-003', alarms: 3, share: 0.3 },
      { deviceId: 'quality-station-001', alarms: 1, share: 0.1 },
    ]);
  });

  it('judges the average rate as the standards do: about 1 alarm per 10 minutes acceptable, 2 manageable, more over', () => {
    const every = (minutes: number) => Array.from({ length: Math.floor(600 / minutes) }, (_, i) => ev(i * minutes, `d${i % 7}`, 'raised', 'warning', 'yes', `r${minutes}-${i}`));
    expect(alarmPerformance(every(10), T0, T0 + 10 * HOUR).verdicts.rate).toBe('acceptable');
    expect(alarmPerformance(every(6), T0, T0 + 10 * HOUR).verdicts.rate).toBe('manageable');
    expect(alarmPerformance(every(4), T0, T0 + 10 * HOUR)).toMatchObject({ per10Min: 2.5, perDay: 360, verdicts: { rate: 'over' } });
  });

  it('rates a plant first heard from ten minutes ago over those ten minutes, not the week asked', () => {
    const end = T0 + 7 * DAY;
    const watching = end - 10 * MIN;
    const two = [ev(7 * 1440 - 6, 'robotic-arm-003', 'raised', 'warning', 'yes', 'a3'), ev(7 * 1440 - 2, 'robotic-arm-003', 'escalated', 'critical', 'yes', 'a3')];
    // Over the week: 0.3 a day, "acceptable"; over the ten minutes watched: 2 in 10 minutes, manageable at most.
    expect(alarmPerformance(two, T0, end)).toMatchObject({ ratedFrom: new Date(T0).toISOString(), perDay: 0.3, verdicts: { rate: 'acceptable' } });
    const p = alarmPerformance(two, T0, end, [], watching);
    expect(p).toMatchObject({ from: new Date(T0).toISOString(), ratedFrom: new Date(watching).toISOString(), alarms: 2, per10Min: 2, perDay: 288, verdicts: { rate: 'manageable' } });
    // The 10-minute periods and hours counted are those since (clock-aligned, the first partial).
    expect(p.flood.of).toBe(1);
    expect(p.busyHours.of).toBe(1);
    // A silence is raised without a reading: rated from it when it came first.
    const silent = [ev(7 * 1440 - 30, 'conveyor-002', 'silent', 'warning', 'yes', 's1'), ...two];
    // (A silence told on Teams is an alarm like any other.)
    expect(alarmPerformance(silent, T0, end, [], watching)).toMatchObject({ ratedFrom: new Date(end - 30 * MIN).toISOString(), alarms: 3, per10Min: 1 });
    // Heard from a minute ago: one alarm is not ten a minute; a rate is over 10 minutes at least.
    expect(alarmPerformance(two.slice(1), T0, end, [], end - MIN)).toMatchObject({ per10Min: 1, verdicts: { rate: 'acceptable' } });
  });

  it('reads only the period asked, and refuses one that ends before it begins', () => {
    const p = alarmPerformance([ev(-5, 'a', 'raised'), ev(5, 'b', 'raised'), ev(60, 'c', 'raised')], T0, T0 + HOUR);
    expect(p.topSources.map((s) => s.deviceId)).toEqual(['b']);
    expect(alarmPerformance([], T0, T0 + HOUR)).toMatchObject({ alarms: 0, peak: { alarms: 0, at: null }, topSources: [], stale: [] });
    expect(() => alarmPerformance([], T0, T0)).toThrow(RangeError);
  });
});

describe('alarm system performance against a count by hand (property)', () => {
  it('agrees with counting every 10-minute period, every minute of raises and every source one by one', () => {
    const record = fc.record({
      // Half within the first hour, so that busy hours (more than 30 alarms) come up.
      minute: fc.oneof(fc.double({ min: -30, max: 24 * 60 + 30, noNaN: true }), fc.double({ min: 0, max: 60, noNaN: true })),
      deviceId: fc.constantFrom('arm-1', 'arm-2', 'conveyor-1'),
      event: fc.constantFrom('raised', 'escalated', 'cleared'),
      priority: fc.constantFrom('low', 'warning', 'critical'),
      notified: fc.oneof(fc.constant('yes'), fc.constantFrom('yes', 'no', 'low', 'flood', 'shelved', 'late')),
      incident: fc.integer({ min: 0, max: 5 }),
    });
    fc.assert(
      // When each incident (device × number) was acknowledged, if it was: one time per incident, as the store joins it.
      // The period's first reading, if the plant was heard from in it (or, asked wrongly, outside it).
      fc.property(fc.array(record, { maxLength: 160 }), fc.integer({ min: 1, max: 24 * 60 }), fc.array(fc.option(fc.double({ min: -30, max: 26 * 60, noNaN: true })), { minLength: 18, maxLength: 18 }), fc.option(fc.integer({ min: -30, max: 25 * 60 })), (rows, minutes, acks, firstMinute) => {
        const ackOf = (deviceId: string, incident: number) => acks[['arm-1', 'arm-2', 'conveyor-1'].indexOf(deviceId) * 6 + incident];
        const events: AlarmEventRecord[] = rows.map((r) => {
          const ack = ackOf(r.deviceId, r.incident);
          return { time: T0 + Math.round(r.minute * MIN), incidentId: `${r.deviceId}#${r.incident}`, deviceId: r.deviceId, event: r.event, priority: r.priority, notified: r.notified, ...(ack === null || ack === undefined ? {} : { ackedAt: T0 + Math.round(ack * MIN) }) };
        });
        const to = T0 + minutes * MIN;
        const firstReading = firstMinute === null ? undefined : T0 + firstMinute * MIN;
        const p = alarmPerformance(events, T0, to, [], firstReading);
        const inside = events.filter((e) => e.time >= T0 && e.time < to);
        const alarms = inside.filter((e) => e.notified === 'yes' && e.event !== 'cleared');
        // Rated from the first reading or the first event, whichever came first, if that is inside the period.
        const heard = Math.min(firstReading ?? T0, ...inside.map((e) => e.time));
        const rated = heard > T0 && heard < to ? heard : T0;
        expect(p.ratedFrom).toBe(new Date(rated).toISOString());
        expect(p.per10Min).toBeCloseTo(alarms.length / (Math.max(to - rated, Math.min(10 * MIN, to - T0)) / (10 * MIN)), 3);
        expect(p.events).toBe(inside.length);
        expect(p.alarms).toBe(alarms.length);
        expect(p.priorities.warning + p.priorities.critical).toBe(alarms.filter((a) => a.priority !== 'low').length);
        // Every clock-aligned 10-minute period the period touches, counted one by one.
        let peak = 0;
        let flooded = 0;
        let periods = 0;
        for (let start = Math.floor(rated / (10 * MIN)) * 10 * MIN; start < to; start += 10 * MIN) {
          periods++;
          const n = alarms.filter((a) => a.time >= start && a.time < start + 10 * MIN).length;
          peak = Math.max(peak, n);
          if (n > 10) flooded++;
        }
        expect(p.peak.alarms).toBe(peak);
        expect(p.flood).toMatchObject({ periods: flooded, of: periods });
        // And every clock hour, with more than 30 alarms.
        let busy = 0;
        let hours = 0;
        for (let start = Math.floor(rated / HOUR) * HOUR; start < to; start += HOUR) {
          hours++;
          if (alarms.filter((a) => a.time >= start && a.time < start + HOUR).length > 30) busy++;
        }
        expect(p.busyHours).toMatchObject({ hours: busy, of: hours });
        // Sources: counts per machine, the largest first.
        const bySource = ['arm-1', 'arm-2', 'conveyor-1'].map((d) => alarms.filter((a) => a.deviceId === d).length).filter((n) => n > 0).sort((a, b) => b - a);
        expect(p.topSources.map((s) => s.alarms)).toEqual(bySource);
        // Chattering: some machine raised three times within a minute, as a window slid over its raises says.
        const chatters = ['arm-1', 'arm-2', 'conveyor-1'].filter((d) => {
          // In time order: the events come in any order, and a window slides forward.
          const raises = alarms.filter((a) => a.deviceId === d && a.event === 'raised').map((a) => a.time).sort((x, y) => x - y);
          return raises.some((t, i) => raises.filter((u, j) => j >= i && u - t <= MIN).length >= 3);
        });
        expect(p.chattering.devices).toEqual(chatters);
        expect(p.chattering.episodes > 0).toBe(chatters.length > 0);
        // Answered: each carded incident once, acknowledged if its incident was, never before its first card.
        const carded = new Map<string, AlarmEventRecord>();
        for (const a of [...alarms].sort((x, y) => x.time - y.time)) if (!carded.has(a.incidentId)) carded.set(a.incidentId, a);
        const waits = [...carded.values()].filter((a) => a.ackedAt !== undefined).map((a) => Math.max(0, a.ackedAt! - a.time) / 1000);
        expect(p.response).toMatchObject({ incidents: carded.size, acknowledged: waits.length });
        // Nearest rank: the wait that at least half (nine tenths) of the acknowledged ones did not exceed.
        const rank = (q: number) => {
          const sorted = [...waits].sort((x, y) => x - y);
          const at = sorted.find((w) => sorted.filter((v) => v <= w).length >= q * sorted.length);
          return at === undefined ? null : Math.round(at * 10) / 10;
        };
        expect(p.response.ackSeconds).toEqual({ median: rank(0.5), p90: rank(0.9) });
        const clearedAfterCard = [...carded.keys()].filter((id) => inside.some((e) => e.incidentId === id && e.event === 'cleared' && e.time >= carded.get(id)!.time));
        expect(p.response.cleared).toBe(clearedAfterCard.length);
        // Withheld: raises and escalations that notified nobody, by why.
        const quiet = inside.filter((e) => e.event !== 'cleared' && e.notified !== 'yes');
        expect(p.withheld).toEqual({ flood: quiet.filter((e) => e.notified === 'flood').length, shelved: quiet.filter((e) => e.notified === 'shelved').length, low: quiet.filter((e) => e.notified === 'low').length, late: quiet.filter((e) => e.notified === 'late').length });
      }),
      propertyRuns(8231, 300),
    );
  });
});

describe('GET /api/alarms/performance', () => {
  /** The twins' standing incidents (alarmState), as an ADT query for them answers. */
  const twinsWith = (rows: Record<string, unknown>[]) => ({ query: async (q: string) => ({ items: q.includes('IS_DEFINED(T.alarmState)') ? rows : [], continuationToken: undefined }) }) as never;
  const asked: unknown[][] = [];
  const ask = (events: AlarmEventRecord[], query: string, standing: Record<string, unknown>[] = [], firstReading: number | null = null) => {
    const firstReadingAt = async (...args: unknown[]) => (asked.push(args), firstReading);
    const api = createPlantApi({ twins: twinsWith(standing), store: storeWithReads({ alarmEvents: async () => events, firstReadingAt }), logger: silentLogger, maxBodyBytes: 1024, maxPageSize: 100, warningThreshold: 0.5, now: () => T0 + DAY });
    return api.alarmPerformance({ method: 'GET', url: `http://localhost/api/alarms/performance${query}`, headers: new Headers(), params: {}, text: async () => '' });
  };

  it('says when a period held more events than are read, and ends its figures where the reading stopped', async () => {
    const many = Array.from({ length: MAX_ALARM_EVENTS }, (_, i) => ev(i / 200, `arm-${i % 3}`, 'raised', 'warning', 'low'));
    const res = await ask(many, '');
    const body = res.jsonBody as { truncated: boolean; to: string; from: string; events: number };
    expect(res.status).toBe(200);
    expect(body.truncated).toBe(true);
    expect(body.to).toBe(new Date(many.at(-1)!.time).toISOString());
    expect(body.events).toBe(many.filter((e) => e.time < many.at(-1)!.time).length);
    // Even when every event read shares the period's first millisecond.
    const still = Array.from({ length: MAX_ALARM_EVENTS }, () => ev(-6 * 24 * 60, 'arm-1', 'raised', 'warning', 'low'));
    expect((await ask(still, '')).status).toBe(200);
  });

  it('counts what the twins say stands now as stale when the period ends now, and not for a period that ended before', async () => {
    const standing = [{ $dtId: 'arm-1', alarmState: JSON.stringify({ id: 'arm-1#7', p: 'critical', n: 'critical', r: T0 - 8 * DAY }) }, { $dtId: 'arm-2', alarmState: JSON.stringify({ ci: 'arm-2#1', c: T0 }) }, { $dtId: 'arm-3', alarmState: 'not json' }];
    expect(((await ask([], '', standing)).jsonBody as { stale: unknown[] }).stale).toEqual([{ incidentId: 'arm-1#7', deviceId: 'arm-1', since: new Date(T0 - 8 * DAY).toISOString() }]);
    const before = await ask([], `?from=${new Date(T0 - 3 * DAY).toISOString()}&to=${new Date(T0 - DAY).toISOString()}`, standing);
    expect((before.jsonBody as { stale: unknown[] }).stale).toEqual([]);
  });

  it('rates the alarms from when the plant was first heard from in the period, as the store says', async () => {
    const two = [ev(24 * 60 - 6, 'robotic-arm-003', 'raised', 'warning', 'yes', 'a3'), ev(24 * 60 - 2, 'robotic-arm-003', 'escalated', 'critical', 'yes', 'a3')];
    const res = await ask(two, '', [], T0 + DAY - 10 * MIN);
    expect(res.jsonBody).toMatchObject({ from: new Date(T0 - 6 * DAY).toISOString(), ratedFrom: new Date(T0 + DAY - 10 * MIN).toISOString(), per10Min: 2, verdicts: { rate: 'manageable' } });
    // Asked of the whole plant, over the period asked.
    expect(asked.at(-1)).toEqual([T0 - 6 * DAY, T0 + DAY, undefined]);
    // Never heard from in the period: rated over all of it.
    expect((await ask(two, '')).jsonBody).toMatchObject({ ratedFrom: new Date(T0 - 6 * DAY).toISOString(), verdicts: { rate: 'acceptable' } });
  });

  it('defaults to the 7 days before now, and answers bad periods with a problem', async () => {
    expect((await ask([], '')).jsonBody).toMatchObject({ from: new Date(T0 - 6 * DAY).toISOString(), to: new Date(T0 + DAY).toISOString(), truncated: false });
    for (const q of ['?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z', '?from=2026-10-01T00:00:00Z&to=2026-12-01T00:00:00Z', '?to=tomorrow']) {
      const res = await ask([], q);
      expect(res.status, q).toBe(400);
      expect((res.jsonBody as { code: string }).code).toBe('request.invalid');
    }
  });
});
