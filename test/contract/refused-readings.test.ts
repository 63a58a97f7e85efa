/**
 * Readings the pipeline refuses are not left as excerpts only: the refused events of a batch are
 * kept whole in the app's storage account before the batch is acknowledged, and once the operator
 * has mended why (registered the twin, fixed the device), they are taken in again: what is accepted
 * is stored once, what is refused again stays kept, and nothing is lost on the way. Through the
 * Storage SDK against Azurite, the app composed from its settings.
 */
import { gzipSync } from 'node:zlib';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { relisting } from '../support/relisting.ts';
import fc from 'fast-check';
import { ContainerClient } from '@azure/storage-blob';
import azureFunctions from '@azure/functions';
import { propertyRuns } from '../support/property-runs.ts';
import { azuriteForFile } from '../support/azurite.ts';
import { BlobBatchDeadLetters } from '../../src/lib/store/blob-batch-dead-letters.ts';
import { REFUSED_CONTAINER, pickEvents, readmitNowDescribed, readmitRefused, refusedIndices } from '../../src/lib/refused-readings.ts';
import { AppError } from '../../src/lib/errors.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { loadConfig } from '../../src/lib/config.ts';
import { createServices } from '../../src/lib/composition.ts';
import { harness } from '../support/pipeline-harness.ts';
import { createPlantApi } from '../../src/lib/http/plant-api.ts';
import { storeWithReads } from '../support/in-memory-store.ts';
import { InMemoryTwins } from '../support/in-memory-twins.ts';
import { ARM, LINE, batch as eventBatch, bytesOf, iso, type Msg } from '../support/plant.ts';
import { decodeBatch } from '../../src/lib/telemetry/decode.ts';
import { loadPlantModels, readModelFiles } from '../../src/lib/dtdl/index.ts';
import { TelemetryCatalog } from '../../src/lib/telemetry/catalog.ts';

const azurite = azuriteForFile('refused');

