/**
 * The Event Hubs endpoint over the event log, driven only through @azure/event-hubs with a
 * `UseDevelopmentEmulator=true` connection string, as an application would use Microsoft's
 * emulator: sending with and without partition keys, reading from every kind of position, the
 * hub's and partitions' runtime information, owner levels, and SAS tokens that are refused.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventHubConsumerClient, EventHubProducerClient, earliestEventPosition, latestEventPosition, type ReceivedEventData } from '@azure/event-hubs';
import { EventLog } from '../../src/emulators/event-log/event-log.ts';
import { startEventHubs, type EventHubsEndpoint } from '../../src/emulators/event-hubs/server.ts';
import { until } from '../support/until.ts';

let dir: string;
let log: EventLog;
let hubs: EventHubsEndpoint;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'eventhubs-'));
  log = EventLog.open(join(dir, 'eventlog'), { partitions: 4 });
  hubs = await startEventHubs({ eventLog: log, hubName: 'telemetry', port: 0, consumerGroups: ['analytics'], policies: { RootManageSharedAccessKey: { key: 'SAS_KEY_VALUE', rights: ['Manage', 'Send', 'Listen'] }, sender: { key: 'send-only-key', rights: ['Send'] } } });
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});
afterAll(async () => {
  await hubs.close();
  log.close();
  rmSync(dir, { recursive: true, force: true });
});

function producer(connectionString = hubs.connectionString()) {
  const client = new EventHubProducerClient(connectionString, { retryOptions: { maxRetries: 0, timeoutInMs: 5000 } });
  closers.push(() => client.close());
  return client;
}
function consumer(group = '$Default', connectionString = hubs.connectionString()) {
  const client = new EventHubConsumerClient(group, connectionString, { retryOptions: { maxRetries: 0, timeoutInMs: 5000 } });
  closers.push(() => client.close());
  return client;
}

/** Reads a partition from a position until `count` events arrived. */
async function readPartition(client: EventHubConsumerClient, partitionId: string, startPosition: Parameters<EventHubConsumerClient['subscribe']>[2] extends infer O ? (O extends { startPosition?: infer P } ? P : never) : never, count: number, ownerLevel?: number) {
  const got: ReceivedEventData[] = [];
  const errors: Error[] = [];
  const sub = client.subscribe(partitionId, { processEvents: async (events) => void got.push(...events), processError: async (e) => void errors.push(e) }, { startPosition, maxBatchSize: 50, maxWaitTimeInSeconds: 0.2, ...(ownerLevel === undefined ? {} : { ownerLevel }) });
  await until(`${count} events from partition ${partitionId}`, () => got.length >= count || errors.length > 0, { timeoutMs: 10_000 });
  await sub.close();
  if (errors.length) throw errors[0]!;
  return got;
}

describe('a producer sends to the local Event Hubs endpoint', () => {
  it('sees the hub and its partitions as the service describes them', async () => {
    const client = producer();
    const hub = await client.getEventHubProperties();
    expect(hub.name).toBe('telemetry');
    expect(hub.partitionIds).toEqual(['0', '1', '2', '3']);
    const p = await client.getPartitionProperties('2');
    expect(p).toMatchObject({ eventHubName: 'telemetry', partitionId: '2' });
    expect(typeof p.lastEnqueuedSequenceNumber).toBe('number');
  });

  it('keeps a partition key\'s events together, in order, in one partition, with their properties', async () => {
    const client = producer();
    const batch = await client.createBatch({ partitionKey: 'arm-001' });
    for (let i = 0; i < 5; i++) expect(batch.tryAdd({ body: { seq: i, temperature: 40 + i }, properties: { source: 'test', n: i, ok: true }, messageId: `m-${i}`, contentType: 'application/json' })).toBe(true);
    await client.sendBatch(batch);
    const partitionId = log.partitionFor('arm-001');
    const before = log.bounds(partitionId).next - 5;
    const got = await readPartition(consumer(), partitionId, { sequenceNumber: before, isInclusive: true }, 5);
    expect(got.slice(0, 5).map((e) => (e.body as { seq: number }).seq)).toEqual([0, 1, 2, 3, 4]);
    expect(got[0]).toMatchObject({ partitionKey: 'arm-001', properties: { source: 'test', n: 0, ok: true }, messageId: 'm-0', contentType: 'application/json', sequenceNumber: before });
    expect(got[0]!.enqueuedTimeUtc).toBeInstanceOf(Date);
    expect(typeof got[0]!.offset).toBe('string');
  });

  it('sends to a named partition, and spreads keyless batches over the partitions', async () => {
    const client = producer();
    const before = log.bounds('3').next;
    await client.sendBatch([{ body: 'to three' }], { partitionId: '3' });
    expect(log.read('3', before, 1)[0]!.body.toString()).toBe('"to three"');
    const counts = () => log.partitionIds.map((p) => log.bounds(p).next);
    const start = counts();
    for (let i = 0; i < 8; i++) await client.sendBatch([{ body: { i } }]);
    const grew = counts().map((n, i) => n - start[i]!);
    expect(grew.reduce((a, b) => a + b, 0)).toBe(8);
    expect(grew.filter((n) => n > 0).length).toBeGreaterThan(1);
  });
});

