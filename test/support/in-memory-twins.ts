/**
 * An in-memory far end for the TwinsPort: what Azure Digital Twins would hold, with its etag and
 * JSON Patch semantics. It stands in for the service, never for our adapter (which is tested
 * against the ADT emulator).
 */
import { AppError } from '../../src/lib/errors.ts';
import { toTwinState } from '../../src/lib/twins/adt-twins.ts';
import { oversizedString } from '../../src/lib/twins/adt-limits.ts';
import type { JsonPatchOp, QueryPage, TwinState, TwinsPort } from '../../src/lib/ports.ts';

interface StoredTwin {
  body: Record<string, unknown>;
  etag: number;
}

export class InMemoryTwins implements TwinsPort {
  readonly twins = new Map<string, StoredTwin>();
  readonly relationships: Record<string, unknown>[] = [];
  readonly patches: { id: string; ops: readonly JsonPatchOp[] }[] = [];
  patchCount = 0;
  /** Twins read one by one (getState): the consistent reads the pipeline pays for. */
  reads = 0;
  /** Benchmarks switch the patch log off: they only count, and a million entries would skew memory. */
  constructor(private readonly logPatches = true) {}
  /**
   * The service's clock: set, it stamps each property written with its lastUpdateTime, as the
   * service does (a test moves it with its readings). Unset by default, so that the far end costs
   * the one-patch-per-event baseline of bench:pipeline no more than it always did.
   */
  now: (() => number) | undefined;
  /** Errors to throw on the next calls of an operation, in order. */
  readonly failNext: Partial<Record<'patch' | 'getStates' | 'query', AppError[]>> = {};

  add(id: string, modelId: string, props: Record<string, unknown> = {}): void {
    this.twins.set(id, { body: { $dtId: id, $metadata: { $model: modelId }, ...props }, etag: 1 });
  }

  relate(sourceId: string, targetId: string, name: string): void {
    this.relationships.push({ $relationshipId: `${name}-${targetId}`, $sourceId: sourceId, $targetId: targetId, $relationshipName: name });
  }

  props(id: string): Record<string, unknown> {
    return this.twins.get(id)!.body;
  }

  private etagOf(t: StoredTwin) {
    return `W/"${t.etag}"`;
  }

  private fail(op: keyof InMemoryTwins['failNext']): void {
    const e = this.failNext[op]?.shift();
    if (e) throw e;
  }

  private state(t: StoredTwin): TwinState {
    return toTwinState({ ...t.body, $etag: this.etagOf(t) });
  }

  async getStates(ids: readonly string[]): Promise<Map<string, TwinState>> {
    this.fail('getStates');
    const out = new Map<string, TwinState>();
    for (const id of ids) {
      const t = this.twins.get(id);
      if (t) out.set(id, this.state(t));
    }
    return out;
  }

  async getState(id: string): Promise<TwinState | undefined> {
    this.reads++;
    const t = this.twins.get(id);
    return t && this.state(t);
  }

  /** Every patch call, refused ones included, with the If-Match it carried and what came of it. */
  readonly patchAttempts: { id: string; ifMatch: string | undefined; outcome: 'ok' | 'etagMismatch' | 'failed' }[] = [];

