/** The local trigger runner delivers event-log batches the way the Functions host does. */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventLog } from '../../src/emulators/event-log/event-log.ts';
import { TriggerRunner, readHostBatchSettings, retryPolicyOf, timeSpanMs, type EventHubHandler, type TriggerContext } from '../../src/local/trigger-runner.ts';
import { TELEMETRY_INGEST_TRIGGER } from '../../src/lib/telemetry-ingest.ts';
import { jsonLogger, type Logger } from '../../src/lib/log.ts';
import { projectRoot } from '../../src/lib/paths.ts';
import { until } from '../support/until.ts';

const FAST = { timeoutMs: 5000, everyMs: 5 };

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const openLog = (dir?: string) => {
  const d = dir ?? mkdtempSync(join(tmpdir(), 'runner-'));
  if (!dir) dirs.push(d);
  return EventLog.open(d, { partitions: 2 });
};
const quiet = jsonLogger('test', 'error', () => true);
const runner = (log: EventLog, handler: EventHubHandler, retries = 2, logger: Logger = quiet) =>
  new TriggerRunner({
    log, handler, functionName: 'telemetryIngest', eventHubName: 'telemetry', consumerGroup: '$Default', logger,
    batch: { maxEventBatchSize: 50, minEventBatchSize: 1, maxWaitTimeMs: 20 },
    retry: { strategy: 'exponentialBackoff', maxRetryCount: retries, minimumIntervalMs: 1, maximumIntervalMs: 4 },
  });
const send = (log: EventLog, device: string, n: number) =>
  log.append({ partitionKey: device, body: Buffer.from(JSON.stringify({ n })), properties: { app: 'x' }, systemProperties: { 'iothub-connection-device-id': device, 'message-id': `${device}-${n}` } });

describe('the trigger runner', () => {
  it('reads the host settings the Functions host reads', () => {
    expect(readHostBatchSettings(join(projectRoot(), 'host.json'))).toEqual({ maxEventBatchSize: 1000, minEventBatchSize: 200, maxWaitTimeMs: 1000 });
    expect(timeSpanMs('00:01:30.5')).toBe(90_500);
    expect(retryPolicyOf(TELEMETRY_INGEST_TRIGGER.retry)).toEqual({ strategy: 'exponentialBackoff', maxRetryCount: 8, minimumIntervalMs: 2000, maximumIntervalMs: 120_000 });
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
    const log = openLog();
    const seen: { bodies: unknown[]; ctx: TriggerContext }[] = [];
    const r = runner(log, async (bodies, ctx) => void seen.push({ bodies, ctx }));
    for (let i = 0; i < 10; i++) await send(log, 'arm-1', i);
    r.start();
    await until('all 10 events handled', () => seen.reduce((n, s) => n + s.bodies.length, 0) === 10, FAST);
    await r.stop();
    const first = seen[0]!;
    expect(first.bodies[0]).toEqual({ n: 0 });
    const meta = first.ctx.triggerMetadata as any;
    const p = log.partitionFor('arm-1');
    expect(meta.partitionContext).toMatchObject({ PartitionId: p, ConsumerGroup: '$Default', EventHubName: 'telemetry' });
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
    expect(log.checkpoint('$Default', p)?.sequenceNumber).toBe(9);
    log.close();
  });

  it('retries a failing batch and checkpoints only once it succeeds', async () => {
    const log = openLog();
    let calls = 0;
    const contexts: TriggerContext[] = [];
    const logged: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
    const r = runner(
      log,
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
    r.start();
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
    expect(log.checkpoint('$Default', log.partitionFor('arm-1'))?.sequenceNumber).toBe(0);
    log.close();
  });

  it('does not checkpoint a batch stopped while it waits for a retry: a restart delivers it again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-'));
    dirs.push(dir);
    const log = openLog(dir);
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
    const r = new TriggerRunner({
      log, handler, functionName: 'telemetryIngest', eventHubName: 'telemetry', consumerGroup: '$Default', logger: quiet,
      batch: { maxEventBatchSize: 50, minEventBatchSize: 1, maxWaitTimeMs: 20 },
      retry: { strategy: 'fixedDelay', maxRetryCount: 5, minimumIntervalMs: 60_000, maximumIntervalMs: 60_000 },
    });
    r.start();
    await until('the first attempt', () => seen.length === 1, FAST);
    await r.stop();
    expect(log.checkpoint('$Default', p)).toBeUndefined();
    log.close();
    // After a restart the same events come again, and once handled they are checkpointed.
    failing = false;
    const again = openLog(dir);
    const r2 = runner(again, handler);
    r2.start();
    await until('the batch again', () => seen.length === 2, FAST);
    await until('its checkpoint', () => again.checkpoint('$Default', p)?.sequenceNumber === 1, FAST);
    await r2.stop();
    expect(seen[1]).toEqual([0, 1]);
    again.close();
  });

  it('dead-letters a batch that keeps failing and goes on with the partition (a poison message does not stall it)', async () => {
    const log = openLog();
    const handled: unknown[] = [];
    const r = runner(log, async (bodies) => {
      if (bodies.some((b) => (b as { n: number }).n === 666)) throw new Error('poison');
      handled.push(...bodies);
    });
    await send(log, 'arm-1', 666);
    r.start();
    await until('the batch dead-lettered', () => r.stats.deadLetteredBatches === 1, FAST);
    await send(log, 'arm-1', 7);
    await until('one batch handled', () => handled.length === 1, FAST);
    await r.stop();
    const file = join(log.dir, 'dead-letters', '$Default', `${log.partitionFor('arm-1')}.jsonl`);
    const dead = JSON.parse(readFileSync(file, 'utf8').trim());
    expect(dead).toMatchObject({ error: 'poison', firstSequenceNumber: 0, events: [{ partitionKey: 'arm-1' }] });
    expect(JSON.parse(Buffer.from(dead.events[0].body, 'base64').toString())).toEqual({ n: 666 });
    expect(handled).toEqual([{ n: 7 }]);
    expect(r.stats).toMatchObject({ deadLetteredBatches: 1, deadLetteredEvents: 1, events: 1, batches: 1 });
    log.close();
  });

  it('resumes from its checkpoint after a restart: nothing handled twice, nothing skipped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runner-'));
    dirs.push(dir);
    let log = openLog(dir);
    const handled: number[] = [];
    const handler: EventHubHandler = async (bodies) => void handled.push(...bodies.map((b) => (b as { n: number }).n));
    let r = runner(log, handler);
    for (let i = 0; i < 5; i++) await send(log, 'arm-1', i);
    r.start();
    await until('five batches handled', () => handled.length === 5, FAST);
    await r.stop();
    log.close();

    log = openLog(dir);
    for (let i = 5; i < 8; i++) await send(log, 'arm-1', i);
    r = runner(log, handler);
    r.start();
    await until('eight batches handled', () => handled.length === 8, FAST);
    await r.stop();
    expect(handled).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(existsSync(join(dir, 'dead-letters'))).toBe(false);
    log.close();
  });
});