describe('a consumer reads a partition from where it asks', () => {
  let seqs: number[] = [];
  let offsets: string[] = [];
  beforeAll(async () => {
    const client = producer();
    const from = log.bounds('1').next;
    await client.sendBatch(Array.from({ length: 6 }, (_, i) => ({ body: { position: i } })), { partitionId: '1' });
    const records = log.read('1', from, 6);
    seqs = records.map((r) => r.sequenceNumber);
    offsets = records.map((r) => String(r.offset));
  });
  const positions = (events: ReceivedEventData[]) => events.map((e) => (e.body as { position?: number }).position).filter((p) => p !== undefined);

  it('from the earliest event', async () => {
    const got = await readPartition(consumer(), '1', earliestEventPosition, log.bounds('1').next - log.bounds('1').first);
    expect(got[0]!.sequenceNumber).toBe(log.bounds('1').first);
    expect(positions(got)).toEqual([0, 1, 2, 3, 4, 5]);
  });
  it('from a sequence number, inclusive or not', async () => {
    expect(positions(await readPartition(consumer(), '1', { sequenceNumber: seqs[2]!, isInclusive: true }, 4))).toEqual([2, 3, 4, 5]);
    expect(positions(await readPartition(consumer(), '1', { sequenceNumber: seqs[2]! }, 3))).toEqual([3, 4, 5]);
  });
  it('from an offset, inclusive or not', async () => {
    expect(positions(await readPartition(consumer(), '1', { offset: offsets[4]!, isInclusive: true }, 2))).toEqual([4, 5]);
    expect(positions(await readPartition(consumer(), '1', { offset: offsets[4]! }, 1))).toEqual([5]);
  });
  it('from an enqueued time: the first event enqueued after it', async () => {
    const time = log.read('1', seqs[5]!, 1)[0]!.enqueuedTime;
    // Events appended together share a time: the reader starts at the first one after `time - 1`.
    const first = log.read('1', 0, 1000).find((r) => r.enqueuedTime > time - 1)!;
    const got = await readPartition(consumer(), '1', { enqueuedOn: new Date(time - 1) }, seqs[5]! - first.sequenceNumber + 1);
    expect(got[0]!.sequenceNumber).toBe(first.sequenceNumber);
    expect(got[0]!.enqueuedTimeUtc.getTime()).toBeGreaterThan(time - 1);
    expect(positions(got)).toContain(5);
  });
  it('from the latest: only what is sent after it started', async () => {
    const client = consumer('analytics');
    const got: ReceivedEventData[] = [];
    const sub = client.subscribe('1', { processEvents: async (events) => void got.push(...events), processError: async () => {} }, { startPosition: latestEventPosition, maxWaitTimeInSeconds: 0.2 });
    closers.push(() => sub.close());
    await new Promise((r) => setTimeout(r, 500));
    await producer().sendBatch([{ body: { position: 99 } }], { partitionId: '1' });
    await until('the event sent after the start', () => got.length > 0, { timeoutMs: 10_000 });
    expect(positions(got)).toEqual([99]);
  });
});

describe('a consumer that tracks the partition\'s end', () => {
  it('gets the last enqueued event\'s sequence number, offset and time with what it reads', async () => {
    await producer().sendBatch([{ body: { track: 1 } }, { body: { track: 2 } }], { partitionId: '2' });
    const client = consumer();
    const seen: { sequenceNumber?: number; offset?: string; enqueuedOn?: Date }[] = [];
    const sub = client.subscribe('2', { processEvents: async (events, context) => void (events.length && seen.push({ ...context.lastEnqueuedEventProperties })), processError: async () => {} }, { startPosition: earliestEventPosition, trackLastEnqueuedEventProperties: true, maxWaitTimeInSeconds: 0.2 });
    await until('runtime information', () => seen.length > 0, { timeoutMs: 10_000 });
    await sub.close();
    const { next } = log.bounds('2');
    const last = log.read('2', next - 1, 1)[0]!;
    expect(seen.at(-1)).toMatchObject({ sequenceNumber: next - 1, offset: String(last.offset) });
    expect(seen.at(-1)!.enqueuedOn!.getTime()).toBe(last.enqueuedTime);
  });
});

