/**
 * A plant's working hours (PLANT_WORKING_HOURS): a plant that powers its machines down at night
 * without each saying `stopped` is not a communication-loss alarm every night, nor a page for
 * operations; on the next shift a machine still silent is raised ten minutes after the shift began.
 */
import { describe, expect, it } from 'vitest';
import { parseLineHours, WorkingHours, WorkingHoursError } from '../../src/lib/plant/working-hours.ts';
import { PLANT_SILENT_LOG } from '../../src/lib/alerts/communication-watch.ts';
import { lineHoursOf, loadConfig, workingHoursOf } from '../../src/lib/config.ts';
import { watchedPlant } from '../support/watched-plant.ts';

const MIN = 60_000;
const at = (text: string) => Date.parse(text);
/** Why working hours are refused, and which part of them: 'accepted' when they are not. */
function refusal(text: string, zone?: string, holidays?: string): string {
  try {
    WorkingHours.parse(text, zone, holidays);
  } catch (error) {
    expect(error).toBeInstanceOf(WorkingHoursError);
    return `${(error as WorkingHoursError).part}: ${(error as Error).message}`;
  }
  return 'accepted';
}
/** Whether `hours` works at each instant named (UTC), against what is expected there. */
const expectWorking = (hours: WorkingHours, expected: Record<string, boolean>) => expect(Object.fromEntries(Object.keys(expected).map((t) => [t, hours.working(at(t))]))).toEqual(expected);

