/**
 * The pattern memory on its own: a shape it has seen stops being novel, a new shape within the
 * usual range is novel, a value beyond every earlier one is novel by how far it went, its memory
 * is bounded, and its JSON continues exactly and refuses anything malformed.
 */
import { describe, expect, it } from 'vitest';
import { PatternMemory, type PatternSettings } from '../../src/lib/anomaly/pattern-memory.ts';
import { rng } from '../../src/simulator/scenarios.ts';

const settings: PatternSettings = { block: 2, length: 4, vigilance: 0.1, learning: 0.01 };

/** Feeds `values` and returns the novelty of each completed block. */
function feed(memory: PatternMemory, values: readonly number[], capacity = 32): number[] {
  const out: number[] = [];
  for (const x of values) {
    const n = memory.observe(x, capacity, settings);
    if (n >= 0) out.push(n);
  }
  return out;
}

/** Uniform noise in [0, 10) from a seeded stream: nearly every pattern of it is new. */
const noise = (seed: number) => {
  const random = rng(seed);
  return (count: number) => Array.from({ length: count }, () => random() * 10);
};

/** A cycle of `period` readings: up for half, down for half (a batch rhythm). */
const cycle = (period: number, count: number, low = 0, high = 10) => Array.from({ length: count }, (_, i) => (i % period < period / 2 ? high : low));

describe('the pattern memory', () => {
  it('finds a rhythm novel the first time only: once seen, its cycles match what it remembers', () => {
    const memory = new PatternMemory();
    const novelty = feed(memory, cycle(16, 16 * 40));
    const firstCycles = novelty.slice(4, 16);
    const laterCycles = novelty.slice(-40);
    expect(Math.max(...firstCycles)).toBeGreaterThan(0.2);
    expect(Math.max(...laterCycles)).toBeLessThan(0.02);
  });

  it('finds a new shape novel though every value stays within the range it knows', () => {
    const memory = new PatternMemory();
    feed(memory, cycle(16, 16 * 40));
    // The same two levels, twice as fast: a shape it has never seen.
    const faster = feed(memory, cycle(8, 8 * 4));
    expect(Math.max(...faster)).toBeGreaterThan(0.2);
  });

  it('finds a value beyond every earlier one novel by how far it went', () => {
    const beyond = (size: number) => {
      const memory = new PatternMemory();
      feed(memory, cycle(16, 16 * 20));
      return Math.max(...feed(memory, [10 + size, 10 + size]));
    };
    expect(beyond(2)).toBeGreaterThan(0.1);
    expect(beyond(20)).toBeGreaterThan(beyond(5));
    expect(beyond(5)).toBeGreaterThan(beyond(2));
  });

  it('keeps at most `capacity` categories, forgetting the one matched longest ago', () => {
    const memory = new PatternMemory();
    feed(memory, noise(1)(4000), 6);
    expect(memory.hits).toHaveLength(6);
    expect(memory.protos).toHaveLength(6 * settings.length);
    expect(JSON.stringify(memory).length).toBeLessThan(200);
  });

  it('gives up its oldest categories at once when its share shrinks (a sensor joined), keeping those matched last', () => {
    const memory = new PatternMemory();
    const values = noise(3);
    feed(memory, values(400), 12);
    expect(memory.hits).toHaveLength(12);
    const newest = memory.protos.slice(-2 * settings.length);
    // One more block of noise under a share of 3: the two matched last and the new one remain.
    feed(memory, values(2), 3);
    expect(memory.hits).toHaveLength(3);
    expect(memory.protos).toHaveLength(3 * settings.length);
    expect(memory.protos.slice(0, 2 * settings.length)).toEqual(newest);
    expect(PatternMemory.revive(JSON.parse(JSON.stringify(memory)))).toEqual(memory);
  });

  it('copies itself into another memory, longer or shorter, which then holds exactly the same', () => {
    const small = new PatternMemory();
    feed(small, cycle(16, 64), 4);
    const big = new PatternMemory();
    feed(big, noise(5)(400), 12);
    expect(JSON.stringify(small.clone(big))).toBe(JSON.stringify(small));
    expect(JSON.stringify(big.clone(new PatternMemory()))).toBe(JSON.stringify(small));
  });

  it('continues from its JSON exactly as if it had never stopped', () => {
    const values = [...cycle(16, 16 * 10), ...cycle(10, 10 * 10, 2, 7), ...cycle(16, 16 * 5)];
    const straight = feed(new PatternMemory(), values, 8);
    const memory = new PatternMemory();
    const before = feed(memory, values.slice(0, 201), 8);
    const moved = PatternMemory.revive(JSON.parse(JSON.stringify(memory)))!;
    const after = feed(moved, values.slice(201), 8);
    expect([...before, ...after]).toEqual(straight);
  });

  it('continues exactly from the JSON of a sensor that read one value before it moved', () => {
    // Its first patterns sit in the middle of a range of nothing; the middle must be a value the JSON holds exactly.
    const values = [...Array.from({ length: 40 }, () => 12), ...noise(5)(200)];
    const straight = feed(new PatternMemory(), values);
    const memory = new PatternMemory();
    const before = feed(memory, values.slice(0, 30));
    const moved = PatternMemory.revive(JSON.parse(JSON.stringify(memory)))!;
    expect([...before, ...feed(moved, values.slice(30))]).toEqual(straight);
  });

  it('refuses a stored memory that is malformed', () => {
    const memory = new PatternMemory();
    feed(memory, cycle(16, 200));
    const good = JSON.parse(JSON.stringify(memory)) as Record<string, unknown>;
    expect(PatternMemory.revive(good)).toBeInstanceOf(PatternMemory);
    for (const bad of [
      { ...good, k: `${String(good.k)}A` }, // not whole coordinates
      { ...good, k: String(good.k).replace(/^./, '*') }, // not base64url
      { ...good, n: `${String(good.n)}B` }, // more counts than categories
      { ...good, n: String(good.n).replace(/^./, 'A') }, // a category matched zero times
      { ...good, hi: Number(good.lo) - 1 },
      { ...good, j: -1 },
      { ...good, c: 'two' },
      null,
      'k',
    ]) expect(PatternMemory.revive(bad)).toBeUndefined();
  });
});
