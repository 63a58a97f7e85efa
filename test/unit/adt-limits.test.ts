/** What Azure Digital Twins takes in a string property: at most 4 KB of UTF-8, nested strings included. */
import { describe, expect, it } from 'vitest';
import { ADT_STRING_BYTES, oversizedString } from '../../src/lib/twins/adt-limits.ts';

describe("ADT's string limit", () => {
  it('counts UTF-8 bytes, not characters: 4,096 bytes pass, one more does not', () => {
    expect(ADT_STRING_BYTES).toBe(4096);
    expect(oversizedString('x'.repeat(4096))).toBeUndefined();
    expect(oversizedString('x'.repeat(4097))).toEqual({ at: '', bytes: 4097 });
    // 1,366 characters, but three bytes each.
    expect(oversizedString('€'.repeat(1366))).toEqual({ at: '', bytes: 4098 });
    expect(oversizedString('€'.repeat(1365))).toBeUndefined();
  });

  it('finds a long string anywhere inside an object or array, and names where it is', () => {
    const long = 'ü'.repeat(2049);
    expect(oversizedString({ id: 'b1', parts: [1, null, { remark: long }] }, 'batch')).toEqual({ at: 'batch.parts.2.remark', bytes: 4098 });
    expect(oversizedString({ remark: long })).toEqual({ at: 'remark', bytes: 4098 });
    for (const fine of [null, undefined, 42, true, { a: null, b: [null, 'short'] }]) expect(oversizedString(fine)).toBeUndefined();
  });
});