/** dtdl/ as the next release ships it: every model of ours at `;2` (as an upgrade's seeding moves the twins to). */
let nextVersion: string | undefined;
function nextVersionModels(): string {
  if (nextVersion) return nextVersion;
  nextVersion = mkdtempSync(join(tmpdir(), 'models-v2-'));
  for (const file of readModelFiles()) {
    const text = JSON.stringify(file.documents.length === 1 ? file.documents[0] : file.documents).replace(/(dtmi:manufacturing:[A-Za-z:]+);1"/g, '$1;2"');
    writeFileSync(join(nextVersion, file.file.replaceAll('/', '-')), text);
  }
  return nextVersion;
}
afterAll(() => nextVersion && rmSync(nextVersion, { recursive: true, force: true }));
const t0 = Date.now() - 60_000;
const reading = (device: string, i: number, body: Record<string, unknown> = {}): Msg => ({ device, body: { timestamp: iso(t0 + i * 1000), temperature: 60 + i, ...body } });
const get = (path: string) => ({ method: 'GET', url: `http://localhost${path}`, headers: new Headers(), params: {}, text: async () => '' });
const post = (path: string) => ({ ...get(path), method: 'POST' });
async function names(container: BlobBatchDeadLetters): Promise<string[]> {
  const out: string[] = [];
  for await (const n of container.names()) out.push(n);
  return out;
}

/** The app as its settings compose it: its own storage account in Azurite, each test a fresh one (by account-wide container name, emptied first). */
async function app() {
  const twins = new InMemoryTwins();
  twins.add('production-line-a', LINE);
  twins.add('robotic-arm-001', ARM, { equipmentId: 'robotic-arm-001' });
  const store = storeWithReads({ deadLetterGroups: async () => [] });
  const container = new BlobBatchDeadLetters(new ContainerClient(azurite().connectionString, REFUSED_CONTAINER));
  for (const n of await names(container)) await container.remove(n);
  const services = await createServices(loadConfig({ DIGITAL_TWINS_URL: 'https://twins.invalid', DUCKDB_PATH: 'unused', AzureWebJobsStorage: azurite().connectionString, LOG_LEVEL: 'error' }), { twins, store, logger: silentLogger });
  let invocation = 0;
  const send = (messages: Msg[], partition: string, first: number) => {
    const { bodies, meta } = eventBatch(messages, partition, first);
    return services.telemetryIngest(bodies, new azureFunctions.InvocationContext({ invocationId: `i${++invocation}`, functionName: 'telemetryIngest', triggerMetadata: meta as Record<string, unknown> }));
  };
  return { twins, store, container, services, send };
}

describe('readings the pipeline refuses', () => {
  it('from a device whose twin is not registered yet are kept whole, and taken in once it is', async () => {
    const { twins, store, container, services, send } = await app();
    const early = [reading('robotic-arm-002', 0), reading('robotic-arm-001', 1), reading('robotic-arm-002', 2)];
    expect(await send(early, '2', 70)).toMatchObject({ stored: 1, deadLettered: 2, deadLetterReasons: { 'device.unknown': 2 } });
    // Only the two refused events, as the trigger handed them over, with their own metadata.
    expect(await names(container)).toEqual(['2/00000000000000000070-00000000000000000072.json']);
    const kept = (await container.get('2/00000000000000000070-00000000000000000072.json'))!;
    expect(kept.bodies).toEqual([bytesOf(early[0]!.body), bytesOf(early[2]!.body)]);
    expect(kept.triggerMetadata.sequenceNumberArray).toEqual([70, 72]);
    expect(kept.error).toMatchObject({ code: 'device.unknown' });
    const listed = await services.plantApi.deadLetters(get('/api/telemetry/dead-letters'));
    expect(listed.jsonBody).toMatchObject({ keptWhole: { keeping: true, batches: 1, events: 2, counted: true } });

    // Taken in again before anything is mended: refused again, kept as it was.
    expect((await services.plantApi.readmitRefused(post('/api/telemetry/dead-letters/readmit'))).jsonBody).toEqual({ tried: 1, stored: 0, stillRefused: 1, readmitted: 0, failed: 0, passedBy: 0 });
    expect(await names(container)).toEqual(['2/00000000000000000070-00000000000000000072.json']);

    // The operator registers the twin and takes them in: stored once (the same instance, which saw them, does not take them for replays), no longer kept.
    twins.add('robotic-arm-002', ARM, { equipmentId: 'robotic-arm-002' });
    expect((await services.plantApi.readmitRefused(post('/api/telemetry/dead-letters/readmit'))).jsonBody).toEqual({ tried: 1, stored: 2, stillRefused: 0, readmitted: 1, failed: 0, passedBy: 0 });
    expect(await names(container)).toEqual([]);
    expect(store.telemetry.size).toBe(3);
    expect([...store.telemetry.values()].filter((r) => r.DeviceId === 'robotic-arm-002').map((r) => r.Readings.temperature).sort()).toEqual([60, 62]);
    expect((await services.plantApi.deadLetters(get('/api/telemetry/dead-letters'))).jsonBody).toMatchObject({ keptWhole: { batches: 0, events: 0 } });
    // A second call finds nothing to do.
    expect((await services.plantApi.readmitRefused(post('/api/telemetry/dead-letters/readmit'))).jsonBody).toEqual({ tried: 0, stored: 0, stillRefused: 0, readmitted: 0, failed: 0, passedBy: 0 });
  });

  it('keep only what is refused again when some of a kept batch is accepted now', async () => {
    const { twins, store, container, services, send } = await app();
    const msgs = [reading('robotic-arm-003', 0), reading('robotic-arm-001', 1, { temperature: 'hot' }), reading('robotic-arm-003', 2)];
    expect(await send(msgs, '1', 10)).toMatchObject({ stored: 0, deadLettered: 3 });
    expect(await names(container)).toEqual(['1/00000000000000000010-00000000000000000012.json']);
    twins.add('robotic-arm-003', ARM, { equipmentId: 'robotic-arm-003' });
    expect((await services.plantApi.readmitRefused(post('/api/telemetry/dead-letters/readmit'))).jsonBody).toEqual({ tried: 1, stored: 2, stillRefused: 0, readmitted: 1, failed: 0, passedBy: 0 });
    // The invalid reading alone is kept, under its own name; the batch it came in is gone.
    expect(await names(container)).toEqual(['1/00000000000000000011-00000000000000000011.json']);
    expect((await container.get('1/00000000000000000011-00000000000000000011.json'))!.bodies).toEqual([bytesOf(msgs[1]!.body)]);
    expect(store.telemetry.size).toBe(2);
  });

  it('keep bodies that are not JSON byte for byte', async () => {
    const { container, send } = await app();
    const bytes = Buffer.from([0xff, 0x00, 0x7b, 0xc3]);
    const { bodies, meta } = eventBatch([reading('robotic-arm-001', 0)], '3', 5);
    bodies[0] = bytes;
    await send([], '3', 0); // an empty batch keeps nothing
    expect(await names(container)).toEqual([]);
    const h = harness({ refused: container });
    h.twins.add('robotic-arm-001', ARM, { equipmentId: 'robotic-arm-001' });
    await h.pipeline.processBatch(bodies, meta);
    const kept = (await container.get('3/00000000000000000005-00000000000000000005.json'))!;
    expect(Buffer.from(kept.bodies[0] as Uint8Array).equals(bytes)).toBe(true);
    expect(kept.error.code).toBe('body.notJson');
  });

  it('refused for what the message itself is (not JSON) are passed by when taken in again, so a device sending junk keeps no one waiting', async () => {
    const container = new BlobBatchDeadLetters(new ContainerClient(azurite().connectionString, `${REFUSED_CONTAINER}-junk`));
    const h = harness({ refused: container });
    h.twins.add('production-line-a', LINE);
    for (let i = 0; i < 3; i++) await h.send([{ device: 'robotic-arm-001', body: '{"temperature": 6' }], '0');
    await h.send([reading('robotic-arm-005', 9)], '0');
    h.twins.add('robotic-arm-005', ARM, { equipmentId: 'robotic-arm-005' });
    expect(await readmitRefused({ refused: container, pipeline: h.pipeline, logger: silentLogger, limit: 1 })).toEqual({ tried: 1, stored: 1, stillRefused: 0, readmitted: 1, failed: 0, passedBy: 3 });
    expect(await names(container)).toEqual(['0/00000000000000000000-00000000000000000000.json', '0/00000000000000000001-00000000000000000001.json', '0/00000000000000000002-00000000000000000002.json']);
  });

  it('refused by an older version for what it could not read (a body with a byte order mark, a gzipped one) are taken in when asked for all, junk staying kept', async () => {
    const { store, container, services } = await app();
    const json = JSON.stringify({ timestamp: iso(t0), temperature: 61 });
    const older = eventBatch([reading('robotic-arm-001', 0), reading('robotic-arm-001', 1), reading('robotic-arm-001', 2)], '1', 40);
    // As a version that read no byte order mark and no gzip kept them: the events as the trigger handed them over, refused as not JSON.
    older.bodies[0] = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]);
    older.bodies[1] = '{"temperature": 6';
    older.bodies[2] = gzipSync(JSON.stringify({ timestamp: iso(t0 + 1000), temperature: 62 }));
    for (let i = 0; i < older.bodies.length; i++) {
      await container.put({ ...pickEvents(older.bodies, older.meta as Record<string, unknown>, [i]), failedAt: new Date(t0).toISOString(), attempts: 1, error: { code: 'body.notJson', message: 'body is not JSON' } });
      expect(await names(container)).toHaveLength(i + 1);
    }
    const readmit = async (query: string) => (await services.plantApi.readmitRefused(post(`/api/telemetry/dead-letters/readmit${query}`))).jsonBody;
    expect(await readmit('')).toEqual({ tried: 0, stored: 0, stillRefused: 0, readmitted: 0, failed: 0, passedBy: 3 });
    expect(await readmit('?all=true')).toEqual({ tried: 3, stored: 2, stillRefused: 1, readmitted: 2, failed: 0, passedBy: 0 });
    expect([...store.telemetry.values()].map((r) => r.Readings)).toEqual([{ temperature: 61 }, { temperature: 62 }]);
    const [left] = await names(container);
    expect((await container.get(left!))!.bodies).toEqual(['{"temperature": 6']);
    expect((await services.plantApi.readmitRefused(post('/api/telemetry/dead-letters/readmit?all=yes'))).status).toBe(400);
  });

  it('without sequence numbers to name them by are kept whole and, refused again, stay one blob', async () => {
    const container = new BlobBatchDeadLetters(new ContainerClient(azurite().connectionString, `${REFUSED_CONTAINER}-unsequenced`));
    const h = harness({ refused: container });
    const { bodies, meta } = eventBatch([reading('robotic-arm-007', 0), reading('robotic-arm-007', 1)], '2', 0);
    delete meta.sequenceNumberArray;
    await h.pipeline.processBatch(bodies, meta);
    const [first] = await names(container);
    expect(first).toMatch(/^2\/unsequenced-[\w-]+\.json$/);
    expect(await readmitRefused({ refused: container, pipeline: h.pipeline, logger: silentLogger, limit: 10 })).toEqual({ tried: 1, stored: 0, stillRefused: 1, readmitted: 0, failed: 0, passedBy: 0 });
    const after = await names(container);
    expect(after).toHaveLength(1);
    expect((await container.get(after[0]!))!.bodies).toEqual(bodies);
    // A listing that pages (thousands of blobs) sees blobs written during the round: the batch kept
    // anew under its new random name is still tried once a round, not again when the listing reaches it.
    const paging: typeof container = Object.assign(Object.create(container) as typeof container, { summaries: () => relisting(() => container.summaries(), (s) => s.name) });
    expect(await readmitRefused({ refused: paging, pipeline: h.pipeline, logger: silentLogger, limit: 10 })).toEqual({ tried: 1, stored: 0, stillRefused: 1, readmitted: 0, failed: 0, passedBy: 0 });
    expect(await names(container)).toHaveLength(1);
  });

  it('of twins moved to a model version the running build does not describe (an upgrade before its deploy) are taken in by the build that describes it, on its timer, no one asking', async () => {
    const { twins, store, container, services: older, send } = await app();
    // Seeding moved robotic-arm-002 to RoboticArm;2 (post-provision, before the deploy); the running build knows ;1 only.
    const V2 = 'dtmi:manufacturing:RoboticArm;2';
    twins.add('robotic-arm-002', V2, { equipmentId: 'robotic-arm-002' });
    const msgs = [reading('robotic-arm-002', 0), reading('robotic-arm-001', 1), reading('robotic-arm-002', 2), reading('robotic-arm-009', 3)];
    expect(await send(msgs, '0', 100)).toMatchObject({ stored: 1, deadLettered: 3, deadLetterReasons: { 'device.noTelemetryModel': 2, 'device.unknown': 1 } });
    const [name] = await names(container);
    const summary = async () => { for await (const s of container.summaries()) return s; };
    expect(await summary()).toMatchObject({ name, undescribedModels: [V2], error: { code: 'telemetry.refused' } });
    // The running build's round leaves it: it still describes no ;2, and downloads nothing to learn so.
    expect(await older.readmitNowDescribed()).toEqual({ tried: 0, stored: 0, stillRefused: 0, readmitted: 0, failed: 0, passedBy: 1 });

    // The build with the new versions starts (its dtdl/ at ;2): its timer's round takes them in.
    const newer = await createServices(loadConfig({ DIGITAL_TWINS_URL: 'https://twins.invalid', DUCKDB_PATH: 'unused', AzureWebJobsStorage: azurite().connectionString, LOG_LEVEL: 'error' }), { twins, store, logger: silentLogger, modelsDir: nextVersionModels() });
    expect(await newer.readmitNowDescribed()).toEqual({ tried: 1, stored: 2, stillRefused: 0, readmitted: 1, failed: 0, passedBy: 0 });
    expect([...store.telemetry.values()].filter((r) => r.DeviceId === 'robotic-arm-002').map((r) => r.Readings.temperature).sort()).toEqual([60, 62]);
    // The reading of a device with no twin stays kept, named by itself, and no model is named on it: no timer takes it again.
    const left = await summary();
    expect(left).toMatchObject({ name: '0/00000000000000000103-00000000000000000103.json', error: { code: 'device.unknown' } });
    expect(left).not.toHaveProperty('undescribedModels');
  });

  it('refused by a version that did not name the undescribed models are tried once by the timer, then named', async () => {
    const { twins, container, services } = await app();
    const older = eventBatch([reading('robotic-arm-004', 0)], '3', 7);
    await container.put({ ...older, triggerMetadata: older.meta as Record<string, unknown>, failedAt: new Date(t0).toISOString(), attempts: 1, error: { code: 'device.noTelemetryModel', message: "twin 'robotic-arm-004' has model dtmi:manufacturing:RoboticArm;9, which has no device model describing its telemetry" } });
    twins.add('robotic-arm-004', 'dtmi:manufacturing:RoboticArm;9', { equipmentId: 'robotic-arm-004' });
    expect(await services.readmitNowDescribed()).toEqual({ tried: 1, stored: 0, stillRefused: 1, readmitted: 0, failed: 0, passedBy: 0 });
    expect(await services.readmitNowDescribed()).toEqual({ tried: 0, stored: 0, stillRefused: 0, readmitted: 0, failed: 0, passedBy: 1 });
    for await (const s of container.summaries()) expect(s.undescribedModels).toEqual(['dtmi:manufacturing:RoboticArm;9']);
  });

  it('are still listed when the storage account cannot be read: how many are kept whole is then unknown, not an error', async () => {
    const group = { deviceId: 'robotic-arm-009', reason: 'device.unknown', count: 2, lastAt: iso(t0), detail: 'no digital twin', body: '{}' };
    const api = createPlantApi({
      twins: new InMemoryTwins(),
      store: storeWithReads({ deadLetterGroups: async () => [group] }),
      logger: silentLogger, maxBodyBytes: 4096, maxPageSize: 20, warningThreshold: 0.5,
      refusedKept: { summaries: () => ({ [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new AppError('deadLetters.unreachable', 'the storage account cannot be reached', { status: 503, retryable: true })) }) }) },
      readmit: async () => { throw new AppError('deadLetters.unreachable', 'the storage account cannot be reached', { status: 503, retryable: true }); },
    });
    const listed = await api.deadLetters(get('/api/telemetry/dead-letters'));
    expect(listed).toMatchObject({ status: 200, jsonBody: { items: [group], keptWhole: { keeping: true, batches: null, events: null, counted: false, detail: 'the storage account cannot be reached' } } });
    expect((await api.readmitRefused(post('/api/telemetry/dead-letters/readmit'))).jsonBody).toMatchObject({ status: 503, code: 'deadLetters.unreachable' });
  });

  it('fail the batch (retryably) when they cannot be kept, and its retry stores nothing twice', async () => {
    let down = true;
    const kept: unknown[][] = [];
    const h = harness({ refused: { put: async (b) => { if (down) throw new Error('connect ECONNREFUSED'); kept.push([...b.bodies]); return 'kept'; } } });
    h.twins.add('production-line-a', LINE);
    h.twins.add('robotic-arm-001', ARM, { equipmentId: 'robotic-arm-001' });
    const msgs = [reading('robotic-arm-001', 0), reading('robotic-arm-004', 1)];
    const first = eventBatch(msgs, '0', 0);
    const error = await h.pipeline.processBatch(first.bodies, first.meta).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'refused.unkept', retryable: true });
    down = false;
    expect(await h.pipeline.processBatch(first.bodies, first.meta)).toMatchObject({ stored: 1, deadLettered: 1, refusedKept: 'kept' });
    expect(h.store.telemetry.size).toBe(1);
    expect(kept).toEqual([[bytesOf(msgs[1]!.body)]]);
  });
});

