/**
 * Models go through Microsoft's DTDL parser (the one Azure Digital Twins runs, as WebAssembly).
 * These tests pin what the product relies on: the plant's models load with units and semantic
 * types, the spec's less common forms are accepted, bad models come back as DtdlError with the
 * element and a fix, and the project's own device-to-twin bindings still hold on top.
 */
import { describe, expect, it } from 'vitest';
import { DtdlError, checkBindings, dtdlParser, formatProblem, loadPlantModels, parseModels } from '../../src/lib/dtdl/index.ts';

const V3 = 'dtmi:dtdl:context;3';
const QT = 'dtmi:dtdl:extension:quantitativeTypes;1';
const iface = (id: string, contents: unknown = [], extra: Record<string, unknown> = {}) => ({
  '@context': V3,
  '@id': id,
  '@type': 'Interface',
  contents,
  ...extra,
});

async function problemsOf(docs: unknown[]): Promise<DtdlError['problems']> {
  try {
    await parseModels(docs);
  } catch (error) {
    expect(error).toBeInstanceOf(DtdlError);
    return (error as DtdlError).problems;
  }
  throw new Error('expected the models to be rejected');
}
const textOf = async (docs: unknown[]) => (await problemsOf(docs)).map(formatProblem).join('\n');

describe('the plant models in dtdl/', () => {
  it('load through Microsoft\'s parser and bind every device model to its twin model', async () => {
    const models = await loadPlantModels();
    const arm = models.get('dtmi:manufacturing:RoboticArm;1')!;
    expect(models.isA(arm.id, 'dtmi:manufacturing:Equipment;1')).toBe(true);
    expect(arm.displayName).toBe('Robotic arm');
    expect(arm.properties.get('temperature')).toMatchObject({ unit: 'degreeCelsius', semanticType: 'Temperature', schema: { kind: 'primitive', name: 'double' } });
    expect(arm.properties.get('healthStatus')!.schema).toMatchObject({ kind: 'enum', valueSchema: 'string', values: expect.arrayContaining([{ name: 'critical', value: 'critical' }]) });
    expect([...arm.properties.keys()]).toEqual(expect.arrayContaining(['anomalyScore', 'failureProbability', 'healthStatus', 'lastTelemetryTime', 'status', 'equipmentId']));
    expect(arm.properties.get('status')!.definedIn).toBe('dtmi:manufacturing:Equipment;1');
    expect(arm.commands.get('emergencyStop')).toMatchObject({ request: { name: 'reason', schema: { kind: 'primitive', name: 'string' } }, response: { schema: { kind: 'object' } } });
    expect(models.get('dtmi:manufacturing:ProductionLine;1')!.relationships.get('contains')).toMatchObject({ target: 'dtmi:manufacturing:Equipment;1' });
    expect([...models.get('dtmi:manufacturing:ProductionLine;1')!.relationships.get('contains')!.properties.keys()]).toEqual(['position']);
    expect(models.get('dtmi:manufacturing:device:RoboticArm;1')!.telemetry.get('vibration')).toMatchObject({ unit: 'gForce', semanticType: 'Acceleration' });
    for (const type of ['Conveyor', 'QualityStation']) expect(models.get(`dtmi:manufacturing:device:${type};1`)!.telemetry.size).toBeGreaterThan(0);
  });

  it('the parser is loaded once per process', async () => {
    expect(await dtdlParser()).toBe(await dtdlParser());
    expect((await dtdlParser()).version).toMatch(/^DTDLParser, Version=1\.1\./);
  });
});

