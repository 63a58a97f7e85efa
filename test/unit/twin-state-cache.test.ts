/**
 * Where the pipeline learns each twin's state: cached between batches, one query for those it
 * does not know, and read by id, as it is now, where it may have changed behind its back.
 */
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/lib/errors.ts';
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
    await twins.patch('arm-2', [{ op: 'replace', path: '/status', value: 'maintenance' }]);
    await cache.reload('arm-2'); // after a 412
    twins.failNext.getStates = [new AppError('twin.unavailable', 'no query expected: the re-read twin is remembered')];
    expect((await cache.resolve(['arm-2'])).get('arm-2')!.status).toBe('maintenance');
  });

  it('holds at most 200,000 twins: one more and it starts afresh', async () => {
    const twins = new InMemoryTwins(false);
    const cache = new TwinStateCache(twins);
    const state = (id: string) => ({ id, modelId: ARM, etag: undefined, lastTelemetryTime: undefined, status: undefined, healthStatus: undefined, lastAlertTime: undefined });
    for (let i = 0; i < 200_000; i++) cache.remember(state(`arm-${i}`));
    cache.remember(state('arm-0')); // known: nothing forgotten
    expect((await cache.resolve(['arm-199999'])).has('arm-199999')).toBe(true);
    cache.remember(state('arm-new'));
    expect((await cache.resolve(['arm-0', 'arm-new'])).has('arm-0')).toBe(false); // forgotten, and no twin of that id
  });

  it('forgets a twin deleted meanwhile, and does not ask for it again for a minute', async () => {
    const twins = new InMemoryTwins(false);
    twins.add('arm-1', ARM);
    let now = Date.UTC(2026, 11, 1);
    const cache = new TwinStateCache(twins, () => now);
    await cache.resolve(['arm-1']);
    twins.twins.delete('arm-1');
    expect((await cache.resolve(['arm-1'], () => true)).has('arm-1')).toBe(false);
    const reads = twins.reads;
    expect((await cache.resolve(['arm-1'], () => true)).has('arm-1')).toBe(false);
    expect(twins.reads).toBe(reads);
    now += 60_000;
    await cache.resolve(['arm-1'], () => true);
    expect(twins.reads).toBe(reads + 1);
    expect(await cache.reload('arm-1')).toBeUndefined();
  });

  it('reads by id a twin the query does not show yet (its index lags writes by seconds)', async () => {
    class LaggingIndex extends InMemoryTwins {
      override async getStates(ids: readonly string[]) {
        const found = await super.getStates(ids);
        found.delete('arm-new');
        return found;
      }
    }
    const twins = new LaggingIndex(false);
    twins.add('arm-1', ARM);
    twins.add('arm-new', ARM);
    const found = await new TwinStateCache(twins).resolve(['arm-1', 'arm-new']);
    expect([...found.keys()].sort()).toEqual(['arm-1', 'arm-new']);
    expect(twins.reads).toBe(1);
  });
});
