/**
 * What the streaming detector (./streaming-detector.ts) keeps per equipment, and how a twin stores
 * it: plain numbers in small objects while it runs; packed into one JSON string within ADT's 4 KB
 * when stored, shedding parts that are relearnt when it does not fit; and read back from a twin
 * anyone may patch as fresh objects rebuilt from its own numeric fields, never trusted as is.
 */
import { MAX_DEVIATION, PatternMemory, storable } from './pattern-memory.ts';
import { DailyProfile } from './daily-profile.ts';
import { DEFAULT_DETECTOR_SETTINGS } from './detector-settings.ts';
import { ADT_STRING_BYTES, fitsBytes } from '../twins/adt-limits.ts';
import { defineOwn, dict } from '../own-properties.ts';

/** One sensor's state; short keys because it is stored on every twin. */
export interface SensorState {
  /** readings learnt */
  n: number;
  /** robust baseline of the value: level and spread */
  m: number;
  s: number;
  /** robust baseline of the change since the previous reading */
  dm: number;
  ds: number;
  /** fast level, and its slope in spreads per reading */
  f: number;
  g: number;
  /** last value, how many readings in a row repeated it, and the longest such run seen */
  l: number;
  r: number;
  x: number;
  /** clipped distance from the baseline (spreads), averaged over `levelReadings` */
  o: number;
  /**
   * Excursions (runs of readings past the clip): readings since the last one ended, the longest
   * such gap between two of them, how many there were, and whether one is going on (1) or not (0)
   */
  eg: number;
  el: number;
  ec: number;
  ei: number;
  /** excursions begun per reading, recently (over `burstReadings`) and in the long run (`historyReadings`), and whether a burst stands (1) */
  ef: number;
  es: number;
  eb: number;
  /** pattern memory (written to JSON as PatternJson) */
  q: PatternMemory;
  /** daily profile (written to JSON packed) */
  y: DailyProfile;
}

/** Co-movement of two sensors' standardised residuals: E[ab], E[aa], E[bb]; and how far apart they have been lately. */
export interface PairState {
  ab: number;
  aa: number;
  bb: number;
  /** The pair's clipped residual (its spreads) averaged over `levelReadings`, learnt while the pair moves together. */
  r: number;
  /** Readings the pair learnt from (a pair relearnt after a revival starts at 0, not at its sensors' count). */
  n: number;
}

export interface DetectorState {
  version: 3;
  /** Time (epoch ms) of the newest reading folded in; older readings are scored but not learnt. */
  t: number;
  /**
   * Where a late reading may still be learnt (`learnLateReadings`): only after this time. A state
   * read back from a twin has learnt everything up to its `t`, so a reading not newer than that may
   * be one it learnt already, delivered again (a partition's checkpoint lags what an instance
   * handled and patched); it is scored, not learnt twice. 0 for a state that never left memory.
   */
  rt: number;
  s: Record<string, SensorState>;
  /** Sensor pairs ("a|b", a < b). Both maps are dicts (no prototype): a sensor may be called anything, `__proto__` and `constructor` included. */
  p: Record<string, PairState>;
  /** Likelihood: short-term mean of log evidence, its long-run mean and variance, readings seen. */
  h: { e: number; m: number; v: number; n: number };
  /** Refractory level of the reported pattern novelty. */
  u: number;
  /** Refractory level of the reported daily distance. */
  y: number;
  /** The usual pattern novelty (mean over `an` completed blocks, at most `historyReadings`). */
  a: number;
  an: number;
  /** Readings of the hold-off left after the last novelty reported at the warning level (0: none). */
  w: number;
  /** Readings in a row that are unusual themselves with evidence at the warning level (alarm on-delay). */
  k: number;
  /** Equipment deviation: the second-largest of the sensors' averaged distances (`o`) after the newest reading. */
  d: number;
  /**
   * Start-up: 1 while the equipment rests (stopped or idle), then its readings since it resumed
   * until every sensor is back near its baseline (0: none going on); and the most readings a
   * start-up has taken to settle so far.
   */
  su: number;
  sl: number;
  /** The stream's usual interval between readings (ms, a running median; 0 before a second reading). */
  iv: number;
  /**
   * Its messages: the time of the newest reading of the last message (the first reading's until one
   * ends), and the usual interval between messages (ms, a running median; 0 before one is seen). A
   * device that sends each reading alone has it equal to `iv`; a logger that uploads its readings in
   * arrays, say fifteen minutes of one a minute at once, has fifteen minutes where `iv` has one.
   */
  ut: number;
  uv: number;
}

