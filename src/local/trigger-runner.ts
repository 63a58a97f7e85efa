/**
 * The local Functions host for the Event Hub trigger, on the Event Hubs SDK: an
 * EventHubConsumerClient with the blob checkpoint store on Azurite — the partition ownership,
 * load balancing and checkpoints the Functions host's Event Hubs extension uses — hands batches
 * to the same handler src/functions registers, with the arguments the host gives a trigger of
 * cardinality "many" (bodies, and triggerMetadata with per-message arrays). Batches follow
 * host.json (maxEventBatchSize, minEventBatchSize, maxWaitTime); a batch is checkpointed only
 * after the handler succeeds; a failing batch is retried with the function's retry policy (-1: for
 * as long as it fails) and, when a finite policy runs out, written to a dead-letter file (synced
 * to disk before the checkpoint passes it) and counted — never silently skipped.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { EventHubConsumerClient, earliestEventPosition, type PartitionContext, type ReceivedEventData, type Subscription } from '@azure/event-hubs';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';
import type { Logger } from '../lib/log.ts';

export interface BatchSettings {
  maxEventBatchSize: number;
  minEventBatchSize: number;
  maxWaitTimeMs: number;
}

export interface RetryPolicy {
  /** -1: retry for as long as it fails (the host's meaning). */
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
  /** The Event Hubs connection string (the app setting EventHubConnection). */
  connectionString: string;
  /** AzureWebJobsStorage: where ownership and checkpoints are kept. */
  storageConnectionString: string;
  functionName: string;
  eventHubName: string;
  consumerGroup: string;
  handler: EventHubHandler;
  /** The trigger's `dataType`: how the host hands bodies over (see boundBodies). */
  dataType?: 'binary' | 'string';
  batch: BatchSettings;
  retry: RetryPolicy;
  logger: Logger;
  /** Where batches that exhaust their retries are written. */
  deadLetterDir: string;
  /**
   * This host's owner id in the ownership blobs. A stable one (per data folder) lets a restarted
   * host take back its partitions at once instead of waiting for its old claims to expire.
   */
  ownerId?: string;
  /** How often ownership is renewed and balanced, and when an unrenewed claim expires (ms). */
  loadBalancing?: { updateIntervalMs?: number; ownershipExpiryMs?: number; strategy?: 'balanced' | 'greedy' };
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
  /** Partitions this host owns now. */
  owned: string[];
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

/** A binding failure, as the host reports one: the function never ran. */
export class BindingError extends Error {}

/**
 * The bodies as the host binds them for the trigger's data type: `binary`, each event's bytes;
 * `string`, its UTF-8 text, which @azure/functions parses when it is JSON; none, each body as JSON
 * (the host's default for cardinality "many"), where one body that is not JSON fails the binding of
 * the whole batch, and the invocation, on every attempt.
 */
function boundBodies(events: ReceivedEventData[], dataType: TriggerRunnerOptions['dataType']): unknown[] | BindingError {
  if (dataType === 'binary') return events.map((e) => bodyBytes(e.body));
  const texts = events.map((e) => bodyBytes(e.body).toString('utf8'));
  if (dataType === 'string') return texts.map(tryJsonParse);
  const bodies: unknown[] = [];
  for (const text of texts) {
    try {
      bodies.push(JSON.parse(text));
    } catch (error) {
      return new BindingError(`Exception binding parameter: the JSON parser failed: ${(error as Error).message}`);
    }
  }
  return bodies;
}

function tryJsonParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * The AMQP properties the Event Hubs SDK for Node names in camel case, by the names the host's
 * (.NET) client gives them in SystemProperties, which is what a function sees.
 */
const HOST_PROPERTY_NAMES: Record<string, string> = {
  messageId: 'message-id',
  userId: 'user-id',
  replyTo: 'reply-to',
  correlationId: 'correlation-id',
  contentType: 'content-type',
  contentEncoding: 'content-encoding',
  absoluteExpiryTime: 'absolute-expiry-time',
  creationTime: 'creation-time',
  groupId: 'group-id',
  groupSequence: 'group-sequence',
  replyToGroupId: 'reply-to-group-id',
};

function hostSystemProperties(event: ReceivedEventData): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(event.systemProperties ?? {})) out[Object.hasOwn(HOST_PROPERTY_NAMES, k) ? HOST_PROPERTY_NAMES[k]! : k] = v;
  return out;
}

