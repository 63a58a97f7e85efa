/**
 * The ADT emulator's JSON Patch: add, replace and remove on own properties only, all or
 * nothing, and no path that reaches an object's prototype.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { applyPatch, readPatch } from '../../src/emulators/adt/json-patch.ts';

const twin = () => ({ $dtId: 'arm-1', temperature: 70, location: { hall: 'A' } });

afterEach(() => {
  delete (Object.prototype as Record<string, unknown>)['x.json'];
  delete (Object.prototype as Record<string, unknown>).polluted;
  delete (Object.prototype as Record<string, unknown>).value;
});

describe('JSON Patch in the ADT emulator', () => {
  it('adds, replaces and removes, on a copy', () => {
    const doc = twin();
    const out = applyPatch(doc, [
      { op: 'add', path: '/status', value: 'running' },
      { op: 'replace', path: '/temperature', value: 71 },
      { op: 'remove', path: '/location/hall' },
    ]);
    expect(out).toEqual({ $dtId: 'arm-1', temperature: 71, status: 'running', location: {} });
    expect(doc).toEqual(twin());
  });

  it('refuses to remove or replace what is not there', () => {
    expect(() => applyPatch(twin(), [{ op: 'remove', path: '/pressure' }])).toThrow(/no value at that path/);
    expect(() => applyPatch(twin(), [{ op: 'replace', path: '/pressure', value: 1 }])).toThrow(/no value at that path/);
    expect(() => applyPatch(twin(), [{ op: 'add', path: '/nowhere/x', value: 1 }])).toThrow(/does not exist/);
    // Inherited names are not there either.
    expect(() => applyPatch(twin(), [{ op: 'remove', path: '/toString' }])).toThrow(/no value at that path/);
    expect(() => applyPatch(twin(), [{ op: 'add', path: '/hasOwnProperty/x', value: 1 }])).toThrow(/does not exist/);
  });

  it('refuses any path through __proto__, constructor or prototype, and the prototype stays clean', () => {
    for (const path of ['/__proto__/x.json', '/__proto__', '/constructor/prototype/polluted', '/location/__proto__/polluted']) {
      expect(() => applyPatch(twin(), [{ op: 'add', path, value: 'owned' }]), path).toThrow(/not a property name/);
    }
    expect(({} as Record<string, unknown>)['x.json']).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('reads only own fields of an operation', () => {
    // Were the prototype polluted, an add without a value must still be refused.
    (Object.prototype as Record<string, unknown>).value = 1;
    let error: unknown;
    try {
      readPatch([{ op: 'add', path: '/a' }]);
    } catch (e) {
      error = e;
    } finally {
      delete (Object.prototype as Record<string, unknown>).value;
    }
    expect(String((error as Error | undefined)?.message)).toMatch(/has no value/);
    expect(readPatch([{ op: 'add', path: '/a', value: null }])).toEqual([{ op: 'add', path: '/a', value: null }]);
  });

  it('says exactly what is wrong with a patch document, as Digital Twins does (400 JsonPatchInvalid)', () => {
    const refusal = (body: unknown) => {
      try {
        readPatch(body);
      } catch (e) {
        return { code: (e as { code?: string }).code, status: (e as { status?: number }).status, message: (e as Error).message };
      }
      return undefined;
    };
    const invalid = (message: string) => ({ code: 'JsonPatchInvalid', status: 400, message });
    expect(refusal({ op: 'add' })).toEqual(invalid('The request body must be a JSON Patch document: an array of operations.'));
    expect(refusal([null])).toEqual(invalid('Operation 0 is not an object.'));
    expect(refusal([{ op: 'add', path: '/a', value: 1 }, 'add'])).toEqual(invalid('Operation 1 is not an object.'));
    for (const op of ['move', 'copy', 'test', undefined]) expect(refusal([{ op, path: '/a', value: 1 }]), String(op)).toEqual(invalid(`Operation 0 has op ${JSON.stringify(op)}; only add, replace and remove are supported.`));
    expect(refusal([{ op: 'add', path: 'a', value: 1 }])).toEqual(invalid("Operation 0 needs a path starting with '/'."));
    expect(refusal([{ op: 'add', path: 5, value: 1 }])).toEqual(invalid("Operation 0 needs a path starting with '/'."));
    expect(refusal([{ op: 'replace', path: '/a' }])).toEqual(invalid('Operation 0 (replace /a) has no value.'));
    // What comes back is the operation alone: nothing else the client sent rides along.
    expect(readPatch([{ op: 'remove', path: '/a', value: 1, extra: true }, { op: 'replace', path: '/b', value: 2, from: '/c' }])).toEqual([{ op: 'remove', path: '/a' }, { op: 'replace', path: '/b', value: 2 }]);
  });

  it('says which path does not exist or has no object to hold it', () => {
    const refusal = (ops: Parameters<typeof applyPatch>[1]) => {
      try {
        applyPatch({ ...twin(), tags: ['a'], count: 3 }, ops);
      } catch (e) {
        return [(e as { code?: string }).code, (e as Error).message];
      }
      return undefined;
    };
    expect(refusal([{ op: 'add', path: '/nowhere/deeper/x', value: 1 }])).toEqual(['JsonPatchInvalid', 'Cannot add /nowhere/deeper/x: /nowhere/deeper does not exist.']);
    expect(refusal([{ op: 'add', path: '/count/x', value: 1 }])).toEqual(['JsonPatchInvalid', 'Cannot add /count/x: its parent is not an object.']);
    expect(refusal([{ op: 'add', path: '/count/x/y', value: 1 }])).toEqual(['JsonPatchInvalid', 'Cannot add /count/x/y: /count/x does not exist.']);
    expect(refusal([{ op: 'add', path: '/tags/x', value: 1 }])).toEqual(['JsonPatchInvalid', 'Cannot add /tags/x: its parent is not an object.']);
    expect(refusal([{ op: 'remove', path: '/pressure' }])).toEqual(['JsonPatchInvalid', 'Cannot remove /pressure: there is no value at that path.']);
    expect(refusal([{ op: 'add', path: '/constructor', value: 1 }])).toEqual(['JsonPatchInvalid', "Cannot add /constructor: 'constructor' is not a property name a twin may have."]);
    // A path through null is not a path through an object.
    expect(refusal([{ op: 'add', path: '/location/hall', value: null }, { op: 'add', path: '/location/hall/x', value: 1 }])).toEqual(['JsonPatchInvalid', 'Cannot add /location/hall/x: its parent is not an object.']);
    expect(refusal([{ op: 'add', path: '/location/hall', value: null }, { op: 'add', path: '/location/hall/x/y', value: 1 }])).toEqual(['JsonPatchInvalid', 'Cannot add /location/hall/x/y: /location/hall/x does not exist.']);
    // All or nothing: the valid first operation is not applied either.
    const doc = twin();
    expect(() => applyPatch(doc, [{ op: 'add', path: '/ok', value: 1 }, { op: 'remove', path: '/missing' }])).toThrow();
    expect(doc).toEqual(twin());
  });
});
