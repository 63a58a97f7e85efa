/**
 * What a twin's `$metadata` says of one of its properties, read from an untrusted row (a query's, a
 * patched twin's): own keys only, anything malformed read as not said.
 */

/** When Digital Twins took the twin's property `name` in: its own clock's `lastUpdateTime` of that write, in epoch ms. */
export function propertyUpdatedAt(twin: Record<string, unknown>, name: string): number | undefined {
  const meta = twin.$metadata;
  const entry = typeof meta === 'object' && meta !== null && Object.hasOwn(meta, name) ? (meta as Record<string, unknown>)[name] : undefined;
  const text = typeof entry === 'object' && entry !== null && Object.hasOwn(entry, 'lastUpdateTime') ? (entry as Record<string, unknown>).lastUpdateTime : undefined;
  const time = typeof text === 'string' ? Date.parse(text) : NaN;
  return Number.isFinite(time) ? time : undefined;
}
