/**
 * An id a device had a say in (its message id, and so the keys and incident ids made from it) kept
 * within a bound: as it is when short enough, else as its SHA-256 (`sha256:` and 43 base64url
 * characters). The same id always gives the same result, so replays and retries still match.
 */
import { createHash } from 'node:crypto';

export const boundedId = (id: string, max: number): string => (id.length <= max ? id : `sha256:${createHash('sha256').update(id).digest('base64url')}`);