describe('working hours on the plant’s wall clock', () => {
  const berlin = WorkingHours.parse('Mon-Fri 06:00-22:00; Sat 06:00-14:00', 'Europe/Berlin');

  it('follows the clock on the wall through daylight saving', () => {
    // 7 December 2026 is a Monday; Berlin is UTC+1 in winter, UTC+2 in summer.
    expectWorking(berlin, {
      '2026-12-07T04:59:00Z': false,
      '2026-12-07T05:00:00Z': true,
      '2026-12-07T20:59:59Z': true,
      '2026-12-07T21:00:00Z': false,
      '2026-07-06T04:00:00Z': true,
      '2026-07-06T03:59:00Z': false,
      // Saturday's short day, and no Sunday.
      '2026-12-12T12:59:00Z': true,
      '2026-12-12T13:00:00Z': false,
      '2026-12-13T10:00:00Z': false,
    });
  });

  it('says when the working period began, across midnight for a night shift', () => {
    expect(berlin.periodStart(at('2026-12-07T10:17:30Z'))).toBe(at('2026-12-07T05:00:00Z'));
    expect(berlin.periodStart(at('2026-12-07T22:00:00Z'))).toBeUndefined();
    const nights = WorkingHours.parse('Mon-Fri 22:00-06:00');
    // Friday's night shift ends on Saturday morning; Sunday's is not worked.
    expectWorking(nights, {
      '2026-12-12T05:59:00Z': true,
      '2026-12-12T06:00:00Z': false,
      '2026-12-07T03:00:00Z': false,
    });
    expect(nights.periodStart(at('2026-12-08T03:00:00Z'))).toBe(at('2026-12-07T22:00:00Z'));
    expect(WorkingHours.parse('Mon-Sun 00:00-24:00').periodStart(at('2026-12-08T03:00:00Z'))).toBe(-Infinity);
    expect(WorkingHours.parse('monday, Wednesday-Fri 6:00 - 14:30').working(at('2026-12-09T14:29:00Z'))).toBe(true);
  });

  it('is closed on the plant\'s holidays: no shift begins on one, and the night shift begun the evening before runs its course', () => {
    const christmas = WorkingHours.parse('Mon-Fri 06:00-14:00; Mon-Fri 22:00-06:00', 'Europe/Berlin', '2026-12-24..2026-12-26; 2027-01-01');
    expect(christmas.holidays).toBe('2026-12-24..2026-12-26; 2027-01-01');
    // Wednesday 23 December, its night shift into Thursday the 24th, which is closed (Berlin is UTC+1).
    expectWorking(christmas, {
      '2026-12-23T10:00:00Z': true,
      '2026-12-24T04:59:00Z': true,
      '2026-12-24T05:00:00Z': false,
      '2026-12-24T10:00:00Z': false,
      '2026-12-24T21:30:00Z': false,
      // Friday the 25th closed too; back on Monday the 28th.
      '2026-12-25T10:00:00Z': false,
      '2026-12-28T05:00:00Z': true,
      '2027-01-01T10:00:00Z': false,
    });
    expect(christmas.periodStart(at('2026-12-28T06:00:00Z'))).toBe(at('2026-12-28T05:00:00Z'));
    expect(refusal('Mon-Fri 06:00-14:00', 'UTC', '2027-02-30')).toMatch(/^holidays: .*not a date/);
    expect(refusal('Mon-Fri 06:00-14:00', 'UTC', '24.12.2026')).toMatch(/^holidays: .*not a date/);
    expect(refusal('Mon-Fri 06:00-14:00', 'UTC', '2027-01-02..2026-12-24')).toMatch(/^holidays: .*ends before it begins/);
    expect(refusal('Mon-Fri 06:00-14:00', 'UTC', '2026-01-01..2062-01-01')).toMatch(/^holidays: .*more than a year/);
  });

  it('refuses what it cannot read, saying what', () => {
    expect(refusal('Mon-Fri')).toMatch(/not days and a time span/);
    expect(refusal('Mon-Fri 06:00-06:00')).toMatch(/same time/);
    expect(refusal('Funday 06:00-10:00')).toMatch(/'Funday' .* is not a day/);
    expect(refusal('Mon 24:00-06:00')).toMatch(/24:00 only ends one/);
    expect(refusal('Mon 06:60-07:00')).toMatch(/not a time of day/);
    expect(refusal(' ; ')).toMatch(/no working hours/);
    expect(refusal('Mon 06:00-07:00', 'Mars/Olympus')).toMatch(/^timeZone: .*not an IANA time zone/);
  });

  it('is an app setting, refused at start-up with the setting named when it cannot be read', () => {
    const base = { DIGITAL_TWINS_URL: 'https://adt.example', DUCKDB_PATH: ':memory:' };
    expect(workingHoursOf(loadConfig(base))).toBeUndefined();
    expect(workingHoursOf(loadConfig({ ...base, PLANT_WORKING_HOURS: 'Mon-Fri 06:00-22:00', PLANT_TIME_ZONE: 'Europe/Berlin' }))?.working(at('2026-12-07T05:30:00Z'))).toBe(true);
    expect(() => loadConfig({ ...base, PLANT_WORKING_HOURS: 'weekdays 6-22' })).toThrow(/PLANT_WORKING_HOURS: 'weekdays 6-22' is not days and a time span/);
    expect(() => loadConfig({ ...base, PLANT_WORKING_HOURS: 'Mon 06:00-07:00', PLANT_TIME_ZONE: 'Berlin' })).toThrow(/PLANT_TIME_ZONE: 'Berlin' is not an IANA time zone/);
    expect(() => loadConfig({ ...base, PLANT_HOLIDAYS: '2026-12-32' })).toThrow(/PLANT_HOLIDAYS: '2026-12-32' in '2026-12-32' is not a date/);
    // Holidays alone: a plant that works round the clock but closes for them.
    const closed = workingHoursOf(loadConfig({ ...base, PLANT_HOLIDAYS: '2026-12-25' }))!;
    expect([closed.working(at('2026-12-24T23:59:00Z')), closed.working(at('2026-12-25T12:00:00Z')), closed.working(at('2026-12-26T00:00:00Z'))]).toEqual([true, false, true]);
  });
});

