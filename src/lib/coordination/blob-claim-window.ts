/**
 * A window of claims every instance of the function app shares: at most `limit` claims per key
 * within `windowMs`, one small blob per key in the app's own storage account (AzureWebJobsStorage;
 * Azurite locally). A production line's flood window (new incidents that notify) and the plant's
 * emergencyStop rate limit are such windows. A claim reads the key's blob and writes it back with
 * the ETag it read (or only if it does not exist yet), so two instances claiming the last place
 * at once cannot both get it: the loser reads again and finds the window full.
 */
import { ContainerClient, RestError } from '@azure/storage-blob';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { ClaimWindowPort } from '../ports.ts';
import { jsonOrUndefined } from '../json-text.ts';
import { boundedId } from '../bounded-id.ts';

/** Containers of the windows the app keeps. */
export const FLOOD_CONTAINER = 'alarm-flood-windows';
export const STOP_CONTAINER = 'emergency-stop-windows';
const MAX_ATTEMPTS = 8;
/** A window holds `limit` claims; older ones are dropped. This bounds a blob anyone could write. */
const MAX_CLAIMS = 1000;

/** Longer ids are stored as their digest. */
const MAX_ID = 512;

const windowSchema = z.object({ claims: z.array(z.object({ id: z.string().max(MAX_ID), time: z.number().finite() })).max(MAX_CLAIMS) });
type Claim = z.infer<typeof windowSchema>['claims'][number];

export interface BlobClaimWindowOptions {
  container: ContainerClient;
  /** Claims per key within `windowMs`. */
  limit: number;
  windowMs: number;
}

export class BlobClaimWindow implements ClaimWindowPort {
  private ready: Promise<unknown> | undefined;
  constructor(private readonly options: BlobClaimWindowOptions) {}

  async claim(key: string, claimId: string, time: number): Promise<boolean> {
    const { container, limit, windowMs } = this.options;
    // An id comes from what a device sent (its message id): a long one is kept as its digest, so
    // the blob stays small and every claim written is one the next read accepts.
    const id = boundedId(claimId, MAX_ID);
    this.ready ??= container.createIfNotExists().catch((error: unknown) => {
      this.ready = undefined; // tried again with the next claim
      throw error;
    });
    await this.ready;
    const blob = container.getBlockBlobClient(`${encodeURIComponent(key)}.json`);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const { claims, etag } = await read(blob);
      if (claims.some((c) => c.id === id)) return true; // its place, taken before (a retried batch)
      // Times as the caller counts them (reading time for floods): instances a little apart see the same window.
      const open = claims.filter((c) => c.time > time - windowMs && c.time < time + windowMs);
      if (open.length >= limit) return false;
      const newest = Math.max(time, ...claims.map((c) => c.time));
      const kept = claims.filter((c) => c.time > newest - windowMs).slice(-(MAX_CLAIMS - 1));
      const body = JSON.stringify({ claims: [...kept, { id, time }] });
      try {
        await blob.upload(body, Buffer.byteLength(body), {
          conditions: etag ? { ifMatch: etag } : { ifNoneMatch: '*' },
          blobHTTPHeaders: { blobContentType: 'application/json' },
        });
        return true;
      } catch (error) {
        // Another instance wrote the window since it was read: read it again.
        if (error instanceof RestError && (error.statusCode === 412 || error.statusCode === 409)) continue;
        throw error;
      }
    }
    throw new AppError('coordination.windowBusy', `the shared window ${key} kept changing while it was claimed (${MAX_ATTEMPTS} attempts)`, { status: 503, retryable: true });
  }
}

/** A key's claims and the ETag they were read at; none (and no ETag) when the blob does not exist yet. */
async function read(blob: ReturnType<ContainerClient['getBlockBlobClient']>): Promise<{ claims: Claim[]; etag: string | undefined }> {
  let text: string;
  let etag: string | undefined;
  try {
    // One call: the ETag is that of the content read, so a write since makes the upload fail.
    const response = await blob.download();
    etag = response.etag;
    const chunks: Buffer[] = [];
    for await (const chunk of response.readableStreamBody!) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
    text = Buffer.concat(chunks).toString('utf8');
  } catch (error) {
    if (error instanceof RestError && error.statusCode === 404) return { claims: [], etag: undefined };
    throw error;
  }
  // A blob that is not a window (written by hand, or cut short) is started afresh, over its ETag.
  const parsed = jsonOrUndefined(text);
  const window = windowSchema.safeParse(parsed);
  return { claims: window.success ? window.data.claims : [], etag };
}
