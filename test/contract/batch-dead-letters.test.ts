/**
 * A batch that keeps failing is neither lost nor left to hold its partition: the Event Hubs
 * trigger retries it for as long as it fails (the host checkpoints past a batch whose policy ran
 * out), a failure retrying does not mend is kept whole in the app's storage account after its
 * retries, and a timer hands it back to the pipeline once it can be handled. Through the Storage
 * SDK against Azurite.
 */
import { describe, expect, it } from 'vitest';
import { relisting } from '../support/relisting.ts';
import fc from 'fast-check';
import { propertyRuns } from '../support/property-runs.ts';
import { ContainerClient } from '@azure/storage-blob';
import { azuriteForFile } from '../support/azurite.ts';
import { BATCH_DEAD_LETTER_CONTAINER, BlobBatchDeadLetters, batchName } from '../../src/lib/store/blob-batch-dead-letters.ts';
import { redeliverBatches, roundFailure } from '../../src/lib/batch-redelivery.ts';
import { DEAD_LETTER_AFTER_RETRIES, DEAD_LETTERED_LOG } from '../../src/lib/telemetry-ingest.ts';
import { AppError } from '../../src/lib/errors.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { harness } from '../support/pipeline-harness.ts';
import { InMemoryStore } from '../support/in-memory-store.ts';
import { InMemoryTwins } from '../support/in-memory-twins.ts';
import { batch as eventBatch } from '../support/plant.ts';
import { loadConfig } from '../../src/lib/config.ts';
import { createServices } from '../../src/lib/composition.ts';
import azureFunctions from '@azure/functions';
import { ARM, LINE, bytesOf, iso } from '../support/plant.ts';

const azurite = azuriteForFile('dead-letters');

let containers = 0;
/** Each test its own container, as each app has its own storage account. */
const keeper = () => new BlobBatchDeadLetters(new ContainerClient(azurite().connectionString, `${BATCH_DEAD_LETTER_CONTAINER}-${++containers}`));
const refused = () => new AppError('store.http403', 'Data Explorer answered 403: the identity may not ingest', { status: 502 });
/** The names of the batches kept, in the order a redelivery round meets them. */
async function namesOf(deadLetters: BlobBatchDeadLetters): Promise<string[]> {
  const names: string[] = [];
  for await (const name of deadLetters.names()) names.push(name);
  return names;
}
/** A GET as the HTTP hosts hand it to the API. */
const get = (path: string) => ({ method: 'GET', url: `http://localhost${path}`, headers: new Headers(), params: {}, text: async () => '' });
const throttled = () => new AppError('store.http429', 'Data Explorer answered 429', { status: 503, retryable: true });

function plant(deadLetters: BlobBatchDeadLetters) {
  const h = harness({ deadLetters });
  h.twins.add('production-line-a', LINE);
  h.twins.add('robotic-arm-001', ARM, { equipmentId: 'robotic-arm-001' });
  return h;
}
const t0 = Date.now() - 60_000;
const readings = (n: number) => Array.from({ length: n }, (_, i) => ({ device: 'robotic-arm-001', body: { timestamp: iso(t0 + i * 1000), temperature: 60 + i } }));

