/**
 * The local trigger runner delivers batches the way the Functions host does: through the Event
 * Hubs SDK from the local Event Hubs endpoint, with its ownership and checkpoints in Azurite.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainerClient } from '@azure/storage-blob';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { EventLog } from '../../src/emulators/event-log/event-log.ts';
import { startEventHubs, type EventHubsEndpoint } from '../../src/emulators/event-hubs/server.ts';
import { startAzurite, type Azurite } from '../../src/local/azurite.ts';
import { TriggerRunner, readHostBatchSettings, retryPolicyOf, timeSpanMs, type EventHubHandler, type TriggerContext, type TriggerRunnerOptions } from '../../src/local/trigger-runner.ts';
import { TELEMETRY_INGEST_TRIGGER } from '../../src/lib/telemetry-ingest.ts';
import { jsonLogger, type Logger } from '../../src/lib/log.ts';
import { projectRoot } from '../../src/lib/paths.ts';
import { until } from '../support/until.ts';

const FAST = { timeoutMs: 15_000, everyMs: 5 };

let azurite: Azurite;
const dirs: string[] = [];
beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'azurite-'));
  dirs.push(dir);
  azurite = await startAzurite({ location: dir, port: 0 });
});
afterAll(async () => {
  await azurite.close();
  dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
});

/** An event log behind its own Event Hubs endpoint; each test its own hub name, so their checkpoints stay apart. */
interface Hub {
  log: EventLog;
  endpoint: EventHubsEndpoint;
  dir: string;
  close(): Promise<void>;
}
const opened: Hub[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((h) => h.close()));
});
let hubCount = 0;
async function openHub(reuse?: { dir: string; hubName: string }, partitions = 2): Promise<Hub & { hubName: string }> {
  const dir = reuse?.dir ?? mkdtempSync(join(tmpdir(), 'runner-'));
  if (!reuse) dirs.push(dir);
  const hubName = reuse?.hubName ?? `hub${++hubCount}-${process.pid}`;
  const log = EventLog.open(join(dir, 'eventlog'), { partitions });
  const endpoint = await startEventHubs({ eventLog: log, hubName, port: 0 });
  let closed = false;
  const hub = {
    log, endpoint, dir, hubName,
    async close() {
      if (closed) return;
      closed = true;
      await endpoint.close();
      log.close();
    },
  };
  opened.push(hub);
  return hub;
}
const quiet = jsonLogger('test', 'error', () => true);
const options = (hub: Hub & { hubName: string }, handler: EventHubHandler, more: Partial<TriggerRunnerOptions> = {}): TriggerRunnerOptions => ({
  connectionString: hub.endpoint.connectionString(),
  storageConnectionString: azurite.connectionString,
  deadLetterDir: join(hub.dir, 'dead-letters'),
  handler, functionName: 'telemetryIngest', eventHubName: hub.hubName, consumerGroup: '$Default', logger: quiet,
  batch: { maxEventBatchSize: 50, minEventBatchSize: 1, maxWaitTimeMs: 20 },
  retry: { strategy: 'exponentialBackoff', maxRetryCount: 2, minimumIntervalMs: 1, maximumIntervalMs: 4 },
  ownerId: 'host-a',
  loadBalancing: { updateIntervalMs: 200, ownershipExpiryMs: 2000, strategy: 'greedy' },
  ...more,
});
const runner = (hub: Hub & { hubName: string }, handler: EventHubHandler, retries = 2, logger: Logger = quiet) =>
  new TriggerRunner(options(hub, handler, { logger, retry: { strategy: 'exponentialBackoff', maxRetryCount: retries, minimumIntervalMs: 1, maximumIntervalMs: 4 } }));
const send = (log: EventLog, device: string, n: number) =>
  log.append({ partitionKey: device, body: Buffer.from(JSON.stringify({ n })), properties: { app: 'x' }, systemProperties: { 'iothub-connection-device-id': device, 'message-id': `${device}-${n}` } });
