/**
 * The fault suite: storms of throttling from the store, Digital Twins and Teams with the host
 * retrying, the store refusing for a while (batches kept after their retries, then redelivered),
 * Teams down again and again (cards kept, the partition never held up, then each delivered once),
 * a device clock running ahead and a backlog hours old, a full disk under the event
 * log, and bad requests while Digital Twins throttles. `npm run bench:faults` runs the same
 * scenarios longer; a process killed mid-stream is test/e2e/crash-recovery.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { runFaultScenarios } from '../support/fault-scenarios.ts';

describe('under faults', () => {
  it('nothing acknowledged is lost, nothing is stored twice, no twin moves backwards, no stop on stale data, no crash, no 5xx for a client', async () => {
    const t = await runFaultScenarios({ iterations: 40, seed: 7 });
    expect(t.notes).toEqual([]);
    expect({ crashes: t.crashes, lost: t.lost, duplicated: t.duplicated, wrong5xx: t.wrong5xx, backwards: t.backwards, staleStops: t.staleStops }).toEqual({ crashes: 0, lost: 0, duplicated: 0, wrong5xx: 0, backwards: 0, staleStops: 0 });
    expect(t.cases).toBeGreaterThan(80);
  }, 120_000);
});
