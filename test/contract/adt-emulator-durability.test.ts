/** What survives a restart, and the throttling a user meets when rate limits are on. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:https';
import { afterAll, describe, expect, it } from 'vitest';
import { startAdtEmulator } from '../../src/emulators/adt/server.ts';
import { AdtTwins, StaticTokenCredential } from '../../src/lib/twins/adt-twins.ts';
import { readModelDocuments } from '../../src/lib/dtdl/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'adt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ARM = 'dtmi:manufacturing:RoboticArm;1';

describe('the emulator on disk', () => {
  it('keeps models, twins, relationships and its CA across a restart', async () => {
    const first = await startAdtEmulator({ dataDir: dir });
    first.graph.createModels(readModelDocuments());
    first.graph.upsertTwin('line', { $metadata: { $model: 'dtmi:manufacturing:ProductionLine;1' } }, {});
    first.graph.upsertTwin('arm', { $metadata: { $model: ARM }, temperature: 71 }, {});
    first.graph.upsertRelationship('line', 'c1', { $targetId: 'arm', $relationshipName: 'contains' }, {});
    const ca = first.caPem;
    await first.close();

    const second = await startAdtEmulator({ dataDir: dir });
    try {
      expect(second.caPem).toBe(ca);
      expect(second.graph.counts).toEqual({ models: readModelDocuments().length, twins: 2, relationships: 1 });
      const twins = new AdtTwins({ endpoint: second.url, credential: new StaticTokenCredential('t'), caPem: second.caPem });
      expect(await twins.getTwin('arm')).toMatchObject({ temperature: 71 });
      expect((await twins.query("SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:manufacturing:Equipment;1')")).items).toEqual([{ COUNT: 1 }]);
    } finally {
      await second.close();
    }
  });
});

describe('rate limits, when switched on', () => {
  it('answer a burst of writes on one twin with 429 and Retry-After; the SDK waits them out', async () => {
    const adt = await startAdtEmulator({ memory: true, rateLimits: { requestsPerSecond: 1000, queriesPerSecond: 500, writesPerTwinPerSecond: 10 } });
    try {
      adt.graph.createModels(readModelDocuments());
      adt.graph.upsertTwin('arm', { $metadata: { $model: ARM } }, {});
      const patch = (i: number) =>
        new Promise<{ status: number; retryAfter: string | undefined }>((resolve, reject) => {
          const body = JSON.stringify([{ op: 'add', path: '/temperature', value: i }]);
          const req = request(`${adt.url}/digitaltwins/arm?api-version=2023-10-31`, { method: 'PATCH', ca: adt.caPem, headers: { authorization: 'Bearer t', 'content-type': 'application/json-patch+json' } }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] as string | undefined }));
          });
          req.on('error', reject);
          req.end(body);
        });
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => patch(i)));
      // Ten a second, plus what the bucket refills while the burst is in flight.
      const accepted = answers.filter((a) => a.status === 204).length;
      const throttled = answers.filter((a) => a.status === 429);
      expect(accepted).toBeGreaterThanOrEqual(10);
      expect(accepted).toBeLessThanOrEqual(12);
      expect(throttled.length).toBe(20 - accepted);
      expect(throttled.every((a) => a.retryAfter === '1')).toBe(true);

      // @azure/digital-twins-core retries 429 by itself, honouring Retry-After: the burst lands, later.
      const twins = new AdtTwins({ endpoint: adt.url, credential: new StaticTokenCredential('t'), caPem: adt.caPem });
      const started = Date.now();
      await Promise.all(Array.from({ length: 15 }, (_, i) => twins.patch('arm', [{ op: 'add', path: '/temperature', value: i }])));
      expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    } finally {
      await adt.close();
    }
  });
});
