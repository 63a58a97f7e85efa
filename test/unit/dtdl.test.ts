import { describe, expect, it } from 'vitest';
import { DtdlError, checkBindings, loadPlantModels, parseModels } from '../../src/lib/dtdl/index.ts';

const V3 = 'dtmi:dtdl:context;3';
const QT = 'dtmi:dtdl:extension:quantitativeTypes;1';
const iface = (id: string, contents: unknown[] = [], extra: Record<string, unknown> = {}) => ({
  '@context': V3,
  '@id': id,
  '@type': 'Interface',
  contents,
  ...extra,
});

function problemsOf(docs: unknown[]): string[] {
  try {
    parseModels(docs);
  } catch (error) {
    expect(error).toBeInstanceOf(DtdlError);
    return (error as DtdlError).problems.map((p) => `${p.model} ${p.path}: ${p.message}`);
  }
  throw new Error('expected the models to be rejected');
}

describe('the plant models in dtdl/', () => {
  it('load, validate and bind every device model to its twin model', () => {
    const models = loadPlantModels();
    const arm = models.get('dtmi:manufacturing:RoboticArm;1')!;
    expect(models.isA(arm.id, 'dtmi:manufacturing:Equipment;1')).toBe(true);
    expect(arm.properties.get('temperature')).toMatchObject({ unit: 'degreeCelsius', semanticType: 'Temperature' });
    expect([...arm.properties.keys()]).toEqual(expect.arrayContaining(['anomalyScore', 'failureProbability', 'healthStatus', 'lastTelemetryTime', 'status', 'equipmentId']));
    expect(arm.commands.has('emergencyStop')).toBe(true);
    expect(models.get('dtmi:manufacturing:ProductionLine;1')!.relationships.get('contains')!.target).toBe('dtmi:manufacturing:Equipment;1');
    expect(models.get('dtmi:manufacturing:Factory;1')!.relationships.get('contains')!.target).toBe('dtmi:manufacturing:ProductionLine;1');
    for (const type of ['Conveyor', 'QualityStation']) expect(models.get(`dtmi:manufacturing:device:${type};1`)!.telemetry.size).toBeGreaterThan(0);
  });
});

