/**
 * Bad input to the Digital Twins emulator: what a client sends wrong gets a clear ADT-style error,
 * and nothing is half written. Most cases go through @azure/digital-twins-core; bodies the SDK
 * would never send (broken JSON, a 5 MB request) go over plain HTTPS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'node:https';
import { DefaultHttpClient } from '@azure/core-http';
import { DigitalTwinsClient } from '@azure/digital-twins-core';
import { startAdtEmulator, type AdtEmulator } from '../../src/emulators/adt/server.ts';
import { StaticTokenCredential } from '../../src/lib/twins/adt-twins.ts';
import { readModelDocuments } from '../../src/lib/dtdl/index.ts';

const ARM = 'dtmi:manufacturing:RoboticArm;1';
let adt: AdtEmulator;
let client: DigitalTwinsClient;
let agent: Agent;

function raw(method: string, path: string, body: string | Buffer, contentType = 'application/json'): Promise<{ status: number; json: any }> {
  const { hostname, port } = new URL(adt.url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, method, path: `${path}?api-version=2023-10-31`, agent, headers: { authorization: 'Bearer dev', 'content-type': contentType, 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
    });
    // The server may answer and close before a huge body is fully sent.
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
    req.end(body);
  });
}
const twinBody = async (id: string) => (await client.getDigitalTwin(id)).body as Record<string, any>;

beforeAll(async () => {
  adt = await startAdtEmulator({ memory: true });
  agent = new Agent({ ca: adt.caPem, keepAlive: false });
  const http = new DefaultHttpClient();
  const sdkAgent = new Agent({ ca: adt.caPem, keepAlive: true });
  (http as unknown as { getOrCreateAgent: () => Agent }).getOrCreateAgent = () => sdkAgent;
  client = new DigitalTwinsClient(adt.url, new StaticTokenCredential('dev'), { httpClient: http, retryOptions: { maxRetries: 0 } });
  await client.createModels(readModelDocuments());
  await client.upsertDigitalTwin('arm-1', JSON.stringify({ $metadata: { $model: ARM }, equipmentId: 'arm-1', temperature: 60, status: 'running' }));
});
afterAll(async () => adt?.close());

describe('a client sending bad input to the emulator', () => {
  it('gets 400 for a body that is not JSON, and the twin is untouched', async () => {
    const res = await raw('PUT', '/digitaltwins/arm-1', '{"$metadata": {"$model": ');
    expect(res).toMatchObject({ status: 400, json: { error: { code: 'InvalidArgument', message: expect.stringContaining('not valid JSON') } } });
    expect((await twinBody('arm-1')).temperature).toBe(60);
  });

  it('gets 400 ValidationFailed for a twin property named __proto__, which the model does not define, and nothing is created', async () => {
    // Sent as text: a JavaScript object literal would take the key as its prototype and drop it.
    const res = await raw('PUT', '/digitaltwins/arm-proto', `{"$metadata": {"$model": "${ARM}"}, "equipmentId": "arm-proto", "__proto__": {"temperature": 1}}`);
    expect(res).toMatchObject({ status: 400, json: { error: { code: 'ValidationFailed', message: expect.stringContaining("'__proto__'") } } });
    await expect(client.getDigitalTwin('arm-proto')).rejects.toMatchObject({ statusCode: 404 });
  });

  it('gets 400 for a malformed JSON Patch, and no operation of it is applied', async () => {
    const bad = [
      [{ op: 'add', path: '/temperature', value: 99 }, { op: 'move', from: '/temperature', path: '/pressure' }],
      [{ op: 'add', path: '/temperature', value: 99 }, { op: 'add', path: 'temperature', value: 1 }],
      [{ op: 'add', path: '/temperature', value: 99 }, { op: 'replace', path: '/pressure' }],
      [{ op: 'add', path: '/temperature', value: 99 }, { op: 'add', path: '/temperature', value: 'very hot' }],
      [{ op: 'add', path: '/temperature', value: 99 }, { op: 'add', path: '/noSuchProperty', value: 1 }],
    ];
    for (const patch of bad) {
      await expect(client.updateDigitalTwin('arm-1', patch as never)).rejects.toMatchObject({ statusCode: 400 });
    }
    const notAnArray = await raw('PATCH', '/digitaltwins/arm-1', JSON.stringify({ op: 'add', path: '/temperature', value: 99 }), 'application/json-patch+json');
    expect(notAnArray).toMatchObject({ status: 400, json: { error: { code: 'JsonPatchInvalid' } } });
    expect((await twinBody('arm-1')).temperature).toBe(60);
  });

  it('gets 400 ValidationFailed for a string property over 4 KB of UTF-8, by create or by patch, and takes one of exactly 4 KB', async () => {
    // Three bytes of UTF-8 each: 1,366 of them are 4,098 bytes, though only 1,366 UTF-16 units.
    const long = '€'.repeat(1366);
    await expect(client.upsertDigitalTwin('arm-long', JSON.stringify({ $metadata: { $model: ARM }, equipmentId: long }))).rejects.toMatchObject({ statusCode: 400, code: 'ValidationFailed', message: expect.stringContaining("'equipmentId'") });
    await expect(client.getDigitalTwin('arm-long')).rejects.toMatchObject({ statusCode: 404 });
    await expect(client.updateDigitalTwin('arm-1', [{ op: 'add', path: '/temperature', value: 99 }, { op: 'add', path: '/detectorState', value: 'x'.repeat(4097) }])).rejects.toMatchObject({ statusCode: 400, code: 'ValidationFailed', message: expect.stringContaining('4096') });
    expect(await twinBody('arm-1')).toMatchObject({ temperature: 60, equipmentId: 'arm-1' });
    await client.updateDigitalTwin('arm-1', [{ op: 'add', path: '/detectorState', value: 'x'.repeat(4096) }]);
    expect((await twinBody('arm-1')).detectorState).toHaveLength(4096);
    await client.updateDigitalTwin('arm-1', [{ op: 'remove', path: '/detectorState' }]);
  });

  it('gets 400 TwinSizeLimitExceeded for a twin over 32 KB, by create or by patch', async () => {
    // Nine strings of 3.9 KB: each within its own limit, together over the twin's (eight are not).
    const notes = Array.from({ length: 9 }, (_, i) => ({ '@type': 'Property', name: `note${i}`, schema: 'string' }));
    await client.createModels([{ '@id': 'dtmi:test:Notebook;1', '@type': 'Interface', '@context': 'dtmi:dtdl:context;3', contents: notes }]);
    const page = 'x'.repeat(3900);
    const full = Object.fromEntries(notes.map((n) => [n.name, page]));
    await expect(client.upsertDigitalTwin('notebook-big', JSON.stringify({ $metadata: { $model: 'dtmi:test:Notebook;1' }, ...full }))).rejects.toMatchObject({ statusCode: 400, code: 'TwinSizeLimitExceeded' });
    await expect(client.getDigitalTwin('notebook-big')).rejects.toMatchObject({ statusCode: 404 });
    const { note8: _last, ...most } = full;
    await client.upsertDigitalTwin('notebook', JSON.stringify({ $metadata: { $model: 'dtmi:test:Notebook;1' }, ...most }));
    await expect(client.updateDigitalTwin('notebook', [{ op: 'add', path: '/note8', value: page }])).rejects.toMatchObject({ statusCode: 400, code: 'TwinSizeLimitExceeded' });
    expect((await twinBody('notebook')).note8).toBeUndefined();
  });

  it('gets 413 for a request body over 4 MB, and the emulator keeps serving', async () => {
    const huge = JSON.stringify([{ op: 'add', path: '/equipmentId', value: 'y'.repeat(5 * 1024 * 1024) }]);
    const res = await raw('PATCH', '/digitaltwins/arm-1', huge, 'application/json-patch+json');
    expect(res).toMatchObject({ status: 413, json: { error: { code: 'RequestEntityTooLarge' } } });
    expect((await twinBody('arm-1')).equipmentId).toBe('arm-1');
  });

  it('gets 404 for unknown twins, relationships and models, and 400 for a relationship to nowhere', async () => {
    await expect(client.getDigitalTwin('no-such-twin')).rejects.toMatchObject({ statusCode: 404, code: 'DigitalTwinNotFound' });
    await expect(client.updateDigitalTwin('no-such-twin', [{ op: 'add', path: '/temperature', value: 1 }])).rejects.toMatchObject({ statusCode: 404 });
    await expect(client.getRelationship('arm-1', 'no-such-rel')).rejects.toMatchObject({ statusCode: 404 });
    await expect(client.getModel('dtmi:x:NoSuch;1')).rejects.toMatchObject({ statusCode: 404 });
    await client.upsertDigitalTwin('line-1', JSON.stringify({ $metadata: { $model: 'dtmi:manufacturing:ProductionLine;1' }, name: 'Line 1' }));
    await expect(client.upsertRelationship('line-1', 'r1', { $targetId: 'no-such-twin', $relationshipName: 'contains' })).rejects.toMatchObject({ statusCode: 400 });
    expect(adt.graph.counts.relationships).toBe(0);
  });

  it('gets 400 for a model upload over 250 models or not an array, and nothing is stored', async () => {
    const before = adt.graph.counts.models;
    const many = Array.from({ length: 251 }, (_, i) => ({ '@context': 'dtmi:dtdl:context;3', '@id': `dtmi:x:M${i};1`, '@type': 'Interface', contents: [] }));
    await expect(client.createModels(many)).rejects.toMatchObject({ statusCode: 400, message: expect.stringContaining('at most 250') });
    expect((await raw('POST', '/models', '{"@id": "dtmi:x:A;1"}')).status).toBe(400);
    expect(adt.graph.counts.models).toBe(before);
  });
});

describe('a client paging through a query', () => {
  let small: AdtEmulator;
  let smallClient: DigitalTwinsClient;
  let smallAgent: Agent;
  const query = async (body: unknown) => {
    const { hostname, port } = new URL(small.url);
    return new Promise<{ status: number; json: any }>((resolve, reject) => {
      const text = JSON.stringify(body);
      const req = request({ hostname, port, method: 'POST', path: '/query?api-version=2023-10-31', agent: smallAgent, headers: { authorization: 'Bearer dev', 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
      });
      req.on('error', reject);
      req.end(text);
    });
  };
  beforeAll(async () => {
    small = await startAdtEmulator({ memory: true, queryPageSize: 2 });
    smallAgent = new Agent({ ca: small.caPem, keepAlive: false });
    const http = new DefaultHttpClient();
    (http as unknown as { getOrCreateAgent: () => Agent }).getOrCreateAgent = () => smallAgent;
    smallClient = new DigitalTwinsClient(small.url, new StaticTokenCredential('dev'), { httpClient: http, retryOptions: { maxRetries: 0 } });
    await smallClient.createModels(readModelDocuments());
    for (let i = 0; i < 5; i++) await smallClient.upsertDigitalTwin(`arm-${i}`, JSON.stringify({ $metadata: { $model: ARM }, equipmentId: `arm-${i}` }));
  });
  afterAll(async () => small?.close());

  it('gets every twin once over pages, and 400 InvalidContinuationToken for a token whose offset it was never given', async () => {
    const ids: string[] = [];
    for await (const t of smallClient.queryTwins('SELECT * FROM DIGITALTWINS')) ids.push(t.$dtId);
    expect(ids.sort()).toEqual(['arm-0', 'arm-1', 'arm-2', 'arm-3', 'arm-4']);
    const first = await query({ query: 'SELECT * FROM DIGITALTWINS' });
    expect(first.json.continuationToken).toMatch(/:2$/);
    const id = String(first.json.continuationToken).split(':')[0];
    for (const offset of ['-2', '1', '5', '8', 'x', '2.0e0x', '']) {
      expect(await query({ continuationToken: `${id}:${offset}` })).toMatchObject({ status: 400, json: { error: { code: 'InvalidContinuationToken' } } });
    }
    expect(await query({ continuationToken: `${id}:4` })).toMatchObject({ status: 200, json: { value: [expect.objectContaining({ $dtId: expect.any(String) })], continuationToken: null } });
  });
});
