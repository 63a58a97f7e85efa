/**
 * Batches the telemetry trigger could not handle, kept as blobs in the app's own storage account
 * (AzureWebJobsStorage; Azurite locally): one JSON document per batch, named after its partition
 * and sequence numbers, so a batch kept twice (a crash between keeping it and the checkpoint) is
 * one blob. Bodies are kept whole, binary ones as base64, so nothing a device sent is cut.
 */
import { randomUUID } from 'node:crypto';
import { ContainerClient, RestError } from '@azure/storage-blob';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { BatchDeadLetterPort, DeadLetteredBatch, KeptBatchSummary } from '../ports.ts';
import { UNREADABLE } from '../batch-redelivery.ts';
import { jsonOrUndefined } from '../json-text.ts';
import { blobText, metadataText, metadataValue } from '../blobs.ts';

export const BATCH_DEAD_LETTER_CONTAINER = 'telemetry-dead-letters';

/** A body as JSON: a value the host parsed, or bytes it did not. */
type StoredBody = { json: unknown } | { base64: string };

const documentSchema = z.object({
  version: z.literal(1),
  failedAt: z.string(),
  attempts: z.number(),
  error: z.object({ code: z.string(), message: z.string() }),
  bodies: z.array(z.union([z.object({ base64: z.string() }), z.object({ json: z.unknown() })])),
  triggerMetadata: z.record(z.string(), z.unknown()),
});

