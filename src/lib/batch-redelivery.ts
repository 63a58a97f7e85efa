/**
 * Dead-lettered batches are not left for someone to find: a timer hands each back to the
 * pipeline, oldest first per partition, and removes it once it is handled. Until then it stays
 * kept, and is tried again at the next round. Late readings are what the pipeline already
 * expects (a device's buffered backlog): stored, scored, never moving a twin backwards.
 */
import { isAppError } from './errors.ts';
import type { Logger } from './log.ts';
import type { BatchDeadLetterPort } from './ports.ts';
import type { TelemetryPipeline } from './pipeline.ts';
import type { BatchMetadata } from './telemetry/decode.ts';

export interface RedeliveryDeps {
  deadLetters: BatchDeadLetterPort;
  pipeline: Pick<TelemetryPipeline, 'processBatch'>;
  logger: Logger;
  /** Batches tried per round. */
  limit: number;
}

export interface RedeliveryResult {
  tried: number;
  redelivered: number;
  failed: number;
}

export async function redeliverBatches(deps: RedeliveryDeps): Promise<RedeliveryResult> {
  const result: RedeliveryResult = { tried: 0, redelivered: 0, failed: 0 };
  for (const name of await deps.deadLetters.list(deps.limit)) {
    const batch = await deps.deadLetters.get(name);
    if (!batch) continue; // another instance handled it meanwhile
    result.tried++;
    try {
      const outcome = await deps.pipeline.processBatch(batch.bodies, batch.triggerMetadata as BatchMetadata);
      await deps.deadLetters.remove(name);
      result.redelivered++;
      deps.logger.log('info', 'dead-lettered batch redelivered', { deadLetter: name, events: outcome.events, stored: outcome.stored, duplicates: outcome.duplicates });
    } catch (error) {
      result.failed++;
      deps.logger.log('warn', 'dead-lettered batch still fails; kept for the next round', { deadLetter: name, code: isAppError(error) ? error.code : 'unknown', error: (error as Error).message });
      // A far end that is down fails the rest too: wait for the next round.
      if (isAppError(error) && error.retryable) break;
    }
  }
  return result;
}
