/**
 * Dead-lettered batches are not left for someone to find: a timer hands each back to the
 * pipeline, oldest first per partition, and removes it once it is handled. Until then it stays
 * kept, and is tried again at the next round. Its readings come back late: stored, scored and
 * flagged, never moving a twin backwards, and never raising, escalating or clearing an incident
 * (those are about the equipment now; the flags record what the old readings showed).
 */
import { isAppError } from './errors.ts';
import type { Logger } from './log.ts';
import type { BatchDeadLetterPort } from './ports.ts';
import type { BatchResult, TelemetryPipeline } from './pipeline.ts';
import type { BatchMetadata } from './telemetry/decode.ts';

/** The error code of a kept blob that is not a batch this app wrote (BatchDeadLetterPort.get throws it). */
export const UNREADABLE = 'deadLetters.unreadable';

export interface RedeliveryDeps {
  deadLetters: BatchDeadLetterPort;
  pipeline: Pick<TelemetryPipeline, 'processBatch'>;
  logger: Logger;
  /** Batches redelivered per round at most. */
  limit: number;
}

export interface RedeliveryResult {
  tried: number;
  redelivered: number;
  failed: number;
  /** Blobs in the container that are not a batch this app kept: left alone, and said. */
  unreadable: number;
}

/**
 * One round: the kept batches in order until `limit` are redelivered or a far end is down. One
 * that still fails for a reason retrying does not mend stays for the next round and does not
 * count toward the limit, so such batches cannot keep the others waiting.
 */
export async function redeliverBatches(deps: RedeliveryDeps): Promise<RedeliveryResult> {
  const result: RedeliveryResult = { tried: 0, redelivered: 0, failed: 0, unreadable: 0 };
  for await (const name of deps.deadLetters.names()) {
    if (result.redelivered >= deps.limit) break;
    let outcome: BatchResult;
    try {
      const batch = await deps.deadLetters.get(name);
      if (!batch) continue; // another instance handled it meanwhile
      result.tried++;
      outcome = await deps.pipeline.processBatch(batch.bodies, batch.triggerMetadata as BatchMetadata, { redelivered: true });
    } catch (error) {
      const code = isAppError(error) ? error.code : 'unknown';
      if (code === UNREADABLE) {
        result.unreadable++;
        deps.logger.log('error', 'a blob among the dead-lettered batches is not one this app kept; left as it is', { deadLetter: name });
        continue;
      }
      result.failed++;
      deps.logger.log('warn', 'dead-lettered batch still fails; kept for the next round', { deadLetter: name, code, error: (error as Error).message });
      // A far end that is down fails the rest too: wait for the next round.
      if (isAppError(error) && error.retryable) break;
      continue;
    }
    await deps.deadLetters.remove(name);
    result.redelivered++;
    deps.logger.log('info', 'dead-lettered batch redelivered', { deadLetter: name, events: outcome.events, stored: outcome.stored, duplicates: outcome.duplicates });
  }
  return result;
}
