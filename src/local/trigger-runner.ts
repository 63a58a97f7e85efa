/**
 * The local Functions host for the Event Hub trigger: one loop per partition of the event log
 * hands batches to the same handler src/functions registers, with the arguments the host gives a
 * trigger of cardinality "many" (bodies, and triggerMetadata with per-message arrays). Batches
 * follow host.json (maxEventBatchSize, minEventBatchSize, maxWaitTime); a batch is checkpointed
 * only after the handler succeeds; a failing batch is retried with the function's retry policy
 * and, when it keeps failing, written to a dead-letter file and counted — never silently skipped.
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { EventLog, EventRecord } from '../emulators/event-log/event-log.ts';
import type { Logger } from '../lib/log.ts';

export interface BatchSettings {
  maxEventBatchSize: number;
  minEventBatchSize: number;
  maxWaitTimeMs: number;
}

export interface RetryPolicy {
  maxRetryCount: number;
  minimumIntervalMs: number;
  maximumIntervalMs: number;
  strategy: 'exponentialBackoff' | 'fixedDelay';
}

export interface TriggerContext {
  invocationId: string;
  functionName: string;
  triggerMetadata: Record<string, unknown>;
  retryContext?: { retryCount: number; maxRetryCount: number };
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

export type EventHubHandler = (messages: unknown[], context: TriggerContext) => Promise<unknown>;

export interface TriggerRunnerOptions {
  log: EventLog;
  functionName: string;
  eventHubName: string;
  consumerGroup: string;
  handler: EventHubHandler;
  batch: BatchSettings;
  retry: RetryPolicy;
  logger: Logger;
  /** Where batches that exhaust their retries are written (default <log dir>/dead-letters). */
  deadLetterDir?: string;
  sleep?: (ms: number) => Promise<void>;
}

export interface RunnerStats {
  batches: number;
  events: number;
  retries: number;
  deadLetteredBatches: number;
  deadLetteredEvents: number;
  /** Per partition: the last sequence number handled. */
  checkpoints: Record<string, number>;
}

/** host.json's eventHubs batch settings (what the Functions host reads). */
export function readHostBatchSettings(hostJsonPath: string): BatchSettings {
  const host = JSON.parse(readFileSync(hostJsonPath, 'utf8')) as { extensions?: { eventHubs?: { maxEventBatchSize?: number; minEventBatchSize?: number; maxWaitTime?: string } } };
  const eh = host.extensions?.eventHubs ?? {};
  return { maxEventBatchSize: eh.maxEventBatchSize ?? 100, minEventBatchSize: eh.minEventBatchSize ?? 1, maxWaitTimeMs: timeSpanMs(eh.maxWaitTime ?? '00:01:00') };
}

