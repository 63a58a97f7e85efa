import { describe, expect, it } from 'vitest';
import { freshReadings, planTwinUpdate, type ScoredReading } from '../../src/lib/twins/twin-update.ts';
import type { TwinState } from '../../src/lib/ports.ts';

const t0 = Date.parse('2026-11-25T10:00:00Z');
const props = new Set(['temperature', 'vibration', 'status', 'lastTelemetryTime', 'anomalyScore', 'failureProbability', 'healthStatus', 'modelVersion', 'lastAlertTime']);
const options = { thresholds: { warning: 0.5, critical: 0.8 }, intervalMs: 15_000, properties: props, alertTime: undefined };

const state = (over: Partial<TwinState> = {}): TwinState => ({
  id: 'arm', modelId: 'm', etag: 'e1', lastTelemetryTime: undefined, status: 'running', healthStatus: 'normal', lastAlertTime: undefined, ...over,
});
const reading = (dt: number, values: Record<string, unknown>, score = 0.1): ScoredReading => ({
  reading: { deviceId: 'arm', key: `arm|t:${t0 + dt}`, messageId: undefined, seq: undefined, time: t0 + dt, timeIso: new Date(t0 + dt).toISOString(), enqueuedIso: new Date(t0 + dt).toISOString(), values, partitionId: '0', sequenceNumber: 0 },
  score: { anomalyScore: score, failureProbability: undefined, contributions: {}, modelVersion: 'envelope-1' },
});

const valueOf = (ops: { path: string; value?: unknown }[], path: string) => ops.find((o) => o.path === path)?.value;

describe('one patch per twin per batch', () => {
  it('carries the newest value of each telemetry, even when readings carry different subsets', () => {
    const scored = [reading(2000, { temperature: 72 }), reading(0, { temperature: 70, vibration: 0.3 }), reading(1000, { vibration: 0.5 })];
    const update = planTwinUpdate(state(), freshReadings(state(), scored), options)!;
    expect(valueOf(update.ops, '/temperature')).toBe(72);
    expect(valueOf(update.ops, '/vibration')).toBe(0.5);
    expect(valueOf(update.ops, '/lastTelemetryTime')).toBe(new Date(t0 + 2000).toISOString());
    expect(update.ops.filter((o) => o.path === '/temperature')).toHaveLength(1);
  });

  it('never writes a reading older than what the twin holds', () => {
    const twin = state({ lastTelemetryTime: t0 + 5000 });
    const scored = [reading(1000, { temperature: 99 }), reading(5000, { temperature: 98 })];
    expect(freshReadings(twin, scored)).toEqual([]);
    expect(planTwinUpdate(twin, freshReadings(twin, scored), options)).toBeUndefined();
  });

  it('holds back a twin whose readings are merely fresher than a patch interval ago', () => {
    const twin = state({ lastTelemetryTime: t0 });
    expect(planTwinUpdate(twin, freshReadings(twin, [reading(10_000, { temperature: 70 })]), options)).toBeUndefined();
    expect(planTwinUpdate(twin, freshReadings(twin, [reading(15_000, { temperature: 70 })]), options)?.reason).toBe('interval');
  });

  it('patches at once when the status or the health changes, or an alert goes out', () => {
    const twin = state({ lastTelemetryTime: t0 });
    expect(planTwinUpdate(twin, freshReadings(twin, [reading(100, { status: 'fault' })]), options)?.reason).toBe('status');
    expect(planTwinUpdate(twin, freshReadings(twin, [reading(100, { temperature: 90 }, 0.9)]), options)?.reason).toBe('health');
    const alerted = planTwinUpdate(twin, freshReadings(twin, [reading(100, { temperature: 70 })]), { ...options, alertTime: t0 + 100 })!;
    expect(alerted.reason).toBe('alert');
    expect(valueOf(alerted.ops, '/lastAlertTime')).toBe(new Date(t0 + 100).toISOString());
  });

  it('takes health from the newest reading and writes only properties the model declares', () => {
    const update = planTwinUpdate(state(), [reading(0, { temperature: 90 }, 0.95), reading(1000, { temperature: 71, cycleCount: 5 }, 0.2)], options)!;
    expect(valueOf(update.ops, '/healthStatus')).toBe('normal');
    expect(valueOf(update.ops, '/anomalyScore')).toBe(0.2);
    expect(update.ops.some((o) => o.path === '/cycleCount')).toBe(false);
    expect(update.ops.some((o) => o.path === '/failureProbability')).toBe(false);
  });
});