  async patch(id: string, ops: readonly JsonPatchOp[], ifMatch?: string): Promise<string | undefined> {
    const attempt = { id, ifMatch, outcome: 'failed' as 'ok' | 'etagMismatch' | 'failed' };
    if (this.logPatches) this.patchAttempts.push(attempt);
    this.fail('patch');
    const t = this.twins.get(id);
    if (!t) throw new AppError('twin.notFound', `twin ${id} not found`, { status: 404 });
    if (ifMatch && ifMatch !== '*' && ifMatch !== this.etagOf(t)) {
      attempt.outcome = 'etagMismatch';
      throw new AppError('twin.etagMismatch', 'etag mismatch', { status: 412 });
    }
    // The service refuses a string property over 4 KB of UTF-8, and then the whole patch.
    const long = ops.find((op) => oversizedString(op.value));
    if (long) throw new AppError('twins.validationFailed', `Digital Twins: ${long.path} holds a string over 4 KB`, { status: 400 });
    // As the service: removing a property the twin does not hold fails the whole patch.
    const missing = ops.find((op) => op.op === 'remove' && !Object.hasOwn(t.body, op.path.slice(1)));
    if (missing) throw new AppError('twins.validationFailed', `Digital Twins: ${missing.path} is not on the twin, so it cannot be removed`, { status: 400 });
    attempt.outcome = 'ok';
    for (const op of ops) {
      // A property's sourceTime lives in the twin's $metadata, as the service keeps it.
      const source = /^\/\$metadata\/([^/]+)\/sourceTime$/.exec(op.path);
      if (source) {
        const meta = (t.body.$metadata ??= {}) as Record<string, Record<string, unknown>>;
        meta[source[1]!] = { ...meta[source[1]!], sourceTime: op.value };
        continue;
      }
      const name = op.path.slice(1);
      if (op.op === 'remove') delete t.body[name];
      else t.body[name] = op.value;
      if (this.now) {
        const meta = (t.body.$metadata ??= {}) as Record<string, Record<string, unknown>>;
        if (op.op === 'remove') delete meta[name];
        else meta[name] = { ...meta[name], lastUpdateTime: new Date(this.now()).toISOString() };
      }
    }
    t.etag++;
    this.patchCount++;
    if (this.logPatches) this.patches.push({ id, ops });
    return this.etagOf(t);
  }

  async getTwin(id: string): Promise<Record<string, unknown>> {
    const t = this.twins.get(id);
    if (!t) throw new AppError('twin.notFound', `Digital Twins: There is no digital twin instance that exists with the ID ${id}.`, { status: 404 });
    return { ...t.body, $etag: this.etagOf(t) };
  }

  /** Answers the query shapes the API tests and the communication watch use; anything else is refused the way ADT refuses it. */
  async query(query: string, continuationToken?: string): Promise<QueryPage> {
    this.fail('query');
    if (/^SELECT COUNT\(\) FROM DIGITALTWINS$/i.test(query)) return { items: [{ COUNT: this.twins.size }], continuationToken: undefined };
    // The communication watch's: every twin that has taken in telemetry.
    const withTelemetry = /^SELECT \* FROM DIGITALTWINS T WHERE IS_DEFINED\(T\.lastTelemetryTime\)$/i.test(query);
    // The production lines' statuses it reads (a model's own twins; no model here extends another).
    const ofModel = /^SELECT \* FROM DIGITALTWINS T WHERE IS_OF_MODEL\(T, '([^']+)'\)$/i.exec(query)?.[1];
    if (!withTelemetry && ofModel === undefined && !/^SELECT \* FROM DIGITALTWINS$/i.test(query)) {
      throw new AppError('twins.badRequest', `Digital Twins: Invalid query: ${query.slice(0, 40)}`, { status: 400 });
    }
    const all = [...this.twins.values()]
      .filter((t) => (!withTelemetry || Object.hasOwn(t.body, 'lastTelemetryTime')) && (ofModel === undefined || (t.body.$metadata as { $model?: string }).$model === ofModel))
      .map((t) => ({ ...t.body, $etag: this.etagOf(t) }));
    const start = continuationToken ? Number(continuationToken) : 0;
    const page = all.slice(start, start + 2);
    return { items: page, continuationToken: start + 2 < all.length ? String(start + 2) : undefined };
  }

  async listRelationships(id: string) {
    return this.relationships.filter((r) => r.$sourceId === id);
  }

  async listModels() {
    const ids = new Set([...this.twins.values()].map((t) => (t.body.$metadata as { $model: string }).$model));
    return [...ids].map((id) => ({ id, displayName: undefined, uploadTime: undefined, decommissioned: false }));
  }

  async listIncomingRelationships(id: string) {
    return this.relationships.filter((r) => r.$targetId === id);
  }
}