export function emptyDetectorState(): DetectorState {
  return { version: 3, t: 0, rt: 0, s: dict(), p: dict(), h: { e: 0, m: 0, v: 0, n: 0 }, u: 0, y: 0, a: 0, an: 0, w: 0, k: 0, d: 0, su: 0, sl: 0, iv: 0, ut: 0, uv: 0 };
}

/**
 * A deep copy (the state is plain numbers in small objects). Written into `into` when that has the
 * same sensors and pairs, so a checkpoint the pipeline keeps to roll back to (./detector-journal.ts)
 * allocates nothing once a device's sensors are known (a fresh copy is about 3.8 KB).
 */
export function copyDetectorState(state: DetectorState, into?: DetectorState): DetectorState {
  if (into && into !== state && copyInto(state, into)) return into;
  const out: DetectorState = { version: 3, t: state.t, rt: state.rt, s: dict(), p: dict(), h: { ...state.h }, u: state.u, y: state.y, a: state.a, an: state.an, w: state.w, k: state.k, d: state.d, su: state.su, sl: state.sl, iv: state.iv, ut: state.ut, uv: state.uv };
  for (const name in state.s) {
    const s = state.s[name]!;
    out.s[name] = { ...s, q: s.q.clone(), y: s.y.clone() };
  }
  for (const key in state.p) out.p[key] = { ...state.p[key]! };
  return out;
}

/** Copies `state` over `into` when both have the same sensors and pairs; false (and `into` left to be dropped) otherwise. */
function copyInto(state: DetectorState, into: DetectorState): boolean {
  let sensors = 0;
  for (const name in state.s) {
    const from = state.s[name]!;
    const to = into.s[name];
    if (!to) return false;
    to.n = from.n;
    to.m = from.m;
    to.s = from.s;
    to.dm = from.dm;
    to.ds = from.ds;
    to.f = from.f;
    to.g = from.g;
    to.l = from.l;
    to.r = from.r;
    to.x = from.x;
    to.o = from.o;
    to.eg = from.eg;
    to.el = from.el;
    to.ec = from.ec;
    to.ei = from.ei;
    to.ef = from.ef;
    to.es = from.es;
    to.eb = from.eb;
    from.q.clone(to.q);
    from.y.clone(to.y);
    sensors++;
  }
  let pairs = 0;
  for (const key in state.p) {
    const from = state.p[key]!;
    const to = into.p[key];
    if (!to) return false;
    to.ab = from.ab;
    to.aa = from.aa;
    to.bb = from.bb;
    to.r = from.r;
    to.n = from.n;
    pairs++;
  }
  // Nothing more in `into` than in `state` (a sensor it no longer has would come back on a rollback).
  if (Object.keys(into.s).length !== sensors || Object.keys(into.p).length !== pairs) return false;
  into.t = state.t;
  into.h.e = state.h.e;
  into.h.m = state.h.m;
  into.h.v = state.h.v;
  into.h.n = state.h.n;
  into.u = state.u;
  into.y = state.y;
  into.a = state.a;
  into.an = state.an;
  into.w = state.w;
  into.k = state.k;
  into.d = state.d;
  into.su = state.su;
  into.sl = state.sl;
  into.iv = state.iv;
  into.ut = state.ut;
  into.uv = state.uv;
  into.rt = state.rt;
  return true;
}

/**
 * A stored deviation (the equipment's, a sensor's, or how far apart a pair is) as it may be used: missing, negative or not a
 * number is none, and a patched one is capped, so it cannot hold a healthy machine flagged for long.
 */
const storedDeviation = (v: unknown) => (storable(v) && v >= 0 ? Math.min(v, MAX_DEVIATION) : 0);

