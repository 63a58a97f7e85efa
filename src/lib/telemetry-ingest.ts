/**
 * The Event Hub trigger's handler, built from the pipeline. src/functions registers it; the local
 * trigger runner and the tests call the same function with the same arguments the host passes
 * (cardinality "many": an array of bodies and per-message metadata arrays).
 */
import { contextLogger, type InvocationLogTarget } from './log.ts';
import type { TelemetryPipeline, BatchResult } from './pipeline.ts';
import type { BatchMetadata } from './telemetry/decode.ts';
import { isAppError } from './errors.ts';
import type { BatchDeadLetterPort } from './ports.ts';

/**
 * How the host delivers and retries batches for telemetryIngest: the function registration and
 * the local trigger runner both read this. Event Hubs checkpoints a batch once its retry policy
 * has run out, whatever the outcome, so the policy never runs out (-1): a batch that fails is
 * retried for as long as it fails, and a far end that is down holds its partition up (the event
 * hub keeps what arrives meanwhile) rather than lose a batch. A batch that fails for a reason
 * retrying does not mend is dead-lettered instead (below), so it cannot hold a partition for ever.
 */
export const TELEMETRY_INGEST_TRIGGER = {
  connection: 'EventHubConnection',
  eventHubName: '%EVENTHUB_NAME%',
  consumerGroup: '%EVENTHUB_CONSUMER_GROUP%',
  cardinality: 'many',
  // Bytes as the device sent them. Without a data type the host binds a batch of cardinality "many"
  // as JSON, and one body that is not JSON fails the whole batch before the function runs, for as
  // long as the retry policy lasts (for ever here); as bytes, a bad body is one dead letter, kept
  // whole, and UTF-16 and UTF-32 bodies (which IoT Hub routes as text) are read.
  dataType: 'binary',
  retry: { strategy: 'exponentialBackoff', maxRetryCount: -1, minimumInterval: { seconds: 2 }, maximumInterval: { minutes: 2 } },
} as const;

/**
 * Retries after which a batch failing with an error that is not marked retryable (a refusal, a
 * defect) is dead-lettered whole and the partition goes on: about six minutes at the policy's
 * backoff. A retryable failure (throttling, a far end down) is never dead-lettered.
 */
export const DEAD_LETTER_AFTER_RETRIES = 8;

/** The Event Hub-triggered function; infra/'s alert rule on a partition held up counts its failed invocations. */
export const TELEMETRY_INGEST_FUNCTION = 'telemetryIngest';

/** How the error logged when a batch is kept after its retries begins: infra/'s alert rule (monitoring.bicep) looks for it. */
export const DEAD_LETTERED_LOG = 'batch dead-lettered after its retries';

export interface IngestContext extends InvocationLogTarget {
  invocationId: string;
  triggerMetadata?: Record<string, unknown>;
  /** Which retry of the batch this is, as the host says. */
  retryContext?: { retryCount: number; maxRetryCount: number };
}

export interface IngestOptions {
  /** Where a batch goes when retrying does not mend it; without one it is retried for ever. */
  deadLetters?: BatchDeadLetterPort;
  deadLetterAfterRetries?: number;
}

export function createTelemetryIngest(pipeline: TelemetryPipeline, options: IngestOptions = {}) {
  const deadLetterAfter = options.deadLetterAfterRetries ?? DEAD_LETTER_AFTER_RETRIES;
  return async function telemetryIngest(messages: unknown, context: IngestContext): Promise<BatchResult> {
    const log = contextLogger(context);
    const bodies = Array.isArray(messages) ? messages : [messages];
    const meta = (context.triggerMetadata ?? {}) as BatchMetadata;
    const partition = meta.partitionContext?.PartitionId ?? meta.partitionContext?.partitionId;
    try {
      const result = await pipeline.processBatch(bodies, meta);
      log.log('info', 'batch processed', {
        invocationId: context.invocationId,
        partition,
        events: result.events,
        stored: result.stored,
        duplicates: result.duplicates,
        deadLettered: result.deadLettered,
        twinsPatched: result.twinsPatched,
        twinsDeferred: result.twinsDeferred,
        anomalies: result.anomalies,
        alertsSent: result.alertsSent,
        ...(result.alertsKept ? { alertsKept: result.alertsKept } : {}),
        ...(result.notTelemetry ? { notTelemetry: result.notTelemetry } : {}),
        scoredBy: result.scoredBy,
        ...result.timings,
      });
      return result;
    } catch (error) {
      const retryCount = context.retryContext?.retryCount ?? 0;
      const code = isAppError(error) ? error.code : 'unknown';
      const retryable = isAppError(error) && error.retryable;
      if (options.deadLetters && !retryable && retryCount >= deadLetterAfter) {
        // Kept whole before the host may checkpoint past it; if it cannot be kept, the host retries.
        const name = await options.deadLetters.put({
          failedAt: new Date().toISOString(),
          attempts: retryCount + 1,
          error: { code, message: (error as Error)?.message ?? String(error) },
          bodies,
          triggerMetadata: context.triggerMetadata ?? {},
        });
        log.log('error', `${DEAD_LETTERED_LOG}; it is redelivered once it can be handled`, { invocationId: context.invocationId, partition, events: bodies.length, attempts: retryCount + 1, code, error: (error as Error).message, deadLetter: name });
        return deadLetteredBatch(bodies.length);
      }
      // Throwing hands the batch back to the host's retry policy; every effect above is idempotent.
      log.log('error', 'batch failed; the host will retry it', {
        invocationId: context.invocationId,
        partition,
        events: bodies.length,
        retryCount,
        code,
        retryable,
        error: (error as Error).message,
      });
      throw error;
    }
  };
}

/** What a batch kept for later did: nothing yet, every event dead-lettered with it. */
function deadLetteredBatch(events: number): BatchResult {
  return {
    events, readings: 0, duplicates: 0, deadLettered: events, deadLetterReasons: { 'batch.deadLettered': events }, stored: 0, anomalies: 0, stale: 0,
    twinsPatched: 0, twinsDeferred: 0, twinErrors: 0, alertsSent: 0, stops: { executed: 0, failed: 0, dryRun: 0, blocked: 0 }, scoredBy: 'none',
  };
}