describe('a batch that keeps failing', () => {
  it('is retried while retries are few, then kept whole and the invocation succeeds, so the partition goes on', async () => {
    const deadLetters = keeper();
    const h = plant(deadLetters);
    h.store.failNext.push(...Array.from({ length: DEAD_LETTER_AFTER_RETRIES + 1 }, refused));
    const batch = readings(3);
    for (let retry = 0; retry < DEAD_LETTER_AFTER_RETRIES; retry++) await expect(h.send(batch, '0', retry)).rejects.toThrow('403');
    expect(await namesOf(deadLetters)).toEqual([]);
    const result = await h.send(batch, '0', DEAD_LETTER_AFTER_RETRIES);
    expect(result).toMatchObject({ events: 3, deadLettered: 3, stored: 0, deadLetterReasons: { 'batch.deadLettered': 3 } });
    const [name] = await namesOf(deadLetters);
    expect(name).toMatch(/^0\/\d{20}-\d{20}\.json$/);
    const kept = await deadLetters.get(name!);
    expect(kept).toMatchObject({ attempts: DEAD_LETTER_AFTER_RETRIES + 1, error: { code: 'store.http403' } });
    // The bodies as the trigger handed them over (text here, as the harness sends them).
    expect(kept!.bodies).toEqual(batch.map((m) => bytesOf(m.body)));
    expect((kept!.triggerMetadata.systemPropertiesArray as Record<string, unknown>[]).map((p) => p['iothub-connection-device-id'])).toEqual(['robotic-arm-001', 'robotic-arm-001', 'robotic-arm-001']);
    // An error whose message begins as infra/'s alert rule looks for (test/unit/infra.test.ts).
    expect(h.logs.some((l) => l.startsWith(`error ${DEAD_LETTERED_LOG}`))).toBe(true);
    expect(h.store.telemetry.size).toBe(0);
  });

  it('is never kept while a far end only throttles or is down: the host retries it for as long as that lasts', async () => {
    const deadLetters = keeper();
    const h = plant(deadLetters);
    h.store.failNext.push(...Array.from({ length: 20 }, throttled));
    await expect(h.send(readings(2), '0', 500)).rejects.toThrow('429');
    expect(await namesOf(deadLetters)).toEqual([]);
  });

  it('fails the invocation when it cannot be kept (storage unreachable), so the host retries it rather than checkpoint past it', async () => {
    const unreachable = new BlobBatchDeadLetters(new ContainerClient('DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;', 'telemetry-dead-letters', { retryOptions: { maxTries: 1 } }));
    const h = plant(unreachable);
    h.store.failNext.push(refused());
    const error = await h.send(readings(1), '0', DEAD_LETTER_AFTER_RETRIES).then(() => undefined, (e: Error) => e);
    // The storage account's failure, thrown after the store's refusal: it is what the host retries.
    expect(error?.message).toMatch(/ECONNREFUSED/);
  });

  it('is handed back to the pipeline by the redelivery once it can be handled: stored once, then no longer kept', async () => {
    const deadLetters = keeper();
    const h = plant(deadLetters);
    h.store.failNext.push(refused());
    await h.send(readings(4), '0', DEAD_LETTER_AFTER_RETRIES);
    // Still refused at the first round, the batch and both its halves: kept whole for the next.
    h.store.failNext.push(refused(), refused(), refused());
    const first = await redeliverBatches({ deadLetters, pipeline: h.pipeline, logger: silentLogger, limit: 20 });
    expect(first).toEqual({ tried: 1, redelivered: 0, failed: 1, narrowed: 0, unreadable: 0 });
    expect(await namesOf(deadLetters)).toHaveLength(1);
    // The timer's invocation fails on such a round (a failed request, which the alert rule counts).
    expect(roundFailure(first)).toMatchObject({ code: 'deadLetters.stillKept', message: expect.stringMatching(/^1 kept batch still fails: /) });
    const second = await redeliverBatches({ deadLetters, pipeline: h.pipeline, logger: silentLogger, limit: 20 });
    expect(second).toEqual({ tried: 1, redelivered: 1, failed: 0, narrowed: 0, unreadable: 0 });
    expect(roundFailure(second)).toBeUndefined();
    expect(h.store.telemetry.size).toBe(4);
    expect(h.twins.props('robotic-arm-001').temperature).toBe(63);
    expect(await namesOf(deadLetters)).toEqual([]);
    expect(await redeliverBatches({ deadLetters, pipeline: h.pipeline, logger: silentLogger, limit: 20 })).toEqual({ tried: 0, redelivered: 0, failed: 0, narrowed: 0, unreadable: 0 });
  });

  it('stops a redelivery round at the first far end that is down, and keeps every batch for the next', async () => {
    const deadLetters = keeper();
    const h = plant(deadLetters);
    for (let b = 0; b < 3; b++) {
      h.store.failNext.push(refused());
      await h.send(readings(1), '0', DEAD_LETTER_AFTER_RETRIES);
    }
    h.store.failNext.push(...Array.from({ length: 10 }, throttled));
    const round = await redeliverBatches({ deadLetters, pipeline: h.pipeline, logger: silentLogger, limit: 20 });
    expect(round).toEqual({ tried: 1, redelivered: 0, failed: 1, narrowed: 0, unreadable: 0 });
    expect(await namesOf(deadLetters)).toHaveLength(3);
  });
  it('hands old readings back as records: an incident open now is neither cleared nor raised again by them, and nobody is told of them', async () => {
    const deadLetters = keeper();
    const h = plant(deadLetters);
    const T = Date.now() - 10 * 60_000;
    const run = (from: number, n: number, values: (i: number) => Record<string, unknown>, tag: string) =>
      Array.from({ length: n }, (_, i) => ({ device: 'robotic-arm-001', body: { timestamp: iso(T + (from + i) * 1000), ...values(i) }, messageId: `${tag}${i}` }));
    const calm = (i: number) => ({ temperature: 65 + (i % 3) * 0.5, vibration: 0.5 + (i % 2) * 0.02, pressure: 6, status: 'running' });
    const hot = (i: number) => ({ temperature: 97 + (i % 2), vibration: 0.5, pressure: 6, status: 'running' });
    await h.send(run(0, 60, calm, 'n'));
    // 100 s of calm readings, then 20 s of hot ones, that the store refused for good: kept.
    h.store.failNext.push(refused());
    await h.send([...run(60, 100, calm, 'k'), ...run(160, 20, hot, 'kh')], '0', DEAD_LETTER_AFTER_RETRIES);
    // Meanwhile the arm runs hot: one incident, one card.
    await h.send(run(180, 10, hot, 'h'));
    expect(h.alerts.sent.map((a) => a.incident.event)).toEqual(['raised']);
    const incident = h.alerts.sent[0]!.incident.id;
    expect(await redeliverBatches({ deadLetters, pipeline: h.pipeline, logger: silentLogger, limit: 20 })).toMatchObject({ redelivered: 1 });
    // Stored and flagged, but the 100 s of calm did not clear the incident open now, nor did the old heat raise another.
    expect(h.store.telemetry.size).toBe(60 + 120 + 10);
    expect([...h.store.anomalies.values()].filter((f) => f.MessageId.includes('|m:kh')).length).toBeGreaterThan(0);
    expect(h.alerts.sent.map((a) => a.incident.event)).toEqual(['raised']);
    // Every lifecycle step came from the readings of now, the notified one last.
    expect(h.store.storedAlarmEvents.at(-1)?.IncidentId).toBe(incident);
    expect(h.store.storedAlarmEvents.every((e) => e.IncidentId.includes('|m:h') && e.Event !== 'cleared')).toBe(true);
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ healthStatus: 'critical', lastTelemetryTime: iso(T + 189_000) });
    // The arm back to normal now clears it as usual.
    await h.send(run(190, 80, calm, 'c'));
    expect(h.alerts.sent.map((a) => a.incident.event)).toEqual(['raised', 'cleared']);
  });

  it('goes past a blob that is not a kept batch and a batch that still fails for good: neither keeps the others waiting', async () => {
    const container = new ContainerClient(azurite().connectionString, `${BATCH_DEAD_LETTER_CONTAINER}-${++containers}`);
    const deadLetters = new BlobBatchDeadLetters(container);
    const h = plant(deadLetters);
    for (let b = 0; b < 3; b++) {
      h.store.failNext.push(refused());
      await h.send(readings(3).slice(b, b + 1), '0', DEAD_LETTER_AFTER_RETRIES);
    }
    // Written by hand, first in name order.
    await container.getBlockBlobClient('0/00000000000000000000-hand-written.json').upload('{"not":"a batch"}', 17);
    // The first kept batch still fails for good; the others go through, one round at a limit of one.
    h.store.failNext.push(refused());
    expect(await redeliverBatches({ deadLetters, pipeline: h.pipeline, logger: silentLogger, limit: 1 })).toEqual({ tried: 2, redelivered: 1, failed: 1, narrowed: 0, unreadable: 1 });
    const round = await redeliverBatches({ deadLetters, pipeline: h.pipeline, logger: silentLogger, limit: 5 });
    expect(round).toEqual({ tried: 2, redelivered: 2, failed: 0, narrowed: 0, unreadable: 1 });
    expect(await namesOf(deadLetters)).toEqual(['0/00000000000000000000-hand-written.json']);
    // What is left there needs someone: the round fails for it too.
    expect(roundFailure(round)?.message).toMatch(/^1 blob in the container is no batch this app kept: /);
    expect(h.store.telemetry.size).toBe(3);
  });

  /** A store that refuses for good any write holding a reading whose message id names it; counts the rows of each write it takes. */
  function refusingReadings(h: ReturnType<typeof plant>, marked: string): Map<string, number> {
    const writes = new Map<string, number>();
    const write = h.store.write.bind(h.store);
    h.store.write = async (b) => {
      if (b.telemetry.some((r) => r.MessageId.includes(marked))) throw refused();
      await write(b);
      for (const r of b.telemetry) writes.set(r.MessageId, (writes.get(r.MessageId) ?? 0) + 1);
    };
    return writes;
  }
  /** Which of the tagged readings the store holds, by their place in the batch. */
  const storedReadings = (h: ReturnType<typeof plant>) => [...h.store.telemetry.values()].map((r) => Number(/-(\d+)@/.exec(r.MessageId)![1])).sort((a, b) => a - b);
  const tagged = (n: number, poison: ReadonlySet<number>) =>
    readings(n).map((m, i) => ({ ...m, messageId: poison.has(i) ? `poison-${i}` : `fine-${i}` }));

  it('lets the rest of a kept batch through when one reading alone fails it for good: only that reading stays kept', async () => {
    const deadLetters = keeper();
    const h = plant(deadLetters);
    refusingReadings(h, 'poison');
    const first = h.sequences.get('0') ?? 0;
    await h.send(tagged(11, new Set([7])), '0', DEAD_LETTER_AFTER_RETRIES);
    expect(h.store.telemetry.size).toBe(0);
    // Listed as a listing that pages sees it: the reading kept alone by this round is not tried again in it.
    const paging: typeof deadLetters = Object.assign(Object.create(deadLetters) as typeof deadLetters, { names: () => relisting(() => deadLetters.names(), (n) => n) });
    const round = await redeliverBatches({ deadLetters: paging, pipeline: h.pipeline, logger: silentLogger, limit: 20 });
    expect(round).toEqual({ tried: 1, redelivered: 0, failed: 0, narrowed: 1, unreadable: 0 });
    // Ten of the eleven readings are stored; the one that fails is kept alone, with its own metadata.
    expect(storedReadings(h)).toEqual([0, 1, 2, 3, 4, 5, 6, 8, 9, 10]);
    const names = await namesOf(deadLetters);
    const seq = String(first + 7).padStart(20, '0');
    expect(names).toEqual([`0/${seq}-${seq}.json`]);
    const kept = (await deadLetters.get(names[0]!))!;
    expect(kept.bodies).toHaveLength(1);
    expect(JSON.parse(kept.bodies[0] as string)).toMatchObject({ temperature: 67 });
    expect(kept.triggerMetadata).toMatchObject({ partitionContext: { PartitionId: '0' }, sequenceNumberArray: [first + 7], systemPropertiesArray: [{ 'message-id': 'poison-7' }] });
    expect(kept.triggerMetadata.enqueuedTimeUtcArray).toHaveLength(1);
    expect(kept.error.code).toBe('store.http403');
    // It keeps failing on its own, and keeps nothing else waiting.
    expect(await redeliverBatches({ deadLetters, pipeline: h.pipeline, logger: silentLogger, limit: 20 })).toEqual({ tried: 1, redelivered: 0, failed: 1, narrowed: 0, unreadable: 0 });
    expect(await namesOf(deadLetters)).toEqual(names);
  });

  it('keeps a batch whole when every part of it fails alike (the store refusing everything), rather than cut it into a blob per reading', async () => {
    const deadLetters = keeper();
    const h = plant(deadLetters);
    refusingReadings(h, '');
    await h.send(tagged(16, new Set()), '0', DEAD_LETTER_AFTER_RETRIES);
    const before = await namesOf(deadLetters);
    for (let round = 0; round < 3; round++) {
      expect(await redeliverBatches({ deadLetters, pipeline: h.pipeline, logger: silentLogger, limit: 20 })).toEqual({ tried: 1, redelivered: 0, failed: 1, narrowed: 0, unreadable: 0 });
    }
    expect(await namesOf(deadLetters)).toEqual(before);
    expect((await deadLetters.get(before[0]!))!.bodies).toHaveLength(16);
  });

  it('loses no reading and stores none twice whichever readings of a kept batch fail for good (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 24 }), fc.uniqueArray(fc.nat({ max: 23 }), { maxLength: 4 }), async (n, marks) => {
        const poison = new Set(marks.filter((i) => i < n));
        const deadLetters = keeper();
        const h = plant(deadLetters);
        const writes = refusingReadings(h, 'poison');
        await h.send(tagged(n, poison), '0', DEAD_LETTER_AFTER_RETRIES);
        for (let round = 0; round < 3; round++) await redeliverBatches({ deadLetters, pipeline: h.pipeline, logger: silentLogger, limit: 20 });
        // Every reading is either stored (once: rows are keyed) or still kept, and every poisoned one is kept.
        const stored = new Set(storedReadings(h));
        const kept = new Set<number>();
        for (const name of await namesOf(deadLetters)) {
          for (const p of (await deadLetters.get(name))!.triggerMetadata.systemPropertiesArray as { 'message-id': string }[]) kept.add(Number(p['message-id'].split('-')[1]));
        }
        for (let i = 0; i < n; i++) expect(stored.has(i) || kept.has(i)).toBe(true);
        for (const i of poison) expect(kept.has(i) && !stored.has(i)).toBe(true);
        expect([...writes.values()].every((count) => count === 1)).toBe(true);
        // One poisoned reading never keeps the others out of the store.
        if (poison.size === 1) expect(stored.size).toBe(n - 1);
      }),
      propertyRuns(4207, 25),
    );
  });
});

