/**
 * Daily profile: what a sensor usually reads at each hour of the day, so a reading that is normal
 * at noon but not at midnight (a shift that did not start, traffic at the wrong hour, a daily
 * jump that did not come) is evidence even when its value and shape were seen before.
 *
 * Per hour of the day (UTC: the cycle matters, not where it starts) a robust level and spread,
 * learnt over about a day of that hour's readings (at least `minReadings`), counted in readings and
 * in days. An hour judges only once it has been seen on `days` days, so a stream of one reading a
 * second over twenty minutes never has a profile, while one reading every five minutes over weeks
 * does. The distance from the profile, in its spreads and clipped, is averaged over `readings`
 * readings: one odd reading is the other parts' business, a stretch that is off for the time of
 * day is this one's.
 *
 * Levels and spreads are single precision (learning rounds to it), so a profile read back from its
 * packed form continues exactly.
 */
import { MAX_STORED, storable } from './pattern-memory.ts';

export interface DailySettings {
  /** Days an hour must have been seen on before it judges. */
  days: number;
  /** Days of an hour's readings its level and spread average over. */
  learningDays: number;
  /** Fewest readings they average over (an hour seen once a day still averages over this many days). */
  minReadings: number;
  /** Readings the distance from the profile is averaged over. */
  readings: number;
  /** Distance clip, in spreads. */
  clip: number;
}

const HOURS = 24;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Counts are kept within 16 and 8 bits; at the cap both halve, so their ratio (readings per day) holds. */
const MAX_READINGS = 0xffff;
const MAX_DAYS = 0xff;
/** Packed: level and spread (f32 each), readings (u16) and days (u8) per hour; then the last hour (u8), its time and the averaged distance (f64 each). */
const PACKED_BYTES = HOURS * 11 + 1 + 16;

export class DailyProfile {
  // One buffer for the four arrays: a profile per sensor of every device is held in memory.
  private readonly buffer = new ArrayBuffer(HOURS * 11);
  private readonly bytes = new Uint8Array(this.buffer);
  m = new Float32Array(this.buffer, 0, HOURS);
  s = new Float32Array(this.buffer, HOURS * 4, HOURS);
  n = new Uint16Array(this.buffer, HOURS * 8, HOURS);
  k = new Uint8Array(this.buffer, HOURS * 10, HOURS);
  /** Hour of the newest reading learnt (255: none) and its time: an hour entered anew is another day of it. */
  last = 255;
  t = 0;
  /** Distance from the profile (spreads, clipped) averaged over `readings`. */
  a = 0;

  /** Scores `x` at `time` against the profile, then learns it (`learn` false: scored only). Returns the averaged distance. */
  observe(time: number, x: number, learn: boolean, cfg: DailySettings): number {
    // A time no clock shows has no hour: nothing to judge by, nothing learnt.
    if (!Number.isFinite(time)) return this.a;
    const hour = Math.floor((time - Math.floor(time / DAY_MS) * DAY_MS) / HOUR_MS);
    const m = this.m[hour]!;
    const spread = Math.max(this.s[hour]!, 1e-9 + 1e-3 * Math.abs(m));
    const z = this.k[hour]! >= cfg.days ? Math.min(cfg.clip, Math.abs(x - m) / spread) : 0;
    const a = this.a + (z - this.a) / cfg.readings;
    if (!learn) return a;
    this.a = a;
    if (hour !== this.last || time - this.t >= HOUR_MS) this.k[hour] = Math.min(MAX_DAYS, this.k[hour]! + 1);
    this.last = hour;
    this.t = time;
    let n = this.n[hour]! + 1;
    if (n > MAX_READINGS) {
      n = Math.ceil(n / 2);
      this.k[hour] = Math.max(1, Math.ceil(this.k[hour]! / 2));
    }
    this.n[hour] = n;
    if (n === 1) {
      this.m[hour] = x;
      return a;
    }
    // About a day of this hour's readings, and never fewer than minReadings.
    const rate = 1 / Math.min(n, Math.max(cfg.minReadings, (cfg.learningDays * n) / this.k[hour]!));
    const clipped = Math.max(-cfg.clip, Math.min(cfg.clip, (x - m) / spread));
    this.m[hour] = m + rate * clipped * spread;
    // The spread is not clipped: an hour whose readings really changed widens quickly, so one odd
    // day is evidence and a new habit soon is not (a clipped spread made 301 false positives of 172 on the corpus).
    this.s[hour] = this.s[hour]! + rate * (Math.abs(x - this.m[hour]!) * 1.2533 - this.s[hour]!);
    return a;
  }

  /** A copy, written into `into` when given (nothing allocated then). */
  clone(into = new DailyProfile()): DailyProfile {
    into.bytes.set(this.bytes);
    into.last = this.last;
    into.t = this.t;
    into.a = this.a;
    return into;
  }

  /** In JSON as packed (a state is compared and logged as JSON). */
  toJSON(): string {
    return this.pack();
  }

  /** The profile as base64url of its packed bytes (about 370 characters). */
  pack(): string {
    const bytes = Buffer.alloc(PACKED_BYTES);
    let at = 0;
    for (let h = 0; h < HOURS; h++) {
      bytes.writeFloatLE(this.m[h]!, at);
      bytes.writeFloatLE(this.s[h]!, at + 4);
      bytes.writeUInt16LE(this.n[h]!, at + 8);
      bytes.writeUInt8(this.k[h]!, at + 10);
      at += 11;
    }
    bytes.writeUInt8(this.last, at);
    bytes.writeDoubleLE(this.t, at + 1);
    bytes.writeDoubleLE(this.a, at + 9);
    return bytes.toString('base64url');
  }

  /**
   * Reads a packed profile (a twin anyone may patch carries it) into a fresh object, or returns
   * undefined when it is not exactly one, or holds a number no learning could have made.
   */
  static unpack(text: unknown): DailyProfile | undefined {
    if (typeof text !== 'string') return undefined;
    const bytes = Buffer.from(text, 'base64url');
    if (bytes.length !== PACKED_BYTES) return undefined;
    const out = new DailyProfile();
    let at = 0;
    for (let h = 0; h < HOURS; h++) {
      const m = bytes.readFloatLE(at);
      const s = bytes.readFloatLE(at + 4);
      if (!storable(m) || !storable(s) || s < 0) return undefined;
      out.m[h] = m;
      out.s[h] = s;
      out.n[h] = bytes.readUInt16LE(at + 8);
      out.k[h] = bytes.readUInt8(at + 10);
      at += 11;
    }
    const last = bytes.readUInt8(at);
    const t = bytes.readDoubleLE(at + 1);
    const a = bytes.readDoubleLE(at + 9);
    if ((last >= HOURS && last !== 255) || !storable(t) || !storable(a) || a < 0 || a > MAX_STORED) return undefined;
    out.last = last;
    out.t = t;
    // A patched distance is capped at the clip any learning keeps it within.
    out.a = Math.min(a, 100);
    return out;
  }
}
