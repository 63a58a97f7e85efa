/**
 * Turns what the Event Hub trigger hands us (bodies + per-message metadata arrays) into readings.
 * IoT Hub stamps the authenticated device id as a system property; we trust that over anything a
 * body claims. Nothing here throws for bad input: each bad event becomes a dead letter.
 */
import type { DeadLetter, Reading } from './reading.ts';

/** IoT Hub's largest device-to-cloud message; anything bigger did not come from a hub. */
export const MAX_BODY_BYTES = 256 * 1024;
const BODY_EXCERPT = 2048;
const ENVELOPE_KEYS = new Set(['deviceId', 'timestamp', 'seq', 'messageId']);
const EARLIEST = Date.UTC(2000, 0, 1);

export interface BatchMetadata {
  systemPropertiesArray?: Record<string, unknown>[];
  propertiesArray?: Record<string, unknown>[];
  enqueuedTimeUtcArray?: (string | Date)[];
  sequenceNumberArray?: (number | string)[];
  partitionContext?: { PartitionId?: string; partitionId?: string };
}

export interface DecodeOptions {
  now: number;
  maxClockSkewMs: number;
}

export interface Decoded {
  readings: Reading[];
  deadLetters: DeadLetter[];
}

const asString = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' ? String(v) : undefined);

function toTime(v: unknown): number | undefined {
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.length > 0) {
    const t = Date.parse(v);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

function bodyText(body: unknown): { text?: string; value?: unknown; bytes: number } {
  if (typeof body === 'string') return { text: body, bytes: Buffer.byteLength(body) };
  if (body instanceof Uint8Array) return { text: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'), bytes: body.byteLength };
  // The host already parsed a JSON body; its size is what it would serialize to.
  return { value: body, bytes: -1 };
}

export function decodeBatch(bodies: readonly unknown[], meta: BatchMetadata, options: DecodeOptions): Decoded {
  const readings: Reading[] = [];
  const deadLetters: DeadLetter[] = [];
  const partitionId = meta.partitionContext?.PartitionId ?? meta.partitionContext?.partitionId;

  for (let i = 0; i < bodies.length; i++) {
    const sys = meta.systemPropertiesArray?.[i] ?? {};
    const deviceId = asString(sys['iothub-connection-device-id']);
    const messageId = asString(sys['message-id'] ?? sys['messageId'] ?? sys['message_id']);
    const seqRaw = meta.sequenceNumberArray?.[i] ?? sys['x-opt-sequence-number'];
    const sequenceNumber = seqRaw === undefined ? undefined : Number(seqRaw);
    const enqueuedTime = toTime(meta.enqueuedTimeUtcArray?.[i] ?? sys['iothub-enqueuedtime'] ?? sys['x-opt-enqueued-time']) ?? options.now;

    const raw = bodyText(bodies[i]);
    const excerpt = () => (raw.text ?? safeStringify(raw.value)).slice(0, BODY_EXCERPT);
    const reject = (reason: string, detail: string) =>
      deadLetters.push({ reason, detail, deviceId, messageId, partitionId, sequenceNumber, enqueuedTime, body: excerpt(), receivedAt: options.now });

    if (!deviceId) {
      reject('envelope.noDevice', 'no iothub-connection-device-id system property: the event did not come through IoT Hub');
      continue;
    }
    if (raw.bytes > MAX_BODY_BYTES) {
      reject('body.tooLarge', `body is ${raw.bytes} bytes; IoT Hub messages are at most ${MAX_BODY_BYTES}`);
      continue;
    }
    let parsed = raw.value;
    if (raw.text !== undefined) {
      try {
        parsed = JSON.parse(raw.text);
      } catch (error) {
        reject('body.notJson', `body is not JSON: ${(error as Error).message}`);
        continue;
      }
    }
    // A device may batch several readings into one message.
    const items = Array.isArray(parsed) ? parsed : [parsed];
    if (items.length === 0) {
      reject('body.empty', 'body is an empty array');
      continue;
    }
    const creationTime = toTime(sys['iothub-creation-time-utc']);
    items.forEach((item, index) => {
      const where = items.length > 1 ? `item ${index}: ` : '';
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        return reject('body.notObject', `${where}a reading must be a JSON object of telemetry values`);
      }
      const body = item as Record<string, unknown>;
      if (body.deviceId !== undefined && body.deviceId !== deviceId) {
        return reject('envelope.deviceMismatch', `${where}body says deviceId ${JSON.stringify(body.deviceId)} but IoT Hub authenticated ${deviceId}`);
      }
      const time = body.timestamp === undefined ? creationTime ?? enqueuedTime : toTime(body.timestamp);
      if (time === undefined) return reject('envelope.badTimestamp', `${where}timestamp ${JSON.stringify(body.timestamp)} is not an ISO 8601 time or epoch milliseconds`);
      if (time > options.now + options.maxClockSkewMs) return reject('envelope.futureTimestamp', `${where}timestamp ${new Date(time).toISOString()} is in the future (device clock?)`);
      if (time < EARLIEST) return reject('envelope.badTimestamp', `${where}timestamp ${new Date(time).toISOString()} is before 2000`);
      let seq: number | undefined;
      if (body.seq !== undefined) {
        if (!Number.isSafeInteger(body.seq) || (body.seq as number) < 0) return reject('envelope.badSeq', `${where}seq must be a non-negative integer`);
        seq = body.seq as number;
      }
      const bodyMessageId = asString(body.messageId);
      const mid = messageId ?? bodyMessageId;
      const values: Record<string, unknown> = {};
      let count = 0;
      for (const k in body) {
        if (ENVELOPE_KEYS.has(k)) continue;
        values[k] = body[k];
        count++;
      }
      if (count === 0) return reject('telemetry.empty', `${where}the reading carries no telemetry values`);
      const identity = mid !== undefined ? `m:${mid}${items.length > 1 ? `#${index}` : ''}` : seq !== undefined ? `s:${seq}` : `t:${time}`;
      readings.push({ deviceId, key: `${deviceId}|${identity}`, messageId: mid, seq, time, enqueuedTime, values, partitionId, sequenceNumber });
    });
  }
  return { readings, deadLetters };
}

function safeStringify(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
