/**
 * Serves the dashboard: the page in web/ and the charting library (uPlot) from its npm package.
 * Locally at the API host's root, in Azure from the `dashboard` function at /api/dashboard/.
 */
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

const cache = new Map<string, Buffer>();

/** The file for a path under the dashboard ('' is the page), or a 404. */
export function dashboardFile(path: string | undefined): ApiResponse {
  const clean = normalize(`/${path ?? ''}`).slice(1);
  const name = clean === '' ? 'index.html' : clean;
  const file = vendorFiles().get(name) ?? (name.includes('..') || name.includes('/') ? undefined : join(projectRoot(), 'web', name));
  const ext = name.split('.').pop() ?? '';
  let body = cache.get(name);
  if (!body && file && TYPES[ext]) {
    try {
      body = readFileSync(file);
      cache.set(name, body);
    } catch {
      body = undefined;
    }
  }
  if (!body) return { status: 404, headers: { 'content-type': 'application/problem+json' }, jsonBody: { type: 'urn:manufacturing-twins:problem:dashboard.notFound', title: 'Not found', status: 404, detail: `the dashboard has no file '${name}'`, code: 'dashboard.notFound' } };
  return {
    status: 200,
    headers: {
      'content-type': TYPES[ext]!,
      'cache-control': name === 'index.html' ? 'no-cache' : 'public, max-age=300',
      'x-content-type-options': 'nosniff',
      ...(name === 'index.html' ? { 'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:" } : {}),
    },
    body,
  };
}
