/**
 * What the app's blob containers (kept batches, kept alert cards) share. Metadata describes what a
 * blob holds without downloading it: values travel as HTTP headers, so text is percent-encoded (an
 * error message may hold any character; encodeURIComponent throws on half a surrogate pair, hence
 * the replacement after the cut), and read back as own keys only (metadata comes from the service).
 */
import { RestError, type ContainerClient } from '@azure/storage-blob';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `s`, cut to `max` characters, as a metadata value. */
export const metadataValue = (s: string, max = 100) => encodeURIComponent(s.slice(0, max).replace(LONE_SURROGATE, '\uFFFD'));

/** A value written by metadataValue; undefined when absent or not one. */
export function metadataText(metadata: Record<string, string> | undefined, key: string): string | undefined {
  const raw = metadata && Object.hasOwn(metadata, key) ? metadata[key] : undefined;
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** A blob's content as text; undefined when there is no such blob (removed meanwhile). */
export async function blobText(container: ContainerClient, name: string): Promise<string | undefined> {
  try {
    return (await container.getBlockBlobClient(name).downloadToBuffer()).toString('utf8');
  } catch (error) {
    if (error instanceof RestError && error.statusCode === 404) return undefined;
    throw error;
  }
}
