/** The plant as the tests see it: the real dtdl/ models and helpers to build IoT Hub-shaped batches. */
import { loadPlantModels } from '../../src/lib/dtdl/index.ts';
import { TelemetryCatalog } from '../../src/lib/telemetry/catalog.ts';
import type { BatchMetadata } from '../../src/lib/telemetry/decode.ts';

export const ARM = 'dtmi:manufacturing:RoboticArm;1';
export const CONVEYOR = 'dtmi:manufacturing:Conveyor;1';
export const LINE = 'dtmi:manufacturing:ProductionLine;1';

// Loaded once per test file, through Microsoft's DTDL parser, before any test asks for it.
const catalog = new TelemetryCatalog(await loadPlantModels());
export function plantCatalog(): TelemetryCatalog {
  return catalog;
}

export interface Msg {
  device: string;
  body: unknown;
  messageId?: string;
  enqueued?: number;
}

/** Bodies and trigger metadata as the Functions host hands them to a cardinality-many trigger. */
export function batch(messages: Msg[], partition = '0', firstSequence = 0): { bodies: unknown[]; meta: BatchMetadata } {
  return {
    bodies: messages.map((m) => (typeof m.body === 'string' ? m.body : JSON.stringify(m.body))),
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
