/**
 * Azure Digital Twins' own limits that our writes must respect (the service refuses the whole
 * request otherwise, and these cannot be raised). The ADT emulator enforces the same ones.
 */

/** A string property value, in bytes of UTF-8. */
export const ADT_STRING_BYTES = 4096;

/** Whether `text` is at most `maxBytes` of UTF-8 (ADT's string limit unless told). */
export function fitsBytes(text: string, maxBytes = ADT_STRING_BYTES): boolean {
  // A UTF-16 unit is at most 3 bytes of UTF-8: count the bytes only when the text could be over.
  return text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes;
}

/** The first string in `value` (nested ones too) longer than ADT takes, with where it is and its size; undefined when none is. */
export function oversizedString(value: unknown, at = ''): { at: string; bytes: number } | undefined {
  if (typeof value === 'string') return fitsBytes(value) ? undefined : { at, bytes: Buffer.byteLength(value) };
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const found = oversizedString(inner, at ? `${at}.${key}` : key);
    if (found) return found;
  }
  return undefined;
}