/** The readings `plan` says (arm-<device>, a temperature that is text when invalid), sent in batches cut where `cuts` says. */
async function sendPlan(h: ReturnType<typeof harness>, plan: readonly { device: number; invalid: boolean }[], cuts: readonly number[]): Promise<void> {
  const msgs = plan.map((p, i) => reading(`arm-${p.device}`, i, p.invalid ? { temperature: 'hot' } : {}));
  const bounds = [...new Set([0, ...cuts.map((c) => Math.min(c * 4, msgs.length)), msgs.length])].sort((a, b) => a - b);
  for (let b = 1; b < bounds.length; b++) if (bounds[b]! > bounds[b - 1]!) await h.send(msgs.slice(bounds[b - 1], bounds[b]), '0');
}

/** Every reading of `plan` that `accepted` says can be taken is stored, once; every other one is still kept whole, once. */
async function expectNoneLost(h: ReturnType<typeof harness>, container: BlobBatchDeadLetters, plan: readonly unknown[], accepted: (i: number) => boolean): Promise<void> {
  expect([...h.store.telemetry.values()].map((r) => r.Readings.temperature).sort()).toEqual(plan.flatMap((_, i) => (accepted(i) ? [60 + i] : [])).sort());
  const kept: unknown[] = [];
  for await (const name of container.names()) kept.push(...(await container.get(name))!.bodies);
  expect(kept.map((b) => JSON.parse(b as string).timestamp).sort()).toEqual(plan.flatMap((_, i) => (accepted(i) ? [] : [iso(t0 + i * 1000)])).sort());
}

