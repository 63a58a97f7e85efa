/**
 * ADT's rate limits, when switched on: token buckets per instance (API requests, queries) and
 * per twin (create/update/delete operations), answering 429 with Retry-After as Azure would.
 */
import { AdtError } from './errors.ts';

export interface RateLimits {
  /** API requests per second for the whole instance. */
  requestsPerSecond: number;
  /** Query requests per second. */
  queriesPerSecond: number;
  /** Create/update/delete operations per second on one twin (relationships included). */
  writesPerTwinPerSecond: number;
}

export const ADT_RATE_LIMITS: RateLimits = { requestsPerSecond: 1000, queriesPerSecond: 500, writesPerTwinPerSecond: 10 };

class Bucket {
  private tokens: number;
  private last: number;
  constructor(private readonly rate: number, now: number) {
    this.tokens = rate;
    this.last = now;
  }
  /** Milliseconds until a token is free, or 0 after taking one. */
  take(now: number): number {
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }
}

export class Throttle {
  private readonly instance: Bucket;
  private readonly queries: Bucket;
  private readonly twins = new Map<string, Bucket>();

  constructor(private readonly limits: RateLimits, private readonly now: () => number = Date.now) {
    this.instance = new Bucket(limits.requestsPerSecond, now());
    this.queries = new Bucket(limits.queriesPerSecond, now());
  }

  private check(bucket: Bucket, what: string): void {
    const wait = bucket.take(this.now());
    if (wait > 0) throw new AdtError(429, 'TooManyRequests', `Rate limit exceeded: ${what}. Retry after ${wait} ms.`, Math.max(1, Math.ceil(wait / 1000)));
  }

  request(): void {
    this.check(this.instance, `more than ${this.limits.requestsPerSecond} requests per second`);
  }

  query(): void {
    this.check(this.queries, `more than ${this.limits.queriesPerSecond} queries per second`);
  }

  twinWrite(twinId: string): void {
    let b = this.twins.get(twinId);
    if (!b) {
      if (this.twins.size > 100_000) this.twins.clear();
      this.twins.set(twinId, (b = new Bucket(this.limits.writesPerTwinPerSecond, this.now())));
    }
    this.check(b, `more than ${this.limits.writesPerTwinPerSecond} operations per second on twin ${twinId}`);
  }
}
