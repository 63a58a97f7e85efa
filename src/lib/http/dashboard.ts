/**
 * Serves the dashboard: the page in web/ and the charting library (uPlot) from its npm package.
 * Locally at the API host's root, in Azure from the `dashboard` function at /api/dashboard/.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, normalize } from 'node:path';
import { createRequire } from 'node:module';
import { projectRoot } from '../paths.ts';
import type { ApiResponse } from './problem.ts';

const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', svg: 'image/svg+xml', json: 'application/json' };

let vendor: ReadonlyMap<string, string> | undefined;

/** Where the charting library's files are, resolved once (on the first request, not at start-up). */
function vendorFiles(): ReadonlyMap<string, string> {
  if (vendor) return vendor;
  const dist = join(createRequire(import.meta.url).resolve('uplot/package.json'), '..', 'dist');
  // A Map: a request path is looked up as itself, never as an inherited property.
  vendor = new Map([['vendor/uPlot.iife.min.js', join(dist, 'uPlot.iife.min.js')], ['vendor/uPlot.min.css', join(dist, 'uPlot.min.css')]]);
  return vendor;
}

const cache = new Map<string, { body: Buffer; etag: string }>();

/**
 * The file for a path under the dashboard ('' is the page), or a 404; 304 when the browser's copy
 * (`If-None-Match`) is this one. The page's own files are revalidated on every load: cached for
 * minutes, a deployment's new page would run the old script against its new markup. uPlot's files
 * change only with the package, and are cached for 5 minutes.
 */
export function dashboardFile(path: string | undefined, ifNoneMatch?: string | null): ApiResponse {
  const clean = normalize(`/${path ?? ''}`).slice(1);
  const name = clean === '' ? 'index.html' : clean;
  const file = vendorFiles().get(name) ?? (name.includes('..') || name.includes('/') ? undefined : join(projectRoot(), 'web', name));
  const ext = name.split('.').pop() ?? '';
  let known = cache.get(name);
  if (!known && file && TYPES[ext]) {
    try {
      const body = readFileSync(file);
      known = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
      cache.set(name, known);
    } catch {
      known = undefined;
    }
  }
  if (!known) return { status: 404, headers: { 'content-type': 'application/problem+json' }, jsonBody: { type: 'urn:manufacturing-twins:problem:dashboard.notFound', title: 'Not found', status: 404, detail: `the dashboard has no file '${name}'`, code: 'dashboard.notFound' } };
  const headers = {
    'content-type': TYPES[ext]!,
    'cache-control': name.startsWith('vendor/') ? 'public, max-age=300' : 'no-cache',
    etag: known.etag,
    'x-content-type-options': 'nosniff',
    ...(name === 'index.html' ? { 'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:" } : {}),
  };
  if (ifNoneMatch && ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === known.etag)) return { status: 304, headers };
  return { status: 200, headers, body: known.body };
}