describe('taking refused readings in again', () => {
  let runs = 0;
  it('loses none and stores none twice, whichever readings were refused and whichever causes were mended (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Each reading: its device (0 has a twin from the start, 1 and 2 get theirs later, 3 never), and whether its temperature is text (invalid for good).
        fc.array(fc.record({ device: fc.nat(3), invalid: fc.boolean() }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(2), { maxLength: 3 }),
        fc.boolean(),
        async (plan, cuts, mendBoth) => {
          const container = new BlobBatchDeadLetters(new ContainerClient(azurite().connectionString, `${REFUSED_CONTAINER}-p${++runs}`));
          const h = harness({ refused: container });
          h.twins.add('production-line-a', LINE);
          h.twins.add('arm-0', ARM, { equipmentId: 'arm-0' });
          await sendPlan(h, plan, cuts);
          const mended = mendBoth ? [1, 2] : [1];
          for (const d of mended) h.twins.add(`arm-${d}`, ARM, { equipmentId: `arm-${d}` });
          await readmitRefused({ refused: container, pipeline: h.pipeline, logger: silentLogger, limit: 100 });
          await expectNoneLost(h, container, plan, (i) => !plan[i]!.invalid && (plan[i]!.device === 0 || mended.includes(plan[i]!.device)));
        },
      ),
      propertyRuns(4302, 15),
    );
  }, 120_000);
});

