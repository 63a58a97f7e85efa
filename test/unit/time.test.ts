import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { propertyRuns } from '../support/property-runs.ts';
import { dateOrderOf, readTime } from '../../src/lib/telemetry/time.ts';

const zone = process.env.TZ;
afterEach(() => {
  if (zone === undefined) delete process.env.TZ;
  else process.env.TZ = zone;
});

describe('reading a time written as text (devices and CSV files alike)', () => {
  it('reads ISO 8601 as people and tools write it, a time without a zone as UTC', () => {
    process.env.TZ = 'Asia/Kolkata';
    expect(readTime('2026-12-03T10:00:00Z')).toBe(Date.UTC(2026, 11, 3, 10));
    expect(readTime('2026-12-03T10:00')).toBe(Date.UTC(2026, 11, 3, 10));
    expect(readTime('2026-12-03 10:00:00,25')).toBe(Date.UTC(2026, 11, 3, 10, 0, 0, 250));
    expect(readTime('2026-12-03')).toBe(Date.UTC(2026, 11, 3));
    expect(readTime('2026-12-03T10:00:00+05:30')).toBe(Date.UTC(2026, 11, 3, 4, 30));
    expect(readTime('2026-12-03T10:00:00-0800')).toBe(Date.UTC(2026, 11, 3, 18));
    expect(readTime('2026-12-03T10:00:00+01')).toBe(Date.UTC(2026, 11, 3, 9));
    expect(readTime(' 2026-12-03T10:00:00.123456789Z ')).toBe(Date.UTC(2026, 11, 3, 10, 0, 0, 123));
    // A fraction past nanoseconds is cut like any other (V8's Date.parse reads .0009000000 as 9 ms).
    expect(readTime('2026-12-03T10:00:00.0009000000Z')).toBe(Date.UTC(2026, 11, 3, 10));
  });

  it('refuses a day, an hour or a zone that does not exist instead of rolling it over', () => {
    for (const text of ['2024-02-30', '2023-02-29T00:00', '2026-12-03T24:00', '2026-12-03T10:60', '2026-12-03T10:00:00+24:00', '2026-13-01', '2026-12-03T10:00:00 garbage', 'yesterday', '']) {
      expect(readTime(text), text).toBeUndefined();
    }
    expect(readTime('2024-02-29T23:59:59')).toBe(Date.UTC(2024, 1, 29, 23, 59, 59));
  });

  it('reads days written with dots day first, and with slashes in the order it is told (month first by default), 12-hour times too', () => {
    expect(readTime('01.02.2026')).toBe(Date.UTC(2026, 1, 1));
    expect(readTime('31.01.2026 23:59:59,5')).toBe(Date.UTC(2026, 0, 31, 23, 59, 59, 500));
    expect(readTime('01/02/2026 10:00')).toBe(Date.UTC(2026, 0, 2, 10));
    expect(readTime('01/02/2026 10:00', 'day-first')).toBe(Date.UTC(2026, 1, 1, 10));
    expect(readTime('1/2/2026 12:00:00 AM')).toBe(Date.UTC(2026, 0, 2, 0));
    expect(readTime('1/2/2026 12:30 pm')).toBe(Date.UTC(2026, 0, 2, 12, 30));
    for (const text of ['31.02.2026', '13/01/2026', '1/2/2026 13:00 PM', '1/2/2026 0:30 AM', '32.01.2026']) expect(readTime(text), text).toBeUndefined();
    expect(readTime('13/01/2026', 'day-first')).toBe(Date.UTC(2026, 0, 13));
    expect(dateOrderOf(['01/02/2026', '13/02/2026 10:00'])).toBe('day-first');
    expect(dateOrderOf(['02/13/2026'])).toBe('month-first');
    expect(dateOrderOf(['01/02/2026', '2026-01-01'])).toBeUndefined();
  });

  it('leaves other forms to Date.parse, as UTC when they name no zone', () => {
    process.env.TZ = 'America/New_York';
    expect(readTime('Thu, 03 Dec 2026 10:00:00 GMT')).toBe(Date.UTC(2026, 11, 3, 10));
    expect(readTime('Thu, 03 Dec 2026 10:00:00 +0100')).toBe(Date.UTC(2026, 11, 3, 9));
    expect(readTime('Dec 3 2026')).toBe(Date.UTC(2026, 11, 3));
  });

  it('gives every real instant back from each way ISO 8601 writes it, whatever zone the host runs in', () => {
    const instant = fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2100, 0, 1) });
    const offset = fc.integer({ min: -14 * 60, max: 14 * 60 });
    fc.assert(
      fc.property(instant, offset, fc.constantFrom('UTC', 'Europe/Berlin', 'Australia/Lord_Howe'), (ms, minutes, tz) => {
        process.env.TZ = tz;
        const utc = new Date(ms).toISOString();
        const shifted = new Date(ms + minutes * 60_000).toISOString().slice(0, 23);
        const sign = minutes < 0 ? '-' : '+';
        const hh = String(Math.floor(Math.abs(minutes) / 60)).padStart(2, '0');
        const mm = String(Math.abs(minutes) % 60).padStart(2, '0');
        expect(readTime(utc)).toBe(ms);
        expect(readTime(utc.slice(0, 23))).toBe(ms);
        expect(readTime(utc.slice(0, 23).replace('T', ' '))).toBe(ms);
        expect(readTime(`${shifted}${sign}${hh}:${mm}`)).toBe(ms);
        expect(readTime(`${shifted}${sign}${hh}${mm}`)).toBe(ms);
      }),
      propertyRuns(20261204, 2000),
    );
  });
});
