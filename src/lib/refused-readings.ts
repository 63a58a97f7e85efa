/**
 * Readings the pipeline refuses (not JSON, no such twin, invalid against the device's model, a
 * timestamp out of range…) are rows of DeadLetters with a 2 KB excerpt of their body: enough to see
 * why, not enough to take them in once the cause is mended (the twin registered, the model
 * extended, the device's clock fixed), and the event hub keeps the originals for 7 days only. So
 * the events refused in a batch are also kept whole, as the trigger handed them over, in the app's
 * storage account (`telemetry-refused`, one blob per batch, before the batch is acknowledged), and
 * an operator can take them in again: each kept batch goes through the pipeline as a late
 * delivery, what is accepted now is stored, and only what is refused again stays kept.
 */
import { AppError, isAppError } from './errors.ts';
import type { Logger } from './log.ts';
import { defineOwn } from './own-properties.ts';
import type { BatchDeadLetterPort, DeadLetteredBatch, KeptBatchSummary } from './ports.ts';
import type { BatchResult } from './pipeline.ts';
import type { BatchMetadata } from './telemetry/decode.ts';
import type { DeadLetter } from './telemetry/reading.ts';
import { counted } from './words.ts';

/** The container of the app's storage account that keeps refused events whole. */
export const REFUSED_CONTAINER = 'telemetry-refused';

/**
 * Reasons the message itself decides (its bytes, or what IoT Hub stamped on it): nothing mended on
 * this side takes such a reading in, so a readmission passes their kept batches by without
 * downloading them (a device sending junk every second must not keep the others waiting). They stay
 * kept, as evidence, for as long as their DeadLetters rows; a readmission with `all` tries them too,
 * for after a version that reads more than the one that refused them (a body beginning with a byte
 * order mark, read since).
 */
export const REFUSED_FOR_GOOD: ReadonlySet<string> = new Set([
  'envelope.noDevice', 'envelope.deviceMismatch', 'envelope.badTimestamp', 'envelope.badSeq',
  'body.tooLarge', 'body.notJson', 'body.empty', 'body.notObject', 'telemetry.badName', 'telemetry.empty',
]);

/**
 * Events `indices` (ascending) of a batch: its bodies and every per-event metadata array the host
 * gives (`…Array`, one entry per body) picked alike; the rest of the metadata (the partition) as it is.
 */
export function pickEvents(bodies: readonly unknown[], meta: Record<string, unknown>, indices: readonly number[]): { bodies: unknown[]; triggerMetadata: Record<string, unknown> } {
  const n = bodies.length;
  const triggerMetadata: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta)) {
    defineOwn(triggerMetadata, key, key.endsWith('Array') && Array.isArray(value) && value.length === n ? indices.map((i) => value[i]) : value);
  }
  return { bodies: indices.map((i) => bodies[i]), triggerMetadata };
}

/** The events of the batch its dead letters came in, each once, in batch order (an event may carry several readings). */
export function refusedIndices(deadLetters: readonly DeadLetter[]): number[] {
  return [...new Set(deadLetters.map((d) => d.event))].sort((a, b) => a - b);
}

/**
 * Keeps the refused events of a batch whole and returns the blob's name (`reasons`: the dead
 * letters counted by reason). Storage that cannot take them fails the batch (retryably): the host
 * tries it again rather than acknowledge readings that would then exist only as excerpts.
 */
export async function keepRefused(refused: Pick<BatchDeadLetterPort, 'put'>, bodies: readonly unknown[], meta: BatchMetadata, deadLetters: readonly DeadLetter[], reasons: Readonly<Record<string, number>>, now: number): Promise<string> {
  const counts = Object.entries(reasons);
  const batch: DeadLetteredBatch = {
    ...pickEvents(bodies, meta as Record<string, unknown>, refusedIndices(deadLetters)),
    failedAt: new Date(now).toISOString(),
    attempts: 1,
    ...undescribed(deadLetters),
    error: {
      code: counts.length === 1 ? deadLetters[0]!.reason : 'telemetry.refused',
      message: `${counted(deadLetters.length, 'reading')} refused (${counts.map(([r, n]) => `${r} ×${n}`).join(', ')}); the first: ${deadLetters[0]!.detail}`,
    },
  };
  try {
    return await refused.put(batch);
  } catch (error) {
    throw new AppError('refused.unkept', `the refused readings could not be kept whole in the storage account: ${(error as Error).message}`, { status: 503, retryable: true, cause: error });
  }
}

/** The twins' models the refused readings' build describes no telemetry of, each once, when any. */
function undescribed(deadLetters: readonly DeadLetter[]): Pick<DeadLetteredBatch, 'undescribedModels'> {
  const models = new Set<string>();
  for (const d of deadLetters) if (d.model !== undefined) models.add(d.model);
  return models.size ? { undescribedModels: [...models].sort() } : {};
}

export interface ReadmissionResult {
  /** Kept batches taken through the pipeline. */
  tried: number;
  /** Readings stored by this round (accepted now). */
  stored: number;
  /** Kept batches whose every event was refused again: they stay as they were. */
  stillRefused: number;
  /** Kept batches of which some events were taken in: the rest, if any, were kept anew. */
  readmitted: number;
  /** Blobs that are no batch this app kept, or that failed to go through: left. */
  failed: number;
  /** Kept batches passed by without downloading them: refused for what the message itself is (REFUSED_FOR_GOOD; none with `all`), or, in the timer's round, for no model this build describes. */
  passedBy: number;
}