describe('spec forms the product relies on are accepted', () => {
  it('a single object where DTDL allows an array ("contents": {…})', async () => {
    const models = await parseModels([iface('dtmi:x:A;1', { '@type': 'Property', name: 's', schema: 'double' })]);
    expect(models.get('dtmi:x:A;1')!.properties.has('s')).toBe(true);
  });

  it('an Interface defined inline in extends, and one inline as a component schema', async () => {
    const models = await parseModels([
      iface('dtmi:x:A;1', [{ '@type': 'Component', name: 'c', schema: { '@id': 'dtmi:x:C;1', '@type': 'Interface', contents: [{ '@type': 'Property', name: 'cp', schema: 'string' }] } }], {
        extends: { '@id': 'dtmi:x:Base;1', '@type': 'Interface', contents: [{ '@type': 'Property', name: 'b', schema: 'double' }] },
      }),
    ]);
    const a = models.get('dtmi:x:A;1')!;
    expect(a.properties.has('b')).toBe(true);
    expect(a.ancestors).toEqual(['dtmi:x:Base;1']);
    expect(a.components.get('c')!.schema).toBe('dtmi:x:C;1');
    expect(models.get('dtmi:x:C;1')!.properties.has('cp')).toBe(true);
  });

  it('JSON-LD forms: full-IRI terms, {"@value": …} objects and localised string arrays', async () => {
    const models = await parseModels([
      {
        '@context': V3,
        '@id': 'dtmi:x:A;1',
        '@type': 'dtmi:dtdl:class:Interface;3',
        'dtmi:dtdl:property:contents;3': [{ '@type': 'Property', name: { '@value': 's' }, schema: 'double' }],
        displayName: [{ '@value': 'Pump', '@language': 'en' }, { '@value': 'Pumpe', '@language': 'de' }],
      },
    ]);
    const a = models.get('dtmi:x:A;1')!;
    expect(a.properties.has('s')).toBe(true);
    expect(a.displayNames).toEqual({ en: 'Pump', de: 'Pumpe' });
    expect(a.displayName).toBe('Pump');
  });

  it('a relationship whose target is not in the upload (a non-dependent reference)', async () => {
    const models = await parseModels([iface('dtmi:x:Line;1', [{ '@type': 'Relationship', name: 'contains', target: 'dtmi:x:Elsewhere;1' }])]);
    expect(models.get('dtmi:x:Line;1')!.relationships.get('contains')!.target).toBe('dtmi:x:Elsewhere;1');
  });

  it('DTDL v2 next to v3, with reusable schemas, maps, arrays and objects', async () => {
    const models = await parseModels([
      { '@context': 'dtmi:dtdl:context;2', '@id': 'dtmi:x:Old;1', '@type': 'Interface', contents: [{ '@type': ['Telemetry', 'Temperature'], name: 't', schema: 'double', unit: 'degreeCelsius' }] },
      iface('dtmi:x:New;1', [
        { '@type': 'Property', name: 'mode', schema: 'dtmi:x:New:Mode;1' },
        { '@type': 'Property', name: 'tags', schema: { '@type': 'Map', mapKey: { name: 'k', schema: 'string' }, mapValue: { name: 'v', schema: 'string' } } },
        { '@type': 'Telemetry', name: 'samples', schema: { '@type': 'Array', elementSchema: 'double' } },
        { '@type': 'Property', name: 'pos', schema: { '@type': 'Object', fields: [{ name: 'x', schema: 'double' }] } },
        { '@type': 'Property', name: 'cycle', schema: 'duration' },
      ], { schemas: [{ '@id': 'dtmi:x:New:Mode;1', '@type': 'Enum', valueSchema: 'string', enumValues: [{ name: 'auto', enumValue: 'auto' }] }] }),
    ]);
    expect(models.get('dtmi:x:Old;1')).toMatchObject({ dtdlVersion: 2 });
    expect(models.get('dtmi:x:Old;1')!.telemetry.get('t')).toMatchObject({ unit: 'degreeCelsius', semanticType: 'Temperature' });
    const n = models.get('dtmi:x:New;1')!;
    expect(n.dtdlVersion).toBe(3);
    expect(n.properties.get('mode')!.schema).toEqual({ kind: 'enum', valueSchema: 'string', values: [{ name: 'auto', value: 'auto' }] });
    expect(n.properties.get('tags')!.schema).toEqual({ kind: 'map', keyName: 'k', valueName: 'v', value: { kind: 'primitive', name: 'string' } });
    expect(n.telemetry.get('samples')!.schema).toEqual({ kind: 'array', element: { kind: 'primitive', name: 'double' } });
    expect(n.properties.get('pos')!.schema).toEqual({ kind: 'object', fields: [{ name: 'x', schema: { kind: 'primitive', name: 'double' } }] });
    expect(n.properties.get('cycle')!.schema).toEqual({ kind: 'primitive', name: 'duration' });
  });
});