describe('owner levels and tokens', () => {
  it('a receiver with a higher owner level takes the partition from a lower one', async () => {
    await producer().sendBatch([{ body: { owner: 1 } }], { partitionId: '0' });
    const lowErrors: Error[] = [];
    const low = consumer().subscribe('0', { processEvents: async () => {}, processError: async (e) => void lowErrors.push(e) }, { startPosition: earliestEventPosition, ownerLevel: 1, maxWaitTimeInSeconds: 0.2 });
    closers.push(() => low.close());
    await new Promise((r) => setTimeout(r, 500));
    const got = await readPartition(consumer(), '0', earliestEventPosition, 1, 2);
    expect(got.length).toBeGreaterThan(0);
    await until('the lower owner to be disconnected', () => lowErrors.length > 0, { timeoutMs: 10_000 });
    expect(lowErrors[0]).toMatchObject({ code: 'ReceiverDisconnectedError' });
    expect(hubs.stats.stolenLinks).toBeGreaterThan(0);
  });

  it('refuses a token signed with the wrong key, and a policy without the right', async () => {
    const wrong = hubs.connectionString().replace('SAS_KEY_VALUE', 'not-the-key');
    await expect(producer(wrong).sendBatch([{ body: 'x' }])).rejects.toMatchObject({ code: 'UnauthorizedError' });
    const sendOnly = hubs.connectionString('sender');
    await producer(sendOnly).sendBatch([{ body: 'allowed' }], { partitionId: '2' });
    await expect(readPartition(consumer('$Default', sendOnly), '2', earliestEventPosition, 1)).rejects.toMatchObject({ code: 'UnauthorizedError' });
    expect(hubs.stats.refusedLinks + hubs.stats.refusedTokens).toBeGreaterThan(0);
  });

  it('refuses a start at a sequence number that is not a whole number, and goes on serving', async () => {
    const producerClient = producer();
    await producerClient.sendBatch([{ body: { n: 1 } }, { body: { n: 2 } }, { body: { n: 3 } }], { partitionId: '0' });
    await expect(readPartition(consumer(), '0', { sequenceNumber: log.bounds('0').first + 0.5 }, 1)).rejects.toThrow(/whole number/);
    await producerClient.sendBatch([{ body: { after: 'fraction' } }], { partitionId: '0' });
    const next = log.bounds('0').next;
    const got = await readPartition(consumer(), '0', { sequenceNumber: next - 1, isInclusive: true }, 1);
    expect(got[0]!.body).toEqual({ after: 'fraction' });
  });

  it('refuses a consumer group the hub does not have', async () => {
    await expect(readPartition(consumer('nobody'), '0', earliestEventPosition, 1)).rejects.toMatchObject({ code: 'MessagingEntityNotFoundError' });
  });
});

describe('a consumer of a log that lost records to a crash', () => {
  it('receives every record that is left, past the lost ones, instead of waiting at the gap for ever', async () => {
    const damaged = join(dir, 'damaged');
    const before = EventLog.open(damaged, { partitions: 1, segmentBytes: 400 });
    for (let i = 0; i < 30; i++) await before.append({ partitionKey: 'arm-9', body: Buffer.from(JSON.stringify({ n: i })) });
    before.close();
    // An older segment's tail was not on disk when the machine went down; newer segments were.
    const folder = join(damaged, 'partitions', '0');
    const second = join(folder, readdirSync(folder).sort()[1]!);
    const bytes = readFileSync(second);
    writeFileSync(second, bytes.subarray(0, bytes.length - 5));

    const reopened = EventLog.open(damaged);
    const endpoint = await startEventHubs({ eventLog: reopened, hubName: 'telemetry', port: 0, policies: { RootManageSharedAccessKey: { key: 'SAS_KEY_VALUE', rights: ['Manage', 'Send', 'Listen'] } } });
    try {
      const client = new EventHubConsumerClient('$Default', endpoint.connectionString(), { retryOptions: { maxRetries: 0, timeoutInMs: 5000 } });
      closers.push(() => client.close());
      const got = await readPartition(client, '0', earliestEventPosition, 29);
      // 29 of the 30, once each and in order, the last one included.
      const ns = got.map((e) => (e.body as { n: number }).n);
      expect(ns).toEqual([...new Set(ns)].sort((a, b) => a - b));
      expect(ns).toHaveLength(29);
      expect(got.at(-1)!.sequenceNumber).toBe(29);
    } finally {
      await Promise.all(closers.splice(0).map((c) => c()));
      await endpoint.close();
      reopened.close();
    }
  });
});