export interface ReadmissionOptions {
  /** Try the kept batches refused for what the message itself is too. */
  all?: boolean;
}

export interface ReadmissionDeps {
  refused: BatchDeadLetterPort;
  pipeline: { processBatch(bodies: readonly unknown[], meta: BatchMetadata, options: { redelivered?: boolean }): Promise<BatchResult>; forgetUnknownDevices(): void };
  logger: Logger;
  /** Kept batches taken through per round at most. */
  limit: number;
}

/**
 * One round of the operator's readmission: each kept batch (but those refused for good, unless `all`) through the pipeline as a late delivery
 * (stored, scored and flagged, never raising or clearing an incident). The pipeline keeps what it
 * refuses again under the name of exactly those events, so a batch refused whole again is the same
 * blob; any other is removed once its refused part is kept anew. A far end that is down stops the
 * round.
 */
export function readmitRefused(deps: ReadmissionDeps, options: ReadmissionOptions = {}): Promise<ReadmissionResult> {
  return readmit(deps, ({ error }) => options.all === true || !(error && REFUSED_FOR_GOOD.has(error.code)));
}

/** Why the readings of a twin whose model the build does not describe are refused. */
export const UNDESCRIBED_MODEL = 'device.noTelemetryModel';

/**
 * One round of the `refusedReadmission` timer: the kept batches refused because their twins' model
 * was one the build that refused them describes no telemetry of, once this build describes it (a
 * model version seeded before the build that reads it is deployed, as `azd up` does), taken in
 * without anyone asking. A batch is tried when a model it names is described now, or, kept by a
 * version that did not name the models, when it was refused for that reason alone; the rest are
 * passed by without downloading them, so a device on a model no build describes costs a listing.
 */
export function readmitNowDescribed(deps: ReadmissionDeps, describes: (model: string) => boolean): Promise<ReadmissionResult> {
  return readmit(deps, ({ undescribedModels, error }) => (undescribedModels ? undescribedModels.some(describes) : error?.code === UNDESCRIBED_MODEL));
}

export const REFUSED_READMISSION_FUNCTION = 'refusedReadmission';

/**
 * A timer round that left kept batches it could not take through (a blob that is no kept batch, a
 * far end down): its invocation fails on it, so that the failure is a failed request someone sees,
 * not only a log line. Readings refused again are not a failure: they stay kept, as they were.
 */
export function readmissionFailure(result: ReadmissionResult): AppError | undefined {
  if (result.failed === 0) return undefined;
  return new AppError('refused.notReadmitted', `${counted(result.failed, 'kept batch', 'kept batches')} of refused readings could not be taken through: their readings stay kept until the next round (see the warnings above, or GET /api/telemetry/dead-letters)`, { status: 500 });
}

/** A round that handled nothing (also what an app without a storage account reports). */
export const noReadmission = (): ReadmissionResult => ({ tried: 0, stored: 0, stillRefused: 0, readmitted: 0, failed: 0, passedBy: 0 });

/** Each kept batch `wanted` says (told from its listing) through the pipeline; the others passed by. */
async function readmit(deps: ReadmissionDeps, wanted: (summary: KeptBatchSummary) => boolean): Promise<ReadmissionResult> {
  const result = noReadmission();
  // A device refused for having no twin is remembered so for a minute; the operator may have registered it just now.
  deps.pipeline.forgetUnknownDevices();
  // Kept anew by this round under another name: a listing that pages may come to them later in the round.
  const keptThisRound = new Set<string>();
  for await (const summary of deps.refused.summaries()) {
    const { name } = summary;
    if (result.tried >= deps.limit) break;
    if (keptThisRound.has(name)) continue;
    if (!wanted(summary)) {
      result.passedBy++;
      continue;
    }
    try {
      const batch = await deps.refused.get(name);
      if (!batch) continue; // taken in by another round meanwhile
      result.tried++;
      const outcome = await deps.pipeline.processBatch(batch.bodies, batch.triggerMetadata as BatchMetadata, { redelivered: true });
      result.stored += outcome.stored;
      // Kept anew under another name (a batch without sequence numbers is named at random): the old blob goes.
      if (outcome.refusedKept !== name) await deps.refused.remove(name);
      if (outcome.refusedKept !== undefined) keptThisRound.add(outcome.refusedKept);
      if (outcome.refusedKept !== undefined && outcome.stored === 0) {
        result.stillRefused++;
        continue;
      }
      result.readmitted++;
      deps.logger.log('info', 'refused readings taken in again', { refused: name, events: batch.bodies.length, stored: outcome.stored, deadLettered: outcome.deadLettered, ...(outcome.refusedKept ? { keptAs: outcome.refusedKept } : {}) });
    } catch (error) {
      result.failed++;
      const code = isAppError(error) ? error.code : 'unknown';
      deps.logger.log('warn', 'refused readings could not be taken in; kept as they are', { refused: name, code, error: (error as Error).message });
      if (isAppError(error) && error.retryable) break;
    }
  }
  return result;
}
