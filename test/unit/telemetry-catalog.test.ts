import { describe, expect, it } from 'vitest';
import { ARM, CONVEYOR, plantCatalog } from '../support/plant.ts';

describe('telemetry validators derived from the DTDL models', () => {
  const catalog = plantCatalog();

  it('knows each equipment kind, its telemetry and units, from the models alone', () => {
    const arm = catalog.forTwinModel(ARM)!;
    expect(arm.deviceModelId).toBe('dtmi:manufacturing:device:RoboticArm;1');
    expect([...arm.telemetryNames].sort()).toEqual(['cycleCount', 'pressure', 'status', 'temperature', 'vibration']);
    expect(arm.units.temperature).toBe('degreeCelsius');
    expect(catalog.forTwinModel('dtmi:manufacturing:ProductionLine;1')).toBeUndefined();
    expect(catalog.featureColumns()).toEqual(expect.arrayContaining(['temperature', 'speed', 'load', 'motorTemperature', 'defectRate']));
  });

  it('accepts a reading that matches the device model, including a subset of its telemetry', () => {
    expect(catalog.forTwinModel(ARM)!.validate({ temperature: 71.2, vibration: 0.4, status: 'running' })).toEqual({ ok: true });
    expect(catalog.forTwinModel(CONVEYOR)!.validate({ speed: 1.5 })).toEqual({ ok: true });
  });

  it('takes a value sent as null as not measured, and says so, where the model declares the telemetry', () => {
    // A gateway's bad-quality tag, a sensor that did not answer: the machine's other values still count.
    expect(catalog.forTwinModel(CONVEYOR)!.validate({ load: null, speed: 1.5 })).toEqual({ ok: true, notMeasured: true });
    expect(catalog.forTwinModel(ARM)!.validate({ temperature: null, status: null })).toEqual({ ok: true, notMeasured: true });
    expect(catalog.forTwinModel(ARM)!.validate({ humidity: null }).ok).toBe(false);
  });

  const invalid: { name: string; model: string; values: Record<string, unknown>; message: RegExp }[] = [
    { name: 'telemetry the model does not declare', model: ARM, values: { temperature: 1, humidity: 3 }, message: /unknown telemetry 'humidity'/ },
    { name: 'a conveyor reading sent by an arm', model: ARM, values: { speed: 1 }, message: /unknown telemetry 'speed'/ },
    { name: 'a string where a double belongs', model: ARM, values: { temperature: '71' }, message: /temperature: .*number.* \(a number sent as text: send 71, not "71"\)/i },
    { name: 'a name in another case (a .NET device serialising PascalCase)', model: ARM, values: { Temperature: 71, Timestamp: '2026-12-06T10:00:00Z' }, message: /unknown telemetry 'Temperature' \(names are case-sensitive: 'temperature'\?\), 'Timestamp' \(names are case-sensitive: 'timestamp'\?\)/ },
    { name: 'a fraction where a long belongs', model: ARM, values: { cycleCount: 1.5 }, message: /cycleCount: .*int/i },
    { name: 'a status outside the enum', model: CONVEYOR, values: { status: 'exploded' }, message: /status: .*(running|option)/i },
    { name: 'a status in another case (a controller writing Running)', model: CONVEYOR, values: { status: 'Running' }, message: /status: .* \(values are case-sensitive: 'running'\?\)/ },
    { name: 'a value not measured beside one the model does not allow', model: CONVEYOR, values: { load: null, speed: 'fast' }, message: /speed/ },
  ];
  it.each(invalid)('rejects $name with the offending field named', ({ model, values, message }) => {
    const result = catalog.forTwinModel(model)!.validate(values);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(message);
  });
});