describe('invalid models are rejected with a message that names the element and the fault', () => {
  const cases: { name: string; docs: unknown[]; expected: RegExp }[] = [
    { name: 'a malformed DTMI', docs: [iface('dtmi:bad id;1')], expected: /@id: not a valid DTMI/ },
    { name: 'an Interface id without a version', docs: [iface('dtmi:com:example:Thing')], expected: /must carry a version/ },
    { name: 'a reserved DTMI prefix', docs: [iface('dtmi:dtdl:Thing;1')], expected: /reserved prefixes/ },
    { name: 'a missing DTDL context', docs: [{ '@id': 'dtmi:x:A;1', '@type': 'Interface' }], expected: /@context: must include dtmi:dtdl:context;3/ },
    { name: 'an unsupported extension', docs: [iface('dtmi:x:A;1', [], { '@context': [V3, 'dtmi:dtdl:extension:nope;1'] })], expected: /unsupported context/ },
    {
      name: 'an unknown schema',
      docs: [iface('dtmi:x:A;1', [{ '@type': 'Property', name: 'temp', schema: 'dobule' }])],
      expected: /dtmi:x:A;1 contents\[0\]\.schema: unknown schema 'dobule'/,
    },
    {
      name: 'a schema reference to nothing',
      docs: [iface('dtmi:x:A;1', [{ '@type': 'Property', name: 'mode', schema: 'dtmi:x:Mode;1' }])],
      expected: /schema dtmi:x:Mode;1 is not defined/,
    },
    {
      name: 'duplicate names in one interface',
      docs: [iface('dtmi:x:A;1', [{ '@type': 'Property', name: 'speed', schema: 'double' }, { '@type': 'Telemetry', name: 'speed', schema: 'double' }])],
      expected: /contents\[1\]\.name: duplicate name 'speed'/,
    },
    {
      name: 'a name an inherited interface already declares',
      docs: [iface('dtmi:x:Base;1', [{ '@type': 'Property', name: 'speed', schema: 'double' }]), iface('dtmi:x:A;1', [{ '@type': 'Property', name: 'speed', schema: 'double' }], { extends: 'dtmi:x:Base;1' })],
      expected: /duplicate name 'speed': declared in dtmi:x:A;1 and in dtmi:x:Base;1|duplicate name 'speed': declared in dtmi:x:Base;1 and in dtmi:x:A;1/,
    },
    {
      name: 'an extends cycle',
      docs: [iface('dtmi:x:A;1', [], { extends: 'dtmi:x:B;1' }), iface('dtmi:x:B;1', [], { extends: 'dtmi:x:A;1' })],
      expected: /extends cycle: dtmi:x:A;1 → dtmi:x:B;1 → dtmi:x:A;1/,
    },
    { name: 'extends of an undefined interface', docs: [iface('dtmi:x:A;1', [], { extends: 'dtmi:x:Nope;1' })], expected: /extends dtmi:x:Nope;1, which is not defined/ },
    {
      name: 'a relationship whose target is not an interface of the set',
      docs: [iface('dtmi:x:Line;1', [{ '@type': 'Relationship', name: 'contains', target: 'dtmi:x:Missing;1' }])],
      expected: /relationship 'contains' targets dtmi:x:Missing;1, which is not an Interface/,
    },
    {
      name: 'a malformed relationship target',
      docs: [iface('dtmi:x:Line;1', [{ '@type': 'Relationship', name: 'contains', target: 'robot' }])],
      expected: /contents\[0\]\.target: not a valid DTMI/,
    },
    {
      name: 'a unit without a semantic type',
      docs: [iface('dtmi:x:A;1', [{ '@type': 'Telemetry', name: 't', schema: 'double', unit: 'degreeCelsius' }])],
      expected: /a unit needs a semantic type/,
    },
    {
      name: 'a unit of the wrong kind',
      docs: [iface('dtmi:x:A;1', [{ '@type': ['Telemetry', 'Temperature'], name: 't', schema: 'double', unit: 'bar' }], { '@context': [V3, QT] })],
      expected: /'bar' is not a unit of Temperature/,
    },
    {
      name: 'a semantic type without the QuantitativeTypes context',
      docs: [iface('dtmi:x:A;1', [{ '@type': ['Telemetry', 'Temperature'], name: 't', schema: 'double', unit: 'kelvin' }])],
      expected: /needs the QuantitativeTypes extension/,
    },
    {
      name: 'a semantic type on a non-numeric schema',
      docs: [iface('dtmi:x:A;1', [{ '@type': ['Telemetry', 'Temperature'], name: 't', schema: 'string', unit: 'kelvin' }], { '@context': [V3, QT] })],
      expected: /requires a numeric schema/,
    },
    {
      name: 'an enum value of the wrong type',
      docs: [iface('dtmi:x:A;1', [{ '@type': 'Property', name: 'mode', schema: { '@type': 'Enum', valueSchema: 'integer', enumValues: [{ name: 'on', enumValue: 'on' }] } }])],
      expected: /enumValues\[0\]\.enumValue: must be an integer/,
    },
    { name: 'an invalid content name', docs: [iface('dtmi:x:A;1', [{ '@type': 'Property', name: '2fast', schema: 'double' }])], expected: /invalid name "2fast"/ },
    { name: 'an unknown element class', docs: [iface('dtmi:x:A;1', [{ '@type': 'Sensor', name: 's', schema: 'double' }])], expected: /must name exactly one of Telemetry, Property/ },
    { name: 'an unknown property on an element', docs: [iface('dtmi:x:A;1', [{ '@type': 'Property', name: 's', schema: 'double', min: 0 }])], expected: /unknown property 'min' on Property/ },
    { name: 'the same @id twice', docs: [iface('dtmi:x:A;1'), iface('dtmi:x:A;1')], expected: /duplicate model id/ },
    {
      name: 'a component whose schema is not an interface',
      docs: [iface('dtmi:x:A;1', [{ '@type': 'Component', name: 'c', schema: 'dtmi:x:Nope;1' }])],
      expected: /component 'c' has schema dtmi:x:Nope;1, which is not an Interface/,
    },
    { name: 'a document that is not an object', docs: ['hello'], expected: /a model must be a JSON object/ },
  ];

  it.each(cases)('$name', ({ docs, expected }) => {
    const problems = problemsOf(docs);
    expect(problems.join('\n')).toMatch(expected);
  });

  it('reports every problem of an upload at once, not just the first', () => {
    const problems = problemsOf([
      iface('dtmi:x:A;1', [
        { '@type': 'Property', name: 'a', schema: 'dobule' },
        { '@type': 'Relationship', name: 'r', target: 'dtmi:x:Nope;1' },
      ]),
    ]);
    expect(problems).toHaveLength(2);
  });

  it('accepts DTDL v2 models, reusable schemas, maps, arrays and objects', () => {
    const models = parseModels([
      {
        '@context': 'dtmi:dtdl:context;2',
        '@id': 'dtmi:x:Old;1',
        '@type': 'Interface',
        contents: [{ '@type': ['Telemetry', 'Temperature'], name: 't', schema: 'double', unit: 'degreeCelsius' }],
      },
      iface('dtmi:x:New;1', [
        { '@type': 'Property', name: 'mode', schema: 'dtmi:x:New:Mode;1' },
        { '@type': 'Property', name: 'tags', schema: { '@type': 'Map', mapKey: { name: 'k', schema: 'string' }, mapValue: { name: 'v', schema: 'string' } } },
        { '@type': 'Telemetry', name: 'samples', schema: { '@type': 'Array', elementSchema: 'double' } },
        { '@type': 'Property', name: 'pos', schema: { '@type': 'Object', fields: [{ name: 'x', schema: 'double' }] } },
      ], { schemas: [{ '@id': 'dtmi:x:New:Mode;1', '@type': 'Enum', valueSchema: 'string', enumValues: [{ name: 'auto', enumValue: 'auto' }] }] }),
    ]);
    expect(models.get('dtmi:x:New;1')!.properties.get('mode')!.schema).toMatchObject({ kind: 'enum' });
  });

  it('knows what v2 lacks: uuid and the unsigned and byte schemas came with v3', () => {
    const v2 = (schema: string) => ({ '@context': 'dtmi:dtdl:context;2', '@id': 'dtmi:x:Old;1', '@type': 'Interface', contents: [{ '@type': 'Property', name: 'p', schema }] });
    for (const schema of ['uuid', 'unsignedInteger', 'byte', 'decimal']) expect(() => parseModels([v2(schema)]), schema).toThrow(/unknown schema/);
    expect(() => parseModels([{ ...v2('uuid'), '@context': V3 }])).not.toThrow();
  });
});

