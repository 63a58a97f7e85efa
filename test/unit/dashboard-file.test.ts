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

  it('answers 404 for anything else: other folders, traversal, and names only a polluted prototype knows', () => {
    (Object.prototype as Record<string, unknown>)['x.json'] = '/etc/hostname';
    for (const path of ['x.json', '../package.json', 'vendor/../../package.json', 'constructor', '__proto__', 'toString']) {
      expect(dashboardFile(path).status, path).toBe(404);
    }
  });
});
