/**
 * Python's `json` module writes a float that is not a number as the bare tokens `NaN`, `Infinity`
 * and `-Infinity` (its default, `allow_nan`), and so do the gateways and scripts written with it;
 * they are not JSON. The text with each such token outside a string replaced by `null` (a value not
 * measured), or undefined when it has none. Only asked of a body JSON.parse refused.
 */
export function nonFiniteAsNull(text: string): string | undefined {
  let parts: string[] | undefined;
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash escapes the next character, a quote included
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    const length =
      c === 0x4e && text.startsWith('NaN', i) ? 3
      : c === 0x49 && text.startsWith('Infinity', i) ? 8
      : c === 0x2d && text.startsWith('-Infinity', i) ? 9
      : 0;
    if (length === 0) continue;
    (parts ??= []).push(text.slice(last, i), 'null');
    last = i + length;
    i = last - 1;
  }
  return parts ? parts.join('') + text.slice(last) : undefined;
}
