/**
 * The Event Hub trigger's handler, built from the pipeline. src/functions registers it; the local
 * trigger runner and the tests call the same function with the same arguments the host passes
 * (cardinality "many": an array of bodies and per-message metadata arrays).
 */
import { contextLogger, type InvocationLogTarget } from './log.ts';
import type { TelemetryPipeline, BatchResult } from './pipeline.ts';
import type { BatchMetadata } from './telemetry/decode.ts';
import { isAppError } from './errors.ts';

/**
 * How the host delivers and retries batches for telemetryIngest: the function registration and
 * the local trigger runner both read this. Event Hubs checkpoints even when a batch throws, so the
 * retry policy is what replays a failed batch.
 */
export const TELEMETRY_INGEST_TRIGGER = {
  connection: 'EventHubConnection',
  eventHubName: '%EVENTHUB_NAME%',
  consumerGroup: '%EVENTHUB_CONSUMER_GROUP%',
  cardinality: 'many',
  retry: { strategy: 'exponentialBackoff', maxRetryCount: 8, minimumInterval: { seconds: 2 }, maximumInterval: { minutes: 2 } },
} as const;

export interface IngestContext extends InvocationLogTarget {
  invocationId: string;
  triggerMetadata?: Record<string, unknown>;
}

export function createTelemetryIngest(pipeline: TelemetryPipeline) {
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
        scoredBy: result.scoredBy,
        ...result.timings,
      });
      return result;
    } catch (error) {
      // Throwing hands the batch back to the host's retry policy; every effect above is idempotent.
      log.log('error', 'batch failed; the host will retry it', {
        invocationId: context.invocationId,
        partition,
        events: bodies.length,
        code: isAppError(error) ? error.code : 'unknown',
        retryable: isAppError(error) ? error.retryable : undefined,
        error: (error as Error).message,
      });
      throw error;
    }
  };
}
