/**
 * What the Functions host will index: each file in src/functions registers its function with the
 * right trigger, binding expressions and retry policy. A stand-in for the worker's
 * @azure/functions-core module receives the registrations the host would.
 */
import Module, { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { HTTP_ROUTES } from '../../src/lib/http/routes.ts';

interface Registration {
  name: string;
  bindings: Record<string, Record<string, unknown>>;
  retryOptions?: Record<string, unknown>;
}
const registrations: Registration[] = [];
const hooks: string[] = [];

beforeAll(async () => {
  const require = createRequire(import.meta.url);
  const core = {
    setProgrammingModel() {},
    registerFunction(metadata: Registration) {
      registrations.push(metadata);
      return { dispose() {} };
    },
    registerHook(name: string) {
      hooks.push(name);
      return { dispose() {} };
    },
  };
  const id = '@azure/functions-core';
  const m = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const resolve = m._resolveFilename;
  m._resolveFilename = function (request: string, ...rest: unknown[]) {
    return request === id ? id : resolve.call(this, request, ...rest);
  };
  require.cache[id] = { id, filename: id, loaded: true, exports: core } as unknown as NodeJS.Module;
  const dir = new URL('../../src/functions/', import.meta.url);
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) await import(new URL(file, dir).href);
});

const byName = (name: string) => registrations.find((r) => r.name === name);
const trigger = (r: Registration | undefined) => Object.values(r?.bindings ?? {}).find((b) => String(b.type).endsWith('Trigger'));

describe('the Function App the host indexes', () => {
  it('reads telemetry from the Event Hub in batches, with app-setting names and a retry policy', () => {
    const ingest = byName('telemetryIngest');
    expect(trigger(ingest)).toMatchObject({
      type: 'eventHubTrigger',
      direction: 'in',
      connection: 'EventHubConnection',
      eventHubName: '%EVENTHUB_NAME%',
      consumerGroup: '%EVENTHUB_CONSUMER_GROUP%',
      cardinality: 'many',
    });
    expect(ingest?.retryOptions).toMatchObject({ strategy: 'exponentialBackoff', maxRetryCount: 8 });
  });

  it('serves the twin API on its routes, behind function keys except health', () => {
    const routes = Object.fromEntries(
      ['twinQuery', 'twinGet', 'twinRelationships', 'health'].map((n) => {
        const t = trigger(byName(n));
        return [n, `${(t?.methods as string[]).join(',')} ${t?.route} ${t?.authLevel}`];
      }),
    );
    expect(routes).toEqual({
      twinQuery: 'POST twins/query function',
      twinGet: 'GET twins/{id} function',
      twinRelationships: 'GET twins/{id}/relationships function',
      health: 'GET health anonymous',
    });
  });

  it('registers every route the local stack serves, and no other HTTP function', () => {
    const http = registrations.filter((r) => trigger(r)?.type === 'httpTrigger');
    const registered = http.map((r) => `${r.name} ${(trigger(r)?.methods as string[]).join(',')} ${trigger(r)?.route} ${trigger(r)?.authLevel}`).sort();
    expect(registered).toEqual(HTTP_ROUTES.map((r) => `${r.name} ${r.methods.join(',')} ${r.route} ${r.authLevel}`).sort());
  });

  it('refreshes held-back twins on a timer and validates settings when the app starts', () => {
    expect(trigger(byName('twinRefresh'))).toMatchObject({ type: 'timerTrigger', schedule: '0 */1 * * * *' });
    expect(hooks).toContain('appStart');
  });
});
