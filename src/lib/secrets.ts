/**
 * Compares a secret a client sent with the one expected, in constant time and for any input:
 * both are hashed first, so their byte lengths always match (timingSafeEqual throws on a
 * length mismatch, which a non-ASCII key of the same character length would cause) and the
 * comparison says nothing about the expected secret's length.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function sameSecret(sent: string, expected: string): boolean {
  return timingSafeEqual(digest(sent), digest(expected));
}
