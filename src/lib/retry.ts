import { AppError, isAppError } from './errors.ts';

export interface RetryPolicy {
  /** Attempts after the first one. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * A Retry-After beyond maxDelayMs: 'cap' retries after maxDelayMs anyway (the default); 'stop'
   * gives up at once, for a caller with somewhere to keep the work (the alert outbox) rather than
   * hold its batch up with retries the far end said not to make.
   */
  longRetryAfter?: 'cap' | 'stop';
}

export const defaultRetryPolicy: RetryPolicy = { retries: 4, baseDelayMs: 200, maxDelayMs: 10_000 };

export interface RetryHooks {
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  onRetry?: (attempt: number, delayMs: number, error: AppError) => void;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Full-jitter exponential backoff. A server's Retry-After wins over our own schedule (it knows
 * when its throttling window ends), capped at maxDelayMs so one far end cannot park a partition.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, error: AppError | undefined, random: () => number): number {
  if (error?.retryAfterMs !== undefined) return Math.min(error.retryAfterMs, policy.maxDelayMs);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.round(random() * ceiling);
}

/** Runs `op`, retrying only errors marked retryable; anything else, or the last failure, is thrown. */
export async function withRetry<T>(op: (attempt: number) => Promise<T>, policy: RetryPolicy = defaultRetryPolicy, hooks: RetryHooks = {}): Promise<T> {
  const sleep = hooks.sleep ?? realSleep;
  const random = hooks.random ?? Math.random;
  for (let attempt = 0; ; attempt++) {
    try {
      return await op(attempt);
    } catch (error) {
      if (!isAppError(error) || !error.retryable || attempt >= policy.retries) throw error;
      if (policy.longRetryAfter === 'stop' && error.retryAfterMs !== undefined && error.retryAfterMs > policy.maxDelayMs) throw error;
      const delay = backoffDelay(attempt, policy, error, random);
      hooks.onRetry?.(attempt + 1, delay, error);
      await sleep(delay);
    }
  }
}
