/**
 * Alert cards Teams did not take, waiting in the app's own storage account (AzureWebJobsStorage;
 * Azurite locally) until it does: one JSON blob per card, named after the card's id, so the same
 * card kept twice (a batch replayed after a crash) waits once. When it was kept travels as blob
 * metadata, so a listing gives the order to send them in without downloading them.
 */
import { createHash } from 'node:crypto';
import { ContainerClient, RestError } from '@azure/storage-blob';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { jsonOrUndefined } from '../json-text.ts';
import { blobText, metadataText, metadataValue } from '../blobs.ts';
import type { Alert, AlertOutboxPort, WaitingAlert } from '../ports.ts';

export const ALERT_OUTBOX_CONTAINER = 'alerts-outbox';

/** What a card must hold for the card to be made from it (the rest is optional on the card). */
const alertSchema = z.looseObject({
  id: z.string(),
  deviceId: z.string(),
  equipmentType: z.string(),
  severity: z.enum(['warning', 'critical']),
  time: z.number(),
  anomalyScore: z.number(),
  readings: z.record(z.string(), z.unknown()),
  units: z.record(z.string(), z.string().optional()),
  contributions: z.record(z.string(), z.number()),
  modelVersion: z.string(),
  incident: z.looseObject({ id: z.string(), event: z.enum(['raised', 'escalated', 'silent', 'cleared']), raisedAt: z.number() }),
  notMeasured: z.object({ sensors: z.array(z.string()), since: z.number() }).optional(),
  silent: z
    .object({
      since: z.number(),
      refused: z.object({ count: z.number(), reason: z.string(), detail: z.string() }).optional(),
      connection: z.object({ identity: z.enum(['enabled', 'disabled', 'unregistered']), connected: z.boolean().optional(), since: z.number().optional(), lastActivity: z.number().optional() }).optional(),
    })
    .optional(),
});
const documentSchema = z.object({
  version: z.literal(1),
  keptAt: z.string(),
  error: z.object({ code: z.string(), message: z.string() }),
  alert: alertSchema,
});

/** Characters of the error message a listing carries (the blob holds it whole). */
const SUMMARY_MESSAGE = 300;
/** A listing that failed (after the SDK's retries); a container not made yet (404) holds nothing. */
function unreachable(error: unknown): AppError {
  return new AppError('alerts.outboxUnreachable', `the storage account keeping undelivered alert cards cannot be read: ${(error as Error).message}`, { status: 503, retryable: true, cause: error });
}

const WAITING = 'waiting/';
const REFUSED = 'refused/';
const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 40);
/** A card id may hold any character (a device id does): the blob is named by its hash. */
export const outboxName = (alertId: string) => `${WAITING}${digest(alertId)}.json`;

export class BlobAlertOutbox implements AlertOutboxPort {
  private ready: Promise<unknown> | undefined;
  constructor(private readonly container: ContainerClient) {}

  async put(alert: Alert, keptAt: number, error: { code: string; message: string }): Promise<void> {
    this.ready ??= this.container.createIfNotExists().catch((e: unknown) => {
      this.ready = undefined; // tried again with the next card
      throw e;
    });
    await this.ready;
    const at = new Date(keptAt).toISOString();
    const text = JSON.stringify({ version: 1, keptAt: at, error, alert });
    try {
      // Only if absent: a card kept again keeps its first place in the queue.
      await this.container.getBlockBlobClient(outboxName(alert.id)).upload(text, Buffer.byteLength(text), {
        blobHTTPHeaders: { blobContentType: 'application/json' },
        metadata: { keptat: metadataValue(at), device: metadataValue(alert.deviceId), step: metadataValue(alert.incident.event), incident: digest(alert.incident.id), errorcode: metadataValue(error.code), errormessage: metadataValue(error.message, SUMMARY_MESSAGE) },
        conditions: { ifNoneMatch: '*' },
      });
    } catch (e) {
      if (e instanceof RestError && e.statusCode === 409) return;
      throw e;
    }
  }

  async any(): Promise<boolean> {
    try {
      for await (const page of this.container.listBlobsFlat({ prefix: WAITING }).byPage({ maxPageSize: 1 })) return page.segment.blobItems.length > 0;
      return false;
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return false;
      throw unreachable(error);
    }
  }

  /** The waiting cards, oldest first (of the first 5,000 listed: more is an outage nobody has looked at for days). */
  async waiting(): Promise<WaitingAlert[]> {
    const all: WaitingAlert[] = [];
    try {
      for await (const blob of this.container.listBlobsFlat({ includeMetadata: true, prefix: WAITING })) {
        const code = metadataText(blob.metadata, 'errorcode');
        all.push({
          name: blob.name,
          keptAt: metadataText(blob.metadata, 'keptat') ?? blob.properties.lastModified?.toISOString() ?? '',
          deviceId: metadataText(blob.metadata, 'device'),
          step: metadataText(blob.metadata, 'step'),
          incident: metadataText(blob.metadata, 'incident'),
          error: code === undefined ? undefined : { code, message: metadataText(blob.metadata, 'errormessage') ?? '' },
        });
        if (all.length >= 5_000) break;
      }
    } catch (error) {
      if (error instanceof RestError && error.statusCode === 404) return []; // nothing kept yet
      throw unreachable(error);
    }
    // ISO times sort as text; the name breaks ties, so every reader sends in one order.
    return all.sort((a, b) => (a.keptAt < b.keptAt ? -1 : a.keptAt > b.keptAt ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async get(name: string): Promise<Alert | undefined> {
    const text = await blobText(this.container, name);
    if (text === undefined) return undefined;
    const document = documentSchema.safeParse(jsonOrUndefined(text));
    if (!document.success) throw new AppError('alerts.outboxUnreadable', `alert card ${name} is not one this app kept`, { status: 500 });
    return document.data.alert as unknown as Alert;
  }

  async remove(name: string): Promise<void> {
    await this.container.getBlockBlobClient(name).deleteIfExists();
  }

  async setAside(name: string, error: { code: string; message: string }): Promise<void> {
    if (!name.startsWith(WAITING)) return;
    const text = await blobText(this.container, name);
    if (text === undefined) return; // gone meanwhile
    await this.container.getBlockBlobClient(`${REFUSED}${name.slice(WAITING.length)}`).upload(text, Buffer.byteLength(text), {
      blobHTTPHeaders: { blobContentType: 'application/json' },
      metadata: { refusedat: metadataValue(new Date().toISOString()), errorcode: metadataValue(error.code), errormessage: metadataValue(error.message, SUMMARY_MESSAGE) },
    });
    await this.container.getBlockBlobClient(name).deleteIfExists();
  }
}