describe('DTDL v2 and v3 differ, and each model is held to its own version', () => {
  const withArray = (context: string) => ({ '@context': context, '@id': 'dtmi:x:Recipe;1', '@type': 'Interface', contents: [{ '@type': 'Property', name: 'steps', schema: { '@type': 'Array', elementSchema: 'string' } }] });

  it('an Array-valued Property is DTDL v3; a v2 model may not have one', async () => {
    expect((await parseModels([withArray(V3)])).get('dtmi:x:Recipe;1')!.properties.get('steps')!.schema).toEqual({ kind: 'array', element: { kind: 'primitive', name: 'string' } });
    expect(await textOf([withArray('dtmi:dtdl:context;2')])).toMatch(/^dtmi:x:Recipe;1 contents\.steps\.schema: .*Array, which is not allowed/m);
  });
});

describe('invalid models are rejected with the element at fault and how to fix it', () => {
  const cases: { name: string; docs: unknown[]; expected: RegExp }[] = [
    { name: 'a malformed DTMI', docs: [iface('dtmi:bad id;1')], expected: /Identifier 'dtmi:bad id;1' is invalid/ },
    { name: 'a reserved DTMI prefix', docs: [iface('dtmi:dtdl:Thing;1')], expected: /reserved prefix/ },
    { name: 'a missing DTDL context', docs: [{ '@id': 'dtmi:x:A;1', '@type': 'Interface' }], expected: /no @context/ },
    { name: 'an unknown schema', docs: [iface('dtmi:x:A;1', [{ '@type': 'Property', name: 'temp', schema: 'dobule' }])], expected: /^dtmi:x:A;1 contents\.temp\.schema: .*'dobule'.* Fix: Replace the value of property 'schema'/m },
    { name: 'a schema reference to nothing', docs: [iface('dtmi:x:A;1', [{ '@type': 'Property', name: 'mode', schema: 'dtmi:x:Mode;1' }])], expected: /^dtmi:x:A;1: references dtmi:x:Mode;1, which is not defined .* Fix: Upload the referenced models first/m },
    { name: 'duplicate names in one interface', docs: [iface('dtmi:x:A;1', [{ '@type': 'Property', name: 'speed', schema: 'double' }, { '@type': 'Telemetry', name: 'speed', schema: 'double' }])], expected: /more than one element whose property 'name' has value 'speed'/ },
    { name: 'an extends cycle', docs: [iface('dtmi:x:A;1', [], { extends: 'dtmi:x:B;1' }), iface('dtmi:x:B;1', [], { extends: 'dtmi:x:A;1' })], expected: /^dtmi:x:A;1 extends: .*chain of 'extends'/m },
    { name: 'extends of an undefined interface', docs: [iface('dtmi:x:A;1', [], { extends: 'dtmi:x:Nope;1' })], expected: /references dtmi:x:Nope;1/ },
    { name: 'a malformed relationship target', docs: [iface('dtmi:x:Line;1', [{ '@type': 'Relationship', name: 'contains', target: 'robot' }])], expected: /^dtmi:x:Line;1 contents\.contains\.target: .*'robot'/m },
    { name: 'a unit of the wrong kind', docs: [iface('dtmi:x:A;1', [{ '@type': ['Telemetry', 'Temperature'], name: 't', schema: 'double', unit: 'bar' }], { '@context': [V3, QT] })], expected: /^dtmi:x:A;1 contents\.t\.unit: .*bar.*TemperatureUnit/m },
    { name: 'a semantic type without the QuantitativeTypes context', docs: [iface('dtmi:x:A;1', [{ '@type': ['Telemetry', 'Temperature'], name: 't', schema: 'double', unit: 'kelvin' }])], expected: /type Temperature that is an undefined term/ },
    { name: 'an enum value of the wrong type', docs: [iface('dtmi:x:A;1', [{ '@type': 'Property', name: 'mode', schema: { '@type': 'Enum', valueSchema: 'integer', enumValues: [{ name: 'on', enumValue: 'on' }] } }])], expected: /contents\.mode\.schema\.enumValues\.on\.enumValue: .*must be integer/ },
    { name: 'an invalid content name', docs: [iface('dtmi:x:A;1', [{ '@type': 'Property', name: '2fast', schema: 'double' }])], expected: /'2fast', which is invalid/ },
    { name: 'an unknown property on an element', docs: [iface('dtmi:x:A;1', [{ '@type': 'Property', name: 's', schema: 'double', min: 0 }])], expected: /contents\.s\.min: .*'min' is an undefined term/ },
    { name: 'the same @id twice', docs: [iface('dtmi:x:A;1'), iface('dtmi:x:A;1')], expected: /more than one definition/ },
    { name: 'a document that is not an object', docs: ['hello'], expected: /neither a JSON object nor a JSON array/ },
    { name: 'a comment that is not a string', docs: [iface('dtmi:x:A;1', [], { comment: 42 })], expected: /^dtmi:x:A;1 comment: .*not a JSON string/m },
    { name: 'an over-long interface id (quoted by its ends)', docs: [iface(`dtmi:x:${'a'.repeat(5000)};1`)], expected: /a…a+;1' is too long/ },
    { name: 'a bad language code', docs: [iface('dtmi:x:A;1', [], { displayName: { 'not a language!': 'x' } })], expected: /language code 'not a language!'/ },
    { name: 'uuid in a DTDL v3 model (it comes with v4)', docs: [iface('dtmi:x:A;1', [{ '@type': 'Property', name: 'p', schema: 'uuid' }])], expected: /'uuid' that is neither a valid DTMI reference nor a DTDL v3 term/ },
  ];

  it.each(cases)('$name', async ({ docs, expected }) => {
    expect(await textOf(docs)).toMatch(expected);
  });

  it('every problem of an upload is reported at once, each with the parser\'s rule and fix', async () => {
    const problems = await problemsOf([iface('dtmi:x:A;1', [{ '@type': 'Property', name: 'a', schema: 'dobule' }, { '@type': 'Relationship', name: 'r', target: 'robot' }])]);
    expect(problems.map((p) => p.path)).toEqual(expect.arrayContaining(['contents.a.schema', 'contents.r.target']));
    for (const p of problems) expect(p).toMatchObject({ model: 'dtmi:x:A;1', fix: expect.any(String), rule: expect.stringMatching(/^dtmi:dtdl:parsingError:/) });
  });

  it('a failure inside the WebAssembly parser is a clear rejection, and the parser keeps working', async () => {
    const deep = JSON.parse('['.repeat(300) + ']'.repeat(300)) as unknown;
    expect(await textOf([deep])).toMatch(/the DTDL parser could not read this upload/);
    expect((await parseModels([iface('dtmi:x:A;1')])).get('dtmi:x:A;1')).toBeDefined();
  });
});

describe('device models must line up with their twin models', () => {
  const twin = (props: unknown[]) => ({ ...iface('dtmi:x:Pump;1', props), '@context': [V3, QT] });
  const device = (telemetry: unknown[]) => ({ ...iface('dtmi:x:device:Pump;1', telemetry), '@context': [V3, QT] });

  it('rejects telemetry with no property to hold its latest reading', async () => {
    const models = await parseModels([twin([]), device([{ '@type': 'Telemetry', name: 'flow', schema: 'double' }])]);
    expect(() => checkBindings(models)).toThrow(/telemetry 'flow' has no Property 'flow' on dtmi:x:Pump;1/);
  });

  it('rejects a property in another unit than the telemetry', async () => {
    const models = await parseModels([
      twin([{ '@type': ['Property', 'Temperature'], name: 't', schema: 'double', unit: 'kelvin' }]),
      device([{ '@type': ['Telemetry', 'Temperature'], name: 't', schema: 'double', unit: 'degreeCelsius' }]),
    ]);
    expect(() => checkBindings(models)).toThrow(/is in degreeCelsius but dtmi:x:Pump;1 holds it in kelvin/);
  });

  it('rejects a property of another schema than the telemetry', async () => {
    const models = await parseModels([twin([{ '@type': 'Property', name: 'flow', schema: 'integer' }]), device([{ '@type': 'Telemetry', name: 'flow', schema: 'double' }])]);
    expect(() => checkBindings(models)).toThrow(/telemetry 'flow' is double but dtmi:x:Pump;1 declares integer/);
  });

  it('rejects a device model without a twin model', async () => {
    const models = await parseModels([device([{ '@type': 'Telemetry', name: 'flow', schema: 'double' }])]);
    expect(() => checkBindings(models)).toThrow(/device model has no twin model dtmi:x:Pump;1/);
  });
});