describe('the app as composed from its settings', () => {
  it('keeps a batch in its own storage account (AzureWebJobsStorage) and its redelivery timer hands it back', async () => {
    const twins = new InMemoryTwins();
    twins.add('production-line-a', LINE);
    twins.add('robotic-arm-001', ARM, { equipmentId: 'robotic-arm-001' });
    const store = new InMemoryStore();
    const config = loadConfig({ DIGITAL_TWINS_URL: 'https://twins.invalid', DUCKDB_PATH: 'unused', AzureWebJobsStorage: azurite().connectionString, LOG_LEVEL: 'error' });
    const services = await createServices(config, { twins, store, logger: silentLogger });
    const { bodies, meta } = eventBatch(readings(2), '1', 40);
    const context = new azureFunctions.InvocationContext({ invocationId: 'i', functionName: 'telemetryIngest', triggerMetadata: meta as Record<string, unknown>, retryContext: { retryCount: DEAD_LETTER_AFTER_RETRIES, maxRetryCount: -1 } });
    store.failNext.push(refused());
    expect(await services.telemetryIngest(bodies, context)).toMatchObject({ deadLettered: 2 });
    const appContainer = new BlobBatchDeadLetters(new ContainerClient(azurite().connectionString, BATCH_DEAD_LETTER_CONTAINER));
    expect(await namesOf(appContainer)).toEqual(['1/00000000000000000040-00000000000000000041.json']);
    // What the API (and the dashboard) tell an operator meanwhile.
    const kept = await services.plantApi.keptBatches(get('/api/telemetry/kept'));
    expect(kept.jsonBody).toMatchObject({ keeping: true, batches: 1, events: 2, counted: true, items: [{ partitionId: '1', firstSequenceNumber: '40', lastSequenceNumber: '41', events: 2, attempts: DEAD_LETTER_AFTER_RETRIES + 1, error: { code: 'store.http403' } }] });
    expect((kept.jsonBody as { oldestFailedAt: string }).oldestFailedAt).toBe((kept.jsonBody as { items: { failedAt: string }[] }).items[0]!.failedAt);
    // An operator who has mended the cause need not wait for the timer: the same round, through the API.
    const now = await services.plantApi.redeliverKept({ ...get('/api/telemetry/kept/redeliver'), method: 'POST' });
    expect(now).toMatchObject({ status: 200, jsonBody: { tried: 1, redelivered: 1, failed: 0, narrowed: 0, unreadable: 0 } });
    expect(await services.redeliverBatches()).toEqual({ tried: 0, redelivered: 0, failed: 0, narrowed: 0, unreadable: 0 });
    expect(store.telemetry.size).toBe(2);
    expect(await namesOf(appContainer)).toEqual([]);
    expect((await services.plantApi.keptBatches(get('/api/telemetry/kept'))).jsonBody).toEqual({ keeping: true, batches: 0, events: 0, oldestFailedAt: null, counted: true, items: [] });
  });

  it('says it keeps nothing without a storage account, and answers 503 when its storage cannot be reached', async () => {
    const bare = await createServices(loadConfig({ DIGITAL_TWINS_URL: 'https://twins.invalid', DUCKDB_PATH: 'unused', LOG_LEVEL: 'error' }), { twins: new InMemoryTwins(), store: new InMemoryStore(), logger: silentLogger });
    expect((await bare.plantApi.keptBatches(get('/api/telemetry/kept'))).jsonBody).toMatchObject({ keeping: false, batches: 0, items: [] });
    expect((await bare.plantApi.redeliverKept({ ...get('/api/telemetry/kept/redeliver'), method: 'POST' })).jsonBody).toMatchObject({ status: 409, code: 'deadLetters.notKept' });
    const unreachable = 'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;';
    const down = await createServices(loadConfig({ DIGITAL_TWINS_URL: 'https://twins.invalid', DUCKDB_PATH: 'unused', AzureWebJobsStorage: unreachable, LOG_LEVEL: 'error' }), { twins: new InMemoryTwins(), store: new InMemoryStore(), logger: silentLogger });
    const answer = await down.plantApi.keptBatches(get('/api/telemetry/kept'));
    expect(answer.status).toBe(503);
    expect(answer.jsonBody).toMatchObject({ code: 'deadLetters.unreachable', status: 503 });
    expect((await down.plantApi.redeliverKept({ ...get('/api/telemetry/kept/redeliver'), method: 'POST' })).jsonBody).toMatchObject({ code: 'deadLetters.unreachable', status: 503 });
  }, 90_000);
});