/** A .NET TimeSpan ("hh:mm:ss[.fff]") in milliseconds. */
export function timeSpanMs(span: string): number {
  const m = /^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(span);
  if (!m) throw new Error(`'${span}' is not a TimeSpan (hh:mm:ss)`);
  return Math.round((Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1000);
}

/** The function registration's retry option, in milliseconds. */
export function retryPolicyOf(retry: { strategy: string; maxRetryCount: number; minimumInterval?: Duration; maximumInterval?: Duration; delayInterval?: Duration }): RetryPolicy {
  const ms = (d: Duration | undefined) => (d ? ((d.hours ?? 0) * 3600 + (d.minutes ?? 0) * 60 + (d.seconds ?? 0)) * 1000 + (d.milliseconds ?? 0) : 0);
  return retry.strategy === 'fixedDelay'
    ? { strategy: 'fixedDelay', maxRetryCount: retry.maxRetryCount, minimumIntervalMs: ms(retry.delayInterval), maximumIntervalMs: ms(retry.delayInterval) }
    : { strategy: 'exponentialBackoff', maxRetryCount: retry.maxRetryCount, minimumIntervalMs: ms(retry.minimumInterval), maximumIntervalMs: ms(retry.maximumInterval) };
}
type Duration = { hours?: number; minutes?: number; seconds?: number; milliseconds?: number };

/** The body as the host hands it to a Node function: parsed JSON when it is JSON, else the text. */
function bodyOf(record: EventRecord): unknown {
  const text = record.body.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function triggerMetadata(records: EventRecord[], options: TriggerRunnerOptions, partitionId: string): Record<string, unknown> {
  return {
    partitionContext: { ConsumerGroup: options.consumerGroup, EventHubName: options.eventHubName, FullyQualifiedNamespace: 'localhost', PartitionId: partitionId },
    enqueuedTimeUtcArray: records.map((r) => new Date(r.enqueuedTime).toISOString()),
    sequenceNumberArray: records.map((r) => r.sequenceNumber),
    offsetArray: records.map((r) => String(r.offset)),
    partitionKeyArray: records.map((r) => r.partitionKey),
    propertiesArray: records.map((r) => r.properties),
    systemPropertiesArray: records.map((r) => ({
      ...r.systemProperties,
      'x-opt-sequence-number': r.sequenceNumber,
      'x-opt-offset': String(r.offset),
      'x-opt-enqueued-time': new Date(r.enqueuedTime).toISOString(),
      'x-opt-partition-key': r.partitionKey,
    })),
  };
}

export class TriggerRunner {
  readonly stats: RunnerStats = { batches: 0, events: 0, retries: 0, deadLetteredBatches: 0, deadLetteredEvents: 0, checkpoints: {} };
  private stopping = false;
  private loops: Promise<void>[] = [];
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly wakers = new Set<() => void>();

  constructor(private readonly options: TriggerRunnerOptions) {
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    }));
  }

  start(): void {
    this.loops = this.options.log.partitionIds.map((p) => this.run(p));
  }

  /** Stops after the batches in flight finish (and are checkpointed). */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const w of this.wakers) w();
    this.options.log.wakeReaders();
    await Promise.all(this.loops);
  }

  private async run(partitionId: string): Promise<void> {
    const { log, consumerGroup, batch } = this.options;
    const saved = log.checkpoint(consumerGroup, partitionId);
    let next = saved ? saved.sequenceNumber + 1 : log.bounds(partitionId).first;
    if (saved) this.stats.checkpoints[partitionId] = saved.sequenceNumber;
    while (!this.stopping) {
      next = Math.max(next, log.bounds(partitionId).first); // events past retention are gone
      await log.waitFor(partitionId, next, 1000);
      if (this.stopping) break;
      if (log.bounds(partitionId).next <= next) continue;
      // Like the host: wait up to maxWaitTime for a minimum batch, then take what is there.
      const deadline = Date.now() + batch.maxWaitTimeMs;
      while (!this.stopping && log.bounds(partitionId).next - next < batch.minEventBatchSize && Date.now() < deadline) {
        await log.waitFor(partitionId, next + batch.minEventBatchSize - 1, Math.min(deadline - Date.now(), 50));
      }
      const records = log.read(partitionId, next, batch.maxEventBatchSize);
      if (records.length === 0) continue;
      const handled = await this.deliver(partitionId, records);
      if (!handled && this.stopping) break; // not checkpointed: delivered again after a restart
      const last = records[records.length - 1]!;
      log.setCheckpoint(consumerGroup, partitionId, { sequenceNumber: last.sequenceNumber, offset: last.offset });
      this.stats.checkpoints[partitionId] = last.sequenceNumber;
      next = last.sequenceNumber + 1;
    }
  }

  /** True once the handler succeeded or the batch was dead-lettered; false when stopped mid-retry. */
  private async deliver(partitionId: string, records: EventRecord[]): Promise<boolean> {
    const { handler, retry, logger, functionName } = this.options;
    const bodies = records.map(bodyOf);
    const metadata = triggerMetadata(records, this.options, partitionId);
    let lastError: unknown;
    for (let attempt = 0; attempt <= retry.maxRetryCount; attempt++) {
      if (attempt > 0) {
        this.stats.retries++;
        const delay = retry.strategy === 'fixedDelay' ? retry.minimumIntervalMs : Math.min(retry.maximumIntervalMs, retry.minimumIntervalMs * 2 ** (attempt - 1));
        logger.log('warn', 'batch failed; retrying', { function: functionName, partition: partitionId, attempt, delayMs: delay, error: (lastError as Error)?.message });
        await this.sleep(delay);
        if (this.stopping) return false;
      }
      const context = this.context(metadata, attempt);
      try {
        await handler(bodies, context);
        this.stats.batches++;
        this.stats.events += records.length;
        return true;
      } catch (error) {
        lastError = error;
      }
    }
    this.deadLetter(partitionId, records, lastError);
    return true;
  }

  private deadLetter(partitionId: string, records: EventRecord[], error: unknown): void {
    const { log, consumerGroup, logger, functionName } = this.options;
    const dir = this.options.deadLetterDir ?? join(log.dir, 'dead-letters', consumerGroup);
    mkdirSync(dir, { recursive: true });
    const line = JSON.stringify({
      failedAt: new Date().toISOString(),
      function: functionName,
      partitionId,
      firstSequenceNumber: records[0]!.sequenceNumber,
      lastSequenceNumber: records[records.length - 1]!.sequenceNumber,
      error: (error as Error)?.message ?? String(error),
      events: records.map((r) => ({ sequenceNumber: r.sequenceNumber, offset: r.offset, enqueuedTime: r.enqueuedTime, partitionKey: r.partitionKey, properties: r.properties, systemProperties: r.systemProperties, body: r.body.toString('base64') })),
    });
    appendFileSync(join(dir, `${partitionId}.jsonl`), `${line}\n`);
    this.stats.deadLetteredBatches++;
    this.stats.deadLetteredEvents += records.length;
    logger.log('error', 'batch dead-lettered after its retries', { function: functionName, partition: partitionId, events: records.length, file: join(dir, `${partitionId}.jsonl`), error: (error as Error)?.message });
  }

  private context(triggerMetadata: Record<string, unknown>, retryCount: number): TriggerContext {
    const { logger, functionName, retry } = this.options;
    const invocationId = randomUUID();
    const at = (level: 'debug' | 'info' | 'warn' | 'error') => (...args: unknown[]) => logger.log(level, args.map(String).join(' '), { function: functionName, invocationId });
    return { invocationId, functionName, triggerMetadata, retryContext: { retryCount, maxRetryCount: retry.maxRetryCount }, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  }
}
