/**
 * Shared access signatures: `SharedAccessSignature sr=<url-encoded resource>&sig=<b64>&se=<epoch s>[&skn=<policy>]`,
 * where sig = base64(HMAC-SHA256(key, sr-as-sent + "\n" + se)). IoT Hub signs with the
 * base64-decoded key; Event Hubs (Service Bus) with the key's text as it is.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface ParsedSas {
  /** The resource URI as signed (still URL-encoded). */
  sr: string;
  sig: string;
  se: number;
  skn: string | undefined;
}

export function parseSas(token: string): ParsedSas | undefined {
  const m = /^SharedAccessSignature\s+(.+)$/.exec(token.trim());
  if (!m) return undefined;
  const fields = new Map<string, string>();
  for (const part of m[1]!.split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = Number(fields.get('se'));
  if (!sr || !sig || !Number.isFinite(se)) return undefined;
  return { sr, sig, se, skn: fields.get('skn') };
}

export function signature(keyBase64: string, sr: string, se: number): string {
  return signWith(Buffer.from(keyBase64, 'base64'), sr, se);
}

function signWith(key: Buffer, sr: string, se: number): string {
  return createHmac('sha256', key).update(`${sr}\n${se}`).digest('base64');
}

export function makeSas(resource: string, keyBase64: string, expiresAtSeconds: number, policy?: string): string {
  const sr = encodeURIComponent(resource);
  const sig = encodeURIComponent(signature(keyBase64, sr, expiresAtSeconds));
  return `SharedAccessSignature sr=${sr}&sig=${sig}&se=${expiresAtSeconds}${policy ? `&skn=${policy}` : ''}`;
}

export type SasCheck = { ok: true; expiresAtSeconds: number } | { ok: false; reason: 'malformed' | 'wrongResource' | 'expired' | 'badSignature' };

/** Checks an IoT Hub token for `resource` against any of `keys` (base64) at time `nowSeconds`. */
export function verifySas(token: string, resource: string, keys: readonly string[], nowSeconds: number): SasCheck {
  return verifySigned(token, (sr) => sr.toLowerCase() === resource.toLowerCase(), keys.map((k) => Buffer.from(k, 'base64')), nowSeconds);
}

/**
 * Checks a token for a resource `inScope` accepts, signed with any of `keys` (raw bytes) at time
 * `nowSeconds`: the form Event Hubs' CBS takes, where a token for a namespace or hub covers what is under it.
 */
export function verifySigned(token: string, inScope: (decodedResource: string) => boolean, keys: readonly Buffer[], nowSeconds: number): SasCheck {
  const sas = parseSas(token);
  if (!sas) return { ok: false, reason: 'malformed' };
  let decoded: string;
  try {
    decoded = decodeURIComponent(sas.sr);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!inScope(decoded)) return { ok: false, reason: 'wrongResource' };
  if (sas.se <= nowSeconds) return { ok: false, reason: 'expired' };
  let given: Buffer;
  try {
    given = Buffer.from(decodeURIComponent(sas.sig), 'base64');
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  for (const key of keys) {
    const expected = Buffer.from(signWith(key, sas.sr, sas.se), 'base64');
    if (expected.length === given.length && timingSafeEqual(expected, given)) return { ok: true, expiresAtSeconds: sas.se };
  }
  return { ok: false, reason: 'badSignature' };
}