/**
 * A sensor's slope (spreads a reading, signed) within ±MAX_DEVIATION: where learning keeps it, and
 * where a stored one is read back to. Learnt, a jump on a sensor that had never moved (its spread at
 * the floor) was a slope of 1e21, beyond what a stored state holds; read back, a patched slope of 1e17
 * made the failure model see the machine wearing fast for some 1,200 readings (a slope learning can
 * reach fades within about 200).
 */
export const boundedSlope = (v: number) => (v > MAX_DEVIATION ? MAX_DEVIATION : v < -MAX_DEVIATION ? -MAX_DEVIATION : v);

/** The count given to a pair stored before pairs kept one: it learnt alongside its sensors, so it is taken as learnt. */
const LEARNT_PAIR = 1e6;

/** A stored count as it may be used: a whole number within `max`, 0 when patched negative. */
const storedCount = (v: number, max: number) => (v >= 0 ? Math.min(Math.floor(v), max) : 0);
/** A stored hold-off is capped at ten default hold-offs, so a patched one cannot raise the bar for novelty for long. */
const MAX_HOLD_OFF = 1_000;
/** Excursions and gaps are counted up to here (a patched count cannot grow the state's numbers). */
export const MAX_EXCURSIONS = 1e9;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const SENSOR_KEYS = ['n', 'm', 's', 'dm', 'ds', 'f', 'g', 'l', 'r', 'x'] as const;

/**
 * ADT refuses a string property over 4 KB of UTF-8 (a service limit that cannot be raised): a
 * stored state must fit, or the twin's whole patch (readings, health, alarms) would be refused.
 */
export const MAX_STORED_STATE_BYTES = ADT_STRING_BYTES;

/** Doubles written exactly in little-endian base64url: 11 characters each against ~19 as decimal text. */
function packNumbers(values: readonly number[]): string {
  const bytes = Buffer.allocUnsafe(values.length * 8);
  writeNumbers(bytes, values);
  return bytes.toString('base64url');
}

/** Writes `values` as doubles from the start of `bytes`; returns where they end. */
function writeNumbers(bytes: Buffer, values: readonly number[]): number {
  for (let i = 0; i < values.length; i++) bytes.writeDoubleLE(values[i]!, i * 8);
  return values.length * 8;
}

/** The first `count` doubles of `bytes` when each is storable; otherwise undefined. */
function readNumbers(bytes: Buffer, count: number): number[] | undefined {
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const x = bytes.readDoubleLE(i * 8);
    if (!storable(x)) return undefined;
    out[i] = x;
  }
  return out;
}

/** The `count` numbers `text` packs, when it is exactly that and each is storable; otherwise undefined. */
function unpackNumbers(text: unknown, count: number): number[] | undefined {
  // Node's decoder skips what is not base64: what it reads must still be exactly `count` doubles, each storable.
  if (typeof text !== 'string') return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.length === count * 8 ? readNumbers(bytes, count) : undefined;
}

const SENSOR_NUMBERS = 11;
/**
 * A sensor packed: its eleven numbers (doubles), then its excursion rhythm in 21 bytes (the gap,
 * the longest gap and the count as u32, the two flags in a byte, the two rates as f32, to which they
 * are learnt): 146 characters on the twin, where seven more doubles took 192.
 */
const RHYTHM_BYTES = 21;
const SENSOR_BYTES = SENSOR_NUMBERS * 8 + RHYTHM_BYTES;

function packSensor(s: SensorState): string {
  const bytes = Buffer.allocUnsafe(SENSOR_BYTES);
  let at = writeNumbers(bytes, [s.n, s.m, s.s, s.dm, s.ds, s.f, s.g, s.l, s.r, s.x, s.o]);
  for (const count of [s.eg, s.el, s.ec]) at = bytes.writeUInt32LE(count, at);
  at = bytes.writeUInt8(s.ei | (s.eb << 1), at);
  at = bytes.writeFloatLE(s.ef, at);
  bytes.writeFloatLE(s.es, at);
  return bytes.toString('base64url');
}

type SensorNumbers = Omit<SensorState, 'q' | 'y'>;

