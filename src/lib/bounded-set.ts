/**
 * A set that remembers at least the last `capacity / 2` and at most `capacity` members: two
 * generations, the older dropped whole when the newer fills. Constant time, no per-item eviction.
 */
export class BoundedSet<T> {
  private current = new Set<T>();
  private previous = new Set<T>();
  private readonly generation: number;

  constructor(capacity: number) {
    this.generation = Math.max(1, Math.floor(capacity / 2));
  }

  has(item: T): boolean {
    return this.current.has(item) || this.previous.has(item);
  }

  add(item: T): void {
    if (this.has(item)) return;
    if (this.current.size >= this.generation) {
      this.previous = this.current;
      this.current = new Set<T>();
    }
    this.current.add(item);
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }
}

/** A map that remembers at least the last `capacity / 2` and at most `capacity` keys, as BoundedSet does. */
export class BoundedMap<K, V> {
  private current = new Map<K, V>();
  private previous = new Map<K, V>();
  private readonly generation: number;

  constructor(capacity: number) {
    this.generation = Math.max(1, Math.floor(capacity / 2));
  }

  get(key: K): V | undefined {
    return this.current.get(key) ?? this.previous.get(key);
  }

  set(key: K, value: V): void {
    if (!this.current.has(key) && this.current.size >= this.generation) {
      this.previous = this.current;
      this.current = new Map<K, V>();
    }
    this.current.set(key, value);
  }
}

/** Runs `task` over `items` with at most `limit` in flight; rejects with the first failure. */
export async function forEachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
