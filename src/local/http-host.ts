/**
 * The local stand-in for the Functions host's HTTP side: serves the API routes (HTTP_ROUTES, the
 * same handlers the HTTP functions call) under /api, and captures Teams webhook posts at
 * /local/teams-webhook so alerts are visible without a Teams tenant. POST
 * /local/teams-webhook/outage {"seconds": n} makes that capture answer 503 for n seconds, as Teams
 * down would: the cards are kept and sent when it is back (0 ends it).
 */
import { appendFileSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import type { Services } from '../lib/composition.ts';
import { HTTP_ROUTES, matchRoute } from '../lib/http/routes.ts';
import { dashboardFile } from '../lib/http/dashboard.ts';
import { sameSecret } from '../lib/secrets.ts';
import type { ApiRequest } from '../lib/http/twin-api.ts';
import { problem, type ApiResponse } from '../lib/http/problem.ts';
import { AppError } from '../lib/errors.ts';

export interface CapturedAlert {
  receivedAt: string;
  message: unknown;
}

export interface HttpHost {
  url: string;
  port: number;
  alerts: CapturedAlert[];
  /** Until when (ISO) the Teams capture plays an outage; null when it takes cards. */
  teamsDownUntil(): string | null;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(Object.assign(new Error('body too large'), { tooLarge: true }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function write(res: ServerResponse, r: ApiResponse): void {
  const body = r.jsonBody !== undefined ? JSON.stringify(r.jsonBody) : (r.body ?? '');
  // A 304 has no body, and its length would have to be the full file's: none is sent.
  res.writeHead(r.status, r.status === 304 ? (r.headers ?? {}) : { ...(r.headers ?? {}), 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Answers with a problem document; the request's unread body is drained so the connection stays usable. */
function refuse(req: IncomingMessage, res: ServerResponse, status: number, title: string, detail: string, headers: Record<string, string> = {}): void {
  req.resume();
  write(res, { status, headers: { 'content-type': 'application/problem+json', ...headers }, jsonBody: { type: 'about:blank', title, status, detail } });
}

export interface HttpHostOptions {
  services: () => Services;
  port?: number;
  host?: string;
  alertsFile?: string;
  /** Required on routes with authLevel 'function', as the x-functions-key header or ?code=, like a function key. */
  apiKey?: string;
  extra?: (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;
}

const LOCAL_HOST = /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/i;
const MAX_ALERTS_FILE = 10 * 1024 * 1024;

export async function startHttpHost(options: HttpHostOptions): Promise<HttpHost> {
  const alerts: CapturedAlert[] = [];
  let teamsDownUntil = 0;
  if (options.alertsFile) mkdirSync(dirname(options.alertsFile), { recursive: true });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    // Parsed as a path on this host: '//x' read as a relative URL would name host x (or fail).
    let url: URL;
    try {
      url = new URL(`http://localhost${(req.url ?? '/').startsWith('/') ? req.url : `/${req.url}`}`);
    } catch {
      return refuse(req, res, 400, 'Bad request', 'the request target is not a valid path');
    }
    if (url.pathname.startsWith('/local/')) {
      // Local only: a page on another site that resolves its name to 127.0.0.1 (DNS rebinding)
      // sends its own Host, and a cross-site form cannot send JSON without a preflight we never answer.
      if (!LOCAL_HOST.test(req.headers.host ?? '')) return refuse(req, res, 403, 'Forbidden', '/local/ answers requests addressed to localhost only');
      if (req.method === 'POST' && !/^application\/json\b/i.test(req.headers['content-type'] ?? '')) return refuse(req, res, 415, 'Unsupported media type', 'send application/json');
    }
    if (url.pathname === '/local/teams-webhook/outage' && req.method === 'POST') {
      let seconds: unknown;
      try {
        seconds = (JSON.parse(await readBody(req, 4096)) as { seconds?: unknown } | null)?.seconds;
      } catch {
        seconds = undefined;
      }
      if (!Number.isInteger(seconds) || (seconds as number) < 0 || (seconds as number) > 86_400) return refuse(req, res, 400, 'Bad request', 'send {"seconds": n}, a whole number of seconds from 0 (Teams back now) to 86400');
      teamsDownUntil = seconds === 0 ? 0 : Date.now() + (seconds as number) * 1000;
      return write(res, { status: 200, headers: { 'content-type': 'application/json' }, jsonBody: { downUntil: teamsDownUntil ? new Date(teamsDownUntil).toISOString() : null } });
    }
    if (url.pathname === '/local/teams-webhook' && req.method === 'POST' && Date.now() < teamsDownUntil) {
      // As Teams down answers: the sender keeps the card and tries again after Retry-After.
      return refuse(req, res, 503, 'Service unavailable', 'the local Teams webhook is playing an outage (POST /local/teams-webhook/outage)', { 'retry-after': String(Math.ceil((teamsDownUntil - Date.now()) / 1000)) });
    }
    if (url.pathname === '/local/teams-webhook' && req.method === 'POST') {
      const text = await readBody(req, MAX_BODY);
      let message: unknown = text;
      try {
        message = JSON.parse(text);
      } catch {
        // Kept as text: the capture shows what was posted.
      }
      const alert = { receivedAt: new Date().toISOString(), message };
      alerts.push(alert);
      if (alerts.length > 1000) alerts.shift();
      if (options.alertsFile) {
        // Bounded: past 10 MB the file moves to alerts.jsonl.1 (one generation kept).
        try {
          if (statSync(options.alertsFile).size > MAX_ALERTS_FILE) renameSync(options.alertsFile, `${options.alertsFile}.1`);
        } catch {
          // not there yet
        }
        appendFileSync(options.alertsFile, `${JSON.stringify(alert)}\n`);
      }
      return write(res, { status: 202 });
    }
    if (url.pathname === '/local/alerts' && req.method === 'GET') return write(res, { status: 200, headers: { 'content-type': 'application/json' }, jsonBody: alerts });
    if (options.extra && (await options.extra(req, res, url))) return;
    if (url.pathname.startsWith('/api/')) {
      const path = url.pathname.slice('/api/'.length);
      for (const route of HTTP_ROUTES) {
        const params = matchRoute(route.route, path);
        if (!params) continue;
        if (!route.methods.includes(req.method as 'GET')) return refuse(req, res, 405, 'Method not allowed', `${req.method} is not allowed on /api/${route.route}`, { allow: route.methods.join(', ') });
        if (route.authLevel === 'function' && options.apiKey) {
          const given = (req.headers['x-functions-key'] as string | undefined) ?? url.searchParams.get('code') ?? '';
          if (!sameSecret(given, options.apiKey)) {
            req.resume();
            const refused = given
              ? new AppError('auth.wrongKey', 'the API key is wrong', { status: 401 })
              : new AppError('auth.missingKey', 'send the API key as the x-functions-key header or ?code=', { status: 401 });
            const answer = problem(refused, url.pathname, options.services().logger);
            return write(res, { ...answer, headers: { ...answer.headers, 'www-authenticate': 'x-functions-key' } });
          }
        }
        let body: Promise<string> | undefined;
        const request: ApiRequest = {
          method: req.method ?? 'GET',
          url: url.href,
          headers: { get: (name) => (req.headers[name.toLowerCase()] as string | undefined) ?? null },
          params,
          text: () => (body ??= readBody(req, options.services().config.API_MAX_BODY_BYTES + 1)),
        };
        return write(res, await route.handle(options.services(), request));
      }
    }
    // The dashboard at the root, as the Function App serves it at /api/dashboard/.
    if (req.method === 'GET' && !url.pathname.startsWith('/api/') && !url.pathname.startsWith('/local/')) return write(res, dashboardFile(url.pathname.slice(1), req.headers['if-none-match']));
    refuse(req, res, 404, 'Not found', `nothing is served at ${url.pathname}`);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) return res.destroy();
      const tooLarge = (error as { tooLarge?: boolean }).tooLarge;
      write(res, { status: tooLarge ? 413 : 500, headers: { 'content-type': 'application/problem+json' }, jsonBody: { type: 'about:blank', title: tooLarge ? 'Payload too large' : 'Internal error', status: tooLarge ? 413 : 500, detail: (error as Error).message } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 7071, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://localhost:${port}`,
    port,
    alerts,
    teamsDownUntil: () => (Date.now() < teamsDownUntil ? new Date(teamsDownUntil).toISOString() : null),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
