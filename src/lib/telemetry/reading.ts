/** A body's fields that are about the reading, not telemetry: its time, its number, who sent it, its id. */
export const ENVELOPE_FIELDS: readonly string[] = ['timestamp', 'seq', 'deviceId', 'messageId'];

/** One telemetry reading after decoding: what every later step of the pipeline works on. */
export interface Reading {
  deviceId: string;
  /** Dedupe identity: the device's message id, else its sequence number, else its source time. */
  key: string;
  messageId: string | undefined;
  seq: number | undefined;
  /** Source time (epoch ms): when the device took the reading. */
  time: number;
  /** The same instant as ISO 8601 UTC (the device's own string when it already was one). */
  timeIso: string;
  /** When IoT Hub received it, ISO 8601 UTC. */
  enqueuedIso: string;
  /** Telemetry name → value, exactly as the device sent it (validated against its model later). */
  values: Record<string, unknown>;
  partitionId: string | undefined;
  sequenceNumber: number | undefined;
  /** Which event of the batch the trigger handed over it came in (one event may carry several readings). */
  event: number;
}

/**
 * Whether `readings[at]` is the last of the message it came in, in a list of one device's readings
 * where a message's readings are together (a logger's array: only its last ends it). Readings that
 * `taken` says were refused do not count: when a message's last reading is refused, the one taken
 * in before it ends the message, so that the message is still timed.
 */
export function endsItsMessage(readings: readonly Pick<Reading, 'event'>[], at: number, taken?: (index: number) => boolean): boolean {
  const event = readings[at]!.event;
  for (let next = at + 1; next < readings.length && readings[next]!.event === event; next++) {
    if (!taken || taken(next)) return false;
  }
  return true;
}

/** Whether a reading carries a number for any of `names` (the telemetry its equipment measures), rather than only a status or nothing usable. */
export function measuresAny(reading: Reading, names: readonly string[]): boolean {
  for (const name of names) {
    const v = reading.values[name];
    if (typeof v === 'number' && Number.isFinite(v)) return true;
  }
  return false;
}

export interface DeadLetter {
  reason: string;
  detail: string;
  deviceId: string | undefined;
  messageId: string | undefined;
  partitionId: string | undefined;
  sequenceNumber: number | undefined;
  enqueuedTime: number | undefined;
  /** Which event of the batch it came in, so that the event itself can be kept whole. */
  event: number;
  /** Refused as `device.noTelemetryModel`: the twin's model, which this build describes no telemetry of. */
  model?: string;
  /** The body as received, cut to a few KB: enough to diagnose, never a whole payload in logs. */
  body: string;
  receivedAt: number;
}
