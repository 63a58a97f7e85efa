import { describe, expect, it } from 'vitest';
import { AppError, parseRetryAfter } from '../../src/lib/errors.ts';
import { backoffDelay, withRetry } from '../../src/lib/retry.ts';

const policy = { retries: 3, baseDelayMs: 100, maxDelayMs: 2_000 };
const transient = (retryAfterMs?: number) => new AppError('x.http503', 'busy', { retryable: true, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });

describe('retries with backoff', () => {
  it('retries transient failures until the operation succeeds', async () => {
    const sleeps: number[] = [];
    let calls = 0;
    const result = await withRetry(async () => {
      if (++calls < 3) throw transient();
      return 'done';
    }, policy, { sleep: async (ms) => void sleeps.push(ms), random: () => 1 });
    expect(result).toBe('done');
    expect(sleeps).toEqual([100, 200]); // exponential ceiling, full jitter at its top
  });

  it("waits what the server's Retry-After asks, capped by the policy", async () => {
    const sleeps: number[] = [];
    let calls = 0;
    await withRetry(async () => {
      calls++;
      if (calls === 1) throw transient(1_500);
      if (calls === 2) throw transient(60_000);
    }, policy, { sleep: async (ms) => void sleeps.push(ms) });
    expect(sleeps).toEqual([1_500, 2_000]);
  });

  it("gives up at once when the server asks for longer than the policy waits and the caller keeps the work elsewhere ('stop')", async () => {
    const sleeps: number[] = [];
    let calls = 0;
    const op = async () => {
      calls++;
      if (calls === 1) throw transient(1_500);
      throw transient(60_000);
    };
    await expect(withRetry(op, { ...policy, longRetryAfter: 'stop' }, { sleep: async (ms) => void sleeps.push(ms) })).rejects.toMatchObject({ retryable: true, retryAfterMs: 60_000 });
    expect([calls, sleeps]).toEqual([2, [1_500]]);
  });

  it('gives up after the last retry and throws the failure', async () => {
    let calls = 0;
    await expect(withRetry(async () => { calls++; throw transient(); }, policy, { sleep: async () => {} })).rejects.toThrow('busy');
    expect(calls).toBe(4);
  });

  it('does not retry what cannot succeed', async () => {
    let calls = 0;
    await expect(withRetry(async () => { calls++; throw new AppError('twin.notFound', 'gone', { status: 404 }); }, policy, { sleep: async () => {} })).rejects.toThrow('gone');
    await expect(withRetry(async () => { calls++; throw new TypeError('bug'); }, policy, { sleep: async () => {} })).rejects.toThrow('bug');
    expect(calls).toBe(2);
  });

  it('keeps jittered delays within the exponential ceiling', () => {
    for (let attempt = 0; attempt < 8; attempt++) {
      const d = backoffDelay(attempt, policy, undefined, Math.random);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(Math.min(2_000, 100 * 2 ** attempt));
    }
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('2')).toBe(2_000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
