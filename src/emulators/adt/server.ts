/**
 * The Azure Digital Twins data-plane REST API over HTTPS, on one machine. The production adapter
 * (@azure/digital-twins-core) talks to it unchanged, given the URL, a token and the local CA.
 *
 *   const adt = await startAdtEmulator({ dataDir: '.data/adt' });   // or { memory: true }
 *   adt.url  // https://localhost:<port>
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { AdtError, badRequest } from './errors.ts';
import { readPatch } from './json-patch.ts';
import { AdtStorage } from './storage.ts';
import { TwinGraph, type ChangeEvent } from './twin-graph.ts';
import { ensureTlsMaterial, makeTlsMaterial } from '../local-tls.ts';
import { Throttle, ADT_RATE_LIMITS, type RateLimits } from './throttle.ts';
import { evaluate, type Doc } from './query/evaluate.ts';
import { parseQuery, QueryError } from './query/parse.ts';
import { sameSecret } from '../../lib/secrets.ts';
import { dtdlParser } from '../../lib/dtdl/index.ts';

export interface AdtEmulatorOptions {
  /** Where the database and the certificates live (default .data/adt). */
  dataDir?: string;
  /** Keep everything in memory (tests): nothing survives close(). */
  memory?: boolean;
  port?: number;
  host?: string;
  /** 'any': any bearer token is accepted (development). A string: only that token. */
  token?: 'any' | string;
  /** ADT's rate limits (429 + Retry-After); off unless given. */
  rateLimits?: RateLimits | true;
  /** Items per query page (ADT's maximum and default is 1,000). */
  queryPageSize?: number;
  log?: (line: string) => void;
}

export interface AdtEmulator {
  url: string;
  port: number;
  caPem: string;
  /** The CA file to trust, when the material is kept on disk. */
  caFile: string | undefined;
  graph: TwinGraph;
  onChange(listener: (e: ChangeEvent) => void): () => void;
  close(): Promise<void>;
}

const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
const QUERY_PAGE_MAX = 1000;
const LIST_PAGE_DEFAULT = 100;
const CURSOR_TTL_MS = 10 * 60_000;

interface Cursor {
  items: Doc[];
  expires: number;
}

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }), 'content-length': Buffer.byteLength(text).toString(), ...headers });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) throw new AdtError(413, 'RequestEntityTooLarge', `The request body is over ${MAX_REQUEST_BYTES} bytes.`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest('InvalidArgument', `The request body is not valid JSON: ${(error as Error).message}`);
  }
}

