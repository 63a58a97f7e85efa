/**
 * The local host's API key check, on its own (the end-to-end suites reach it only through a whole
 * stack): keyed routes need the key, compared whole, from the header or ?code=; public routes do not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpHost, type HttpHost } from '../../src/local/http-host.ts';
import { createTwinApi } from '../../src/lib/http/twin-api.ts';
import { silentLogger } from '../../src/lib/log.ts';
import type { Services } from '../../src/lib/composition.ts';
import { InMemoryTwins } from '../support/in-memory-twins.ts';
import { ARM } from '../support/plant.ts';

let host: HttpHost;
beforeAll(async () => {
  const twins = new InMemoryTwins();
  twins.add('robotic-arm-001', ARM, { temperature: 60 });
  const services = { twinApi: createTwinApi({ twins, logger: silentLogger, maxBodyBytes: 4096, version: 'test' }), logger: silentLogger, config: { API_MAX_BODY_BYTES: 4096 } } as unknown as Services;
  host = await startHttpHost({ services: () => services, port: 0, apiKey: 'correct-key-1' });
});
afterAll(async () => host?.close());

const get = (path: string, headers: Record<string, string> = {}) => fetch(`http://127.0.0.1:${host.port}${path}`, { headers });

describe('the API key on the local host', () => {
  it('lets the right key in, by header or by ?code=', async () => {
    expect((await get('/api/twins/robotic-arm-001', { 'x-functions-key': 'correct-key-1' })).status).toBe(200);
    expect((await get('/api/twins/robotic-arm-001?code=correct-key-1')).status).toBe(200);
  });

  it('refuses a missing key, a wrong key of the same length, a prefix and a non-ASCII key, each with 401 and a problem', async () => {
    const missing = await get('/api/twins/robotic-arm-001');
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('x-functions-key');
    expect(await missing.json()).toMatchObject({ code: 'auth.missingKey', detail: 'send the API key as the x-functions-key header or ?code=' });
    for (const key of ['correct-key-2', 'correct-key-', 'correct-key-1x', 'corréct-key-1']) {
      const res = await get(`/api/twins/robotic-arm-001?code=${encodeURIComponent(key)}`);
      expect(res.status, key).toBe(401);
      expect(await res.json(), key).toMatchObject({ code: 'auth.wrongKey', detail: 'the API key is wrong' });
    }
  });

  it('asks no key of the public routes, and answers a wrong method with 405 and Allow', async () => {
    expect((await get('/api/health')).status).toBe(200);
    const res = await fetch(`http://127.0.0.1:${host.port}/api/twins/robotic-arm-001`, { method: 'DELETE', headers: { 'x-functions-key': 'correct-key-1' } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
    expect(await res.json()).toMatchObject({ title: 'Method not allowed', detail: 'DELETE is not allowed on /api/twins/{id}' });
  });

  it('routes only what is under /api/: the same route name elsewhere is not found', async () => {
    for (const path of ['/xxxx/twins/robotic-arm-001', '/twins/robotic-arm-001', '/apix/health']) {
      expect((await get(path, { 'x-functions-key': 'correct-key-1' })).status, path).toBe(404);
    }
  });
});