function triggerMetadata(events: ReceivedEventData[], options: TriggerRunnerOptions, context: PartitionContext): Record<string, unknown> {
  return {
    partitionContext: { ConsumerGroup: options.consumerGroup, EventHubName: options.eventHubName, FullyQualifiedNamespace: context.fullyQualifiedNamespace, PartitionId: context.partitionId },
    enqueuedTimeUtcArray: events.map((e) => e.enqueuedTimeUtc.toISOString()),
    sequenceNumberArray: events.map((e) => e.sequenceNumber),
    offsetArray: events.map((e) => e.offset),
    partitionKeyArray: events.map((e) => e.partitionKey ?? null),
    propertiesArray: events.map((e) => e.properties ?? {}),
    systemPropertiesArray: events.map((e) => ({
      // The message id among them: the SDK fills systemProperties.messageId from the same AMQP field as e.messageId.
      ...hostSystemProperties(e),
      'x-opt-sequence-number': e.sequenceNumber,
      'x-opt-offset': e.offset,
      'x-opt-enqueued-time': e.enqueuedTimeUtc.toISOString(),
      'x-opt-partition-key': e.partitionKey ?? null,
    })),
  };
}

/** An event's body as bytes: as received, or the JSON the SDK parsed it from (an AMQP message may have no body at all). */
function bodyBytes(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return Buffer.from(JSON.stringify(body) ?? '', 'utf8');
}

