import { describe, expect, it } from 'vitest';
import azureFunctions, { type HttpRequest as HttpRequestType } from '@azure/functions';
import { createTwinApi } from '../../src/lib/http/twin-api.ts';
import { AppError } from '../../src/lib/errors.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { InMemoryTwins } from '../support/in-memory-twins.ts';
import { ARM, LINE } from '../support/plant.ts';

const { HttpRequest } = azureFunctions;

function api(maxBodyBytes = 4096) {
  const twins = new InMemoryTwins();
  twins.add('production-line-a', LINE, { name: 'Line A' });
  twins.add('robotic-arm-001', ARM, { temperature: 71 });
  twins.add('conveyor-belt-001', 'dtmi:manufacturing:Conveyor;1');
  twins.relationships.push({ $relationshipId: 'line-a-arm', $sourceId: 'production-line-a', $targetId: 'robotic-arm-001', $relationshipName: 'contains' });
  return { twins, api: createTwinApi({ twins, logger: silentLogger, maxBodyBytes, version: '1.2.3' }) };
}

const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  new HttpRequest({ method: 'POST', url: 'http://localhost/api/twins/query', body: { string: body }, headers });
const get = (path: string, params: Record<string, string>) => new HttpRequest({ method: 'GET', url: `http://localhost/api/${path}`, params });

describe('POST /api/twins/query', () => {
  it('runs an ADT query and pages with the continuation token', async () => {
    const { api: a } = api();
    const first = await a.queryTwins(post(JSON.stringify({ query: 'SELECT * FROM DIGITALTWINS' })));
    expect(first.status).toBe(200);
    const page1 = first.jsonBody as { items: unknown[]; continuationToken: string };
    expect(page1.items).toHaveLength(2);
    const second = await a.queryTwins(post(JSON.stringify({ query: 'SELECT * FROM DIGITALTWINS', continuationToken: page1.continuationToken })));
    expect(second.jsonBody).toMatchObject({ continuationToken: null });
    expect((second.jsonBody as { items: unknown[] }).items).toHaveLength(1);
  });

  const bad: { name: string; request: () => HttpRequestType; status: number; code: string; detail?: RegExp }[] = [
    { name: 'a body that is not JSON', request: () => post('{query'), status: 400, code: 'request.invalidJson' },
    { name: 'no query', request: () => post('{}'), status: 400, code: 'request.invalid', detail: /query/ },
    { name: 'an empty query', request: () => post(JSON.stringify({ query: '  ' })), status: 400, code: 'request.invalid', detail: /must not be empty/ },
    { name: 'an unknown field', request: () => post(JSON.stringify({ query: 'SELECT * FROM DIGITALTWINS', top: 5 })), status: 400, code: 'request.invalid', detail: /top/ },
    { name: 'a query over 8,000 characters', request: () => post(JSON.stringify({ query: `SELECT * FROM DIGITALTWINS WHERE T.name = '${'x'.repeat(8_000)}'` }), { 'content-type': 'application/json' }), status: 400, code: 'request.invalid', detail: /8000 characters/ },
    { name: 'a body over the size limit', request: () => post(JSON.stringify({ query: 'x'.repeat(5_000) })), status: 413, code: 'request.tooLarge' },
    { name: 'a declared length over the limit', request: () => post('{}', { 'content-type': 'application/json', 'content-length': '999999' }), status: 413, code: 'request.tooLarge' },
    { name: 'a non-JSON content type', request: () => post('query=x', { 'content-type': 'application/x-www-form-urlencoded' }), status: 415, code: 'request.unsupportedMediaType' },
    { name: "Digital Twins' own 400 for a query (its message passed on; the query language itself is tested against the emulator)", request: () => post(JSON.stringify({ query: 'SELEKT nothing' })), status: 400, code: 'twins.badRequest', detail: /Invalid query/ },
  ];
  it.each(bad)('answers $name with problem+json', async ({ request, status, code, detail }) => {
    const { api: a } = api(code === 'request.invalid' && /8000/.test(String(detail)) ? 64 * 1024 : 4096);
    const res = await a.queryTwins(request());
    expect(res.status).toBe(status);
    expect(res.headers?.['content-type']).toBe('application/problem+json');
    expect(res.jsonBody).toMatchObject({ status, code, instance: '/api/twins/query', type: `urn:manufacturing-twins:problem:${code}` });
    if (detail) expect((res.jsonBody as { detail: string }).detail).toMatch(detail);
  });

  it('passes on throttling as 503 with Retry-After', async () => {
    const { api: a, twins } = api();
    twins.failNext.query = [new AppError('twins.unavailable', 'Digital Twins: too many requests', { status: 503, retryable: true, retryAfterMs: 2_000 })];
    const res = await a.queryTwins(post(JSON.stringify({ query: 'SELECT * FROM DIGITALTWINS' })));
    expect(res.status).toBe(503);
    expect(res.headers?.['retry-after']).toBe('2');
  });
});

describe('twin and graph reads', () => {
  it('GET /api/twins/{id} returns the twin with its etag', async () => {
    const res = await api().api.getTwin(get('twins/robotic-arm-001', { id: 'robotic-arm-001' }));
    expect(res.status).toBe(200);
    expect(res.jsonBody).toMatchObject({ $dtId: 'robotic-arm-001', temperature: 71, $etag: 'W/"1"' });
  });

  it('GET /api/twins/{id} of an unknown twin is a 404 problem', async () => {
    const res = await api().api.getTwin(get('twins/nope', { id: 'nope' }));
    expect(res).toMatchObject({ status: 404, jsonBody: { code: 'twin.notFound', instance: '/api/twins/nope' } });
  });

  it('GET /api/twins/{id}/relationships returns outgoing and incoming edges', async () => {
    const { api: a } = api();
    const line = await a.getRelationships(get('twins/production-line-a/relationships', { id: 'production-line-a' }));
    expect(line.jsonBody).toMatchObject({ twinId: 'production-line-a', outgoing: [{ $targetId: 'robotic-arm-001', $relationshipName: 'contains' }], incoming: [] });
    const arm = await a.getRelationships(get('twins/robotic-arm-001/relationships', { id: 'robotic-arm-001' }));
    expect(arm.jsonBody).toMatchObject({ outgoing: [], incoming: [{ $sourceId: 'production-line-a' }] });
    expect((await a.getRelationships(get('twins/x/relationships', { id: 'x' }))).status).toBe(404);
  });

  it('GET /api/health reports Digital Twins reachability', async () => {
    const { api: a, twins } = api();
    expect(await a.health(get('health', {}))).toMatchObject({ status: 200, jsonBody: { status: 'ok', version: '1.2.3', checks: { digitalTwins: { ok: true } } } });
    twins.failNext.query = [new AppError('twins.unreachable', 'connect ECONNREFUSED', { status: 503 })];
    expect(await a.health(get('health', {}))).toMatchObject({ status: 503, jsonBody: { status: 'degraded', checks: { digitalTwins: { ok: false, error: 'connect ECONNREFUSED' } } } });
  });

  it('GET /api/health says which Key Vault references are unresolved: degraded, still serving', async () => {
    const twins = new InMemoryTwins();
    const a = createTwinApi({ twins, logger: silentLogger, maxBodyBytes: 4096, version: '1.2.3', unresolvedKeyVaultReferences: ['TEAMS_WEBHOOK_URL'] });
    expect(await a.health(get('health', {}))).toMatchObject({ status: 200, jsonBody: { status: 'degraded', checks: { digitalTwins: { ok: true }, keyVaultReferences: { ok: false, unresolved: ['TEAMS_WEBHOOK_URL'] } } } });
  });
});
