/**
 * Where the pipeline learns each twin's model, etag and newest reading time. Cached states are
 * only hints: every patch carries If-Match, so a stale hint costs one re-read, never a backwards
 * write. Twins missing from a query (ADT's query index lags writes by seconds) get one consistent
 * read before the device is called unknown, and unknown devices are remembered briefly.
 */
import type { TwinState, TwinsPort } from '../ports.ts';
import { forEachLimited } from '../bounded-set.ts';

const UNKNOWN_TTL_MS = 60_000;
const MAX_ENTRIES = 200_000;

export class TwinStateCache {
  private readonly states = new Map<string, TwinState>();
  private readonly unknownUntil = new Map<string, number>();

  constructor(private readonly twins: TwinsPort, private readonly now: () => number = Date.now) {}

  /**
   * The states of the twins among `ids` that exist. Those `consistent` picks are read by id, as
   * they are now (the query's index may not show the last seconds' writes); others come from the
   * cache, or one query for all that are not in it.
   */
  async resolve(ids: readonly string[], consistent?: (id: string) => boolean): Promise<Map<string, TwinState>> {
    const found = new Map<string, TwinState>();
    const misses: string[] = [];
    const exact: string[] = [];
    const now = this.now();
    for (const id of ids) {
      const s = this.states.get(id);
      if (!s && (this.unknownUntil.get(id) ?? 0) > now) continue;
      if (consistent?.(id)) exact.push(id);
      else if (s) found.set(id, s);
      else misses.push(id);
    }
    if (misses.length === 0 && exact.length === 0) return found;
    const fetched = misses.length ? await this.twins.getStates(misses) : new Map<string, TwinState>();
    const absent = [...exact, ...misses.filter((id) => !fetched.has(id))];
    await forEachLimited(absent, 8, async (id) => {
      const s = await this.twins.getState(id);
      if (s) fetched.set(id, s);
      else {
        this.states.delete(id);
        this.unknownUntil.set(id, now + UNKNOWN_TTL_MS);
      }
    });
    for (const [id, s] of fetched) {
      this.remember(s);
      found.set(id, s);
    }
    return found;
  }

  /** Forgets which devices were found to have no twin, so that the next batch looks again (their twins may just have been registered). */
  forgetUnknown(): void {
    this.unknownUntil.clear();
  }

  /** A consistent re-read after an etag mismatch. */
  async reload(id: string): Promise<TwinState | undefined> {
    const s = await this.twins.getState(id);
    if (s) this.remember(s);
    else this.states.delete(id);
    return s;
  }

  /** The state held for `id`, if any, without reading anything. */
  peek(id: string): TwinState | undefined {
    return this.states.get(id);
  }

  remember(state: TwinState): void {
    if (this.states.size >= MAX_ENTRIES && !this.states.has(state.id)) this.states.clear();
    this.states.set(state.id, state);
    this.unknownUntil.delete(state.id);
  }
}
