/**
 * The HTTP API's core, independent of any runtime: src/functions adapts the Functions host's
 * HttpRequest to it, and the local stack its own server. Inputs are checked with zod here.
 */
import { z } from 'zod';
import type { Logger } from '../log.ts';
import type { TwinsPort } from '../ports.ts';
import { guardedBy, json, parse, readJson, twinId } from './request.ts';

/** The parts of a request the API reads; the Functions HttpRequest has this shape. */
export interface ApiRequest {
  method: string;
  url: string;
  headers: { get(name: string): string | null };
  params: Record<string, string | undefined>;
  text(): Promise<string>;
}

export interface TwinApiDeps {
  twins: TwinsPort;
  logger: Logger;
  maxBodyBytes: number;
  version: string;
  /** Settings whose Key Vault reference the platform has not resolved (see Config). */
  unresolvedKeyVaultReferences?: readonly string[];
}

/** ADT's own limit on query text. */
export const MAX_QUERY_CHARS = 8000;

export const queryBody = z.strictObject({
  query: z.string().trim().min(1, 'query must not be empty').max(MAX_QUERY_CHARS, `query is longer than ${MAX_QUERY_CHARS} characters (the Digital Twins limit)`),
  continuationToken: z.string().min(1).max(8192).optional(),
});
export function createTwinApi(deps: TwinApiDeps) {
  const guarded = guardedBy(deps.logger);

  return {
    /** POST /api/twins/query {query, continuationToken?} → {items, continuationToken} */
    queryTwins: guarded(async (req) => {
      const body = parse(queryBody, await readJson(req, deps.maxBodyBytes), 'body');
      const page = await deps.twins.query(body.query, body.continuationToken);
      return json(200, { items: page.items, continuationToken: page.continuationToken ?? null });
    }),

    /** GET /api/twins/{id} */
    getTwin: guarded(async (req) => {
      const id = parse(twinId, req.params.id, 'id');
      return json(200, await deps.twins.getTwin(id));
    }),

    /** GET /api/twins/{id}/relationships → outgoing and incoming edges of the twin graph */
    getRelationships: guarded(async (req) => {
      const id = parse(twinId, req.params.id, 'id');
      await deps.twins.getTwin(id); // 404 for an unknown twin, rather than two empty lists
      const [outgoing, incoming] = await Promise.all([deps.twins.listRelationships(id), deps.twins.listIncomingRelationships(id)]);
      return json(200, { twinId: id, outgoing, incoming });
    }),

    /** GET /api/health: 200 when Digital Twins answers a trivial query, 503 otherwise. */
    health: guarded(async () => {
      const started = performance.now();
      let check: { ok: boolean; latencyMs: number; error?: string };
      try {
        await Promise.race([
          deps.twins.query('SELECT COUNT() FROM DIGITALTWINS'),
          new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 5 s')), 5_000).unref()),
        ]);
        check = { ok: true, latencyMs: Math.round(performance.now() - started) };
      } catch (error) {
        check = { ok: false, latencyMs: Math.round(performance.now() - started), error: (error as Error).message };
      }
      const pending = deps.unresolvedKeyVaultReferences ?? [];
      // Unresolved secrets leave the app running without them (no Teams cards, or no ML scoring):
      // degraded, but still serving, so the answer stays 200 unless Digital Twins is down.
      const keyVault = pending.length ? { ok: false, unresolved: pending, detail: 'Key Vault references not resolved yet: the platform retries when the app restarts; check the app identity\'s Key Vault Secrets User role' } : { ok: true };
      const status = check.ok && keyVault.ok ? 'ok' : 'degraded';
      return json(check.ok ? 200 : 503, { status, version: deps.version, checks: { digitalTwins: check, keyVaultReferences: keyVault } });
    }),
  };
}

export type TwinApi = ReturnType<typeof createTwinApi>;
