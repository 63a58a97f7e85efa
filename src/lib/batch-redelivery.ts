/**
 * Dead-lettered batches are not left for someone to find: a timer hands each back to the
 * pipeline, oldest first per partition, and removes it once it is handled. Until then it stays
 * kept, and is tried again at the next round. Its readings come back late: stored, scored and
 * flagged, never moving a twin backwards, and never raising, escalating or clearing an incident
 * (those are about the equipment now; the flags record what the old readings showed).
 * A kept batch that still fails for good is cut in halves while one half goes through and the
 * other still fails, so that what one reading fails on (a defect it triggers, a row the store
 * refuses) no longer keeps the rest of its batch out of the store; only the part that still fails
 * stays kept. When both halves fail, everything fails alike (a far end refusing): it stays whole.
 */
import { AppError, isAppError } from './errors.ts';
import type { Logger } from './log.ts';
import type { BatchDeadLetterPort, DeadLetteredBatch } from './ports.ts';
import type { TelemetryPipeline } from './pipeline.ts';
import type { BatchMetadata } from './telemetry/decode.ts';
import { pickEvents } from './refused-readings.ts';
import { counted } from './words.ts';

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
  /** Batches of which a part went through and the part that still fails was kept alone in their place. */
  narrowed: number;
  /** Blobs in the container that are not a batch this app kept: left alone, and said. */
  unreadable: number;
}

/** The timer function that runs the rounds (src/functions/batch-redelivery.ts); infra/'s alert rule counts its failed invocations. */
export const BATCH_REDELIVERY_FUNCTION = 'batchRedelivery';

/**
 * What a round that leaves kept batches failing (or a blob it cannot read) ends with: the timer's
 * invocation fails on it, so that someone looks. A failed invocation is a request, which the host
 * sends to Application Insights unsampled, where the log lines saying so may be sampled out.
 */
export function roundFailure(result: RedeliveryResult): AppError | undefined {
  if (result.failed === 0 && result.unreadable === 0) return undefined;
  const parts = [result.failed ? `${counted(result.failed, 'kept batch', 'kept batches')} still ${result.failed === 1 ? 'fails' : 'fail'}` : '', result.unreadable ? `${counted(result.unreadable, 'blob')} in the container ${result.unreadable === 1 ? 'is' : 'are'} no batch this app kept` : ''].filter(Boolean);
  return new AppError('deadLetters.stillKept', `${parts.join('; ')}: their readings are not stored until someone mends why (see the warnings above, or GET /api/telemetry/kept)`, { status: 500 });
}

/** A round that handled nothing (also what an app without a storage account reports). */
export const noRedelivery = (): RedeliveryResult => ({ tried: 0, redelivered: 0, failed: 0, narrowed: 0, unreadable: 0 });

/**
 * One round: the kept batches in order until `limit` are handled or a far end is down. One that
 * still fails for good as a whole stays for the next round and does not count toward the limit,
 * so such batches cannot keep the others waiting.
 */
