/**
 * IoT Hub's device connection state events, routed to the telemetry Event Hub by the route on
 * `DeviceConnectionStateEvents` (infra/modules/iothub.bicep). Microsoft advises against reading
 * the registry's `connectionState` at run time (MQTT and AMQP only, updated on protocol pings, up
 * to minutes late); these events are its recommended source. Each names its device
 * (`iothub-connection-device-id`), says `deviceConnected` or `deviceDisconnected` (`opType`), when
 * (`operationTimestamp`), and carries IoT Hub's `sequenceNumber` in its body: events can arrive out
 * of order, and the sequence number, not the time, says which is the device's latest.
 */
import { jsonOrUndefined } from '../json-text.ts';
import { ownValue } from '../own-properties.ts';
import type { ConnectionEvent } from '../ports.ts';
import type { DeviceConnectionRow } from '../store/rows.ts';

export const CONNECTION_STATE_SOURCE = 'deviceConnectionStateEvents';

/** Sequence numbers are hexadecimal digits; padded to this width they order as text, in Data Explorer and DuckDB alike. */
const SEQUENCE_WIDTH = 64;
const SEQUENCE = /^[0-9A-Fa-f]{1,64}$/;
const STATES: Readonly<Record<string, DeviceConnectionRow['State']>> = { deviceconnected: 'connected', devicedisconnected: 'disconnected' };
/** IoT Hub's device ids are at most 128 characters. */
const MAX_DEVICE_ID = 128;

function bodyObject(body: unknown): Record<string, unknown> | undefined {
  const value = body instanceof Uint8Array ? jsonOrUndefined(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) : typeof body === 'string' ? jsonOrUndefined(body) : body;
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function timeOf(v: unknown): number | undefined {
  const t = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : typeof v === 'number' ? v : NaN;
  return Number.isFinite(t) && Math.abs(t) < 8.64e15 ? t : undefined;
}

/**
 * The row a connection state event is stored as, or undefined when it is not one or lacks what
 * makes it usable (device, kind, sequence number, time): such an event is passed by, as the
 * other events IoT Hub emits are. Untrusted keys are read as own properties only.
 */
export function connectionRowOf(
  sys: Record<string, unknown> | undefined,
  props: Record<string, unknown> | undefined,
  body: unknown,
  enqueued: unknown,
): DeviceConnectionRow | undefined {
  const deviceId = ownValue(sys ?? {}, 'iothub-connection-device-id') ?? ownValue(props ?? {}, 'deviceId');
  if (typeof deviceId !== 'string' || deviceId.length === 0 || deviceId.length > MAX_DEVICE_ID) return undefined;
  const op = ownValue(props ?? {}, 'opType');
  const state = typeof op === 'string' ? ownValue(STATES, op.toLowerCase()) : undefined;
  if (state === undefined) return undefined;
  const sequence = ownValue(bodyObject(body) ?? {}, 'sequenceNumber');
  if (typeof sequence !== 'string' || !SEQUENCE.test(sequence)) return undefined;
  const enqueuedAt = timeOf(enqueued ?? ownValue(sys ?? {}, 'iothub-enqueuedtime'));
  const at = timeOf(ownValue(props ?? {}, 'operationTimestamp')) ?? enqueuedAt;
  if (at === undefined) return undefined;
  return {
    Timestamp: new Date(at).toISOString(),
    DeviceId: deviceId,
    State: state,
    SequenceNumber: sequence.toUpperCase().padStart(SEQUENCE_WIDTH, '0'),
    EnqueuedTime: enqueuedAt === undefined ? null : new Date(enqueuedAt).toISOString(),
  };
}

/** A store's latest rows per device, as the watch reads them; a time as DuckDB gives it (ISO text) or Data Explorer's SDK (a Date). */
export function connectionEvents(rows: readonly { DeviceId: string; State: string; Timestamp: string | Date }[]): Map<string, ConnectionEvent> {
  const latest = new Map<string, ConnectionEvent>();
  for (const r of rows) {
    const at = new Date(r.Timestamp).getTime();
    if (Number.isFinite(at)) latest.set(r.DeviceId, { connected: r.State === 'connected', at });
  }
  return latest;
}