describe('the kept batches', () => {
  const meta = (first: number, last: number) => ({ partitionContext: { PartitionId: '3' }, sequenceNumberArray: [first, last] });

  it('are one blob for a batch kept twice (a crash between keeping it and the checkpoint), named in sequence order per partition', async () => {
    const deadLetters = keeper();
    const batch = { failedAt: new Date().toISOString(), attempts: 9, error: { code: 'x', message: 'y' }, bodies: [{ a: 1 }, { a: 2 }] };
    await deadLetters.put({ ...batch, triggerMetadata: meta(10, 11) });
    await deadLetters.put({ ...batch, triggerMetadata: meta(10, 11) });
    await deadLetters.put({ ...batch, triggerMetadata: meta(9, 9) });
    await deadLetters.put({ ...batch, triggerMetadata: meta(100, 101) });
    expect(await namesOf(deadLetters)).toEqual([batchName(meta(9, 9)), batchName(meta(10, 11)), batchName(meta(100, 101))]);
  });

  it('keep bodies the host did not parse byte for byte, and text, numbers and null as they came', async () => {
    const deadLetters = keeper();
    const bytes = new Uint8Array([0, 255, 10, 0x7b]);
    const name = await deadLetters.put({ failedAt: 't', attempts: 1, error: { code: 'c', message: 'm' }, bodies: [bytes, 'not json {', 42, null, { nested: [1, 'x'] }], triggerMetadata: { partitionContext: { PartitionId: '../1' }, propertiesArray: [{ raw: Buffer.from([1, 2]) }] } });
    expect(name).toMatch(/^unknown\/unsequenced-[\w-]+\.json$/);
    const kept = await deadLetters.get(name);
    expect(Buffer.from(kept!.bodies[0] as Uint8Array)).toEqual(Buffer.from(bytes));
    expect(kept!.bodies.slice(1)).toEqual(['not json {', 42, null, { nested: [1, 'x'] }]);
    // Bytes in the metadata too, as base64, not as JSON's array of numbers.
    expect(kept!.triggerMetadata.propertiesArray).toEqual([{ raw: 'AQI=' }]);
  });

  it('give back any batch the host may hand over as it came: JSON values, text, bytes, and the metadata arrays (property)', async () => {
    const deadLetters = keeper();
    const body = fc.oneof(fc.json().map((text) => JSON.parse(text) as unknown), fc.string(), fc.uint8Array({ maxLength: 64 }));
    const metadata = fc.record({
      partitionContext: fc.record({ PartitionId: fc.oneof(fc.nat(31).map(String), fc.string()) }),
      sequenceNumberArray: fc.array(fc.oneof(fc.nat(), fc.nat().map(String), fc.string()), { maxLength: 4 }),
      propertiesArray: fc.array(fc.dictionary(fc.string(), fc.json().map((text) => JSON.parse(text) as unknown)), { maxLength: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(body, { maxLength: 5 }), metadata, async (bodies, triggerMetadata) => {
        const name = await deadLetters.put({ failedAt: 't', attempts: 9, error: { code: 'c', message: 'm' }, bodies, triggerMetadata });
        const kept = await deadLetters.get(name);
        expect(kept!.bodies.map((b) => (Buffer.isBuffer(b) ? new Uint8Array(b) : b))).toEqual(bodies);
        expect(kept!.triggerMetadata).toEqual(triggerMetadata);
        await deadLetters.remove(name);
      }),
      propertyRuns(4101, 60),
    );
  });

  it('tell an operator what each holds and why from the listing alone: partition, sequence numbers, readings, since when and the error', async () => {
    const deadLetters = keeper();
    const failedAt = '2026-12-05T10:32:00.000Z';
    // Any character may be in an error message (a device's text echoed back); the listing carries its first 500.
    const head = `Data Explorer answered 403 for "Bühler-Öfen ✓" \r\n `;
    const message = `${head.padEnd(499, 'x')}😀 and more`;
    await deadLetters.put({ failedAt, attempts: 9, error: { code: 'store.http403', message }, bodies: [{ a: 1 }, { a: 2 }, { a: 3 }], triggerMetadata: meta(120, 122) });
    await deadLetters.put({ failedAt, attempts: 2, error: { code: 'c', message: 'm' }, bodies: [{ a: 1 }], triggerMetadata: meta(7, 7) });
    // A blob someone else put there (or an older version of the app, which wrote no summary): listed, its facts unknown.
    const foreign = new ContainerClient(azurite().connectionString, (deadLetters as unknown as { container: ContainerClient }).container.containerName);
    await foreign.getBlockBlobClient('notes.txt').upload('hello', 5);
    const summaries = [];
    for await (const s of deadLetters.summaries()) summaries.push(s);
    expect(summaries.map((s) => s.name)).toEqual(await namesOf(deadLetters));
    const [seven, big, other] = [summaries.find((s) => s.firstSequenceNumber === '7')!, summaries.find((s) => s.firstSequenceNumber === '120')!, summaries.find((s) => s.name === 'notes.txt')!];
    expect(seven).toMatchObject({ partitionId: '3', lastSequenceNumber: '7', events: 1, attempts: 2, error: { code: 'c', message: 'm' } });
    expect(big).toMatchObject({ partitionId: '3', firstSequenceNumber: '120', lastSequenceNumber: '122', events: 3, failedAt, attempts: 9, error: { code: 'store.http403' } });
    // Cut at 500 characters: the emoji's half is replaced, never a broken header or a throw.
    expect(big.error!.message).toBe(`${message.slice(0, 499)}\uFFFD`);
    expect(big.bytes).toBeGreaterThan(0);
    expect(Date.parse(big.keptAt!)).toBeGreaterThan(Date.now() - 60_000);
    expect(other).toMatchObject({ partitionId: undefined, firstSequenceNumber: undefined, events: undefined, failedAt: undefined, attempts: undefined, error: undefined, bytes: 5 });
  });

  it('list any error a batch failed with, whatever its characters, as it was up to the cut (property)', async () => {
    const deadLetters = keeper();
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary', maxLength: 700 }), fc.string({ unit: 'grapheme', maxLength: 40 }), async (message, code) => {
        const name = await deadLetters.put({ failedAt: 'at', attempts: 1, error: { code, message }, bodies: [1], triggerMetadata: meta(5, 5) });
        const [summary] = await (async () => { const out = []; for await (const s of deadLetters.summaries()) out.push(s); return out; })();
        const wellFormed = (text: string) => text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
        expect(summary!.error).toEqual(code || message ? { code: wellFormed(code.slice(0, 100)), message: wellFormed(message.slice(0, 500)) } : undefined);
        await deadLetters.remove(name);
      }),
      propertyRuns(4102, 40),
    );
  });

  it('are gone once removed, and a container never written to holds none', async () => {
    const deadLetters = keeper();
    expect(await namesOf(deadLetters)).toEqual([]);
    const name = await deadLetters.put({ failedAt: 't', attempts: 1, error: { code: 'c', message: 'm' }, bodies: [], triggerMetadata: meta(1, 1) });
    await deadLetters.remove(name);
    await deadLetters.remove(name);
    expect(await deadLetters.get(name)).toBeUndefined();
    expect(await namesOf(deadLetters)).toEqual([]);
  });
});
