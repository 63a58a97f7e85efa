/** The plant as the tests see it: the real dtdl/ models and helpers to build IoT Hub-shaped batches. */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MODELS_DIR, checkBindings, dtdlParser, loadPlantModels, readModelDocuments, type ModelSet } from '../../src/lib/dtdl/index.ts';
import { modelSetOf } from '../../src/lib/dtdl/object-model.ts';
import { TelemetryCatalog } from '../../src/lib/telemetry/catalog.ts';
import type { BatchMetadata } from '../../src/lib/telemetry/decode.ts';

export const ARM = 'dtmi:manufacturing:RoboticArm;1';
export const CONVEYOR = 'dtmi:manufacturing:Conveyor;1';
export const LINE = 'dtmi:manufacturing:ProductionLine;1';

// Loaded through Microsoft's DTDL parser once per test file, before any test asks for it.
const catalog = new TelemetryCatalog(await plantModels());
export function plantCatalog(): TelemetryCatalog {
  return catalog;
}

export interface Msg {
  device: string;
  body: unknown;
  messageId?: string;
  enqueued?: number;
}

/** A message body as the device sends it: text as it is, anything else as its JSON. */
export const bytesOf = (body: unknown): Buffer => Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));

/** Bodies and trigger metadata as the Functions host hands them to the telemetry trigger (cardinality many, binary: each body's bytes). */
export function batch(messages: Msg[], partition = '0', firstSequence = 0): { bodies: unknown[]; meta: BatchMetadata } {
  return {
    bodies: messages.map((m) => bytesOf(m.body)),
    meta: {
      partitionContext: { PartitionId: partition },
      systemPropertiesArray: messages.map((m) => ({
        'iothub-connection-device-id': m.device,
        ...(m.messageId ? { 'message-id': m.messageId } : {}),
      })),
      enqueuedTimeUtcArray: messages.map((m) => new Date(m.enqueued ?? Date.now()).toISOString()),
      sequenceNumberArray: messages.map((_, i) => firstSequence + i),
    },
  };
}

export const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The plant's models. The mutation run (PLANT_OBJECT_MODEL_CACHE set) runs test files thousands
 * of times, and loading the parser is most of each run: there the parser's object model of these
 * exact documents, from its first run, is read back instead. The parser is not what it mutates.
 */
async function plantModels(): Promise<ModelSet> {
  const cacheDir = process.env.PLANT_OBJECT_MODEL_CACHE;
  if (!cacheDir) return loadPlantModels();
  const documents = readModelDocuments(DEFAULT_MODELS_DIR);
  const file = join(cacheDir, `plant-${createHash('sha256').update(JSON.stringify(documents)).digest('hex').slice(0, 24)}.json`);
  let om: Parameters<typeof modelSetOf>[0];
  if (existsSync(file)) om = JSON.parse(readFileSync(file, 'utf8')) as typeof om;
  else {
    om = (await dtdlParser()).objectModel(documents);
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(`${file}.${process.pid}`, JSON.stringify(om));
    renameSync(`${file}.${process.pid}`, file);
  }
  const models = modelSetOf(om);
  checkBindings(models);
  return models;
}
