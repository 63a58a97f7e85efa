import { describe, expect, it } from 'vitest';
import { CONDITIONS, conditionOf, conditionOfDetail, eventDetail } from '../../src/lib/alerts/conditions.ts';

describe("an incident step's condition, written to AlarmEvents and read back", () => {
  it('writes the condition and the reopening as tokens of the Detail, and reads every condition back', () => {
    expect(eventDetail('envelope', false)).toBe('condition=envelope');
    expect(eventDetail('drift', true)).toBe('condition=drift reopened');
    expect(eventDetail(undefined, true)).toBe('reopened');
    expect(eventDetail(undefined, undefined)).toBe('');
    for (const c of Object.keys(CONDITIONS) as (keyof typeof CONDITIONS)[]) {
      expect(conditionOfDetail(eventDetail(c, false))).toBe(c);
      expect(conditionOfDetail(eventDetail(c, true))).toBe(c);
    }
  });

  it('names no condition for a normal reading, an empty Detail, or one it does not know (untrusted text)', () => {
    expect(conditionOf('normal')).toBeUndefined();
    expect(conditionOf(undefined)).toBeUndefined();
    expect(conditionOf('stuck')).toBe('stuck');
    for (const detail of ['', 'reopened', null, undefined, 'condition=__proto__', 'condition=constructor', 'condition=toString', 'condition=meltdown', 'xcondition=envelope']) {
      expect(conditionOfDetail(detail), String(detail)).toBeUndefined();
    }
  });
});