describe('a plant that powers its machines down at night without saying so', () => {
  const ARMS = ['robotic-arm-001', 'robotic-arm-002', 'robotic-arm-003'];

  /** Three arms of one line that ran Monday evening (Berlin) until 21:58, then lost power; Digital Twins' clock follows the test's. */
  async function plant(workingHours: WorkingHours | undefined) {
    const p = watchedPlant({ 'production-line-a': ARMS }, at('2026-12-07T20:40:00Z'), workingHours);
    /** Sweeps every ten minutes from `from` to `to` (inclusive); returns what each found. */
    const sweeps = async (from: number, to: number) => {
      const results = [];
      for (let t = from; t <= to; t += 10 * MIN) {
        p.moveTo(t);
        results.push(await p.watch.run());
      }
      return results;
    };
    return { ...p, sweeps };
  }

  const hours = WorkingHours.parse('Mon-Fri 06:00-22:00', 'Europe/Berlin');

  it('raises nothing and pages nobody at night; next morning only the machine still silent ten minutes into the shift is raised', async () => {
    const p = await plant(hours);
    await p.run(ARMS, at('2026-12-07T20:58:00Z'));
    // Off shift from 21:00 UTC (22:00 in Berlin) until 05:00 UTC: every sweep stands aside.
    const night = await p.sweeps(at('2026-12-07T21:01:00Z'), at('2026-12-08T04:59:00Z'));
    expect(night.length).toBeGreaterThan(40);
    expect(night.every((r) => r.offShift === true && r.raised === 0)).toBe(true);
    expect(p.logged).toEqual([]);
    expect(p.h.alerts.sent).toEqual([]);

    // 06:00 in Berlin: two arms come back within minutes, the third does not.
    await p.run(ARMS.slice(0, 2), at('2026-12-08T05:03:00Z'));
    p.moveTo(at('2026-12-08T05:09:30Z'));
    expect(await p.watch.run()).toMatchObject({ silent: 0, raised: 0 });
    await p.run(ARMS.slice(0, 2), at('2026-12-08T05:10:00Z'));
    p.moveTo(at('2026-12-08T05:10:30Z'));
    expect(await p.watch.run()).toMatchObject({ silent: 1, raised: 1, told: 1 });
    const [card] = p.h.alerts.sent;
    expect(card).toMatchObject({ deviceId: 'robotic-arm-003', condition: 'silent', time: at('2026-12-08T05:10:00Z'), silent: { since: expect.any(Number) } });
    // Its card says when it was last heard from: Monday evening, not the shift's start.
    expect(card!.silent!.since).toBeLessThan(at('2026-12-07T21:00:00Z'));
    expect(p.logged).toEqual([]);
  });

  it("gives a machine whose device IoT Hub saw disconnect overnight the shift's whole delay to come back; one that disconnects during the shift is raised three minutes after", async () => {
    const p = await plant(hours);
    await p.run(ARMS, at('2026-12-07T20:58:00Z'));
    // Powered down at 22:00 in Berlin: IoT Hub sees every device go.
    for (const id of ARMS) await p.connection(id, 'disconnected', at('2026-12-07T21:00:05Z'));
    await p.sweeps(at('2026-12-07T21:01:00Z'), at('2026-12-08T04:51:00Z'));
    /** Two arms at work, a minute of readings at a time, until `until` (minutes past 05:00 UTC). */
    const work = async (ids: readonly string[], from: number, until: number) => {
      for (let m = from; m <= until; m++) await p.run(ids, at('2026-12-08T05:00:00Z') + m * MIN);
    };
    // Two arms come back at the shift's start; the third is still off the network five minutes in: not yet.
    for (const id of ARMS.slice(0, 2)) await p.connection(id, 'connected', at('2026-12-08T05:02:00Z'));
    await work(ARMS.slice(0, 2), 3, 5);
    p.moveTo(at('2026-12-08T05:05:30Z'));
    expect(await p.watch.run()).toMatchObject({ silent: 0, raised: 0 });
    // Ten minutes in, it is raised, as a machine silent since before the shift always was.
    await work(ARMS.slice(0, 2), 6, 10);
    p.moveTo(at('2026-12-08T05:10:30Z'));
    expect(await p.watch.run()).toMatchObject({ silent: 1, raised: 1, told: 1 });
    expect(p.h.alerts.sent.map((a) => [a.deviceId, new Date(a.time).toISOString()])).toEqual([['robotic-arm-003', '2026-12-08T05:10:00.000Z']]);
    // 06:45 in Berlin: robotic-arm-001's gateway drops off the network; robotic-arm-002 sends on.
    await work(ARMS.slice(0, 2), 11, 45);
    await p.connection('robotic-arm-001', 'disconnected', at('2026-12-08T05:45:02Z'));
    await work(ARMS.slice(1, 2), 46, 48);
    p.moveTo(at('2026-12-08T05:47:00Z'));
    expect(await p.watch.run()).toMatchObject({ silent: 1, raised: 0 });
    p.moveTo(at('2026-12-08T05:48:10Z'));
    expect(await p.watch.run()).toMatchObject({ silent: 2, raised: 1, told: 1, offNetwork: 1 });
    const [, gone] = p.h.alerts.sent;
    expect(gone).toMatchObject({ deviceId: 'robotic-arm-001', silent: { connection: { connected: false, since: at('2026-12-08T05:45:02Z') } } });
    // Three minutes after its last reading reached its twin, not ten.
    expect(gone!.time - gone!.silent!.since).toBe(3 * MIN);
  });

  it('pages operations once, ten minutes into the shift, when no machine is back (the uplink, not each machine)', async () => {
    const p = await plant(hours);
    await p.run(ARMS, at('2026-12-07T20:58:00Z'));
    await p.sweeps(at('2026-12-07T21:01:00Z'), at('2026-12-08T05:01:00Z'));
    expect(p.logged).toEqual([]);
    p.moveTo(at('2026-12-08T05:11:00Z'));
    expect(await p.watch.run()).toMatchObject({ silent: 3, raised: 0, plantSilent: true });
    expect(p.logged).toEqual([`error ${PLANT_SILENT_LOG}`]);
    expect(p.h.alerts.sent).toEqual([]);
  });

  it('without working hours, the same night pages operations as soon as the delay has passed', async () => {
    const p = await plant(undefined);
    await p.run(ARMS, at('2026-12-07T20:58:00Z'));
    await p.sweeps(at('2026-12-07T21:01:00Z'), at('2026-12-07T21:11:00Z'));
    expect(p.logged).toEqual([`error ${PLANT_SILENT_LOG}`]);
  });

});

