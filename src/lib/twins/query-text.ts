/** A string literal for the ADT query language: backslashes and single quotes escaped, in that order. */
export function adtString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
