/**
 * Whether two DTDL documents are the same model: a model id names one definition for good (Digital
 * Twins uploads an id once), so a definition changed under the same id is a new model wearing an
 * old name. Compared whatever the order of keys and of arrays' items (none of ours means anything
 * by it, and Digital Twins may give a model back reordered): only a change of what it says counts.
 */
import { createHash } from 'node:crypto';

export function sameModel(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

/** A digest of what a model says (SHA-256 of its canonical text, hex), to record a published model by. */
export function modelDigest(model: unknown): string {
  return createHash('sha256').update(canonical(model)).digest('hex');
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).sort().join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
