/**
 * Pattern memory: what a sensor's recent shape looks like against the shapes it has shown before.
 *
 * Readings are averaged in blocks of `block`; the last `length` block values, scaled to the range
 * of block values seen so far, form the current pattern. The memory holds a few dozen prototype
 * patterns (categories, as in adaptive resonance): the nearest one (mean absolute difference) that
 * is within `vigilance` resonates and learns a little toward the pattern; otherwise the pattern
 * becomes a new category, replacing the one matched longest ago when the memory is full. Novelty is
 * the distance to the nearest category, or how far a block went past the range seen, whichever is
 * larger: a shape never seen before, or a value beyond every earlier one, is novel; a shape that
 * recurs (a daily cycle, a batch rhythm) stops being novel once it has been seen.
 *
 * Its JSON is five numbers and three short strings: coordinates are in [0, 1], written as three
 * base64url characters each (18 bits), and learning rounds to that grid, so a memory read back from
 * its JSON continues exactly as the one that wrote it. In memory it is arrays of numbers: the hot
 * path never touches the strings.
 */

export interface PatternSettings {
  /** Readings averaged into one block. */
  block: number;
  /** Blocks in a pattern. */
  length: number;
  /** Mean absolute difference (in units of the range seen) within which a pattern matches a category. */
  vigilance: number;
  /** How far a matching category moves toward the pattern (at least 1 / times it matched). */
  learning: number;
}

/** A pattern memory as stored on the twin; short keys because it is stored for every sensor. */
export interface PatternJson {
  /** Readings in the open block, and their sum. */
  c: number;
  b: number;
  /** Blocks completed. */
  j: number;
  /** Range of the block values seen. */
  lo: number;
  hi: number;
  /** The last `length` block values scaled to [lo, hi], encoded. */
  w: string;
  /** Categories, each `length` coordinates, the one matched longest ago first, encoded. */
  k: string;
  /** Times each category matched, one character each (at most 63). */
  n: string;
}

const MAX_HITS = 63;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const DIGIT = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DIGIT[ALPHABET.charCodeAt(i)] = i;
const GRID = 64 ** 3 - 1;
/** Characters per coordinate. */
const WIDTH = 3;

const snap = (x: number) => Math.round((x < 0 ? 0 : x > 1 ? 1 : x) * GRID) / GRID;
/** The middle of the range, on the grid: a plain 0.5 is not (the grid has an odd number of steps), so a constant sensor's patterns changed when read back. */
const MIDDLE = snap(0.5);

function encode(values: readonly number[]): string {
  let out = '';
  for (const x of values) {
    const q = Math.round(x * GRID);
    out += ALPHABET[q >> 12]! + ALPHABET[(q >> 6) & 63]! + ALPHABET[q & 63]!;
  }
  return out;
}

/** Decodes `text`, or returns undefined when it is not a whole number of valid coordinates. */
function decode(text: string): number[] | undefined {
  if (text.length % WIDTH !== 0) return undefined;
  const out: number[] = [];
  for (let i = 0; i < text.length; i += WIDTH) {
    const a = DIGIT[text.charCodeAt(i)] ?? -1;
    const b = DIGIT[text.charCodeAt(i + 1)] ?? -1;
    const c = DIGIT[text.charCodeAt(i + 2)] ?? -1;
    if (a < 0 || b < 0 || c < 0) return undefined;
    out.push(((a << 12) | (b << 6) | c) / GRID);
  }
  return out;
}

/** The largest reading a detector learns from (a petabyte counter fits); one beyond it is judged, never learnt. */
export const MAX_LEARNT = 1e15;

/**
 * The largest magnitude a detector state holds: a stored number beyond it is refused, so a patched
 * state cannot push the arithmetic past what doubles hold. A hundred times `MAX_LEARNT`, since a
 * spread or a level learnt from readings within it can overshoot them (a jump of 2e15 is a spread
 * of 2.5e15): at the same bound, a state that had learnt a reading of 1e15 was refused when read
 * back, and its learning lost.
 */
export const MAX_STORED = 100 * MAX_LEARNT;

/** A number a detector state could hold: finite and within MAX_STORED. */
export const storable = (x: unknown): x is number => typeof x === 'number' && Math.abs(x) <= MAX_STORED;

/** Far beyond any clip in use: what a stored distance (a sensor's, a pair's, the equipment's, a daily profile's) is capped at. */
export const MAX_DEVIATION = 100;

export class PatternMemory {
  /** Readings in the open block, and their sum. */
  c = 0;
  b = 0;
  /** Blocks completed. */
  j = 0;
  /** Range of the block values seen. */
  lo = 0;
  hi = 0;
  /** The last `length` block values scaled to [lo, hi]. */
  window: number[] = [];
  /** Categories, `length` coordinates each, flat, the one matched longest ago first. */
  protos: number[] = [];
  /** Times each category matched (at most 63). */
  hits: number[] = [];

  toJSON(): PatternJson {
    return { c: this.c, b: this.b, j: this.j, lo: this.lo, hi: this.hi, w: encode(this.window), k: encode(this.protos), n: this.hits.map((h) => ALPHABET[h]!).join('') };
  }

  /** A copy, written into `into` when given (its arrays reused: nothing allocated once they are big enough). */
  clone(into = new PatternMemory()): PatternMemory {
    into.c = this.c;
    into.b = this.b;
    into.j = this.j;
    into.lo = this.lo;
    into.hi = this.hi;
    copyArray(this.window, into.window);
    copyArray(this.protos, into.protos);
    copyArray(this.hits, into.hits);
    return into;
  }

