/**
 * The plant's working hours, on its own wall clock: ISA-18.2's designed suppression by operating
 * state, for the one alarm that readings cannot clear, a machine that sends nothing. Outside them a
 * plant that powers its machines (and often its uplink) down without each saying `stopped` is
 * expected to be quiet: no machine's silence is a communication-loss alarm, and the whole plant
 * gone quiet pages nobody. Inside them a machine's silence counts from the later of its last
 * reading and the start of the working period, so the morning's first sweep does not raise every
 * machine that was off overnight; one that is still silent the delay after the shift began is.
 *
 * Written as days and times, spans separated by semicolons: `Mon-Fri 06:00-22:00; Sat 06:00-14:00`.
 * Days are English names or their first three letters, single (`Sat`), listed (`Mon,Wed,Fri`) or
 * ranged (`Mon-Fri`, `Fri-Mon`); a span that ends before it starts runs past midnight and belongs to
 * the day it starts (`Mon-Fri 22:00-06:00`: Friday's night shift ends Saturday at six); `24:00`
 * ends a day. Read minute by minute in the plant's IANA time zone, so daylight saving moves the
 * hours with the clock on the wall.
 */
const DAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const MINUTE = 60_000;
const DAY_MINUTES = 1_440;
const WEEK_MINUTES = 7 * DAY_MINUTES;

/** Working hours that cannot be read, with what is wrong in them: the hours' text, or the time zone. */
export class WorkingHoursError extends Error {
  constructor(message: string, readonly part: 'hours' | 'timeZone' = 'hours') {
    super(message);
  }
}

export class WorkingHours {
  /** One flag per minute of the week, Monday 00:00 first, on the plant's wall clock. */
  private readonly minutes: Uint8Array;
  private readonly clock: Intl.DateTimeFormat;

  private constructor(readonly text: string, readonly timeZone: string, minutes: Uint8Array, clock: Intl.DateTimeFormat) {
    this.minutes = minutes;
    this.clock = clock;
  }

  /** The working hours `text` says, in `timeZone` (IANA, e.g. Europe/Berlin); throws WorkingHoursError on anything it cannot read. */
  static parse(text: string, timeZone = 'UTC'): WorkingHours {
    let clock: Intl.DateTimeFormat;
    try {
      clock = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: 'numeric', minute: 'numeric', hourCycle: 'h23' });
    } catch {
      throw new WorkingHoursError(`'${timeZone}' is not an IANA time zone (e.g. Europe/Berlin, America/Chicago, UTC)`, 'timeZone');
    }
    const minutes = new Uint8Array(WEEK_MINUTES);
    const spans = text.split(';').map((s) => s.trim()).filter(Boolean);
    if (spans.length === 0) throw new WorkingHoursError('no working hours given (e.g. "Mon-Fri 06:00-22:00; Sat 06:00-14:00")');
    for (const span of spans) {
      const m = /^(.+?)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$/.exec(span);
      if (!m) throw new WorkingHoursError(`'${span}' is not days and a time span (e.g. "Mon-Fri 06:00-22:00")`);
      const days = daysOf(m[1]!, span);
      const from = minuteOf(m[2]!, m[3]!, span, false);
      const to = minuteOf(m[4]!, m[5]!, span, true);
      if (from === to) throw new WorkingHoursError(`'${span}' starts and ends at the same time (a whole day is 00:00-24:00)`);
      for (const day of days) {
        const start = day * DAY_MINUTES + from;
        // Past midnight: on into the next day (Sunday's into Monday's, the week wraps).
        const length = to > from ? to - from : DAY_MINUTES - from + to;
        for (let k = 0; k < length; k++) minutes[(start + k) % WEEK_MINUTES] = 1;
      }
    }
    return new WorkingHours(spans.join('; '), timeZone, minutes, clock);
  }

  /** Whether `at` (epoch ms) falls in the working hours. */
  working(at: number): boolean {
    return this.minutes[this.minuteOfWeek(at)] === 1;
  }

  /**
   * When the working period `at` falls in began (epoch ms, on a minute), or undefined outside the
   * working hours; -Infinity when the plant has worked all week without a break.
   */
  periodStart(at: number): number | undefined {
    if (!this.working(at)) return undefined;
    let start = Math.floor(at / MINUTE) * MINUTE;
    for (let k = 0; k < WEEK_MINUTES; k++) {
      if (!this.working(start - MINUTE)) return start;
      start -= MINUTE;
    }
    return -Infinity;
  }

  private minuteOfWeek(at: number): number {
    let day = 0;
    let hour = 0;
    let minute = 0;
    for (const part of this.clock.formatToParts(at)) {
      if (part.type === 'weekday') day = DAY_NAMES.indexOf(part.value.toLowerCase() as (typeof DAY_NAMES)[number]);
      else if (part.type === 'hour') hour = Number(part.value);
      else if (part.type === 'minute') minute = Number(part.value);
    }
    return day * DAY_MINUTES + hour * 60 + minute;
  }
}

function daysOf(text: string, span: string): number[] {
  const out = new Set<number>();
  for (const item of text.split(',').map((s) => s.trim())) {
    const [a, b, extra] = item.split('-').map((s) => s.trim());
    if (extra !== undefined) throw new WorkingHoursError(`'${item}' in '${span}' is not a day or a range of days`);
    const first = dayOf(a!, span);
    const last = b === undefined ? first : dayOf(b, span);
    for (let d = first; ; d = (d + 1) % 7) {
      out.add(d);
      if (d === last) break;
    }
  }
  return [...out];
}

function dayOf(name: string, span: string): number {
  const m = /^([a-z]{3})[a-z]*$/i.exec(name);
  const day = m ? DAY_NAMES.indexOf(m[1]!.toLowerCase() as (typeof DAY_NAMES)[number]) : -1;
  if (day < 0 || (m![0].length > 3 && !FULL_NAMES[day]!.startsWith(m![0].toLowerCase()))) throw new WorkingHoursError(`'${name}' in '${span}' is not a day (Mon, Tue, … Sun)`);
  return day;
}
const FULL_NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

function minuteOf(hours: string, minutes: string, span: string, end: boolean): number {
  const h = Number(hours);
  const m = Number(minutes);
  if (m > 59 || h > 24 || (h === 24 && (m !== 0 || !end))) throw new WorkingHoursError(`'${hours}:${minutes}' in '${span}' is not a time of day${h === 24 && !end ? ' a span starts at (24:00 only ends one)' : ''}`);
  return h * 60 + m;
}
