/**
 * JSON Patch (RFC 6902) as ADT takes it: add, replace and remove, applied to a copy, all or
 * nothing. Paths are JSON Pointers (RFC 6901).
 */
import { badRequest } from './errors.ts';

export interface PatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

type Json = Record<string, unknown>;

/** Checks the shape of a patch document and returns its operations. */
export function readPatch(body: unknown): PatchOp[] {
  if (!Array.isArray(body)) throw badRequest('JsonPatchInvalid', 'The request body must be a JSON Patch document: an array of operations.');
  return body.map((raw, i) => {
    const op = raw as Json;
    if (typeof op !== 'object' || op === null) throw badRequest('JsonPatchInvalid', `Operation ${i} is not an object.`);
    if (op.op !== 'add' && op.op !== 'replace' && op.op !== 'remove') {
      throw badRequest('JsonPatchInvalid', `Operation ${i} has op ${JSON.stringify(op.op)}; only add, replace and remove are supported.`);
    }
    if (typeof op.path !== 'string' || !op.path.startsWith('/')) throw badRequest('JsonPatchInvalid', `Operation ${i} needs a path starting with '/'.`);
    if (op.op !== 'remove' && !Object.hasOwn(op, 'value')) throw badRequest('JsonPatchInvalid', `Operation ${i} (${op.op} ${op.path}) has no value.`);
    return op.op === 'remove' ? { op: 'remove', path: op.path } : { op: op.op, path: op.path, value: op.value };
  });
}

export function pointer(path: string): string[] {
  return path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Names that would reach an object's prototype rather than a property of the twin. */
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Applies the operations to a deep copy of `doc` and returns the copy. Only own properties are
 * followed or changed: a path through `__proto__` (or `constructor`, `prototype`) is refused.
 */
export function applyPatch(doc: Json, ops: readonly PatchOp[]): Json {
  const copy = structuredClone(doc);
  for (const op of ops) {
    const segments = pointer(op.path);
    const bad = segments.find((s) => FORBIDDEN.has(s));
    if (bad !== undefined) throw badRequest('JsonPatchInvalid', `Cannot ${op.op} ${op.path}: '${bad}' is not a property name a twin may have.`);
    const last = segments.pop()!;
    let parent: unknown = copy;
    for (const s of segments) {
      if (typeof parent !== 'object' || parent === null || !Object.hasOwn(parent, s)) {
        throw badRequest('JsonPatchInvalid', `Cannot ${op.op} ${op.path}: /${segments.join('/')} does not exist.`);
      }
      parent = (parent as Json)[s];
    }
    if (typeof parent !== 'object' || parent === null || Array.isArray(parent)) {
      throw badRequest('JsonPatchInvalid', `Cannot ${op.op} ${op.path}: its parent is not an object.`);
    }
    const target = parent as Json;
    if ((op.op === 'replace' || op.op === 'remove') && !Object.hasOwn(target, last)) {
      throw badRequest('JsonPatchInvalid', `Cannot ${op.op} ${op.path}: there is no value at that path.`);
    }
    if (op.op === 'remove') delete target[last];
    else Object.defineProperty(target, last, { value: structuredClone(op.value), enumerable: true, writable: true, configurable: true });
  }
  return copy;
}
