/**
 * What a twin's `$metadata` says of one of its properties, read from an untrusted row (a query's, a
 * patched twin's): own keys only, anything malformed read as not said.
 */

/** A time field (`lastUpdateTime`, `sourceTime`) of the twin's property `name`, in epoch ms. */
function metadataTime(twin: Record<string, unknown>, name: string, field: 'lastUpdateTime' | 'sourceTime'): number | undefined {
  const meta = twin.$metadata;
  const entry = typeof meta === 'object' && meta !== null && Object.hasOwn(meta, name) ? (meta as Record<string, unknown>)[name] : undefined;
  const text = typeof entry === 'object' && entry !== null && Object.hasOwn(entry, field) ? (entry as Record<string, unknown>)[field] : undefined;
  const time = typeof text === 'string' ? Date.parse(text) : NaN;
  return Number.isFinite(time) ? time : undefined;
}

/** When Digital Twins took the twin's property `name` in: its own clock's `lastUpdateTime` of that write, in epoch ms. */
export function propertyUpdatedAt(twin: Record<string, unknown>, name: string): number | undefined {
  return metadataTime(twin, name, 'lastUpdateTime');
}

/**
 * How much later than IoT Hub took a reading in its twin's `lastTelemetryTime` may be written and the
 * reading still count as heard then: a reading held back by the patch interval is written by the
 * next minute's refresh sweep (twinRefresh), so up to a minute and its run later. A reading written
 * later still came late to us (a backlog worked off), and is heard from when it reached the twin.
 */
export const HELD_BACK_MS = 2 * 60_000;

/**
 * When the service last heard from the equipment: when IoT Hub took its newest reading in (the
 * `sourceTime` the pipeline and the refresh write with `lastTelemetryTime`), when that write came
 * within `HELD_BACK_MS` of it; otherwise when Digital Twins wrote it (its own clock, as before the
 * pipeline wrote a sourceTime, and for a backlog). Never the device's clock, which may be wrong.
 */
export function heardAt(twin: Record<string, unknown>): number | undefined {
  const written = propertyUpdatedAt(twin, 'lastTelemetryTime');
  if (written === undefined) return undefined;
  const taken = metadataTime(twin, 'lastTelemetryTime', 'sourceTime');
  return taken !== undefined && taken <= written && written - taken <= HELD_BACK_MS ? taken : written;
}
