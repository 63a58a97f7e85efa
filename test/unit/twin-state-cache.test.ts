/**
 * Where the pipeline learns each twin's state: cached between batches, one query for those it
 * does not know, and read by id, as it is now, where it may have changed behind its back.
 */
import { describe, expect, it } from 'vitest';
import { TwinStateCache } from '../../src/lib/twins/twin-state-cache.ts';
import { InMemoryTwins } from '../support/in-memory-twins.ts';
import { ARM } from '../support/plant.ts';

describe('the twin state cache', () => {
  it('answers from memory, and reads by id the twins it is told may have changed', async () => {
    const twins = new InMemoryTwins(false);
    twins.add('arm-1', ARM, { status: 'running' });
    twins.add('arm-2', ARM, { status: 'running' });
    const cache = new TwinStateCache(twins);
    expect([...(await cache.resolve(['arm-1', 'arm-2'])).keys()]).toEqual(['arm-1', 'arm-2']);
    expect(twins.reads).toBe(0); // one query
    await twins.patch('arm-1', [{ op: 'replace', path: '/status', value: 'stopped' }]);
    expect((await cache.resolve(['arm-1'])).get('arm-1')!.status).toBe('running'); // cached
    const fresh = await cache.resolve(['arm-1', 'arm-2'], (id) => id === 'arm-1');
    expect([fresh.get('arm-1')!.status, fresh.get('arm-2')!.status]).toEqual(['stopped', 'running']);
    expect(twins.reads).toBe(1);
    expect((await cache.resolve(['arm-1'])).get('arm-1')!.status).toBe('stopped'); // and remembered
  });

  it('forgets a twin deleted meanwhile, and does not ask for it again for a minute', async () => {
    const twins = new InMemoryTwins(false);
    twins.add('arm-1', ARM);
    let now = 0;
    const cache = new TwinStateCache(twins, () => now);
    await cache.resolve(['arm-1']);
    twins.twins.delete('arm-1');
    expect((await cache.resolve(['arm-1'], () => true)).has('arm-1')).toBe(false);
    const reads = twins.reads;
    expect((await cache.resolve(['arm-1'], () => true)).has('arm-1')).toBe(false);
    expect(twins.reads).toBe(reads);
    now += 61_000;
    await cache.resolve(['arm-1'], () => true);
    expect(twins.reads).toBe(reads + 1);
  });
});
