/**
 * Working hours for any text an operator may type and any instant: the text is read or refused
 * with a WorkingHoursError (never anything else), a UTC schedule agrees with the calendar read
 * directly, and the working period an instant falls in began at a working minute after a minute off.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WorkingHours, WorkingHoursError } from '../../src/lib/plant/working-hours.ts';
import { propertyRuns } from '../support/property-runs.ts';

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const MIN = 60_000;
const two = (n: number) => String(n).padStart(2, '0');

/** A span as an operator writes it: days, a start and an end (an end before the start runs past midnight). */
const span = fc.record({ first: fc.integer({ min: 0, max: 6 }), last: fc.integer({ min: 0, max: 6 }), from: fc.integer({ min: 0, max: 1439 }), to: fc.integer({ min: 1, max: 1440 }) }).filter((s) => s.from !== s.to);
const spanText = (s: { first: number; last: number; from: number; to: number }) => `${DAYS[s.first]}${s.first === s.last ? '' : `-${DAYS[s.last]}`} ${two(Math.floor(s.from / 60))}:${two(s.from % 60)}-${two(Math.floor(s.to / 60))}:${two(s.to % 60)}`;
/** Instants over some years, on any second. */
const instant = fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2030, 0, 1) });

/** The calendar read directly: whether a UTC schedule works at `at`, closed on the `holidays` (YYYY-MM-DD). */
function worksUtc(spans: readonly { first: number; last: number; from: number; to: number }[], at: number, holidays: ReadonlySet<string> = new Set()): boolean {
  const d = new Date(at);
  const day = (d.getUTCDay() + 6) % 7;
  const minute = d.getUTCHours() * 60 + d.getUTCMinutes();
  const today = d.toISOString().slice(0, 10);
  const yesterday = new Date(at - 86_400_000).toISOString().slice(0, 10);
  const includes = (s: { first: number; last: number }, x: number) => (s.first <= s.last ? x >= s.first && x <= s.last : x >= s.first || x <= s.last);
  return spans.some((s) =>
    s.to > s.from
      ? !holidays.has(today) && includes(s, day) && minute >= s.from && minute < s.to
      : (!holidays.has(today) && includes(s, day) && minute >= s.from) || (!holidays.has(yesterday) && includes(s, (day + 6) % 7) && minute < s.to),
  );
}

describe('working hours, for any text and any instant', () => {
  it('reads or refuses any text with a WorkingHoursError', () => {
    const token = fc.constantFrom('Mon', 'fri', 'Sunday', 'Funday', '-', ',', ';', ' ', '06:00', '24:00', '6:0', '23:59', '00:00', '99:99', ':', 'x', '\u00a0', '');
    fc.assert(
      fc.property(fc.oneof(fc.array(token, { maxLength: 12 }).map((t) => t.join('')), fc.string({ maxLength: 40 })), fc.constantFrom('UTC', 'Europe/Berlin', 'Nowhere/Else', ''), (text, zone) => {
        try {
          WorkingHours.parse(text, zone);
        } catch (error) {
          expect(error).toBeInstanceOf(WorkingHoursError);
        }
      }),
      propertyRuns(811, 2_000),
    );
  });

  it('agrees with the calendar on a UTC schedule, holidays and all', () => {
    fc.assert(
      fc.property(fc.array(span, { minLength: 1, maxLength: 4 }), fc.array(instant, { minLength: 1, maxLength: 20 }), fc.array(fc.integer({ min: -2, max: 2 }), { maxLength: 3 }), (spans, instants, offsets) => {
        // Holidays near the instants: the day before, of or after one of them.
        const holidays = new Set(offsets.map((o, i) => new Date(instants[i % instants.length]! + o * 86_400_000).toISOString().slice(0, 10)));
        const hours = WorkingHours.parse(spans.map(spanText).join('; '), 'UTC', [...holidays].join('; '));
        for (const at of instants) expect(hours.working(at), `${spans.map(spanText).join('; ')} closed ${[...holidays].join(', ')} at ${new Date(at).toISOString()}`).toBe(worksUtc(spans, at, holidays));
      }),
      propertyRuns(812, 300),
    );
  });

  it('gives the start of the working period an instant is in: a working minute after one off, with no minute off between it and the instant', () => {
    fc.assert(
      fc.property(fc.array(span, { minLength: 1, maxLength: 4 }), instant, fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe'), (spans, at, zone) => {
        const hours = WorkingHours.parse(spans.map(spanText).join('; '), zone);
        const start = hours.periodStart(at);
        if (!hours.working(at)) {
          expect(start).toBeUndefined();
          return;
        }
        expect(start).toBeDefined();
        if (start === -Infinity) return;
        expect(start! % MIN).toBe(0);
        expect(start!).toBeLessThanOrEqual(at);
        expect(hours.working(start!)).toBe(true);
        expect(hours.working(start! - MIN)).toBe(false);
        for (let k = 1; k <= 8; k++) expect(hours.working(start! + Math.floor(((at - start!) * k) / 8))).toBe(true);
      }),
      propertyRuns(813, 200),
    );
  });
});
