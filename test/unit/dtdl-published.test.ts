/**
 * A model id, once published, names its definition for good: Digital Twins instances and devices
 * (their model id) hold it, and seeding refuses an instance that holds an id with another definition
 * (`seedPlant`). So a change to a model in dtdl/ must come with a new version in its id; this test
 * stops one that does not, before it ships. A new model (or a new version) is recorded here once.
 */
import { describe, expect, it } from 'vitest';
import { readModelDocuments } from '../../src/lib/dtdl/index.ts';
import { modelDigest, sameModel } from '../../src/lib/dtdl/same-model.ts';
import { modelOf, type EquipmentKind } from '../../src/lib/plant/plant.ts';

/** Every published model id and the first 16 hex digits of its definition's digest. */
const PUBLISHED: Readonly<Record<string, string>> = {
  'dtmi:manufacturing:Conveyor;1': '94cc0a9e0c4d6b41',
  'dtmi:manufacturing:device:Conveyor;1': 'b4cdeec066b4445f',
  'dtmi:manufacturing:device:Equipment;1': '7b1c5d4b734d9bf3',
  'dtmi:manufacturing:device:QualityStation;1': 'a0d83b9fde476b7f',
  'dtmi:manufacturing:device:RoboticArm;1': '7b2dfd6bb68474ec',
  'dtmi:manufacturing:Equipment;1': 'fb5ba9aed226636c',
  'dtmi:manufacturing:Factory;1': '4e37ea387ce27b5b',
  'dtmi:manufacturing:ProductionLine;1': '0f0c5f82d8e59e8b',
  'dtmi:manufacturing:QualityStation;1': 'e245d402af0132fc',
  'dtmi:manufacturing:RoboticArm;1': 'c7226ad68befdc3b',
};

const models = readModelDocuments() as { '@id': string; contents?: unknown[] }[];

describe('published DTDL models', () => {
  it('keep their definitions: a model that changes takes a new version', () => {
    const changed = models.filter((m) => Object.hasOwn(PUBLISHED, m['@id']) && modelDigest(m).slice(0, 16) !== PUBLISHED[m['@id']]).map((m) => m['@id']);
    expect(changed, 'changed under a published id: give each a new version (;2), and the models that extend or target it too').toEqual([]);
  });

  it('are all recorded, so that the next change of any of them is caught', () => {
    const unrecorded = models.filter((m) => !Object.hasOwn(PUBLISHED, m['@id'])).map((m) => `'${m['@id']}': '${modelDigest(m).slice(0, 16)}'`);
    expect(unrecorded, 'record these in PUBLISHED').toEqual([]);
  });

  it('give the plant its twins\' models at their newest versions (the ids the code queries and seeds with)', () => {
    const ids = new Set(models.map((m) => m['@id']));
    for (const kind of ['Factory', 'ProductionLine', 'RoboticArm', 'Conveyor', 'QualityStation'] satisfies (EquipmentKind | 'Factory' | 'ProductionLine')[]) {
      const id = modelOf(kind);
      expect(ids.has(id), id).toBe(true);
      const newer = [...ids].filter((other) => other.startsWith(`${id.slice(0, id.lastIndexOf(';'))};`) && Number(other.split(';')[1]) > Number(id.split(';')[1]));
      expect(newer, `modelOf('${kind}') is ${id}`).toEqual([]);
    }
  });

  it('are told apart by what they say, not by how their JSON is ordered', () => {
    const equipment = structuredClone(models.find((m) => m['@id'] === 'dtmi:manufacturing:Equipment;1')!) as unknown as { contents: { name?: string; description?: string }[] };
    const reordered = { ...Object.fromEntries(Object.entries(equipment).reverse()), contents: [...equipment.contents].reverse() };
    expect(sameModel(reordered, equipment)).toBe(true);
    expect(modelDigest(reordered)).toBe(modelDigest(equipment));
    const described = structuredClone(equipment);
    described.contents.find((c) => c.name === 'alarmState')!.description = 'another text';
    expect(sameModel(described, equipment)).toBe(false);
    const narrower = { ...equipment, contents: equipment.contents.filter((c) => c.name !== 'alarmState') };
    expect(sameModel(narrower, equipment)).toBe(false);
  });
});
