/**
 * The Digital Twins emulator driven only through @azure/digital-twins-core (and the product's
 * adapter built on it), over HTTPS with the emulator's CA: what a user of the real service does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from 'node:https';
import { DefaultHttpClient } from '@azure/core-http';
import { DigitalTwinsClient } from '@azure/digital-twins-core';
import { startAdtEmulator, type AdtEmulator } from '../../src/emulators/adt/server.ts';
import { AdtTwins, StaticTokenCredential } from '../../src/lib/twins/adt-twins.ts';
import { readModelDocuments } from '../../src/lib/dtdl/index.ts';
import type { ChangeEvent } from '../../src/emulators/adt/twin-graph.ts';

let adt: AdtEmulator;
let client: DigitalTwinsClient;
let adapter: AdtTwins;
const events: ChangeEvent[] = [];
const ARM = 'dtmi:manufacturing:RoboticArm;1';

function sdk(url: string, caPem: string, token = 'dev') {
  const http = new DefaultHttpClient();
  const agent = new Agent({ ca: caPem, keepAlive: true });
  (http as unknown as { getOrCreateAgent: () => Agent }).getOrCreateAgent = () => agent;
  return new DigitalTwinsClient(url, new StaticTokenCredential(token), { httpClient: http, retryOptions: { maxRetries: 0 } });
}

beforeAll(async () => {
  adt = await startAdtEmulator({ memory: true, token: 'secret' });
  adt.onChange((e) => events.push(e));
  client = sdk(adt.url, adt.caPem, 'secret');
  adapter = new AdtTwins({ endpoint: adt.url, credential: new StaticTokenCredential('secret'), caPem: adt.caPem, retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 } });
  await client.createModels(readModelDocuments());
  await client.upsertDigitalTwin('production-line-a', JSON.stringify({ $metadata: { $model: 'dtmi:manufacturing:ProductionLine;1' }, name: 'Line A' }));
  for (let i = 1; i <= 3; i++) {
    const id = `robotic-arm-00${i}`;
    await client.upsertDigitalTwin(id, JSON.stringify({ $metadata: { $model: ARM }, equipmentId: id, temperature: 60 + i, status: 'running' }));
    await client.upsertRelationship('production-line-a', `contains-${id}`, { $targetId: id, $relationshipName: 'contains', position: i });
  }
});
afterAll(async () => adt?.close());

describe('models', () => {
  it('lists uploaded models with their definitions and dependencies, paging by nextLink', async () => {
    const ids: string[] = [];
    for await (const m of client.listModels([ARM], true)) ids.push(m.id);
    expect(ids.sort()).toEqual(['dtmi:manufacturing:Equipment;1', ARM]);
    const pages: number[] = [];
    for await (const p of client.listModels(undefined, false).byPage({ maxPageSize: 4 })) pages.push(p.value?.length ?? 0);
    expect(pages.reduce((a, b) => a + b, 0)).toBe(readModelDocuments().length);
    expect(pages.length).toBeGreaterThan(1);
  });

  it('rejects invalid DTDL with a precise message, all or nothing', async () => {
    const bad = [
      { '@context': 'dtmi:dtdl:context;3', '@id': 'dtmi:x:Ok;1', '@type': 'Interface', contents: [] },
      { '@context': 'dtmi:dtdl:context;3', '@id': 'dtmi:x:Bad;1', '@type': 'Interface', contents: [{ '@type': 'Property', name: 't', schema: 'dobule' }] },
    ];
    await expect(client.createModels(bad)).rejects.toMatchObject({ statusCode: 400, code: 'DTDLParserError', message: expect.stringMatching(/dtmi:x:Bad;1 contents\.t\.schema: .*'dobule'.* Fix: /) });
    await expect(client.getModel('dtmi:x:Ok;1')).rejects.toMatchObject({ statusCode: 404 });
    await expect(client.createModels([readModelDocuments()[0]])).rejects.toMatchObject({ statusCode: 409 });
  });

  it('checks an upload against the models already there, as ADT does, with Microsoft\'s parser', async () => {
    // extends a stored model; contents written as one object; a relationship to a model nobody uploaded; names in two languages
    await client.createModels([
      {
        '@context': 'dtmi:dtdl:context;3',
        '@id': 'dtmi:x:Welder;1',
        '@type': 'Interface',
        extends: ARM,
        displayName: { en: 'Welder', de: 'Schweißroboter' },
        contents: { '@type': 'Relationship', name: 'feeds', target: 'dtmi:x:NotUploaded;1' },
      },
    ]);
    expect((await client.getModel('dtmi:x:Welder;1')).displayName).toEqual({ en: 'Welder', de: 'Schweißroboter' });
    const welder = await client.upsertDigitalTwin('welder-1', JSON.stringify({ $metadata: { $model: 'dtmi:x:Welder;1' }, temperature: 40 }));
    expect(welder.body).toMatchObject({ temperature: 40 });
    await client.deleteDigitalTwin('welder-1');
    await client.deleteModel('dtmi:x:Welder;1');
    // extends something neither stored nor uploaded: a 400 naming it, nothing stored
    await expect(client.createModels([{ '@context': 'dtmi:dtdl:context;3', '@id': 'dtmi:x:Orphan;1', '@type': 'Interface', extends: 'dtmi:x:Gone;1' }])).rejects.toMatchObject({ statusCode: 400, message: expect.stringContaining('references dtmi:x:Gone;1') });
    await expect(client.getModel('dtmi:x:Orphan;1')).rejects.toMatchObject({ statusCode: 404 });
  });

  it('answers an upload the parser itself cannot read with a 400, and keeps serving', async () => {
    const deep = JSON.parse('['.repeat(300) + ']'.repeat(300)) as unknown;
    await expect(client.createModels([deep as object])).rejects.toMatchObject({ statusCode: 400, message: expect.stringContaining('the DTDL parser could not read this upload') });
    expect((await client.getModel(ARM)).id).toBe(ARM);
  });

  it('refuses to delete a model that twins use, and decommissions it', async () => {
    await expect(client.deleteModel(ARM)).rejects.toMatchObject({ statusCode: 409 });
    await client.createModels([{ '@context': 'dtmi:dtdl:context;3', '@id': 'dtmi:x:Temp;1', '@type': 'Interface', contents: [] }]);
    await client.decomissionModel('dtmi:x:Temp;1');
    expect((await client.getModel('dtmi:x:Temp;1')).decommissioned).toBe(true);
    await expect(client.upsertDigitalTwin('t1', JSON.stringify({ $metadata: { $model: 'dtmi:x:Temp;1' } }))).rejects.toMatchObject({ statusCode: 400 });
    await client.deleteModel('dtmi:x:Temp;1');
  });
});

describe('twins', () => {
  it('returns twins with etag and per-property metadata', async () => {
    const twin = (await client.getDigitalTwin('robotic-arm-001')).body as Record<string, any>;
    expect(twin).toMatchObject({ $dtId: 'robotic-arm-001', temperature: 61, $metadata: { $model: ARM, temperature: { lastUpdateTime: expect.any(String) } } });
    expect(twin.$etag).toMatch(/^W\/"/);
  });

  it('validates twins against their model: unknown and mistyped properties are 400', async () => {
    await expect(client.upsertDigitalTwin('x1', JSON.stringify({ $metadata: { $model: ARM }, humidity: 3 }))).rejects.toMatchObject({ statusCode: 400, message: expect.stringContaining("'humidity'") });
    await expect(client.upsertDigitalTwin('x1', JSON.stringify({ $metadata: { $model: ARM }, temperature: 'hot' }))).rejects.toMatchObject({ statusCode: 400 });
    await expect(client.upsertDigitalTwin('x1', JSON.stringify({ $metadata: { $model: 'dtmi:x:None;1' } }))).rejects.toMatchObject({ statusCode: 400 });
    await expect(client.getDigitalTwin('x1')).rejects.toMatchObject({ statusCode: 404 });
  });

  it('applies JSON Patch with If-Match and answers 412 on a stale etag', async () => {
    const before = await client.getDigitalTwin('robotic-arm-002');
    const etag = before.etag!;
    const updated = await client.updateDigitalTwin('robotic-arm-002', [{ op: 'add', path: '/temperature', value: 70 }], { ifMatch: etag });
    expect(updated.etag).not.toBe(etag);
    await expect(client.updateDigitalTwin('robotic-arm-002', [{ op: 'add', path: '/temperature', value: 71 }], { ifMatch: etag })).rejects.toMatchObject({ statusCode: 412 });
    await expect(client.updateDigitalTwin('robotic-arm-002', [{ op: 'replace', path: '/pressure', value: 5 }])).rejects.toMatchObject({ statusCode: 400 });
    await expect(client.updateDigitalTwin('robotic-arm-002', [{ op: 'add', path: '/speed', value: 5 }])).rejects.toMatchObject({ statusCode: 400 });
    expect(((await client.getDigitalTwin('robotic-arm-002')).body as Record<string, unknown>).temperature).toBe(70);
    expect(events.some((e) => e.type === 'Microsoft.DigitalTwins.Twin.Update' && e.subject === 'robotic-arm-002')).toBe(true);
  });

  it('records when a value was measured as ADT documents it: replace on $metadata/<name>/sourceTime, with or without one before', async () => {
    const measured = '2026-01-20T02:03:00.094Z';
    const id = 'robotic-arm-measured';
    await client.upsertDigitalTwin(id, JSON.stringify({ $metadata: { $model: ARM }, equipmentId: id, temperature: 60 }));
    await client.updateDigitalTwin(id, [
      { op: 'replace', path: '/temperature', value: 72 },
      { op: 'replace', path: '/$metadata/temperature/sourceTime', value: measured },
    ]);
    // a property the twin did not have yet, added with its sourceTime in one patch
    await client.updateDigitalTwin(id, [
      { op: 'add', path: '/vibration', value: 2.5 },
      { op: 'replace', path: '/$metadata/vibration/sourceTime', value: measured },
    ]);
    const twin = (await client.getDigitalTwin(id)).body as Record<string, any>;
    expect(twin).toMatchObject({ temperature: 72, vibration: 2.5, $metadata: { temperature: { sourceTime: measured, lastUpdateTime: expect.any(String) }, vibration: { sourceTime: measured } } });
    await expect(client.updateDigitalTwin(id, [{ op: 'replace', path: '/$metadata/temperature/sourceTime', value: 'yesterday' }])).rejects.toMatchObject({ statusCode: 400 });
    await expect(client.updateDigitalTwin(id, [{ op: 'remove', path: '/$metadata/temperature/sourceTime' }])).rejects.toMatchObject({ statusCode: 400 });
    await client.deleteDigitalTwin(id);
  });

  it('refuses to delete a twin that still has relationships', async () => {
    await expect(client.deleteDigitalTwin('robotic-arm-003')).rejects.toMatchObject({ statusCode: 400 });
  });
});

describe('relationships', () => {
  it('lists outgoing (by name) and incoming relationships, validated against the source model', async () => {
    const out: unknown[] = [];
    for await (const r of client.listRelationships('production-line-a')) out.push(r);
    expect(out).toHaveLength(3);
    const incoming: Record<string, unknown>[] = [];
    for await (const r of client.listIncomingRelationships('robotic-arm-001')) incoming.push(r as unknown as Record<string, unknown>);
    // The SDK maps the wire's $sourceId and $relationshipName to camelCase.
    expect(incoming).toMatchObject([{ sourceId: 'production-line-a', relationshipName: 'contains' }]);
    await expect(client.upsertRelationship('robotic-arm-001', 'r1', { $targetId: 'production-line-a', $relationshipName: 'contains' })).rejects.toMatchObject({ statusCode: 400 });
    await expect(client.upsertRelationship('production-line-a', 'r2', { $targetId: 'nope', $relationshipName: 'contains' })).rejects.toMatchObject({ statusCode: 400 });
  });
});

describe('queries', () => {
  it('answers the ADT query language, with paging', async () => {
    const rows: Record<string, unknown>[] = [];
    for await (const r of client.queryTwins("SELECT T.$dtId, T.temperature FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:manufacturing:Equipment;1') AND T.temperature > 61")) rows.push(r);
    expect(rows.map((r) => r.$dtId).sort()).toEqual(['robotic-arm-002', 'robotic-arm-003']);
    const joined: Record<string, any>[] = [];
    for await (const r of client.queryTwins("SELECT L, E, R FROM DIGITALTWINS L JOIN E RELATED L.contains R WHERE L.$dtId = 'production-line-a' AND R.position >= 2")) joined.push(r);
    expect(joined.map((r) => r.E.$dtId).sort()).toEqual(['robotic-arm-002', 'robotic-arm-003']);
    const count: Record<string, unknown>[] = [];
    for await (const r of client.queryTwins('SELECT COUNT() FROM RELATIONSHIPS')) count.push(r);
    expect(count).toEqual([{ COUNT: 3 }]);
  });

  it('rejects a malformed query with a 400 naming the problem', async () => {
    const run = async (q: string) => {
      for await (const _ of client.queryTwins(q)) void _;
    };
    await expect(run('SELECT * FROM TWINS')).rejects.toMatchObject({ statusCode: 400, message: expect.stringContaining('DIGITALTWINS') });
    await expect(run('SELECT * FROM DIGITALTWINS MATCH (a)-[]->(b)')).rejects.toMatchObject({ statusCode: 400, message: expect.stringContaining('MATCH') });
  });
});

describe('auth', () => {
  it('refuses a wrong bearer token', async () => {
    await expect(sdk(adt.url, adt.caPem, 'wrong').getDigitalTwin('robotic-arm-001')).rejects.toMatchObject({ statusCode: 401 });
  });
});

describe('the product adapter (AdtTwins) against the emulator', () => {
  it('reads twin states, patches with If-Match, queries and lists the graph', async () => {
    const states = await adapter.getStates(['robotic-arm-001', 'robotic-arm-003', 'nope']);
    expect([...states.keys()].sort()).toEqual(['robotic-arm-001', 'robotic-arm-003']);
    const s = states.get('robotic-arm-001')!;
    expect(s.modelId).toBe(ARM);
    const etag = await adapter.patch('robotic-arm-001', [{ op: 'add', path: '/lastTelemetryTime', value: '2026-11-25T10:00:00.000Z' }], s.etag);
    expect(etag).toBeDefined();
    await expect(adapter.patch('robotic-arm-001', [{ op: 'add', path: '/temperature', value: 1 }], s.etag)).rejects.toMatchObject({ code: 'twin.etagMismatch' });
    expect((await adapter.getState('robotic-arm-001'))?.lastTelemetryTime).toBe(Date.parse('2026-11-25T10:00:00.000Z'));
    expect(await adapter.getState('nope')).toBeUndefined();
    await expect(adapter.getTwin('nope')).rejects.toMatchObject({ code: 'twin.notFound' });
    await expect(adapter.query('SELEKT')).rejects.toMatchObject({ httpStatus: 400 });
    expect((await adapter.listRelationships('production-line-a')).length).toBe(3);
    expect(await adapter.listIncomingRelationships('robotic-arm-002')).toMatchObject([{ $sourceId: 'production-line-a', $relationshipName: 'contains' }]);
  });

  it('reads the remaining useful life a twin shows with its state (absent when it has none), and removing it takes it off', async () => {
    const before = (await adapter.getStates(['robotic-arm-002'])).get('robotic-arm-002')!;
    expect(before.remainingUsefulLifeHours).toBeUndefined();
    const etag = await adapter.patch('robotic-arm-002', [{ op: 'add', path: '/remainingUsefulLifeHours', value: 6.5 }], before.etag);
    const holding = (await adapter.getStates(['robotic-arm-002'])).get('robotic-arm-002')!;
    expect(holding).toMatchObject({ remainingUsefulLifeHours: 6.5, etag });
    await adapter.patch('robotic-arm-002', [{ op: 'remove', path: '/remainingUsefulLifeHours' }], holding.etag);
    expect((await adapter.getState('robotic-arm-002'))!.remainingUsefulLifeHours).toBeUndefined();
    // The service refuses the remove of what the twin does not hold, and the whole patch with it.
    await expect(adapter.patch('robotic-arm-002', [{ op: 'remove', path: '/remainingUsefulLifeHours' }])).rejects.toMatchObject({ httpStatus: 400 });
  });
});
