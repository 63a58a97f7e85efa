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
 * hours with the clock on the wall. Holidays and shutdowns close whole days of the plant's calendar.
 */
/** The days of a week that begins on Monday; a day is written as its name or any start of it of three letters or more. */
const DAY_NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const MINUTE = 60_000;
const DAY_MINUTES = 1_440;
const WEEK_MINUTES = 7 * DAY_MINUTES;

/** Working hours that cannot be read, with what is wrong in them: the hours' text, or the time zone. */
export class WorkingHoursError extends Error {
  constructor(message: string, readonly part: 'hours' | 'timeZone' | 'holidays' | 'lines' = 'hours') {
    super(message);
  }
}

export class WorkingHours {
  private constructor(
    readonly text: string,
    readonly timeZone: string,
    /** The days the plant is closed, as written (empty: none). */
    readonly holidays: string,
    /** One flag per minute of the week, Monday 00:00 first, on the plant's wall clock: worked by a span that began that day… */
    private readonly own: Uint8Array,
    /** …or by one that began the day before and ran past midnight. */
    private readonly carry: Uint8Array,
    /** Days closed, as days since 1970-01-01 on the plant's calendar. */
    private readonly closed: ReadonlySet<number>,
    private readonly clock: Intl.DateTimeFormat,
  ) {}

  /**
   * The working hours `text` says, in `timeZone` (IANA, e.g. Europe/Berlin), closed on `holidays`
   * (`2026-12-24..2027-01-01; 2027-04-02`: days on the plant's calendar, a shift that begins on one
   * is not worked, one that began the evening before runs its course); throws WorkingHoursError on
   * anything it cannot read.
   */
  static parse(text: string, timeZone = 'UTC', holidays = ''): WorkingHours {
    let clock: Intl.DateTimeFormat;
    try {
      clock = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', hourCycle: 'h23' });
    } catch {
      throw new WorkingHoursError(`'${timeZone}' is not an IANA time zone (e.g. Europe/Berlin, America/Chicago, UTC)`, 'timeZone');
    }
    const own = new Uint8Array(WEEK_MINUTES);
    const carry = new Uint8Array(WEEK_MINUTES);
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
        const start = day * DAY_MINUTES;
        own.fill(1, start + from, start + (to > from ? to : DAY_MINUTES));
        // Past midnight: on into the next day (Sunday's into Monday's, the week wraps).
        if (to < from) carry.fill(1, ((day + 1) % 7) * DAY_MINUTES, ((day + 1) % 7) * DAY_MINUTES + to);
      }
    }
    const closed = closedDays(holidays);
    return new WorkingHours(spans.join('; '), timeZone, closed.text, own, carry, closed.days, clock);
  }

  /** Whether `at` (epoch ms) falls in the working hours. */
  working(at: number): boolean {
    const { date, minute } = this.local(at);
    // 1970-01-01 was a Thursday: day 3 of a week that begins on Monday.
    const m = (((date + 3) % 7) + 7) % 7 * DAY_MINUTES + minute;
    return (this.own[m] === 1 && !this.closed.has(date)) || (this.carry[m] === 1 && !this.closed.has(date - 1));
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

  /** The plant's calendar day (days since 1970-01-01) and minute of the day at `at`. */
  private local(at: number): { date: number; minute: number } {
    let year = 1970;
    let month = 1;
    let day = 1;
    let minute = 0;
    for (const part of this.clock.formatToParts(at)) {
      if (part.type === 'year') year = Number(part.value);
      else if (part.type === 'month') month = Number(part.value);
      else if (part.type === 'day') day = Number(part.value);
      else if (part.type === 'hour') minute += Number(part.value) * 60;
      else if (part.type === 'minute') minute += Number(part.value);
    }
    return { date: Date.UTC(year, month - 1, day) / DAY_MS, minute };
  }
}

/** A line's twin id as a line's working hours name it (what Digital Twins allows, less the separators). */
const LINE_ID = /^[A-Za-z0-9_.:~-]{1,128}$/;

/**
 * The working hours of lines that keep their own (`production-line-b=Mon-Fri 06:00-14:00 |
 * production-line-c=Mon-Sun 00:00-24:00`: a line's twin id, `=`, its hours as the plant's are
 * written; lines separated by `|`), on the plant's clock and calendar; a line not named keeps the
 * plant's. Throws WorkingHoursError (part `lines`) on anything it cannot read.
 */
export function parseLineHours(text: string, timeZone = 'UTC', holidays = ''): Map<string, WorkingHours> {
  const out = new Map<string, WorkingHours>();
  for (const entry of text.split('|').map((s) => s.trim()).filter(Boolean)) {
    const at = entry.indexOf('=');
    const line = at < 0 ? '' : entry.slice(0, at).trim();
    if (!LINE_ID.test(line)) throw new WorkingHoursError(`'${entry}' is not a line's twin id, '=' and its hours (e.g. "production-line-b=Mon-Fri 06:00-14:00")`, 'lines');
    if (out.has(line)) throw new WorkingHoursError(`${line} is given its hours twice`, 'lines');
    try {
      out.set(line, WorkingHours.parse(entry.slice(at + 1), timeZone, holidays));
    } catch (error) {
      if (error instanceof WorkingHoursError && error.part === 'hours') throw new WorkingHoursError(`${line}: ${error.message}`, 'lines');
      throw error;
    }
  }
  return out;
}

const DAY_MS = 86_400_000;
/** The longest closure one range may give: a year (a typo such as 2026..2062 is refused, not a plant shut for decades). */
const MAX_CLOSURE_DAYS = 366;

/** The days closed that `text` lists (`2026-12-24..2027-01-01; 2027-04-02`, commas also separate), as days since 1970-01-01. */
function closedDays(text: string): { text: string; days: Set<number> } {
  const days = new Set<number>();
  const items = text.split(/[;,]/).map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    const [a, b, extra] = item.split('..').map((s) => s.trim());
    if (extra !== undefined) throw new WorkingHoursError(`'${item}' is not a day or a range of days (2026-12-24..2027-01-01)`, 'holidays');
    const first = dateOf(a!, item);
    const last = b === undefined ? first : dateOf(b, item);
    if (last < first) throw new WorkingHoursError(`'${item}' ends before it begins`, 'holidays');
    if (last - first >= MAX_CLOSURE_DAYS) throw new WorkingHoursError(`'${item}' closes the plant for more than a year`, 'holidays');
    for (let d = first; d <= last; d++) days.add(d);
  }
  return { text: items.join('; '), days };
}

function dateOf(text: string, item: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  // A day that does not exist (2027-02-30) comes back as another one.
  if (!m || new Date(ms).toISOString().slice(0, 10) !== text) throw new WorkingHoursError(`'${text}' in '${item}' is not a date (YYYY-MM-DD)`, 'holidays');
  return ms / DAY_MS;
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
  const day = name.length >= 3 ? DAY_NAMES.findIndex((full) => full.startsWith(name.toLowerCase())) : -1;
  if (day < 0) throw new WorkingHoursError(`'${name}' in '${span}' is not a day (Mon, Tue, … Sun)`);
  return day;
}

function minuteOf(hours: string, minutes: string, span: string, end: boolean): number {
  const h = Number(hours);
  const m = Number(minutes);
  if (m > 59 || h > 24 || (h === 24 && (m !== 0 || !end))) throw new WorkingHoursError(`'${hours}:${minutes}' in '${span}' is not a time of day${h === 24 && !end ? ' a span starts at (24:00 only ends one)' : ''}`);
  return h * 60 + m;
}
