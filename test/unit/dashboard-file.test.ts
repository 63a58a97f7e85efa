/**
 * The dashboard's files: the page, its scripts and uPlot, and nothing else, whatever the path,
 * even with a polluted Object.prototype (a request path is never an inherited property).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { dashboardFile } from '../../src/lib/http/dashboard.ts';

afterEach(() => {
  delete (Object.prototype as Record<string, unknown>)['x.json'];
});

describe('the dashboard files', () => {
  it('serves the page, its script and uPlot', () => {
    expect(dashboardFile('').status).toBe(200);
    expect(dashboardFile('app.js').status).toBe(200);
    expect(dashboardFile('vendor/uPlot.iife.min.js').status).toBe(200);
  });

  it('has the browser check the page, its script and styles on every load, so a new deployment never runs an old script against its new page', () => {
    for (const path of ['', 'app.js', 'styles.css']) {
      const first = dashboardFile(path);
      expect(first.headers?.['cache-control'], path).toBe('no-cache');
      const etag = first.headers?.etag;
      expect(etag, path).toMatch(/^"[\w-]{22}"$/);
      // The copy the browser holds is this one: 304 and no body; another one (or a weak form of this one) as the RFC matches it.
      expect(dashboardFile(path, etag).status, path).toBe(304);
      expect(dashboardFile(path, etag).body, path).toBeUndefined();
      expect(dashboardFile(path, `"old", W/${etag}`).status, path).toBe(304);
      expect(dashboardFile(path, '"old"').status, path).toBe(200);
      expect(dashboardFile(path, '"old"').body, path).toEqual(first.body);
    }
    expect(dashboardFile('', dashboardFile('app.js').headers?.etag).status).toBe(200);
    expect(dashboardFile('vendor/uPlot.iife.min.js').headers?.['cache-control']).toBe('public, max-age=300');
  });

  it('answers 404 for anything else: other folders, traversal, and names only a polluted prototype knows', () => {
    (Object.prototype as Record<string, unknown>)['x.json'] = '/etc/hostname';
    for (const path of ['x.json', '../package.json', 'vendor/../../package.json', 'constructor', '__proto__', 'toString']) {
      expect(dashboardFile(path).status, path).toBe(404);
    }
  });
});
