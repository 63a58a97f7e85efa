/**
 * An instance trusts what it knows of a twin only while it has seen every event of the device's
 * partition since it last checked the twin.
 */
import { describe, expect, it } from 'vitest';
import { PartitionGaps } from '../../src/lib/telemetry/partition-gaps.ts';

const meta = (partition: string, first: number, count: number) => ({ partitionContext: { PartitionId: partition }, sequenceNumberArray: Array.from({ length: count }, (_, i) => String(first + i)) });

describe('partition gaps', () => {
  it('trust a twin checked while the partition has been read without a gap', () => {
    const gaps = new PartitionGaps();
    expect(gaps.suspect('arm-1')).toBe(true); // never checked
    gaps.begin(meta('0', 0, 10));
    gaps.check('arm-1');
    gaps.end(meta('0', 0, 10));
    gaps.begin(meta('0', 10, 5));
    expect(gaps.suspect('arm-1')).toBe(false);
    gaps.end(meta('0', 10, 5));
    // Another partition's next batch follows on from its own last one, unseen here: a first batch.
    gaps.begin(meta('1', 40, 5));
    expect(gaps.suspect('arm-1')).toBe(true);
  });

  it('doubt every twin once events of a partition went elsewhere, until it is checked again', () => {
    const gaps = new PartitionGaps();
    gaps.begin(meta('0', 0, 10));
    gaps.check('arm-1');
    gaps.check('arm-2');
    gaps.end(meta('0', 0, 10));
    gaps.begin(meta('0', 25, 10));
    expect([gaps.suspect('arm-1'), gaps.suspect('arm-2')]).toEqual([true, true]);
    gaps.check('arm-1');
    expect([gaps.suspect('arm-1'), gaps.suspect('arm-2')]).toEqual([false, true]);
  });

  it('doubt again when a batch failed and comes back, and when a batch does not say where it is', () => {
    const gaps = new PartitionGaps();
    gaps.begin(meta('0', 0, 10));
    gaps.check('arm-1');
    gaps.end(meta('0', 0, 10));
    gaps.begin(meta('0', 10, 10)); // fails: no end
    gaps.check('arm-1');
    gaps.begin(meta('0', 10, 10)); // the host's retry follows on from the last success
    expect(gaps.suspect('arm-1')).toBe(false);
    gaps.end(meta('0', 10, 10));
    gaps.begin({ partitionContext: { PartitionId: '0' } });
    expect(gaps.suspect('arm-1')).toBe(true);
  });
});