/**
 * A packed sensor read back, or undefined when it is neither form or holds a number no state could.
 * Eleven doubles alone are a sensor stored before the excursion rhythm was kept: it starts afresh.
 * A patched rhythm is read as counts within MAX_EXCURSIONS, flags of 0 or 1 and rates within [0, 1].
 */
function unpackSensor(text: unknown): SensorNumbers | undefined {
  if (typeof text !== 'string') return undefined;
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.length !== SENSOR_BYTES && bytes.length !== SENSOR_NUMBERS * 8) return undefined;
  const x = readNumbers(bytes, SENSOR_NUMBERS);
  if (!x) return undefined;
  const out: SensorNumbers = { n: x[0]!, m: x[1]!, s: x[2]!, dm: x[3]!, ds: x[4]!, f: x[5]!, g: boundedSlope(x[6]!), l: x[7]!, r: x[8]!, x: x[9]!, o: storedDeviation(x[10]), ...NO_RHYTHM };
  if (bytes.length === SENSOR_BYTES) {
    const at = SENSOR_NUMBERS * 8;
    const count = (v: number) => storedCount(v, MAX_EXCURSIONS);
    const rate = (v: number) => (v >= 0 && v <= 1 ? v : 0);
    const flags = bytes.readUInt8(at + 12);
    Object.assign(out, { eg: count(bytes.readUInt32LE(at)), el: count(bytes.readUInt32LE(at + 4)), ec: count(bytes.readUInt32LE(at + 8)), ei: flags & 1, eb: (flags >> 1) & 1, ef: rate(bytes.readFloatLE(at + 13)), es: rate(bytes.readFloatLE(at + 17)) });
  }
  return out;
}

/** A sensor's excursion rhythm before it has seen anything. */
const NO_RHYTHM = Object.freeze({ eg: 0, el: 0, ec: 0, ei: 0, ef: 0, es: 0, eb: 0 });

/**
 * Parts a stored state may leave out to fit, in order; each is relearnt by whoever revives it. The
 * pairs that hold no evidence go first, then the daily profiles one by one (the largest part: about
 * 375 characters a sensor), then every pair, then the pattern memories.
 */
type Shed = 'nothing' | 'uncorrelated pairs' | 'uncorrelated pairs and some daily profiles' | 'uncorrelated pairs and daily profiles' | 'pairs and daily profiles' | 'pairs, daily profiles and pattern memories';
const SHEDS: readonly Shed[] = ['nothing', 'uncorrelated pairs', 'uncorrelated pairs and daily profiles', 'pairs and daily profiles', 'pairs, daily profiles and pattern memories'];

/** `keepDaily`: at shed level 2, the sensors whose daily profiles are kept all the same. */
function storedJson(state: DetectorState, shed: number, minCorrelation: number, keepDaily?: ReadonlySet<string>): string {
  const s: Record<string, unknown> = {};
  for (const name in state.s) {
    const sensor = state.s[name]!;
    const numbers = packSensor(sensor);
    // [numbers, pattern memory, daily profile], the later parts left out as the state sheds them.
    const daily = shed < 2 || (shed === 2 && keepDaily?.has(name) === true);
    defineOwn(s, name, shed >= 4 ? [numbers] : daily ? [numbers, sensor.q, sensor.y] : [numbers, sensor.q]);
  }
  const p: Record<string, unknown> = {};
  if (shed < 3) {
    for (const key in state.p) {
      const pair = state.p[key]!;
      // A pair not (yet) moving together holds no evidence: left out, it is learnt again from zero.
      if (shed >= 1 && !(pair.aa > 0 && pair.bb > 0 && Math.abs(pair.ab) >= minCorrelation * Math.sqrt(pair.aa * pair.bb))) continue;
      defineOwn(p, key, packNumbers([pair.ab, pair.aa, pair.bb, pair.r, pair.n]));
    }
  }
  const h = state.h;
  return JSON.stringify({ version: 4, z: packNumbers([state.t, h.e, h.m, h.v, h.n, state.u, state.a, state.an, state.k, state.d, state.w, state.y, state.su, state.sl, state.iv, state.ut, state.uv]), s, p });
}