/** Appends and fsyncs; a new file's directory entry is synced too. */
function appendDurably(file: string, text: string): void {
  const fd = openSync(file, 'a');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const dir = openSync(dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** Events received on a partition but not yet handed over (waiting for minEventBatchSize). */
interface PartitionBuffer {
  events: ReceivedEventData[];
  since: number;
}

export class TriggerRunner {
  readonly stats: RunnerStats = { batches: 0, events: 0, retries: 0, deadLetteredBatches: 0, deadLetteredEvents: 0, checkpoints: {}, owned: [] };
  private stopping = false;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly wakers = new Set<() => void>();
  private client: EventHubConsumerClient | undefined;
  private subscription: Subscription | undefined;
  private readonly buffers = new Map<string, PartitionBuffer>();

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

  async start(): Promise<void> {
    const { options } = this;
    // The Functions host keeps its Event Hubs leases and checkpoints in this container.
    const container = new ContainerClient(options.storageConnectionString, 'azure-webjobs-eventhub');
    await container.createIfNotExists();
    const lb = options.loadBalancing ?? {};
    this.client = new EventHubConsumerClient(options.consumerGroup, options.connectionString, options.eventHubName, new BlobCheckpointStore(container), {
      ...(options.ownerId ? { identifier: options.ownerId } : {}),
      loadBalancingOptions: { strategy: lb.strategy ?? 'balanced', updateIntervalInMs: lb.updateIntervalMs ?? 10_000, partitionOwnershipExpirationIntervalInMs: lb.ownershipExpiryMs ?? 60_000 },
    });
    const { batch } = options;
    this.subscription = this.client.subscribe(
      {
        processInitialize: async (context) => {
          this.buffers.set(context.partitionId, { events: [], since: 0 });
          this.stats.owned = [...this.buffers.keys()].sort();
        },
        processClose: async (_reason, context) => {
          // What was buffered is not checkpointed: the partition's next owner reads it again.
          this.buffers.delete(context.partitionId);
          this.stats.owned = [...this.buffers.keys()].sort();
        },
        processEvents: (events, context) => this.onEvents(events, context),
        processError: async (error, context) => {
          if (this.stopping) return;
          options.logger.log('warn', 'event hub consumer error', { function: options.functionName, partition: context.partitionId, error: error.message });
        },
      },
      {
        startPosition: earliestEventPosition,
        maxBatchSize: batch.maxEventBatchSize,
        // The SDK comes back this often with what it has (maybe nothing), so maxWaitTime is kept to the ms.
        maxWaitTimeInSeconds: Math.max(0.05, Math.min(batch.maxWaitTimeMs, 1000) / 1000),
        prefetchCount: Math.max(300, 3 * batch.maxEventBatchSize),
        // The bytes as sent, which the host's binding then reads as its data type says.
        skipParsingBodyAsJson: true,
      },
    );
  }

  /** Stops after the batches in flight finish (and are checkpointed). */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const w of this.wakers) w();
    await this.subscription?.close();
    await this.client?.close();
  }

  /** Like the host: gathers up to maxEventBatchSize, waiting up to maxWaitTime for minEventBatchSize. */
  private async onEvents(events: ReceivedEventData[], context: PartitionContext): Promise<void> {
    const { batch } = this.options;
    const buffer = this.buffers.get(context.partitionId) ?? { events: [], since: 0 };
    this.buffers.set(context.partitionId, buffer);
    if (events.length) {
      if (buffer.events.length === 0) buffer.since = Date.now();
      buffer.events.push(...events);
    }
    while (buffer.events.length > 0 && !this.stopping) {
      const due = buffer.events.length >= batch.minEventBatchSize || Date.now() - buffer.since >= batch.maxWaitTimeMs;
      if (!due) return;
      const taken = buffer.events.splice(0, batch.maxEventBatchSize);
      try {
        const handled = await this.deliver(context, taken);
        if (!handled) return; // stopped mid-retry: not checkpointed, delivered again after a restart
        await context.updateCheckpoint(taken[taken.length - 1]!);
      } catch (error) {
        // Not checkpointed (the dead-letter file could not be written, or the checkpoint): the
        // batch goes back, so a pump that carries on hands it over again rather than skip it.
        buffer.events.unshift(...taken);
        throw error;
      }
      const last = taken[taken.length - 1]!;
      this.stats.checkpoints[context.partitionId] = last.sequenceNumber;
      buffer.since = Date.now();
    }
  }

  /** True once the handler succeeded or the batch was dead-lettered; false when stopped mid-retry. */
  private async deliver(partition: PartitionContext, events: ReceivedEventData[]): Promise<boolean> {
    const { handler, retry, logger, functionName } = this.options;
    const partitionId = partition.partitionId;
    const bodies = boundBodies(events, this.options.dataType);
    const metadata = triggerMetadata(events, this.options, partition);
    let lastError: unknown;
    for (let attempt = 0; retry.maxRetryCount < 0 || attempt <= retry.maxRetryCount; attempt++) {
      if (attempt > 0) {
        this.stats.retries++;
        const delay = retry.strategy === 'fixedDelay' ? retry.minimumIntervalMs : Math.min(retry.maximumIntervalMs, retry.minimumIntervalMs * 2 ** (attempt - 1));
        logger.log('warn', 'batch failed; retrying', { function: functionName, partition: partitionId, attempt, delayMs: delay, error: (lastError as Error)?.message });
        await this.sleep(delay);
        if (this.stopping) return false;
      }
      const context = this.context(metadata, attempt);
      try {
        if (bodies instanceof BindingError) throw bodies;
        await handler(bodies, context);
        this.stats.batches++;
        this.stats.events += events.length;
        return true;
      } catch (error) {
        lastError = error;
      }
    }
    this.deadLetter(partitionId, events, lastError);
    return true;
  }

  private deadLetter(partitionId: string, events: ReceivedEventData[], error: unknown): void {
    const { consumerGroup, logger, functionName } = this.options;
    const dir = join(this.options.deadLetterDir, consumerGroup);
    mkdirSync(dir, { recursive: true });
    const line = JSON.stringify({
      failedAt: new Date().toISOString(),
      function: functionName,
      partitionId,
      firstSequenceNumber: events[0]!.sequenceNumber,
      lastSequenceNumber: events[events.length - 1]!.sequenceNumber,
      error: (error as Error)?.message ?? String(error),
      events: events.map((e) => ({ sequenceNumber: e.sequenceNumber, offset: e.offset, enqueuedTime: e.enqueuedTimeUtc.getTime(), partitionKey: e.partitionKey, properties: e.properties, systemProperties: e.systemProperties, body: bodyBytes(e.body).toString('base64') })),
    });
    const file = join(dir, `${partitionId}.jsonl`);
    // On disk before the checkpoint moves past these events: the file is their only copy then.
    appendDurably(file, `${line}\n`);
    this.stats.deadLetteredBatches++;
    this.stats.deadLetteredEvents += events.length;
    logger.log('error', 'batch dead-lettered after its retries', { function: functionName, partition: partitionId, events: events.length, file, error: (error as Error)?.message });
  }

  private context(triggerMetadata: Record<string, unknown>, retryCount: number): TriggerContext {
    const { logger, functionName, retry } = this.options;
    const invocationId = randomUUID();
    const at = (level: 'debug' | 'info' | 'warn' | 'error') => (...args: unknown[]) => logger.log(level, args.map(String).join(' '), { function: functionName, invocationId });
    return { invocationId, functionName, triggerMetadata, retryContext: { retryCount, maxRetryCount: retry.maxRetryCount }, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  }
}