describe('taking in, after an upgrade, what the build before it refused', () => {
  let runs = 0;
  it('loses none and stores none twice: the new build takes in every reading it can, once, and keeps the rest whole (property)', async () => {
    const next = new TelemetryCatalog(await loadPlantModels(nextVersionModels()));
    await fc.assert(
      fc.asyncProperty(
        // Each reading: its device (0 and 1 have twins, moved to ;2 before the deploy; 2 has none), and whether its temperature is text (invalid for good).
        fc.array(fc.record({ device: fc.nat(2), invalid: fc.boolean() }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(2), { maxLength: 3 }),
        async (plan, cuts) => {
          const container = new BlobBatchDeadLetters(new ContainerClient(azurite().connectionString, `${REFUSED_CONTAINER}-u${++runs}`));
          // The build still running, which describes ;1 only, meets twins seeded onto ;2.
          const older = harness({ refused: container });
          for (const d of [0, 1]) older.twins.add(`arm-${d}`, 'dtmi:manufacturing:RoboticArm;2', { equipmentId: `arm-${d}` });
          await sendPlan(older, plan, cuts);
          expect(older.store.telemetry.size).toBe(0);
          // The deployed build, on the same twins and store, runs its timer's round twice.
          const newer = harness({ refused: container, twins: older.twins, catalog: next });
          const deps = { refused: container, pipeline: newer.pipeline, logger: silentLogger, limit: 100 };
          const describes = (model: string) => next.forTwinModel(model) !== undefined;
          await readmitNowDescribed(deps, describes);
          expect((await readmitNowDescribed(deps, describes)).tried).toBe(0);
          await expectNoneLost(newer, container, plan, (i) => !plan[i]!.invalid && plan[i]!.device !== 2);
        },
      ),
      propertyRuns(4303, 15),
    );
  }, 120_000);
});

describe('which events a batch refused', () => {
  const decodeOptions = { now: Date.now(), maxClockSkewMs: 300_000 };
  it('are exactly those the decoder refused, with each per-event metadata array picked alike (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }), fc.nat(1_000_000), (refusedMask, first) => {
        // A refused event is not JSON; the others are good readings.
        const msgs = refusedMask.map((refused, i) => (refused ? { device: `d${i}`, body: '{"temperature": ' } : reading(`d${i}`, i)));
        const { bodies, meta } = eventBatch(msgs, '0', first);
        const indices = refusedIndices(decodeBatch(bodies, meta, decodeOptions).deadLetters);
        expect(indices).toEqual(refusedMask.flatMap((r, i) => (r ? [i] : [])));
        const picked = pickEvents(bodies, meta as Record<string, unknown>, indices);
        expect(picked.bodies).toEqual(indices.map((i) => bodies[i]));
        expect(picked.triggerMetadata.sequenceNumberArray).toEqual(indices.map((i) => first + i));
        expect((picked.triggerMetadata.systemPropertiesArray as unknown[]).length).toBe(indices.length);
        expect(picked.triggerMetadata.partitionContext).toEqual({ PartitionId: '0' });
      }),
      propertyRuns(4301, 200),
    );
  });

  it('are told by their place in the batch, so a batch without sequence numbers keeps only them, and an event of several refused readings once', () => {
    const good = JSON.stringify(reading('a', 0).body);
    const { meta } = eventBatch([reading('a', 0), reading('a', 1), reading('a', 2)], '0', 3);
    delete meta.sequenceNumberArray;
    const letters = decodeBatch([good, '[1, 2]', 'not json'], meta, decodeOptions).deadLetters;
    expect(letters.map((d) => d.reason)).toEqual(['body.notObject', 'body.notObject', 'body.notJson']);
    expect(refusedIndices(letters)).toEqual([1, 2]);
  });
});
