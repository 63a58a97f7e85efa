/** Digital Twin Model Identifiers: `dtmi:<path>;<version>`. */
const segment = '[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?';
const dtmiPattern = new RegExp(`^dtmi:${segment}(?::${segment})*(?:;([1-9][0-9]{0,8})(?:\\.([1-9][0-9]{0,5}))?)?$`);

export const MAX_DTMI_LENGTH = { 2: 2048, 3: 4096 } as const;

export function isDtmi(value: unknown): value is string {
  return typeof value === 'string' && dtmiPattern.test(value);
}

/** True when the identifier carries a version, which an Interface's @id must. */
export function hasVersion(dtmi: string): boolean {
  return dtmi.includes(';');
}

const reservedPrefixes = ['dtmi:dtdl:', 'dtmi:standard:'];
export function isReservedDtmi(dtmi: string): boolean {
  return reservedPrefixes.some((p) => dtmi.startsWith(p));
}
