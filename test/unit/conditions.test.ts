import { describe, expect, it } from 'vitest';
import { CONDITIONS, conditionOf, conditionOfDetail, eventDetail, figuresOfDetail, sensorsOfDetail } from '../../src/lib/alerts/conditions.ts';

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

  it("carries the scores of the reading behind a raise or an escalation, and reads them back", () => {
    const detail = eventDetail('drift', true, { anomalyScore: 0.81234567, failureProbability: 0.79 });
    expect(detail).toBe('condition=drift reopened score=0.8123 failure=0.79');
    expect(conditionOfDetail(detail)).toBe('drift');
    expect(figuresOfDetail(detail)).toEqual({ anomalyScore: 0.8123, failureProbability: 0.79 });
    // No failure prediction (the endpoint unreachable): the score alone.
    expect(eventDetail(undefined, false, { anomalyScore: 1, failureProbability: null })).toBe('score=1');
    expect(figuresOfDetail('score=1')).toEqual({ anomalyScore: 1, failureProbability: null });
    expect(figuresOfDetail(eventDetail('envelope', false, { anomalyScore: 0, failureProbability: 0 }))).toEqual({ anomalyScore: 0, failureProbability: 0 });
  });

  it('names the sensors of a diagnostic alarm (not measured) and reads them back, only as DTDL names, at most eight', () => {
    const detail = eventDetail('notMeasured', false, { anomalyScore: 0.1, failureProbability: null }, ['temperature', 'pressure']);
    expect(detail).toBe('condition=notMeasured sensors=temperature,pressure score=0.1');
    expect([conditionOfDetail(detail), sensorsOfDetail(detail), figuresOfDetail(detail)]).toEqual(['notMeasured', ['temperature', 'pressure'], { anomalyScore: 0.1, failureProbability: null }]);
    expect(eventDetail('drift', false, undefined, [])).toBe('condition=drift');
    for (const bad of ['', null, 'sensors=', 'sensors=a;b', 'sensors=a,,b', 'sensors=<b>', `sensors=${'x'.repeat(65)}`, `sensors=${Array.from({ length: 9 }, (_, i) => `s${i}`).join(',')}`, 'xsensors=a']) {
      expect(sensorsOfDetail(bad), String(bad)).toBeUndefined();
    }
  });

  it('reads no scores from a Detail written before steps carried them, or from untrusted text that is not a plain fraction', () => {
    for (const detail of ['', null, undefined, 'condition=envelope', 'reopened', 'score=', 'score=1.5', 'score=-0.2', 'score=0x1', 'score=1e-3', 'score=NaN', 'score=Infinity', 'xscore=0.5', 'score=0.5x', 'failure=0.5']) {
      expect(figuresOfDetail(detail), String(detail)).toBeUndefined();
    }
    // A failure that is not a plain fraction is left out; the score still reads.
    expect(figuresOfDetail('score=0.4 failure=2')).toEqual({ anomalyScore: 0.4, failureProbability: null });
  });
});