describe('lines that keep hours of their own (LINE_WORKING_HOURS)', () => {
  const plantHours = WorkingHours.parse('Mon-Fri 06:00-22:00', 'Europe/Berlin');
  // Line B works one shift; line C round the clock; line A the plant's two.
  const lineHours = parseLineHours('production-line-b=Mon-Fri 06:00-14:00 | production-line-c=Mon-Sun 00:00-24:00', 'Europe/Berlin');
  const LINES = { 'production-line-a': ['arm-a1', 'arm-a2'], 'production-line-b': ['arm-b1'], 'production-line-c': ['arm-c1'] };

  it('are read on the plant’s clock, each line named once, and refused at start-up with the setting named', () => {
    expect([...lineHours.keys()]).toEqual(['production-line-b', 'production-line-c']);
    expect(lineHours.get('production-line-b')!.working(at('2026-12-07T12:59:00Z'))).toBe(true);
    expect(lineHours.get('production-line-b')!.working(at('2026-12-07T13:00:00Z'))).toBe(false);
    const refused = (text: string) => {
      try {
        parseLineHours(text);
        return 'accepted';
      } catch (error) {
        return `${(error as WorkingHoursError).part}: ${(error as Error).message}`;
      }
    };
    expect(refused('Mon-Fri 06:00-14:00')).toMatch(/^lines: 'Mon-Fri 06:00-14:00' is not a line's twin id, '=' and its hours/);
    expect(refused('line-b=Mon-Fri 06:00-14:00 | line-b=Sat 06:00-10:00')).toMatch(/^lines: line-b is given its hours twice/);
    expect(refused('line-b=weekdays')).toMatch(/^lines: line-b: 'weekdays' is not days and a time span/);
    expect(refused(' | ')).toBe('accepted');
    const base = { DIGITAL_TWINS_URL: 'https://adt.example', DUCKDB_PATH: ':memory:' };
    expect(lineHoursOf(loadConfig(base)).size).toBe(0);
    expect(lineHoursOf(loadConfig({ ...base, LINE_WORKING_HOURS: 'production-line-b=Mon-Fri 06:00-14:00', PLANT_TIME_ZONE: 'Europe/Berlin' })).get('production-line-b')!.working(at('2026-12-07T12:30:00Z'))).toBe(true);
    expect(() => loadConfig({ ...base, LINE_WORKING_HOURS: 'production-line-b=Mon-Fri 6-14' })).toThrow(/LINE_WORKING_HOURS: production-line-b: 'Mon-Fri 6-14' is not days and a time span/);
  });

  it('raise nothing for a one-shift line gone quiet after its shift while the plant works on, raise the round-the-clock line’s machine at night, and judge the one-shift line again from its next shift', async () => {
    const p = watchedPlant(LINES, at('2026-12-07T11:40:00Z'), plantHours, lineHours);
    // Monday: every line runs; line B's shift ends at 14:00 in Berlin (13:00 UTC) and its arm with it.
    await p.run(['arm-a1', 'arm-a2', 'arm-b1', 'arm-c1'], at('2026-12-07T12:58:00Z'));
    await p.run(['arm-a1', 'arm-a2', 'arm-c1'], at('2026-12-07T13:20:00Z'));
    p.moveTo(at('2026-12-07T13:20:30Z'));
    expect(await p.watch.run()).toMatchObject({ silent: 0, raised: 0, offShiftLines: 1 });

    // 22:00 in Berlin: the plant's shift ends and line A's arms stop; line C works on, and its arm falls silent at 23:58.
    await p.run(['arm-a1', 'arm-a2', 'arm-c1'], at('2026-12-07T20:58:00Z'));
    await p.run(['arm-c1'], at('2026-12-07T22:58:00Z'));
    p.moveTo(at('2026-12-07T23:10:30Z'));
    expect(await p.watch.run()).toMatchObject({ silent: 1, raised: 1, told: 1, offShiftLines: 3 });
    expect(p.h.alerts.sent.map((a) => a.deviceId)).toEqual(['arm-c1']);
    expect(p.logged).toEqual([]);

    // Tuesday 06:00 in Berlin: lines A and B start; line B's arm does not, and is raised ten minutes into its shift.
    await p.run(['arm-a1', 'arm-a2', 'arm-c1'], at('2026-12-08T05:10:00Z'));
    p.moveTo(at('2026-12-08T05:10:30Z'));
    expect(await p.watch.run()).toMatchObject({ silent: 1, raised: 1, told: 1 });
    expect(p.h.alerts.sent.map((a) => a.deviceId)).toEqual(['arm-c1', 'arm-b1']);
  });

  it('without them, the one-shift line’s arm gone quiet after its shift is raised as the plant’s hours say', async () => {
    const p = watchedPlant(LINES, at('2026-12-07T11:40:00Z'), plantHours);
    await p.run(['arm-a1', 'arm-a2', 'arm-b1', 'arm-c1'], at('2026-12-07T12:58:00Z'));
    await p.run(['arm-a1', 'arm-a2', 'arm-c1'], at('2026-12-07T13:20:00Z'));
    p.moveTo(at('2026-12-07T13:20:30Z'));
    expect(await p.watch.run()).toMatchObject({ silent: 1, raised: 1 });
    expect(p.h.alerts.sent.map((a) => a.deviceId)).toEqual(['arm-b1']);
  });
});