/** Where the consumer group has checkpointed a partition, as the blob checkpoint store says. */
async function checkpointOf(hub: Hub & { hubName: string }, partitionId: string): Promise<number | undefined> {
  const store = new BlobCheckpointStore(new ContainerClient(azurite.connectionString, 'azure-webjobs-eventhub'));
  return (await store.listCheckpoints('localhost', hub.hubName, '$Default')).find((c) => c.partitionId === partitionId)?.sequenceNumber;
}

describe('the trigger runner', () => {
  it('reads the host settings the Functions host reads', () => {
    expect(readHostBatchSettings(join(projectRoot(), 'host.json'))).toEqual({ maxEventBatchSize: 1000, minEventBatchSize: 200, maxWaitTimeMs: 1000 });
    expect(timeSpanMs('00:01:30.5')).toBe(90_500);
    expect(retryPolicyOf(TELEMETRY_INGEST_TRIGGER.retry)).toEqual({ strategy: 'exponentialBackoff', maxRetryCount: -1, minimumIntervalMs: 2000, maximumIntervalMs: 120_000 });
  });

  it("reads host.json's defaults when it sets no eventHubs section, and a TimeSpan only in the host's own form", () => {
    const dir = mkdtempSync(join(tmpdir(), 'host-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'host.json'), JSON.stringify({ version: '2.0' }));
    expect(readHostBatchSettings(join(dir, 'host.json'))).toEqual({ maxEventBatchSize: 100, minEventBatchSize: 1, maxWaitTimeMs: 60_000 });
    expect(timeSpanMs('02:00:00')).toBe(7_200_000);
    expect(timeSpanMs('00:00:01.25')).toBe(1250);
    for (const bad of ['1:00', 'x00:00:01', '00:00:01x', '00:0:01', '']) expect(() => timeSpanMs(bad), bad).toThrow(`'${bad}' is not a TimeSpan (hh:mm:ss)`);
  });

  it("reads a fixed-delay retry and a backoff's intervals in every unit the registration may use", () => {
    expect(retryPolicyOf({ strategy: 'fixedDelay', maxRetryCount: 3, delayInterval: { seconds: 2, milliseconds: 5 } })).toEqual({ strategy: 'fixedDelay', maxRetryCount: 3, minimumIntervalMs: 2005, maximumIntervalMs: 2005 });
    expect(retryPolicyOf({ strategy: 'exponentialBackoff', maxRetryCount: 1, minimumInterval: { hours: 1, minutes: 2, seconds: 3 }, maximumInterval: { hours: 2 } })).toEqual({
      strategy: 'exponentialBackoff', maxRetryCount: 1, minimumIntervalMs: 3_723_000, maximumIntervalMs: 7_200_000,
    });
    expect(retryPolicyOf({ strategy: 'exponentialBackoff', maxRetryCount: 0 })).toMatchObject({ minimumIntervalMs: 0, maximumIntervalMs: 0 });
  });

  it('hands over parsed bodies and the per-message metadata arrays of a cardinality-many trigger, then checkpoints', async () => {
    const hub = await openHub();
    const log = hub.log;
    const seen: { bodies: unknown[]; ctx: TriggerContext }[] = [];
    const r = runner(hub, async (bodies, ctx) => void seen.push({ bodies, ctx }));
    for (let i = 0; i < 10; i++) await send(log, 'arm-1', i);
    await r.start();
    await until('all 10 events handled', () => seen.reduce((n, s) => n + s.bodies.length, 0) === 10, FAST);
    await r.stop();
    const first = seen[0]!;
    expect(first.bodies[0]).toEqual({ n: 0 });
    const meta = first.ctx.triggerMetadata as any;
    const p = log.partitionFor('arm-1');
    expect(meta.partitionContext).toMatchObject({ PartitionId: p, ConsumerGroup: '$Default', EventHubName: hub.hubName });
    expect(meta.sequenceNumberArray[0]).toBe(0);
    expect(meta.systemPropertiesArray[0]).toMatchObject({ 'iothub-connection-device-id': 'arm-1', 'message-id': 'arm-1-0', 'x-opt-sequence-number': 0 });
    expect(meta.enqueuedTimeUtcArray[0]).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(meta.propertiesArray[0]).toEqual({ app: 'x' });
    const records = log.read(p, 0, 100);
    const count = first.bodies.length;
    expect(meta.offsetArray).toEqual(records.slice(0, count).map((r) => String(r.offset)));
    expect(meta.partitionKeyArray).toEqual(Array(count).fill('arm-1'));
    expect(meta.partitionContext.FullyQualifiedNamespace).toBe('localhost');
    expect(r.stats).toMatchObject({ events: 10, checkpoints: { [p]: 9 } });
    expect(await checkpointOf(hub, p)).toBe(9);
  });

  it('retries a failing batch and checkpoints only once it succeeds', async () => {
    const hub = await openHub();
    const log = hub.log;
    let calls = 0;
    const contexts: TriggerContext[] = [];
    const logged: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
    const r = runner(
      hub,
      async (_bodies, ctx) => {
        calls++;
        contexts.push(ctx);
        ctx.info('attempt', calls);
        if (calls < 3) throw new Error('ADT throttled');
      },
      2,
      { log: (level, message, fields) => void logged.push({ level, message, ...(fields ? { fields } : {}) }) },
    );
    await send(log, 'arm-1', 1);
    await r.start();
    await until('one batch', () => r.stats.batches === 1, FAST);
    await r.stop();
    expect(calls).toBe(3);
    expect(r.stats.retries).toBe(2);
    // Each attempt is its own invocation, and says which retry it is, as the host's retryContext does.
    expect(contexts.map((c) => c.retryContext)).toEqual([0, 1, 2].map((retryCount) => ({ retryCount, maxRetryCount: 2 })));
    expect(new Set(contexts.map((c) => c.invocationId)).size).toBe(3);
    expect(contexts.every((c) => c.functionName === 'telemetryIngest')).toBe(true);
    // What the function logs goes to the runner's log, with the invocation it came from.
    expect(logged.filter((l) => l.message.startsWith('attempt'))).toEqual([1, 2, 3].map((n, i) => ({ level: 'info', message: `attempt ${n}`, fields: { function: 'telemetryIngest', invocationId: contexts[i]!.invocationId } })));
    // Backoff from the registration's policy (1 ms doubling, at most 4 ms), each retry logged with its delay.
    expect(logged.filter((l) => l.message === 'batch failed; retrying').map((l) => [l.level, l.fields?.attempt, l.fields?.delayMs, l.fields?.error])).toEqual([['warn', 1, 1, 'ADT throttled'], ['warn', 2, 2, 'ADT throttled']]);
    expect(r.stats.deadLetteredBatches).toBe(0);
    expect(await checkpointOf(hub, log.partitionFor('arm-1'))).toBe(0);
  });

  it('does not checkpoint a batch stopped while it waits for a retry: a restart delivers it again', async () => {
    const hub = await openHub();
    const log = hub.log;
    await send(log, 'arm-1', 0);
    await send(log, 'arm-1', 1);
    const p = log.partitionFor('arm-1');
    let failing = true;
    const seen: number[][] = [];
    const handler: EventHubHandler = async (bodies) => {
      seen.push((bodies as { n: number }[]).map((b) => b.n));
      if (failing) throw new Error('store down');
    };
    // Long retry waits: the runner is stopped in the middle of one.
    // Both events in one batch (at least two, or after 10 s), however the SDK happens to hand them over.
    const both = { maxEventBatchSize: 50, minEventBatchSize: 2, maxWaitTimeMs: 10_000 };
    const r = new TriggerRunner(options(hub, handler, { batch: both, retry: { strategy: 'fixedDelay', maxRetryCount: 5, minimumIntervalMs: 60_000, maximumIntervalMs: 60_000 } }));
    await r.start();
    await until('the first attempt', () => seen.length === 1, FAST);
    await r.stop();
    expect(await checkpointOf(hub, p)).toBeUndefined();
    await hub.close();
    // After a restart the same events come again, and once handled they are checkpointed.
    failing = false;
    const again = await openHub(hub);
    const r2 = new TriggerRunner(options(again, handler, { batch: both }));
    await r2.start();
    await until('the batch again', () => seen.length === 2, FAST);
    await until('its checkpoint', async () => (await checkpointOf(again, p)) === 1, FAST);
    await r2.stop();
    expect(seen[1]).toEqual([0, 1]);
  });

  it('dead-letters a batch that keeps failing and goes on with the partition (a poison message does not stall it)', async () => {
    const hub = await openHub();
    const log = hub.log;
    const handled: unknown[] = [];
    const r = runner(hub, async (bodies) => {
      if (bodies.some((b) => (b as { n: number }).n === 666)) throw new Error('poison');
      handled.push(...bodies);
    });
    await send(log, 'arm-1', 666);
    await r.start();
    await until('the batch dead-lettered', () => r.stats.deadLetteredBatches === 1, FAST);
    await send(log, 'arm-1', 7);
    await until('one batch handled', () => handled.length === 1, FAST);
    await r.stop();
    const file = join(hub.dir, 'dead-letters', '$Default', `${log.partitionFor('arm-1')}.jsonl`);
    const dead = JSON.parse(readFileSync(file, 'utf8').trim());
    expect(dead).toMatchObject({ error: 'poison', firstSequenceNumber: 0, events: [{ partitionKey: 'arm-1' }] });
    expect(JSON.parse(Buffer.from(dead.events[0].body, 'base64').toString())).toEqual({ n: 666 });
    expect(handled).toEqual([{ n: 7 }]);
    expect(r.stats).toMatchObject({ deadLetteredBatches: 1, deadLetteredEvents: 1, events: 1, batches: 1 });
  });

  it("binds bodies as the host does for the trigger's data type: without one a single body that is not JSON fails the whole batch; as binary every body comes as the bytes sent, with its content encoding", async () => {
    const utf16 = Buffer.from('{"n":2,"status":"Störung"}', 'utf16le');
    const events = [
      { body: Buffer.from('{"n":1}'), systemProperties: {} },
      { body: utf16, systemProperties: { 'content-encoding': 'utf-16', 'content-type': 'application/json' } },
      { body: Buffer.from('not json'), systemProperties: {} },
    ];
    const fill = async (hub: Hub) => {
      for (const [i, e] of events.entries()) await hub.log.append({ partitionKey: 'arm-1', body: e.body, properties: {}, systemProperties: { 'iothub-connection-device-id': 'arm-1', 'message-id': `m${i}`, ...e.systemProperties } });
    };

    // The three in one batch, however the receiver's reads fall (handed over in two, the first alone went through).
    const together = { maxEventBatchSize: 50, minEventBatchSize: 3, maxWaitTimeMs: 10_000 };
    // No data type: the host's JSON binding refuses the batch before the function runs, on every attempt.
    const json = await openHub();
    await fill(json);
    let called = 0;
    const refused = new TriggerRunner(options(json, async () => void called++, { batch: together, retry: { strategy: 'exponentialBackoff', maxRetryCount: 2, minimumIntervalMs: 1, maximumIntervalMs: 4 } }));
    await refused.start();
    await until('the batch dead-lettered', () => refused.stats.deadLetteredBatches === 1, FAST);
    await refused.stop();
    expect(called).toBe(0);
    const dead = JSON.parse(readFileSync(join(json.dir, 'dead-letters', '$Default', `${json.log.partitionFor('arm-1')}.jsonl`), 'utf8').trim());
    expect(dead.error).toMatch(/binding parameter: the JSON parser failed/);
    expect(dead.events).toHaveLength(3);

    // Binary: the function gets every body, as sent, and the host's name for its content encoding.
    const binary = await openHub();
    await fill(binary);
    const seen: { bodies: unknown[]; meta: Record<string, unknown> }[] = [];
    const r = new TriggerRunner(options(binary, async (bodies, ctx) => void seen.push({ bodies, meta: ctx.triggerMetadata }), { dataType: 'binary', batch: together }));
    await r.start();
    await until('the three events handled', () => seen.flatMap((s) => s.bodies).length === 3, FAST);
    await r.stop();
    const bodies = seen.flatMap((s) => s.bodies);
    expect(bodies.every((b) => Buffer.isBuffer(b))).toBe(true);
    expect(bodies.map((b) => (b as Buffer).toString('base64'))).toEqual(events.map((e) => e.body.toString('base64')));
    const sys = seen.flatMap((s) => s.meta.systemPropertiesArray as Record<string, unknown>[]);
    expect(sys[1]).toMatchObject({ 'content-encoding': 'utf-16', 'content-type': 'application/json', 'message-id': 'm1', 'iothub-connection-device-id': 'arm-1' });
    expect(sys[1]).not.toHaveProperty('contentEncoding');
  });

  it('retries for as long as the batch fails when the policy says -1, as the host does, and dead-letters nothing', async () => {
    const hub = await openHub();
    let calls = 0;
    const contexts: TriggerContext[] = [];
    const r = runner(hub, async (_bodies, ctx) => {
      contexts.push(ctx);
      if (++calls <= 12) throw new Error('Data Explorer unreachable');
    }, -1);
    await send(hub.log, 'arm-1', 1);
    await r.start();
    await until('the batch handled at last', () => r.stats.batches === 1, FAST);
    await r.stop();
    expect(calls).toBe(13);
    expect(contexts.at(-1)?.retryContext).toEqual({ retryCount: 12, maxRetryCount: -1 });
    expect(r.stats).toMatchObject({ retries: 12, deadLetteredBatches: 0 });
    expect(await checkpointOf(hub, hub.log.partitionFor('arm-1'))).toBe(0);
    expect(existsSync(join(hub.dir, 'dead-letters'))).toBe(false);
  });

  it('does not checkpoint past a batch whose dead-letter file cannot be written: it is handed over again until it is kept somewhere', async () => {
    const hub = await openHub();
    // The dead-letter folder cannot be made: a file stands where its parent should be.
    const blocked = join(hub.dir, 'not-a-folder');
    writeFileSync(blocked, '');
    let healthy = false;
    const handled: unknown[] = [];
    const r = new TriggerRunner(options(hub, async (bodies) => {
      if (!healthy) throw new Error('store down');
      handled.push(...bodies);
    }, { deadLetterDir: join(blocked, 'dead-letters'), retry: { strategy: 'fixedDelay', maxRetryCount: 1, minimumIntervalMs: 1, maximumIntervalMs: 1 } }));
    await send(hub.log, 'arm-1', 1);
    await send(hub.log, 'arm-1', 2);
    await r.start();
    await until('a few rounds of retries', () => r.stats.retries >= 3, FAST);
    expect(r.stats.deadLetteredBatches).toBe(0);
    expect(await checkpointOf(hub, hub.log.partitionFor('arm-1'))).toBeUndefined();
    healthy = true;
    await until('the batch handled once the store is back', () => handled.length >= 2, FAST);
    await until('its checkpoint', async () => (await checkpointOf(hub, hub.log.partitionFor('arm-1'))) === 1, FAST);
    await r.stop();
    expect(handled.slice(0, 2)).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('resumes from its checkpoint after a restart: nothing handled twice, nothing skipped', async () => {
    let hub = await openHub();
    const handled: number[] = [];
    const handler: EventHubHandler = async (bodies) => void handled.push(...bodies.map((b) => (b as { n: number }).n));
    let r = runner(hub, handler);
    for (let i = 0; i < 5; i++) await send(hub.log, 'arm-1', i);
    await r.start();
    await until('five events handled', () => handled.length === 5, FAST);
    await r.stop();
    await hub.close();

    hub = await openHub(hub);
    for (let i = 5; i < 8; i++) await send(hub.log, 'arm-1', i);
    r = runner(hub, handler);
    await r.start();
    await until('eight events handled', () => handled.length === 8, FAST);
    await r.stop();
    expect(handled).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(existsSync(join(hub.dir, 'dead-letters'))).toBe(false);
  });

  it('waits up to maxWaitTime for minEventBatchSize events, then hands over what there is', async () => {
    const hub = await openHub();
    const batches: number[][] = [];
    const r = new TriggerRunner(options(hub, async (bodies) => void batches.push(bodies.map((b) => (b as { n: number }).n)), { batch: { maxEventBatchSize: 4, minEventBatchSize: 3, maxWaitTimeMs: 400 } }));
    await r.start();
    await send(hub.log, 'arm-1', 0);
    await send(hub.log, 'arm-1', 1);
    await new Promise((resolve) => setTimeout(resolve, 150));
    // Two of three: still waiting.
    expect(batches).toEqual([]);
    for (let i = 2; i < 7; i++) await send(hub.log, 'arm-1', i);
    await until('all seven handed over', () => batches.flat().length === 7, FAST);
    await r.stop();
    // Never more than maxEventBatchSize; the tail (fewer than the minimum) once maxWaitTime passed.
    expect(batches.every((b) => b.length <= 4)).toBe(true);
    expect(batches.flat()).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('shares four partitions between two hosts, and the one left takes them all when the other stops', async () => {
    const hub = await openHub(undefined, 4);
    const byHost: Record<string, number[]> = { a: [], b: [] };
    const handler = (host: 'a' | 'b'): EventHubHandler => async (bodies) => void byHost[host]!.push(...bodies.map((b) => (b as { n: number }).n));
    const balanced = { updateIntervalMs: 200, ownershipExpiryMs: 1500, strategy: 'balanced' as const };
    const a = new TriggerRunner(options(hub, handler('a'), { ownerId: 'host-a', loadBalancing: balanced }));
    const b = new TriggerRunner(options(hub, handler('b'), { ownerId: 'host-b', loadBalancing: balanced }));
    await a.start();
    await b.start();
    await until('each host owning two partitions', () => a.stats.owned.length === 2 && b.stats.owned.length === 2, FAST);
    // A key for each partition; events keep coming until both hosts have handled some.
    const keys = hub.log.partitionIds.map((p) => Array.from({ length: 64 }, (_, i) => `arm-${i}`).find((k) => hub.log.partitionFor(k) === p)!);
    let n = 0;
    const sendRound = async () => {
      for (const key of keys) await send(hub.log, key, n++);
    };
    await until('both hosts handling events', async () => {
      await sendRound();
      return byHost.a!.length > 0 && byHost.b!.length > 0;
    }, { timeoutMs: 15_000, everyMs: 100 });
    const shared = n;
    await until('everything so far handled', () => new Set([...byHost.a!, ...byHost.b!]).size === shared, FAST);
    // Stopped once its checkpoints are written: what a host handled but had not checkpointed is
    // handed to the next owner again (at least once, as with the Functions host).
    const ends = () => hub.log.partitionIds.map((p) => hub.log.bounds(p).next - 1);
    await until('checkpoints at the end of every partition', () => hub.log.partitionIds.every((p, i) => Math.max(a.stats.checkpoints[p] ?? -1, b.stats.checkpoints[p] ?? -1) === ends()[i]), FAST);
    await b.stop();
    await until('host a owning all four partitions', () => a.stats.owned.length === 4, FAST);
    const handedOver = byHost.a!.length;
    await sendRound();
    await until('host a handling the rest', () => byHost.a!.length >= handedOver + 4, FAST);
    await a.stop();
    // Nothing lost; what came after the handover was handled once, by the host left.
    expect(new Set([...byHost.a!, ...byHost.b!])).toEqual(new Set(Array.from({ length: n }, (_, i) => i)));
    expect(byHost.a!.slice(handedOver).sort((x, y) => x - y)).toEqual([n - 4, n - 3, n - 2, n - 1]);
  });
});