describe('device models must line up with their twin models', () => {
  const twin = (props: unknown[]) => ({ ...iface('dtmi:x:Pump;1', props), '@context': [V3, QT] });
  const device = (telemetry: unknown[]) => ({ ...iface('dtmi:x:device:Pump;1', telemetry), '@context': [V3, QT] });

  it('rejects telemetry with no property to hold its latest reading', () => {
    const models = parseModels([twin([]), device([{ '@type': 'Telemetry', name: 'flow', schema: 'double' }])]);
    expect(() => checkBindings(models)).toThrow(/telemetry 'flow' has no Property 'flow' on dtmi:x:Pump;1/);
  });

  it('rejects a property in another unit than the telemetry', () => {
    const models = parseModels([
      twin([{ '@type': ['Property', 'Temperature'], name: 't', schema: 'double', unit: 'kelvin' }]),
      device([{ '@type': ['Telemetry', 'Temperature'], name: 't', schema: 'double', unit: 'degreeCelsius' }]),
    ]);
    expect(() => checkBindings(models)).toThrow(/is in degreeCelsius but dtmi:x:Pump;1 holds it in kelvin/);
  });

  it('rejects a device model without a twin model', () => {
    const models = parseModels([device([{ '@type': 'Telemetry', name: 'flow', schema: 'double' }])]);
    expect(() => checkBindings(models)).toThrow(/device model has no twin model dtmi:x:Pump;1/);
  });
});
