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
  twinsCreated: number;
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
  const result: SeedResult = { modelsCreated: 0, twinsCreated: 0, relationshipsCreated: 0, devicesCreated: 0 };

  const existing = new Map<string, unknown>();
  for await (const m of client.listModels(undefined, true)) existing.set(m.id, m.model);
  const idOf = (m: unknown) => (m as { '@id': string })['@id'];
  const drifted = options.models.filter((m) => existing.has(idOf(m)) && !sameModel(existing.get(idOf(m)), m)).map(idOf);
  if (drifted.length) throw modelDrift(drifted);
  const missing = options.models.filter((m) => !existing.has(idOf(m))) as object[];
  if (missing.length) {
    await client.createModels(missing);
    result.modelsCreated = missing.length;
  }

  const twins: [string, Record<string, unknown>][] = [
    [plant.factory.id, { $metadata: { $model: modelOf('Factory') }, name: plant.factory.name, location: plant.factory.location, timeZone: plant.factory.timeZone }],
    ...plant.lines.map((l): [string, Record<string, unknown>] => [l.id, { $metadata: { $model: modelOf('ProductionLine') }, name: l.name, product: l.product, targetUnitsPerHour: l.targetUnitsPerHour }]),
    ...plant.equipment.map((e): [string, Record<string, unknown>] => [e.id, { $metadata: { $model: modelOf(e.kind) }, equipmentId: e.id, equipmentType: e.kind, status: 'idle', healthStatus: 'unknown' }]),
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
      'A model cannot change in place. Against the local emulators start with a fresh data folder (npm start -- --data <new folder>, or delete its adt folder); ' +
      'an Azure instance needs the changed models under new versions and its twins moved to them, which this version does not do.',
    { status: 409, detail: { models: ids } },
  );
}
