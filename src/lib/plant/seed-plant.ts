/**
 * Puts a plant into Digital Twins (models, twins, relationships) and its devices into IoT Hub's
 * registry, through the same SDKs in Azure and locally. Idempotent: what exists is left as it is
 * (a twin's live properties are not reset), so it runs on every start and after every provision.
 */
import type { DigitalTwinsClient } from '@azure/digital-twins-core';
import { sameModel } from '../dtdl/same-model.ts';
import { AppError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { forEachLimited } from '../bounded-set.ts';
import { modelOf, type PlantDescription } from './plant.ts';

export interface SeedResult {
  modelsCreated: number;
  /** Our models' earlier versions, superseded by this upload's. */
  modelsDecommissioned: number;
  twinsCreated: number;
  /** Twins that were on an earlier version of their model, moved to this upload's (their values kept). */
  twinsMoved: number;
  relationshipsCreated: number;
  devicesCreated: number;
}

/** The registry calls seeding needs (azure-iothub's Registry has them). */
export interface DeviceRegistryPort {
  get(deviceId: string): Promise<unknown>;
  create(device: { deviceId: string; status?: string }): Promise<unknown>;
}

const status = (e: unknown) => (e as { statusCode?: number; response?: { statusCode?: number } }).statusCode ?? (e as { response?: { statusCode?: number } }).response?.statusCode;
const exists = async (read: () => Promise<unknown>) => {
  try {
    await read();
    return true;
  } catch (error) {
    if (status(error) === 404 || (error as Error).name === 'DeviceNotFoundError') return false;
    throw error;
  }
};

export async function seedPlant(options: { client: DigitalTwinsClient; models: unknown[]; plant: PlantDescription; registry?: DeviceRegistryPort; logger?: Logger; concurrency?: number }): Promise<SeedResult> {
  const { client, plant } = options;
  const concurrency = options.concurrency ?? 8;
  const result: SeedResult = { modelsCreated: 0, modelsDecommissioned: 0, twinsCreated: 0, twinsMoved: 0, relationshipsCreated: 0, devicesCreated: 0 };

  const existing = new Map<string, unknown>();
  const decommissioned = new Set<string>();
  for await (const m of client.listModels(undefined, true)) {
    existing.set(m.id, m.model);
    if (m.decommissioned) decommissioned.add(m.id);
  }
  const idOf = (m: unknown) => (m as { '@id': string })['@id'];
  const drifted = options.models.filter((m) => existing.has(idOf(m)) && !sameModel(existing.get(idOf(m)), m)).map(idOf);
  if (drifted.length) throw modelDrift(drifted);
  const missing = options.models.filter((m) => !existing.has(idOf(m))) as object[];
  if (missing.length) {
    await client.createModels(missing);
    result.modelsCreated = missing.length;
  }

  // Each twin on the newest version of its model this upload has (an instance seeded by an earlier version keeps its twins, moved below).
  const newest = newestVersions(options.models.map(idOf));
  const modelFor = (kind: Parameters<typeof modelOf>[0]) => newest.get(unversioned(modelOf(kind))) ?? modelOf(kind);
  const twins: [string, Record<string, unknown>][] = [
    [plant.factory.id, { $metadata: { $model: modelFor('Factory') }, name: plant.factory.name, location: plant.factory.location, timeZone: plant.factory.timeZone }],
    ...plant.lines.map((l): [string, Record<string, unknown>] => [l.id, { $metadata: { $model: modelFor('ProductionLine') }, name: l.name, product: l.product, targetUnitsPerHour: l.targetUnitsPerHour }]),
    ...plant.equipment.map((e): [string, Record<string, unknown>] => [e.id, { $metadata: { $model: modelFor(e.kind) }, equipmentId: e.id, equipmentType: e.kind, status: 'idle', healthStatus: 'unknown' }]),
  ];
  await forEachLimited(twins, concurrency, async ([id, body]) => {
    try {
      // If-None-Match: * creates the twin only when it is absent, in one call.
      await client.upsertDigitalTwin(id, JSON.stringify(body), { ifNoneMatch: '*' });
      result.twinsCreated++;
    } catch (error) {
      if (status(error) !== 412) throw error;
    }
  });
  // Our models' earlier versions the instance holds: every twin on one moves to the newest (this plant's or not,
  // a fleet's say: this version reads none of the old), then no new twin is made of them (a decommissioned model stays readable).
  // Once all are decommissioned their twins have moved (no twin can be made of one since), so a later seeding skips this.
  const toRetire = [...existing.keys()].filter((id) => !decommissioned.has(id) && newest.has(unversioned(id)) && versionOf(id) < versionOf(newest.get(unversioned(id))!));
  if (toRetire.length) {
    result.twinsMoved = await moveToNewestModels(client, newest, concurrency);
    result.modelsDecommissioned = await decommission(client, toRetire, options.logger);
  }

  const rels: [string, string, Record<string, unknown>][] = [
    ...plant.lines.map((l): [string, string, Record<string, unknown>] => [plant.factory.id, `contains-${l.id}`, { $targetId: l.id, $relationshipName: 'contains' }]),
    ...plant.equipment.map((e): [string, string, Record<string, unknown>] => [e.line, `contains-${e.id}`, { $targetId: e.id, $relationshipName: 'contains', position: e.position }]),
  ];
  await forEachLimited(rels, concurrency, async ([source, id, body]) => {
    try {
      await client.upsertRelationship(source, id, body, { ifNoneMatch: '*' });
      result.relationshipsCreated++;
    } catch (error) {
      if (status(error) !== 412) throw error;
    }
  });

  if (options.registry) {
    const registry = options.registry;
    await forEachLimited(plant.equipment, concurrency, async (e) => {
      if (await exists(() => registry.get(e.id))) return;
      await registry.create({ deviceId: e.id, status: 'enabled' });
      result.devicesCreated++;
    });
  }
  options.logger?.log('info', 'plant seeded', { ...result, twins: twins.length, relationships: rels.length, devices: plant.equipment.length });
  return result;
}

/**
 * Refused before anything is created: Digital Twins holds models under this version's ids with
 * other definitions (uploaded by an earlier version). A model cannot change in place (an id is
 * uploaded once, and seeding skips the ids that exist), so such a plant would keep the old
 * definitions and the pipeline's patches of what changed would fail twin by twin at run time.
 */
function modelDrift(ids: readonly string[]): AppError {
  return new AppError(
    'dtdl.modelChanged',
    `Digital Twins holds ${ids.join(', ')} with ${ids.length === 1 ? 'a definition' : 'definitions'} other than dtdl/'s (uploaded by an earlier version). ` +
      'A model cannot change in place: a change ships as a new version (dtmi:…;2), to which seeding moves the twins. ' +
      'Locally, start with a fresh data folder (npm start -- --data <new folder>, or delete its adt folder). ' +
      'In Azure, a build that changed a model in place seeded this instance: delete its twins and that model and run `azd hooks run postprovision` again, or provision a new instance.',
    { status: 409, detail: { models: ids } },
  );
}

const unversioned = (id: string) => id.slice(0, id.lastIndexOf(';'));
const versionOf = (id: string) => Number(id.slice(id.lastIndexOf(';') + 1));

/** The newest version of each model id among `ids`, by its id without the version. */
function newestVersions(ids: readonly string[]): Map<string, string> {
  const newest = new Map<string, string>();
  for (const id of ids) {
    const held = newest.get(unversioned(id));
    if (held === undefined || versionOf(id) > versionOf(held)) newest.set(unversioned(id), id);
  }
  return newest;
}

/**
 * Every twin on an earlier version of one of `newest`'s models, moved to the newest (Digital Twins
 * changes a twin's model in place when its values fit the new one: what it holds is kept). A twin
 * on another model altogether is left as it is: not ours to change.
 */
async function moveToNewestModels(client: DigitalTwinsClient, newest: ReadonlyMap<string, string>, concurrency: number): Promise<number> {
  const moves: [string, string][] = [];
  for await (const row of client.queryTwins('SELECT T.$dtId, T.$metadata.$model FROM DIGITALTWINS T')) {
    const { $dtId: id, $model: model } = row as { $dtId?: unknown; $model?: unknown };
    if (typeof id !== 'string' || typeof model !== 'string') continue;
    const target = newest.get(unversioned(model));
    if (target !== undefined && versionOf(model) < versionOf(target)) moves.push([id, target]);
  }
  await forEachLimited(moves, concurrency, async ([id, target]) => {
    await client.updateDigitalTwin(id, [{ op: 'replace', path: '/$metadata/$model', value: target }]);
  });
  return moves.length;
}

/**
 * Decommissions models, in whatever order Digital Twins takes them: it refuses (409) one that refers
 * to models not yet decommissioned, so a refused one is tried again after the others. Housekeeping:
 * what stays refused is logged, not thrown (a model in use keeps working decommissioned or not).
 */
async function decommission(client: DigitalTwinsClient, ids: readonly string[], logger: Logger | undefined): Promise<number> {
  let pending = [...ids];
  let done = 0;
  while (pending.length) {
    const refused: string[] = [];
    for (const id of pending) {
      try {
        await client.decomissionModel(id);
        done++;
      } catch (error) {
        if (status(error) !== 409) throw error;
        refused.push(id);
      }
    }
    if (refused.length === pending.length) {
      logger?.log('warn', 'earlier model versions left in service: Digital Twins refused to decommission them', { models: refused.join(', ') });
      break;
    }
    pending = refused;
  }
  return done;
}
