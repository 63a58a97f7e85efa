import { describe, expect, it } from 'vitest';
import { BoundedSet, forEachLimited } from '../../src/lib/bounded-set.ts';

describe('recent-message memory', () => {
  it('remembers at least the newest half of its capacity and never grows past it', () => {
    const set = new BoundedSet<number>(100);
    for (let i = 0; i < 1_000; i++) set.add(i);
    expect(set.size).toBeLessThanOrEqual(100);
    for (let i = 950; i < 1_000; i++) expect(set.has(i)).toBe(true);
    expect(set.has(0)).toBe(false);
  });
});

describe('bounded concurrency', () => {
  it('never runs more tasks at once than its limit and runs them all', async () => {
    let running = 0;
    let peak = 0;
    const done: number[] = [];
    await forEachLimited([...Array(20).keys()], 3, async (i) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 1));
      running--;
      done.push(i);
    });
    expect(peak).toBe(3);
    expect(done.sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
  });
});
