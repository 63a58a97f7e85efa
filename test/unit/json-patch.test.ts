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
});