/**
 * The state as a twin stores it (JSON, read back by reviveDetectorState), within ADT's 4 KB: the
 * whole state when it fits, else without the pairs that do not move together, then without the
 * daily profiles one by one (of the sensors the day moves least first), then without any pair, then
 * without the pattern memories too; undefined when even the sensors' baselines do not fit (the twin
 * then keeps its older state, and this instance its own).
 */
export function storeDetectorState(state: DetectorState, minCorrelation = DEFAULT_DETECTOR_SETTINGS.minCorrelation, maxBytes = MAX_STORED_STATE_BYTES): { json: string; shed: Shed } | undefined {
  for (let i = 0; i < SHEDS.length; i++) {
    if (i === 2) {
      // Before every daily profile goes, as many as fit, those of the sensors the day moves most first.
      const amplitude = new Map(Object.keys(state.s).map((name) => [name, state.s[name]!.y.amplitude()]));
      const ranked = [...amplitude.keys()].sort((a, b) => amplitude.get(b)! - amplitude.get(a)! || (a < b ? -1 : a > b ? 1 : 0));
      for (let keep = ranked.length - 1; keep > 0; keep--) {
        const json = storedJson(state, 2, minCorrelation, new Set(ranked.slice(0, keep)));
        if (fitsBytes(json, maxBytes)) return { json, shed: 'uncorrelated pairs and some daily profiles' };
      }
    }
    const json = storedJson(state, i, minCorrelation);
    // Sensor names may be any text: measured in UTF-8, as ADT measures it.
    if (fitsBytes(json, maxBytes)) return { json, shed: SHEDS[i]! };
  }
  return undefined;
}

/** A state stored by storeDetectorState (version 4): numbers packed, sensors as [numbers, pattern memory?, daily profile?]. */
function revivePacked(value: Record<string, unknown>, fresh: DetectorState): DetectorState {
  // Seventeen numbers; fifteen before messages were timed, twelve before start-ups were learnt, eleven before the daily profile's refractory level was kept, ten before the hold-off was (none then).
  const top = unpackNumbers(value.z, 17) ?? unpackNumbers(value.z, 15) ?? unpackNumbers(value.z, 12) ?? unpackNumbers(value.z, 11) ?? unpackNumbers(value.z, 10);
  if (!top || !isRecord(value.s) || !isRecord(value.p)) return fresh;
  // When the last message ended is a reading's time, never after the newest: a twin patched to say otherwise would stop its messages being timed.
  const [t, e, m, v, n, u, a, an, k, d, w = 0, y = 0, su = 0, sl = 0, iv = 0, ut = 0, uv = 0] = top as [number, number, number, number, number, number, number, number, number, number, number?, number?, number?, number?, number?, number?, number?];
  const out: DetectorState = { version: 3, t, rt: t, s: dict(), p: dict(), h: { e, m, v, n }, u, y: storedDeviation(y), a, an, w: storedCount(w, MAX_HOLD_OFF), k, d: storedDeviation(d), su: storedCount(su, MAX_EXCURSIONS), sl: storedCount(sl, MAX_EXCURSIONS), iv: Math.max(0, iv), ut: Math.min(ut, t), uv: Math.max(0, uv) };
  for (const name of Object.keys(value.s)) {
    const entry = value.s[name];
    // [numbers], [numbers, pattern memory] or [numbers, pattern memory, daily profile]: an entry without numbers fails to unpack below.
    if (!Array.isArray(entry) || entry.length > 3) return fresh;
    const x = unpackSensor(entry[0]);
    const q = entry.length >= 2 ? PatternMemory.revive(entry[1]) : new PatternMemory();
    const dy = entry.length === 3 ? DailyProfile.unpack(entry[2]) : new DailyProfile();
    if (!x || !q || !dy) return fresh;
    out.s[name] = { ...x, q, y: dy };
  }
  for (const key of Object.keys(value.p)) {
    // Five numbers; three before the pair's residual and count were kept (then learnt with its sensors, so taken as learnt).
    const x = unpackNumbers(value.p[key], 5) ?? unpackNumbers(value.p[key], 3);
    if (!x) return fresh;
    out.p[key] = { ab: x[0]!, aa: x[1]!, bb: x[2]!, r: storedDeviation(x[3]), n: x.length === 5 ? Math.max(0, x[4]!) : LEARNT_PAIR };
  }
  return out;
}

