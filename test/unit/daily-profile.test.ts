/**
 * A sensor's daily profile: it counts the days it has seen each hour on, whatever the sampling
 * rate; it judges an hour only once that hour has been seen on enough days; it goes on exactly
 * from its packed form; and a packed form someone patched is read within bounds or refused.
 */
import { describe, expect, it } from 'vitest';
import { DailyProfile, type DailySettings } from '../../src/lib/anomaly/daily-profile.ts';

const cfg: DailySettings = { days: 2, learningDays: 1, minReadings: 10, readings: 16, clip: 5 };
const T0 = Date.UTC(2026, 10, 1);
const HOUR = 3_600_000;
const hours = (f: (hour: number) => number) => Array.from({ length: 24 }, (_, h) => f(h));

/** Feeds `count` readings `periodMs` apart from `from`; returns the averaged distance after each. */
function feed(profile: DailyProfile, count: number, periodMs: number, value: (t: number) => number, from = T0): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(profile.observe(from + i * periodMs, value(from + i * periodMs), cfg));
  return out;
}

describe('a daily profile', () => {
  it('counts the days it has seen each hour on, at one reading every five minutes and at one a second', () => {
    const slow = new DailyProfile();
    feed(slow, 3 * 24 * 12, 5 * 60_000, () => 1);
    expect(hours((h) => slow.days(h))).toEqual(new Array(24).fill(3));
    expect(hours((h) => slow.readings(h))).toEqual(new Array(24).fill(36));
    // Twenty days at one a second: the counts halve together at their cap, so each hour still reads about 3,600 readings a day.
    const fast = new DailyProfile();
    feed(fast, 20 * 24 * 3600, 1000, () => 1);
    for (let h = 0; h < 24; h++) {
      expect(fast.days(h)).toBeGreaterThanOrEqual(cfg.days);
      expect(fast.readings(h) / fast.days(h)).toBeGreaterThan(3000);
      expect(fast.readings(h) / fast.days(h)).toBeLessThan(4000);
    }
  });

  it('judges an hour only once it has been seen on two days, then by how far a reading is from what that hour usually reads', () => {
    const profile = new DailyProfile();
    const dayNight = (t: number) => (new Date(t).getUTCHours() >= 8 && new Date(t).getUTCHours() < 20 ? 20 : 10) + Math.sin(t / 7e5) * 0.5;
    // The first day teaches nothing it may judge by: an hour seen on one day is no profile yet.
    expect(Math.max(...feed(profile, 24 * 12, 5 * 60_000, (t) => (new Date(t).getUTCHours() === 12 ? 50 : dayNight(t))))).toBe(0);
    feed(profile, 4 * 24 * 12, 5 * 60_000, dayNight, T0 + 24 * HOUR);
    // Day five: night values by day. Normal for the night, not for the day, and more so hour after
    // hour (each hour has its own spread; one odd hour widens its own and soon looks less odd).
    const normalDay = feed(profile.clone(), 24 * 12, 5 * 60_000, dayNight, T0 + 5 * 24 * HOUR);
    const nightByDay = feed(profile, 24 * 12, 5 * 60_000, () => 10, T0 + 5 * 24 * HOUR);
    expect(Math.max(...normalDay)).toBeLessThan(1.2);
    expect(Math.max(...nightByDay.slice(0, 8 * 12))).toBeLessThan(1.2);
    // The detector scores 0.5 at an averaged distance of 2 (dailyFloor + dailyCalibration).
    expect(Math.max(...nightByDay.slice(8 * 12, 20 * 12))).toBeGreaterThan(2);
  });

  it('goes on from its packed form exactly as if it had never been stored', () => {
    const profile = new DailyProfile();
    const value = (t: number) => 5 + Math.sin((2 * Math.PI * t) / (24 * HOUR)) + ((t / 60_000) % 7) * 0.01;
    feed(profile, 6 * 24 * 60, 60_000, value);
    const read = DailyProfile.unpack(profile.pack())!;
    expect(JSON.stringify(read)).toBe(JSON.stringify(profile));
    const from = T0 + 6 * 24 * HOUR;
    expect(feed(read, 3000, 60_000, value, from)).toEqual(feed(profile, 3000, 60_000, value, from));
  });

  it('refuses a packed profile of the wrong size or holding what no learning makes, and caps a patched distance', () => {
    const profile = new DailyProfile();
    feed(profile, 3 * 24 * 12, 5 * 60_000, () => 3);
    const bytes = Buffer.from(profile.pack(), 'base64url');
    const patched = (write: (b: Buffer) => void) => {
      const b = Buffer.from(bytes);
      write(b);
      return DailyProfile.unpack(b.toString('base64url'));
    };
    expect(DailyProfile.unpack(undefined)).toBeUndefined();
    expect(DailyProfile.unpack(bytes.subarray(1).toString('base64url'))).toBeUndefined();
    expect(DailyProfile.unpack(bytes.toString('base64url') + 'AAAA')).toBeUndefined();
    expect(patched((b) => b.writeFloatLE(NaN, 0))).toBeUndefined();
    expect(patched((b) => b.writeFloatLE(Infinity, 11))).toBeUndefined();
    expect(patched((b) => b.writeFloatLE(-1, 4))).toBeUndefined();
    expect(patched((b) => b.writeUInt8(24, 264))).toBeUndefined();
    expect(patched((b) => b.writeDoubleLE(NaN, 265))).toBeUndefined();
    expect(patched((b) => b.writeDoubleLE(-1, 273))).toBeUndefined();
    expect(patched((b) => b.writeDoubleLE(1e12, 273))!.a).toBe(100);
    expect(patched(() => {})).toBeDefined();
  });

  it('judges nothing and learns nothing at a time no clock shows, and still packs', () => {
    const profile = new DailyProfile();
    feed(profile, 3 * 24 * 12, 5 * 60_000, () => 3);
    const before = profile.pack();
    for (const t of [NaN, Infinity, -Infinity]) expect(profile.observe(t, 1e6, cfg)).toBe(profile.a);
    expect(profile.pack()).toBe(before);
  });
});