export async function redeliverBatches(deps: RedeliveryDeps): Promise<RedeliveryResult> {
  const result = noRedelivery();
  // Parts kept anew by this round: a listing that pages may come to them later in the round, and they just failed.
  const keptThisRound = new Set<string>();
  for await (const name of deps.deadLetters.names()) {
    if (result.redelivered + result.narrowed >= deps.limit) break;
    if (keptThisRound.has(name)) continue;
    try {
      const batch = await deps.deadLetters.get(name);
      if (!batch) continue; // another instance handled it meanwhile
      result.tried++;
      const error = await attempt(deps.pipeline, batch);
      const { delivered, failing } = error ? await narrow(deps.pipeline, { batch, error }) : { delivered: batch.bodies.length, failing: undefined };
      if (failing?.batch === batch) {
        result.failed++;
        deps.logger.log('warn', 'dead-lettered batch still fails; kept for the next round', { deadLetter: name, code: codeOf(failing.error), error: failing.error.message });
        continue;
      }
      if (failing) {
        // The part that still fails is kept before the batch goes: a crash between the two
        // redelivers the rest once more, which the pipeline takes as the replay it is.
        const kept = await deps.deadLetters.put({ ...failing.batch, failedAt: new Date().toISOString(), error: { code: codeOf(failing.error), message: failing.error.message } });
        if (kept !== name) await deps.deadLetters.remove(name);
        keptThisRound.add(kept);
        result.narrowed++;
        deps.logger.log('warn', 'dead-lettered batch redelivered but for the readings that still fail, kept alone', { deadLetter: name, keptAs: kept, events: batch.bodies.length, delivered, keptEvents: failing.batch.bodies.length, code: codeOf(failing.error), error: failing.error.message });
        continue;
      }
      await deps.deadLetters.remove(name);
      result.redelivered++;
      deps.logger.log('info', 'dead-lettered batch redelivered', { deadLetter: name, events: batch.bodies.length });
    } catch (error) {
      if (codeOf(error) === UNREADABLE) {
        result.unreadable++;
        deps.logger.log('error', 'a blob among the dead-lettered batches is not one this app kept; left as it is', { deadLetter: name });
        continue;
      }
      // A far end that is down (or the storage account itself) fails the rest too: wait for the next round.
      result.failed++;
      deps.logger.log('warn', 'dead-lettered batch redelivery stopped for this round; kept for the next', { deadLetter: name, code: codeOf(error), error: (error as Error).message });
      break;
    }
  }
  return result;
}

const codeOf = (error: unknown): string => (isAppError(error) ? error.code : 'unknown');

/** The batch through the pipeline: the error it fails with for good, none once it went through. A retryable failure is thrown (the round stops). */
async function attempt(pipeline: RedeliveryDeps['pipeline'], batch: DeadLetteredBatch): Promise<Error | undefined> {
  try {
    await pipeline.processBatch(batch.bodies, batch.triggerMetadata as BatchMetadata, { redelivered: true });
    return undefined;
  } catch (error) {
    if (isAppError(error) && error.retryable) throw error;
    return error instanceof Error ? error : new Error(String(error));
  }
}

interface Failing {
  batch: DeadLetteredBatch;
  error: Error;
}

/**
 * Halves of a batch that fails for good, tried one after the other, for as long as one half goes
 * through and the other fails: the half that fails is cut again, down to one event. Both halves
 * failing means everything fails alike, and what was failing is returned as it is.
 */
async function narrow(pipeline: RedeliveryDeps['pipeline'], whole: Failing): Promise<{ delivered: number; failing: Failing | undefined }> {
  let delivered = 0;
  let failing = whole;
  while (failing.batch.bodies.length > 1) {
    const n = failing.batch.bodies.length;
    const half = Math.ceil(n / 2);
    const first = sliceBatch(failing.batch, 0, half);
    const second = sliceBatch(failing.batch, half, n);
    const firstError = await attempt(pipeline, first);
    const secondError = await attempt(pipeline, second);
    if (firstError && secondError) break;
    if (!firstError) delivered += first.bodies.length;
    if (!secondError) delivered += second.bodies.length;
    if (!firstError && !secondError) return { delivered, failing: undefined };
    failing = firstError ? { batch: first, error: firstError } : { batch: second, error: secondError! };
  }
  return { delivered, failing };
}

/**
 * Events `from` to `to` of a kept batch: its bodies and every per-event metadata array the host
 * gives (`…Array`, one entry per body) cut alike; the rest of the metadata (the partition) as it is.
 */
export function sliceBatch(batch: DeadLetteredBatch, from: number, to: number): DeadLetteredBatch {
  return { ...batch, ...pickEvents(batch.bodies, batch.triggerMetadata, Array.from({ length: to - from }, (_, i) => from + i)) };
}