/** Where the usual intervals between readings (`iv`) and between messages (`uv`) are among a stored state's packed numbers (storedJson's order). */
const Z_READING_INTERVAL = 14;
const Z_MESSAGE_INTERVAL = 16;

/**
 * How often a state stored on a twin says its device is usually heard from (ms): the usual interval
 * between its readings or between its messages, whichever is longer (a logger uploading arrays of
 * readings is heard from once an upload). Read without reviving the rest (the communication watch
 * asks it of every twin it finds quiet); 0 when the text is no stored state or holds none (a state
 * stored before start-ups were learnt, or after one reading).
 */
export function storedUsualIntervalMs(text: unknown): number {
  if (typeof text !== 'string') return 0;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 0;
  }
  if (!isRecord(value) || value.version !== 4) return 0;
  const top = unpackNumbers(value.z, 17) ?? unpackNumbers(value.z, 15);
  const usual = top ? Math.max(top[Z_READING_INTERVAL]!, top[Z_MESSAGE_INTERVAL] ?? 0) : 0;
  return usual > 0 ? usual : 0;
}

/**
 * Reads a stored state, or starts afresh when it is missing, from another version or malformed.
 * Stored state comes from a twin anyone may patch: it is rebuilt from its own numeric fields
 * into fresh objects, never trusted as is. Versions 2 and 3 (plain JSON of the state) are read too.
 */
export function reviveDetectorState(value: unknown): DetectorState {
  const fresh = emptyDetectorState();
  if (isRecord(value) && value.version === 4) return revivePacked(value, fresh);
  // Version 2 had no pattern memory: its baselines carry on, the memory starts empty.
  const version = isRecord(value) ? value.version : undefined;
  if (!isRecord(value) || (version !== 2 && version !== 3) || !storable(value.t) || !isRecord(value.s) || !isRecord(value.p) || !isRecord(value.h) || !storable(value.u) || !storable(value.k)) return fresh;
  const h = value.h;
  if (!storable(h.e) || !storable(h.m) || !storable(h.v) || !storable(h.n)) return fresh;
  const v3 = version === 3;
  if (v3 && (!storable(value.a) || !storable(value.an))) return fresh;
  // A state stored before the equipment deviation existed starts it at 0; a patched one is capped,
  // so it cannot hold the equipment flagged for more than a couple of hundred readings.
  const d = v3 ? storedDeviation(value.d) : 0;
  const out: DetectorState = { version: 3, t: value.t, rt: value.t, s: dict(), p: dict(), h: { e: h.e, m: h.m, v: h.v, n: h.n }, u: v3 ? value.u : 0, y: 0, a: v3 ? (value.a as number) : 0, an: v3 ? (value.an as number) : 0, w: 0, k: value.k, d, su: 0, sl: 0, iv: 0, ut: 0, uv: 0 };
  for (const name of Object.keys(value.s)) {
    const s = value.s[name];
    if (!isRecord(s) || !SENSOR_KEYS.every((k) => storable(s[k]))) return fresh;
    const q = v3 ? PatternMemory.revive(s.q) : new PatternMemory();
    if (!q) return fresh;
    out.s[name] = { n: s.n, m: s.m, s: s.s, dm: s.dm, ds: s.ds, f: s.f, g: boundedSlope(s.g as number), l: s.l, r: s.r, x: s.x, o: storedDeviation(s.o), ...NO_RHYTHM, q, y: new DailyProfile() } as SensorState;
  }
  for (const key of Object.keys(value.p)) {
    const p = value.p[key];
    if (!isRecord(p) || !storable(p.ab) || !storable(p.aa) || !storable(p.bb)) return fresh;
    out.p[key] = { ab: p.ab, aa: p.aa, bb: p.bb, r: 0, n: LEARNT_PAIR };
  }
  return out;
}
