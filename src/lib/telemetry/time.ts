/**
 * Reading a time written as text, the same way wherever it comes from (a device's message, a CSV
 * row): ISO 8601 and days written with dots or slashes read field by field, a time without a
 * zone taken as UTC (never as the zone of the machine that happens to read it), and a day or time
 * that does not exist refused rather than rolled over (V8 reads 2024-02-30 as 1 March).
 */

const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Two decimal digits at `at`, or -1. */
function digits2(text: string, at: number): number {
  const a = text.charCodeAt(at) - 48;
  const b = text.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/** Whether day `d` of month `mo` (1-12) exists in year `y` (proleptic Gregorian). */
function dayExists(y: number, mo: number, d: number): boolean {
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return d <= (mo === 2 && !leap ? 28 : DAYS[mo - 1]!);
}

/** Days from 1970-01-01 to the given day of the proleptic Gregorian calendar (any year, no Date). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  return era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468;
}

/** Epoch ms of a calendar day and time of day taken as UTC, or NaN when that day or time does not exist. */
function utcOf(y: number, mo: number, d: number, h: number, mi: number, sec: number, ms: number): number {
  if (mo < 1 || mo > 12 || d < 1 || !dayExists(y, mo, d) || h > 23 || mi > 59 || sec > 59) return NaN;
  return ((daysFromCivil(y, mo, d) * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms;
}

/**
 * Epoch ms of a strict UTC ISO 8601 time (YYYY-MM-DDTHH:MM:SS[.fraction of 1 to 9 digits]Z) that
 * names a real instant, else NaN. What devices and the hub send: read field by field, the same
 * value Date.parse gives (a fraction beyond milliseconds is cut, as V8 cuts it) at a fraction of
 * its cost; such a string can also be stored as it is, without a round trip through Date.
 */
export function utcIsoTime(text: string): number {
  const n = text.length;
  if (n < 20 || n > 30 || text.charCodeAt(n - 1) !== 90 /* Z */ || (n > 20 && (n < 22 || text.charCodeAt(19) !== 46))) return NaN;
  if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(10) !== 84 || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return NaN;
  const hi = digits2(text, 0);
  const lo = digits2(text, 2);
  const mo = digits2(text, 5);
  const d = digits2(text, 8);
  const h = digits2(text, 11);
  const mi = digits2(text, 14);
  const sec = digits2(text, 17);
  if (hi < 0 || lo < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0) return NaN;
  let ms = 0;
  for (let i = 20, scale = 100; i < n - 1; i++, scale /= 10) {
    const digit = text.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return NaN;
    if (scale >= 1) ms += digit * scale;
  }
  return utcOf(hi * 100 + lo, mo, d, h, mi, sec, ms);
}

/**
 * ISO 8601 as people and tools write it: a day (2026-12-03), or a day and a time of day with `T`
 * or a space between (seconds and a fraction optional, a decimal comma allowed), then a zone
 * (Z, ±HH, ±HHMM, ±HH:MM) or none: none is UTC.
 */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$/;
/**
 * A day written with dots (31.01.2026, as in most of Europe: always day first) or slashes
 * (01/31/2026 in the US, 31/01/2026 in the UK and most of the world: the order is the reader's
 * to say), then optionally a time of day (a 12-hour one with AM/PM), no zone: UTC.
 */
const DOTTED = /^(\d{1,2})\.(\d{1,2})\.(\d{4})(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?$/;
const SLASHED = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*([AaPp][Mm])?)?$/;

/** Whether a slash-written day is month first (01/31/2026) or day first (31/01/2026). */
export type DateOrder = 'month-first' | 'day-first';

/** Milliseconds from a fraction of a second's digits, cut (not rounded) as V8 cuts them. */
const millisOf = (fraction: string | undefined) => (fraction ? Number(fraction.padEnd(3, '0').slice(0, 3)) : 0);

/** A day-month-year match (with its time of day) as epoch ms, or undefined when it does not exist. */
function civil(day: string, month: string, year: string, m: RegExpExecArray, meridiem?: string): number | undefined {
  let h = Number(m[4] ?? 0);
  if (meridiem) {
    if (h < 1 || h > 12) return undefined;
    h = (h % 12) + (/^[Pp]/.test(meridiem) ? 12 : 0);
  }
  const t = utcOf(Number(year), Number(month), Number(day), h, Number(m[5] ?? 0), Number(m[6] ?? 0), millisOf(m[7]));
  return Number.isNaN(t) ? undefined : t;
}

/**
 * The order slash-written days in `samples` must be in: day first when one starts past 12,
 * month first when one has its second number past 12, undefined when none tells (or they disagree).
 */
export function dateOrderOf(samples: Iterable<string>): DateOrder | undefined {
  let dayFirst = false;
  let monthFirst = false;
  for (const text of samples) {
    const m = SLASHED.exec(text.trim());
    if (!m) continue;
    if (Number(m[1]) > 12) dayFirst = true;
    if (Number(m[2]) > 12) monthFirst = true;
  }
  return dayFirst === monthFirst ? undefined : dayFirst ? 'day-first' : 'month-first';
}

/** Starts like an ISO 8601 day: then it is read as ISO 8601 or refused, never handed to Date.parse's guesses. */
const ISO_DAY = /^\d{4}-\d{2}-\d{2}/;
/** A zone spelt out in another form: a name V8 knows, or an offset after the time of day. */
const NAMED_ZONE = /\b(?:GMT|UTC|UT|Z|[ECMP][SD]T)\b|\d:\d{2}(?::\d{2})?(?:\.\d+)?\s*[+-]\d{2}:?\d{2}\b/i;

/**
 * Epoch ms of a time written as text, or undefined when it is not one. ISO 8601 and days written
 * with dots or slashes are read here (slashes month first unless `order` says otherwise), and a
 * day or time that does not exist is refused; another form (RFC 7231's `Thu, 03 Dec 2026
 * 10:00:00 GMT`) is left to Date.parse, as UTC when it names no zone.
 */
export function readTime(text: string, order: DateOrder = 'month-first'): number | undefined {
  const fast = utcIsoTime(text);
  if (!Number.isNaN(fast)) return fast;
  const t = text.trim();
  const m = ISO.exec(t);
  if (m) {
    const local = utcOf(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0), millisOf(m[7]));
    const zone = m[8];
    if (Number.isNaN(local)) return undefined;
    if (zone === undefined || zone === 'Z' || zone === 'z') return local;
    const digits = zone.replace(':', '');
    const hours = Number(digits.slice(1, 3));
    const minutes = digits.length > 3 ? Number(digits.slice(3, 5)) : 0;
    if (hours > 23 || minutes > 59) return undefined;
    return local - (zone[0] === '-' ? -1 : 1) * (hours * 60 + minutes) * 60_000;
  }
  if (ISO_DAY.test(t)) return undefined;
  const dotted = DOTTED.exec(t);
  if (dotted) return civil(dotted[1]!, dotted[2]!, dotted[3]!, dotted);
  const slashed = SLASHED.exec(t);
  if (slashed) return order === 'day-first' ? civil(slashed[1]!, slashed[2]!, slashed[3]!, slashed, slashed[8]) : civil(slashed[2]!, slashed[1]!, slashed[3]!, slashed, slashed[8]);
  const parsed = Date.parse(NAMED_ZONE.test(t) ? t : `${t} UTC`);
  return Number.isNaN(parsed) ? undefined : parsed;
}
