/**
 * An instance trusts what it knows of a twin only while it has seen every event of the device's
 * partition since it last checked the twin.
 */
import { describe, expect, it } from 'vitest';
import { PartitionGaps } from '../../src/lib/telemetry/partition-gaps.ts';

const meta = (partition: string, first: number, count: number) => ({ partitionContext: { PartitionId: partition }, sequenceNumberArray: Array.from({ length: count }, (_, i) => String(first + i)) });

describe('partition gaps', () => {
  it('trust a twin checked while its partition has been read without a gap', () => {
    const gaps = new PartitionGaps();
    expect(gaps.suspect('arm-1', '0')).toBe(true); // never checked
    expect(gaps.begin(meta('0', 0, 10))).toBe('0');
    gaps.check('arm-1', '0');
    gaps.end(meta('0', 0, 10));
    gaps.begin(meta('0', 10, 5));
    expect(gaps.suspect('arm-1', '0')).toBe(false);
    gaps.end(meta('0', 10, 5));
    // Another partition's first batch here is a gap of that partition only.
    gaps.begin(meta('1', 40, 5));
    gaps.begin(meta('0', 15, 5));
    expect(gaps.suspect('arm-1', '0')).toBe(false);
    // The device's events arriving through another partition: nothing known there.
    expect(gaps.suspect('arm-1', '1')).toBe(true);
  });

  it('doubt every twin of a partition once its events went elsewhere, until each is checked again', () => {
    const gaps = new PartitionGaps();
    gaps.begin(meta('0', 0, 10));
    gaps.check('arm-1', '0');
    gaps.check('arm-2', '0');
    gaps.end(meta('0', 0, 10));
    gaps.begin(meta('0', 25, 10));
    expect([gaps.suspect('arm-1', '0'), gaps.suspect('arm-2', '0')]).toEqual([true, true]);
    gaps.check('arm-1', '0');
    expect([gaps.suspect('arm-1', '0'), gaps.suspect('arm-2', '0')]).toEqual([false, true]);
  });

  it('trust the retry of a failed batch, and doubt a batch that does not say where it is', () => {
    const gaps = new PartitionGaps();
    gaps.begin(meta('0', 0, 10));
    gaps.check('arm-1', '0');
    gaps.end(meta('0', 0, 10));
    gaps.begin(meta('0', 10, 10)); // fails: no end
    gaps.begin(meta('0', 10, 10)); // the host's retry follows on from the last success
    expect(gaps.suspect('arm-1', '0')).toBe(false);
    gaps.end(meta('0', 10, 10));
    const unplaced = gaps.begin({});
    gaps.check('arm-2', unplaced);
    expect(gaps.suspect('arm-2', unplaced)).toBe(false);
    gaps.end({});
    expect(gaps.suspect('arm-2', gaps.begin({}))).toBe(true);
    // A partition without sequence numbers, or numbers that are none, is no better placed.
    for (const odd of [{ partitionContext: { PartitionId: '0' } }, { partitionContext: { PartitionId: '0' }, sequenceNumberArray: ['x', 'y'] }, { sequenceNumberArray: [20, 21] }]) {
      const partition = gaps.begin(odd);
      gaps.check('arm-3', partition);
      gaps.end(odd);
      expect(gaps.suspect('arm-3', gaps.begin(odd))).toBe(true);
    }
    // Numbers without a partition: even numbers that follow on place nothing.
    gaps.check('arm-4', gaps.begin({ sequenceNumberArray: [30, 31] }));
    gaps.end({ sequenceNumberArray: [30, 31] });
    expect(gaps.suspect('arm-4', gaps.begin({ sequenceNumberArray: [32, 33] }))).toBe(true);
  });

  it('remember many devices at once, and at most 200,000 of them', () => {
    const gaps = new PartitionGaps();
    gaps.begin(meta('0', 0, 1));
    for (let i = 0; i < 200_000; i++) gaps.check(`arm-${i}`, '0');
    expect([gaps.suspect('arm-0', '0'), gaps.suspect('arm-199999', '0')]).toEqual([false, false]);
    gaps.check('arm-199999', '0'); // known: nothing forgotten
    expect(gaps.suspect('arm-0', '0')).toBe(false);
    gaps.check('arm-new', '0'); // one more: the others are forgotten, so doubted
    expect([gaps.suspect('arm-0', '0'), gaps.suspect('arm-new', '0')]).toEqual([true, false]);
  });
});
