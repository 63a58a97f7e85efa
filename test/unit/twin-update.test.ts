import { describe, expect, it } from 'vitest';
import { freshReadings, healthOf, inTimeOrder, judgesHealth, planTwinUpdate, type ScoredReading } from '../../src/lib/twins/twin-update.ts';
import type { TwinState } from '../../src/lib/ports.ts';

const t0 = Date.parse('2026-11-25T10:00:00Z');
const props = new Set(['temperature', 'vibration', 'status', 'lastTelemetryTime', 'anomalyScore', 'failureProbability', 'healthStatus', 'modelVersion', 'lastAlertTime']);
const options = { thresholds: { warning: 0.5, critical: 0.8 }, intervalMs: 15_000, properties: props, alertTime: undefined };

const state = (over: Partial<TwinState> = {}): TwinState => ({
  id: 'arm', modelId: 'm', etag: 'e1', lastTelemetryTime: undefined, status: 'running', healthStatus: 'normal', lastAlertTime: undefined, ...over,
});
const reading = (dt: number, values: Record<string, unknown>, score = 0.1): ScoredReading => ({
  reading: { deviceId: 'arm', key: `arm|t:${t0 + dt}`, messageId: undefined, seq: undefined, time: t0 + dt, timeIso: new Date(t0 + dt).toISOString(), enqueuedIso: new Date(t0 + dt).toISOString(), values, partitionId: '0', sequenceNumber: 0, event: 0 },
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

  it('says when each value was measured (ADT sourceTime), and leaves a value sent as null (not measured) at the last one measured', () => {
    const scored = [reading(0, { temperature: 70, vibration: 0.3 }), reading(1000, { temperature: 71, vibration: 0.4 }), reading(2000, { temperature: null, vibration: 0.5 })];
    const update = planTwinUpdate(state(), freshReadings(state(), scored), options)!;
    expect(valueOf(update.ops, '/temperature')).toBe(71);
    expect(valueOf(update.ops, '/$metadata/temperature/sourceTime')).toBe(new Date(t0 + 1000).toISOString());
    expect(valueOf(update.ops, '/vibration')).toBe(0.5);
    expect(valueOf(update.ops, '/$metadata/vibration/sourceTime')).toBe(new Date(t0 + 2000).toISOString());
    // set as ADT's documentation and the SDK's live tests do: `replace`
    expect(update.ops.filter((o) => o.path.endsWith('/sourceTime') && !o.path.includes('lastTelemetryTime')).map((o) => o.op)).toEqual(['replace', 'replace']);
    // Only where a value goes out: nothing measured, nothing said.
    const blind = planTwinUpdate(state(), freshReadings(state(), [reading(0, { temperature: null, vibration: 0.3 })]), options)!;
    expect(blind.ops.some((o) => o.path.includes('temperature'))).toBe(false);
  });

  it("says when IoT Hub took the newest reading in, as lastTelemetryTime's sourceTime: a silence counts from then, whatever the device's clock says", () => {
    const late = reading(2000, { temperature: 72 });
    late.reading.enqueuedIso = new Date(t0 + 2600).toISOString();
    const update = planTwinUpdate(state(), freshReadings(state(), [reading(0, { temperature: 70 }), late]), options)!;
    expect(valueOf(update.ops, '/lastTelemetryTime')).toBe(new Date(t0 + 2000).toISOString());
    expect(update.ops.find((o) => o.path === '/$metadata/lastTelemetryTime/sourceTime')).toEqual({ op: 'replace', path: '/$metadata/lastTelemetryTime/sourceTime', value: new Date(t0 + 2600).toISOString() });
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

describe('a reading that measures nothing', () => {
  const measured = ['temperature', 'vibration'];
  const every = new Set([...props, 'remainingUsefulLifeHours']);
  it('patches its status but leaves the scores of the newest reading that measured something: a stopped machine does not read "failure probability 0 %"', () => {
    const twin = state({ lastTelemetryTime: t0, healthStatus: 'critical' });
    const hot = { ...reading(1000, { temperature: 83, status: 'running' }, 0.82), score: { anomalyScore: 0.82, failureProbability: 0.92, rulHours: 0.1, contributions: {}, modelVersion: 'streaming+failure' } };
    const stopped = { ...reading(1100, { status: 'emergencyStopped' }, 0), score: { anomalyScore: 0, failureProbability: 0.001, contributions: {}, modelVersion: 'streaming' } };
    const update = planTwinUpdate(twin, [hot, stopped], { ...options, properties: every, health: 'critical', measured })!;
    expect(valueOf(update.ops, '/status')).toBe('emergencyStopped');
    expect(valueOf(update.ops, '/lastTelemetryTime')).toBe(new Date(t0 + 1100).toISOString());
    expect(valueOf(update.ops, '/anomalyScore')).toBe(0.82);
    expect(valueOf(update.ops, '/failureProbability')).toBe(0.92);
    expect(valueOf(update.ops, '/modelVersion')).toBe('streaming+failure');
    expect(valueOf(update.ops, '/remainingUsefulLifeHours')).toBe(0.1);
    // Alone in its batch, it leaves every score as the twin has it, and the health too.
    const alone = planTwinUpdate(twin, [stopped], { ...options, properties: every, measured })!;
    expect(alone.ops.map((o) => o.path).filter((p) => /anomalyScore|failureProbability|modelVersion|remainingUsefulLife/.test(p))).toEqual([]);
    expect(valueOf(alone.ops, '/healthStatus')).toBe('critical');
  });

  it('still counts when it scores something (a reported fault) or when nothing says what is measured', () => {
    const fault = reading(1000, { status: 'fault' }, 0.9);
    expect(valueOf(planTwinUpdate(state(), [fault], { ...options, measured })!.ops, '/anomalyScore')).toBe(0.9);
    expect(valueOf(planTwinUpdate(state(), [reading(1000, { status: 'idle' }, 0)], options)!.ops, '/anomalyScore')).toBe(0);
    // A value that is no finite number measures nothing either.
    expect(judgesHealth(reading(0, { temperature: null, vibration: 'high' }, 0), measured)).toBe(false);
    expect(judgesHealth(reading(0, { vibration: 0 }, 0), measured)).toBe(true);
  });
});

describe('what a patch carries, at its edges', () => {
  it('leaves off the twin a telemetry value holding a string over 4 KB of UTF-8 (ADT would refuse the patch), and says which', () => {
    const withNotes = { ...options, properties: new Set([...props, 'note', 'batch']) };
    const exactly = 'x'.repeat(4096);
    const update = planTwinUpdate(state(), [reading(0, { temperature: 70, note: exactly, batch: { id: 'b1', remark: 'ü'.repeat(2049) } })], withNotes)!;
    expect(valueOf(update.ops, '/temperature')).toBe(70);
    expect(valueOf(update.ops, '/note')).toBe(exactly);
    expect(update.ops.some((o) => o.path === '/batch')).toBe(false);
    expect(update.omitted).toEqual(['batch']);
    expect(planTwinUpdate(state(), [reading(0, { temperature: 70, note: 'short' })], withNotes)!.omitted).toBeUndefined();
  });

  const all = new Set([...props, 'remainingUsefulLifeHours', 'detectorState', 'alarmState', 'lastEmergencyStopTime', 'lastEmergencyStopReason']);
  const withRul = (rulHours: number | undefined): ScoredReading => ({ ...reading(100, { temperature: 70 }), score: { anomalyScore: 0.1, failureProbability: 0.25, rulHours, contributions: {}, modelVersion: 'fp-1' } });

  it('health is critical at the critical threshold and warning at the warning one, exactly', () => {
    const t = { warning: 0.5, critical: 0.8 };
    expect([healthOf(0.8, t), healthOf(0.7999, t), healthOf(0.5, t), healthOf(0.4999, t)]).toEqual(['critical', 'warning', 'warning', 'normal']);
  });

  it('orders readings by time, keeping arrival order for equal times, and drops those at or before `since`', () => {
    const a = reading(1000, { temperature: 1 });
    const b = reading(1000, { temperature: 2 });
    const c = reading(0, { temperature: 3 });
    expect(inTimeOrder([a, b])).toEqual([a, b]);
    expect(inTimeOrder([a, b, c])).toEqual([c, a, b]);
    expect(inTimeOrder([c, a, b], t0)).toEqual([a, b]);
    // Already in order: the same readings come back, in the same order.
    expect(inTimeOrder([c, a])).toEqual([c, a]);
  });

  it('writes the remaining useful life to a tenth of an hour, only while there is one and only where the model has it', () => {
    const twin = state();
    expect(valueOf(planTwinUpdate(twin, [withRul(12.345)], { ...options, properties: all })!.ops, '/remainingUsefulLifeHours')).toBe(12.3);
    expect(planTwinUpdate(twin, [withRul(undefined)], { ...options, properties: all })!.ops.some((o) => o.path === '/remainingUsefulLifeHours')).toBe(false);
    expect(planTwinUpdate(twin, [withRul(12.345)], options)!.ops.some((o) => o.path === '/remainingUsefulLifeHours')).toBe(false);
    expect(valueOf(planTwinUpdate(twin, [withRul(5)], { ...options, properties: all })!.ops, '/failureProbability')).toBe(0.25);
  });

  it('keeps the last remaining useful life while the equipment is unhealthy, and removes it once it is healthy again, only when the twin holds one', () => {
    const holding = state({ remainingUsefulLifeHours: 0.1 });
    // An open incident (a stopped machine's last estimate stays).
    const unhealthy = planTwinUpdate(holding, [withRul(undefined)], { ...options, properties: all, health: 'critical' })!;
    expect(unhealthy.ops.some((o) => o.path === '/remainingUsefulLifeHours')).toBe(false);
    expect(unhealthy.next.remainingUsefulLifeHours).toBe(0.1);
    // Healthy again: removed, and the twin state says so.
    const healthy = planTwinUpdate(holding, [withRul(undefined)], { ...options, properties: all, health: 'normal' })!;
    expect(healthy.ops).toContainEqual({ op: 'remove', path: '/remainingUsefulLifeHours' });
    expect(healthy.next.remainingUsefulLifeHours).toBeUndefined();
    // A twin without one gets no remove (the service would refuse the whole patch).
    expect(planTwinUpdate(state(), [withRul(undefined)], { ...options, properties: all, health: 'normal' })!.ops.some((o) => o.path === '/remainingUsefulLifeHours')).toBe(false);
    // A new estimate is written whatever the health.
    expect(planTwinUpdate(holding, [withRul(3)], { ...options, properties: all, health: 'normal' })!.next.remainingUsefulLifeHours).toBe(3);
  });

  it('stores the detector and alarm states only where the model declares them, and says what the twin then holds', () => {
    const twin = state({ detectorState: 'old-d', alarmState: 'old-a' });
    const stateful = { ...options, properties: all, detectorState: () => 'new-d', alarmState: () => 'new-a' };
    const update = planTwinUpdate(twin, [reading(100, { temperature: 70 })], stateful)!;
    expect(valueOf(update.ops, '/detectorState')).toBe('new-d');
    expect(valueOf(update.ops, '/alarmState')).toBe('new-a');
    expect(update.next).toMatchObject({ detectorState: 'new-d', alarmState: 'new-a' });
    const undeclared = planTwinUpdate(twin, [reading(100, { temperature: 70 })], { ...stateful, properties: props })!;
    expect(undeclared.ops.some((o) => o.path === '/detectorState' || o.path === '/alarmState')).toBe(false);
    expect(undeclared.next).toMatchObject({ detectorState: 'old-d', alarmState: 'old-a' });
    const none = planTwinUpdate(twin, [reading(100, { temperature: 70 })], { ...options, properties: all })!;
    expect(none.next).toMatchObject({ detectorState: 'old-d', alarmState: 'old-a' });
  });

  it('keeps the alert and stop times the twin has when this patch sets none, and sets them when it does', () => {
    const twin = state({ lastTelemetryTime: t0, lastAlertTime: t0 - 5000, lastEmergencyStopTime: t0 - 9000 });
    const plain = planTwinUpdate(twin, [reading(20_000, { temperature: 70 })], { ...options, properties: all })!;
    expect(plain.next).toMatchObject({ lastAlertTime: t0 - 5000, lastEmergencyStopTime: t0 - 9000 });
    const stopped = planTwinUpdate(twin, [reading(100, { temperature: 70 })], { ...options, properties: all, alertTime: t0 + 100, stop: { time: t0 + 100, reason: 'hot' } })!;
    expect(stopped.reason).toBe('stop');
    expect(stopped.next).toMatchObject({ lastAlertTime: t0 + 100, lastEmergencyStopTime: t0 + 100 });
    expect(valueOf(stopped.ops, '/lastEmergencyStopReason')).toBe('hot');
  });

  it('with no reading newer than the twin, still sends a stop, an alert or a change of health at once, and nothing else', () => {
    const twin = state({ lastTelemetryTime: t0 + 60_000, healthStatus: 'normal' });
    const stop = planTwinUpdate(twin, [], { ...options, properties: all, stop: { time: t0, reason: 'hot' }, alertTime: t0 })!;
    expect(stop.reason).toBe('stop');
    expect(stop.ops.map((o) => o.path).sort()).toEqual(['/lastAlertTime', '/lastEmergencyStopReason', '/lastEmergencyStopTime']);
    expect(stop.next.healthStatus).toBe('normal');
    const alert = planTwinUpdate(twin, [], { ...options, properties: all, alertTime: t0, health: 'critical' })!;
    expect(alert.reason).toBe('alert');
    expect(alert.next.healthStatus).toBe('critical');
    expect(valueOf(alert.ops, '/healthStatus')).toBe('critical');
    expect(planTwinUpdate(twin, [], { ...options, health: 'warning' })!.reason).toBe('health');
    expect(planTwinUpdate(twin, [], { ...options, health: 'normal' })).toBeUndefined();
    expect(planTwinUpdate(twin, [], options)).toBeUndefined();
    // A twin that never had a reading gets its health with its first one, not alone.
    expect(planTwinUpdate(state(), [], { ...options, health: 'warning' })).toBeUndefined();
    // A model without the fields: nothing to send.
    expect(planTwinUpdate(twin, [], { ...options, properties: new Set(['temperature']), alertTime: t0 })).toBeUndefined();
  });

  it('a first reading goes out as the first, whatever else happens with it', () => {
    expect(planTwinUpdate(state(), [reading(0, { temperature: 70 })], { ...options, alertTime: t0, stop: { time: t0, reason: 'x' } })!.reason).toBe('first');
  });
});