export async function startAdtEmulator(options: AdtEmulatorOptions = {}): Promise<AdtEmulator> {
  const dataDir = options.dataDir ?? '.data/adt';
  const tls = options.memory ? { ...makeTlsMaterial(), caFile: undefined } : ensureTlsMaterial(join(dataDir, 'tls'));
  const storage = new AdtStorage(options.memory ? ':memory:' : join(dataDir, 'adt.sqlite'));
  const graph = new TwinGraph(storage, await dtdlParser());
  const throttle = options.rateLimits ? new Throttle(options.rateLimits === true ? ADT_RATE_LIMITS : options.rateLimits) : undefined;
  const pageSize = Math.min(options.queryPageSize ?? QUERY_PAGE_MAX, QUERY_PAGE_MAX);
  const cursors = new Map<string, Cursor>();
  const token = options.token ?? 'any';
  let baseUrl = '';

  const authorize = (req: IncomingMessage) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match) throw new AdtError(401, 'Unauthorized', 'A bearer token is required (Authorization: Bearer <token>).');
    if (token !== 'any' && !sameSecret(match[1]!, token)) throw new AdtError(401, 'Unauthorized', 'The bearer token is not valid for this instance.');
  };

  const page = (items: Doc[], url: URL, limit: number) => {
    const offset = Number(url.searchParams.get('continuationToken') ?? '0') || 0;
    const slice = items.slice(offset, offset + limit);
    const body: Doc = { value: slice };
    if (offset + limit < items.length) {
      const next = new URL(url.href, baseUrl);
      next.searchParams.set('continuationToken', String(offset + limit));
      body.nextLink = next.href;
    }
    return body;
  };
  const listLimit = (req: IncomingMessage) => {
    const n = Number(req.headers['max-items-per-page']);
    return Number.isInteger(n) && n > 0 ? Math.min(n, QUERY_PAGE_MAX) : LIST_PAGE_DEFAULT;
  };

  const runQuery = (body: unknown) => {
    if (typeof body !== 'object' || body === null) throw badRequest('InvalidArgument', 'The query body must be {"query": "..."} or {"continuationToken": "..."}.');
    const { query, continuationToken } = body as { query?: unknown; continuationToken?: unknown };
    const now = Date.now();
    for (const [k, c] of cursors) if (c.expires < now) cursors.delete(k);
    if (typeof continuationToken === 'string' && continuationToken) {
      const [id, offsetText] = continuationToken.split(':');
      const cursor = cursors.get(id ?? '');
      const offset = Number(offsetText);
      // Only a token this emulator gave out: an offset it never handed (negative, past the end,
      // between pages) is refused, not read as a slice of the cursor.
      if (!cursor || !Number.isSafeInteger(offset) || offset <= 0 || offset >= cursor.items.length || offset % pageSize !== 0) {
        throw badRequest('InvalidContinuationToken', 'The continuation token is unknown or has expired; run the query again.');
      }
      return pageOf(cursor.items, offset, id!, 0);
    }
    if (typeof query !== 'string') throw badRequest('InvalidArgument', 'The query body needs a "query" string.');
    let result;
    try {
      result = evaluate(parseQuery(query), graph);
    } catch (error) {
      if (error instanceof QueryError) throw badRequest('BadRequest', `Invalid query: ${error.message}`);
      throw error;
    }
    const id = randomUUID();
    if (result.items.length > pageSize) cursors.set(id, { items: result.items, expires: now + CURSOR_TTL_MS });
    return pageOf(result.items, 0, id, result.scanned);
  };
  const pageOf = (items: Doc[], offset: number, id: string, scanned: number) => {
    const value = items.slice(offset, offset + pageSize);
    const more = offset + pageSize < items.length;
    return { body: { value, continuationToken: more ? `${id}:${offset + pageSize}` : null }, charge: Math.max(1, Math.ceil((scanned + value.length) / 100)) };
  };

  const ifMatch = (req: IncomingMessage) => req.headers['if-match'] as string | undefined;
  const ifNoneMatch = (req: IncomingMessage) => req.headers['if-none-match'] as string | undefined;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    const method = req.method ?? 'GET';
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (!url.searchParams.get('api-version')) throw badRequest('MissingApiVersionParameter', 'The api-version query parameter is required (e.g. api-version=2023-10-31).');
    authorize(req);
    throttle?.request();
    const body = method === 'GET' || method === 'DELETE' ? undefined : await readBody(req);
    const [root, id, sub, subId, extra] = parts;
    const twinWrite = (twinId: string) => throttle?.twinWrite(twinId);

    if (root === 'models') {
      if (!id) {
        if (method === 'GET') {
          const deps = url.searchParams.getAll('dependenciesFor').flatMap((d) => d.split(',')).filter(Boolean);
          const include = url.searchParams.get('includeModelDefinition') === 'true';
          const ids = graph.listModels(deps);
          return send(res, 200, page(ids.map((m) => graph.modelData(m, include)), url, listLimit(req)));
        }
        if (method === 'POST') return send(res, 201, graph.createModels(body));
      } else if (!sub) {
        if (method === 'GET') return send(res, 200, graph.modelData(id, url.searchParams.get('includeModelDefinition') === 'true'));
        if (method === 'PATCH') {
          graph.decommissionModel(id, readPatch(body));
          return send(res, 204);
        }
        if (method === 'DELETE') {
          graph.deleteModel(id);
          return send(res, 204);
        }
      }
    }

    if (root === 'query' && !id && method === 'POST') {
      throttle?.query();
      const { body: page, charge } = runQuery(body);
      return send(res, 200, page, { 'query-charge': String(charge) });
    }

    if (root === 'digitaltwins' && id) {
      if (!sub) {
        if (method === 'GET') {
          const twin = graph.getTwin(id);
          return send(res, 200, twin, { etag: twin.$etag as string });
        }
        if (method === 'PUT') {
          twinWrite(id);
          const twin = graph.upsertTwin(id, body, { ifMatch: ifMatch(req), ifNoneMatch: ifNoneMatch(req) });
          return send(res, 200, twin, { etag: twin.$etag as string });
        }
        if (method === 'PATCH') {
          twinWrite(id);
          const twin = graph.updateTwin(id, readPatch(body), ifMatch(req));
          return send(res, 204, undefined, { etag: twin.$etag as string });
        }
        if (method === 'DELETE') {
          twinWrite(id);
          graph.deleteTwin(id, ifMatch(req));
          return send(res, 204);
        }
      }
      if (sub === 'relationships' && !subId && method === 'GET') {
        const name = url.searchParams.get('relationshipName') ?? undefined;
        return send(res, 200, page(graph.listRelationships(id, name), url, listLimit(req)));
      }
      if (sub === 'relationships' && subId && !extra) {
        if (method === 'GET') {
          const rel = graph.getRelationship(id, subId);
          return send(res, 200, rel, { etag: rel.$etag as string });
        }
        if (method === 'PUT') {
          twinWrite(id);
          const rel = graph.upsertRelationship(id, subId, body, { ifMatch: ifMatch(req), ifNoneMatch: ifNoneMatch(req) });
          return send(res, 200, rel, { etag: rel.$etag as string });
        }
        if (method === 'PATCH') {
          twinWrite(id);
          const rel = graph.updateRelationship(id, subId, readPatch(body), ifMatch(req));
          return send(res, 204, undefined, { etag: rel.$etag as string });
        }
        if (method === 'DELETE') {
          twinWrite(id);
          graph.deleteRelationship(id, subId, ifMatch(req));
          return send(res, 204);
        }
      }
      if (sub === 'incomingrelationships' && !subId && method === 'GET') return send(res, 200, page(graph.listIncoming(id), url, listLimit(req)));
      if (sub === 'components' && subId && !extra) {
        if (method === 'GET') {
          const twin = graph.getTwin(id);
          return send(res, 200, graph.getComponent(id, subId), { etag: twin.$etag as string });
        }
        if (method === 'PATCH') {
          twinWrite(id);
          const twin = graph.updateComponent(id, subId, readPatch(body), ifMatch(req));
          return send(res, 204, undefined, { etag: twin.$etag as string });
        }
      }
      const messageId = (req.headers['message-id'] as string | undefined) ?? randomUUID();
      if (sub === 'telemetry' && !subId && method === 'POST') {
        graph.publishTelemetry(id, body, messageId);
        return send(res, 204);
      }
      if (sub === 'components' && subId && extra === 'telemetry' && method === 'POST') {
        graph.getComponent(id, subId);
        graph.publishTelemetry(id, body, messageId, subId);
        return send(res, 204);
      }
    }

    if (root === 'eventroutes' && !id && method === 'GET') return send(res, 200, { value: [] });
    throw new AdtError(404, 'NotFound', `No such operation: ${method} ${url.pathname}`);
  }

  const server: Server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    route(req, res).catch((error: unknown) => {
      if (error instanceof AdtError) {
        const headers: Record<string, string> = error.retryAfterSeconds ? { 'retry-after': String(error.retryAfterSeconds) } : {};
        if (error.status === 401) headers['www-authenticate'] = 'Bearer';
        return send(res, error.status, { error: { code: error.code, message: error.message } }, headers);
      }
      options.log?.(`adt emulator: ${(error as Error).stack ?? String(error)}`);
      send(res, 500, { error: { code: 'InternalServerError', message: (error as Error).message } });
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `https://localhost:${port}`;
  return {
    url: baseUrl,
    port,
    caPem: tls.caPem,
    caFile: tls.caFile,
    graph,
    onChange: (l) => graph.onChange(l),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          storage.close();
          resolve();
        });
      }),
  };
}