const storeBody = (body: unknown): StoredBody =>
  body instanceof Uint8Array ? { base64: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64') } : { json: body ?? null };
const loadBody = (body: StoredBody): unknown => ('base64' in body ? Buffer.from(body.base64, 'base64') : body.json);

/** Bytes in the metadata as base64 (read before JSON turns a Buffer into an array of numbers); a bigint as its digits. */
function replacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** `<partition>/<first>-<last>.json` from the trigger's metadata, a random name without it. */
export function batchName(meta: Record<string, unknown>): string {
  const context = meta.partitionContext as { PartitionId?: unknown; partitionId?: unknown } | undefined;
  const id = String(context?.PartitionId ?? context?.partitionId ?? '');
  // Event Hubs partition ids are numbers; anything else must not become a path of its own.
  const partition = /^\w[\w-]{0,63}$/.test(id) ? id : 'unknown';
  const sequence = Array.isArray(meta.sequenceNumberArray) ? meta.sequenceNumberArray.map(String).filter((s) => /^\d+$/.test(s)) : [];
  if (sequence.length === 0) return `${partition}/unsequenced-${randomUUID()}.json`;
  const width = (s: string) => s.padStart(20, '0'); // names sort in sequence order
  return `${partition}/${width(sequence[0]!)}-${width(sequence[sequence.length - 1]!)}.json`;
}

/** Characters of the error message a listing carries (the blob holds it whole). */
const SUMMARY_MESSAGE = 500;

/** Model ids a listing carries at most (a DTMI is at most 128 characters; a batch names a few). */
const UNDESCRIBED_MODELS = 16;

/** What a listing tells of a batch, as blob metadata. */
function summaryMetadata(batch: DeadLetteredBatch): Record<string, string> {
  const metadata: Record<string, string> = {
    events: String(batch.bodies.length),
    failedat: metadataValue(batch.failedAt),
    attempts: String(batch.attempts),
    errorcode: metadataValue(batch.error.code),
    errormessage: metadataValue(batch.error.message, SUMMARY_MESSAGE),
    undescribedmodels: metadataValue((batch.undescribedModels ?? []).slice(0, UNDESCRIBED_MODELS).join(' '), UNDESCRIBED_MODELS * 128),
  };
  // No empty values: not every version of the service keeps a metadata entry without one.
  for (const key of Object.keys(metadata)) if (metadata[key] === '') delete metadata[key];
  return metadata;
}

function metadataCount(metadata: Record<string, string> | undefined, key: string): number | undefined {
  const text = metadataText(metadata, key);
  return text !== undefined && /^\d{1,9}$/.test(text) ? Number(text) : undefined;
}

/** The partition and sequence numbers in a name batchName gave; undefined parts for any other name. */
function nameParts(name: string): Pick<KeptBatchSummary, 'partitionId' | 'firstSequenceNumber' | 'lastSequenceNumber'> {
  const m = /^([\w-]+)\/(?:(\d{20})-(\d{20})|unsequenced-[\w-]+)\.json$/.exec(name);
  const number = (digits: string | undefined) => (digits === undefined ? undefined : digits.replace(/^0+(?=\d)/, ''));
  return { partitionId: m?.[1], firstSequenceNumber: number(m?.[2]), lastSequenceNumber: number(m?.[3]) };
}

export class BlobBatchDeadLetters implements BatchDeadLetterPort {
  private ready: Promise<unknown> | undefined;
  constructor(private readonly container: ContainerClient) {}

  async put(batch: DeadLetteredBatch): Promise<string> {
    this.ready ??= this.container.createIfNotExists().catch((error: unknown) => {
      this.ready = undefined; // tried again with the next batch
      throw error;
    });
    await this.ready;
    const name = batchName(batch.triggerMetadata);
    const text = JSON.stringify({ version: 1, failedAt: batch.failedAt, attempts: batch.attempts, error: batch.error, bodies: batch.bodies.map(storeBody), triggerMetadata: batch.triggerMetadata }, replacer);
    // The upload returns once Storage has committed the blob: only then may the trigger checkpoint past it.
    await this.container.getBlockBlobClient(name).upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: 'application/json' }, metadata: summaryMetadata(batch) });
    return name;
  }

  async *names(): AsyncIterable<string> {
    for await (const blob of this.listing(false)) yield blob.name;
  }

  async *summaries(): AsyncIterable<KeptBatchSummary> {
    for await (const blob of this.listing(true)) {
      const { metadata, properties } = blob;
      const code = metadataText(metadata, 'errorcode');
      const message = metadataText(metadata, 'errormessage');
      const models = metadataText(metadata, 'undescribedmodels');
      yield {
        name: blob.name,
        ...nameParts(blob.name),
        events: metadataCount(metadata, 'events'),
        failedAt: metadataText(metadata, 'failedat'),
        attempts: metadataCount(metadata, 'attempts'),
        error: code !== undefined || message !== undefined ? { code: code ?? '', message: message ?? '' } : undefined,
        keptAt: properties.lastModified?.toISOString(),
        bytes: properties.contentLength,
        ...(models ? { undescribedModels: models.split(' ') } : {}),
      };
    }
  }

  /** The container's blobs; a storage account that cannot be listed (after the SDK's retries) is a 503 `deadLetters.unreachable`. */
  private async *listing(includeMetadata: boolean) {
    try {
      yield* this.container.listBlobsFlat({ includeMetadata });
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return; // no batch kept yet
      throw new AppError('deadLetters.unreachable', `the storage account keeping failed batches cannot be read: ${(error as Error).message}`, { status: 503, retryable: true, cause: error });
    }
  }

  async get(name: string): Promise<DeadLetteredBatch | undefined> {
    const text = await blobText(this.container, name);
    if (text === undefined) return undefined;
    const parsed = jsonOrUndefined(text);
    const document = documentSchema.safeParse(parsed);
    if (!document.success) throw new AppError(UNREADABLE, `dead-lettered batch ${name} is not one this app wrote`, { status: 500 });
    const { failedAt, attempts, error, bodies, triggerMetadata } = document.data;
    return { failedAt, attempts, error, bodies: bodies.map((b) => loadBody(b as StoredBody)), triggerMetadata };
  }

  async remove(name: string): Promise<void> {
    await this.container.getBlockBlobClient(name).deleteIfExists();
  }
}