  /**
   * Reads a stored memory (a twin anyone may patch carries it) into a fresh object, or returns
   * undefined when any part of it is malformed.
   */
  static revive(value: unknown): PatternMemory | undefined {
    if (typeof value !== 'object' || value === null) return undefined;
    const { c, b, j, lo, hi, w, k, n } = value as Record<string, unknown>;
    if (!storable(c) || !storable(b) || !storable(j) || !storable(lo) || !storable(hi) || typeof w !== 'string' || typeof k !== 'string' || typeof n !== 'string') return undefined;
    const window = decode(w);
    const protos = decode(k);
    const hits = Array.from(n, (ch) => DIGIT[ch.charCodeAt(0)] ?? -1);
    if (!window || !protos || hits.some((h) => h < 1) || c < 0 || j < 0 || hi < lo) return undefined;
    // Every category has the same number of coordinates, and the window no more than that.
    if (hits.length === 0 ? protos.length > 0 : protos.length % hits.length !== 0 || window.length > protos.length / hits.length) return undefined;
    const out = new PatternMemory();
    Object.assign(out, { c, b, j, lo, hi, window, protos, hits });
    return out;
  }

  /**
   * Adds a reading. Returns -1 until the reading completes a block; then the novelty of the
   * newest pattern (0 = seen before; 1 = nothing to compare with yet) before it is learnt.
   * `capacity` is the number of categories kept.
   */
  observe(x: number, capacity: number, cfg: PatternSettings): number {
    this.b += x;
    this.c++;
    if (this.c < cfg.block) return -1;
    const value = this.b / this.c;
    this.b = 0;
    this.c = 0;
    this.j++;
    const D = cfg.length;
    // Stored under other settings: start the categories afresh.
    if (this.protos.length !== this.hits.length * D || this.window.length > D) this.protos.length = this.hits.length = this.window.length = 0;
    if (this.j === 1) this.lo = this.hi = value;
    const oldLo = this.lo;
    const oldRange = this.hi - oldLo;
    // A block beyond every earlier one is novel in itself, by how far it went.
    const beyond = oldRange > 0 ? Math.max(0, (value - this.hi) / oldRange, (oldLo - value) / oldRange) : 0;
    if (value < this.lo) this.lo = value;
    if (value > this.hi) this.hi = value;
    const range = this.hi - this.lo;
    const protos = this.protos;
    const v = this.window;
    if (oldRange > 0 && range !== oldRange) {
      // The range grew: what was stored in the old range moves to its place in the new one.
      const scale = oldRange / range;
      const shift = (oldLo - this.lo) / range;
      for (let i = 0; i < protos.length; i++) protos[i] = snap(protos[i]! * scale + shift);
      for (let i = 0; i < v.length; i++) v[i] = snap(v[i]! * scale + shift);
    }
    const scaled = range > 0 ? snap((value - this.lo) / range) : MIDDLE;
    if (v.length < D) {
      v.push(scaled);
      if (v.length < D) return 0;
    } else {
      // Moved by hand: shift() trims the array's storage, so the next push allocated it again.
      for (let i = 1; i < D; i++) v[i - 1] = v[i]!;
      v[D - 1] = scaled;
    }
    // The nearest category (sum of absolute differences, stopping early once it cannot win).
    const count = this.hits.length;
    let sumBest = Infinity;
    let bi = -1;
    for (let k = 0; k < count; k++) {
      let sum = 0;
      const at = k * D;
      for (let i = 0; i < D && sum < sumBest; i++) sum += Math.abs(v[i]! - protos[at + i]!);
      if (sum < sumBest) {
        sumBest = sum;
        bi = k;
      }
    }
    const best = bi < 0 ? 1 : sumBest / D;
    if (bi >= 0 && best <= cfg.vigilance) {
      // Resonance: the category learns, and becomes the most recently matched (moves to the end).
      const hits = Math.min(MAX_HITS, this.hits[bi]! + 1);
      const rate = Math.max(cfg.learning, 1 / hits);
      const at = bi * D;
      const last = protos.length - D;
      for (let i = 0; i < D; i++) scratch[i] = snap(protos[at + i]! + rate * (v[i]! - protos[at + i]!));
      // Plain loops, not copyWithin or splice: those builtins box every number they move.
      for (let i = at; i < last; i++) protos[i] = protos[i + D]!;
      for (let i = 0; i < D; i++) protos[last + i] = scratch[i]!;
      const h = this.hits;
      for (let k = bi; k < count - 1; k++) h[k] = h[k + 1]!;
      h[count - 1] = hits;
    } else {
      // A new category; the memory forgets the category matched longest ago when it is full.
      const keep = Math.max(1, capacity) - 1;
      const drop = count > keep ? count - keep : 0;
      const h = this.hits;
      if (drop > 0) {
        const from = drop * D;
        for (let i = from; i < protos.length; i++) protos[i - from] = protos[i]!;
        for (let k = drop; k < count; k++) h[k - drop] = h[k]!;
      }
      const at = (count - drop) * D;
      for (let i = 0; i < D; i++) protos[at + i] = v[i]!;
      h[count - drop] = 1;
      // Shorter only when more than one category went (setting a length costs even when it does not change).
      if (protos.length > at + D) protos.length = at + D;
      if (h.length > count - drop + 1) h.length = count - drop + 1;
    }
    // Capped: a block a million ranges out (a stray 1e15 on a sensor that reads 65) was a novelty of
    // 1e30, which the refractory level then held for tens of thousands of readings (and a stored state cannot).
    return Math.min(MAX_DEVIATION, Math.max(best, beyond));
  }
}

const scratch: number[] = [];

function copyArray(from: readonly number[], to: number[]): void {
  // Setting an array's length goes through the runtime even when it does not change.
  if (to.length > from.length) to.length = from.length;
  for (let i = 0; i < from.length; i++) to[i] = from[i]!;
}
