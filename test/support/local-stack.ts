/**
 * The local stack as the end-to-end tests run it: in a temporary folder, on free ports, logging only
 * errors, with small quick batches and every reading patched onto its twin (options say otherwise).
 * Its close() also removes the folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../src/local/stack.ts';
import { jsonLogger } from '../../src/lib/log.ts';
import type { PlantEquipment } from '../../src/lib/plant/plant.ts';
import { Fleet, type FleetOptions } from '../../src/simulator/fleet.ts';
import type { DegradationPlan, Silence } from '../../src/simulator/scenarios.ts';

export interface TestStack extends LocalStack {
  /** The stack's data folder; simulator runs go beside its own data. */
  dir: string;
}

export async function startTestStack(name: string, options: LocalStackOptions = {}): Promise<TestStack> {
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  try {
    const stack = await startLocalStack({
      dataDir: dir,
      ports: { api: 0, adt: 0, iothub: 0, ml: 0, eventHubs: 0, azurite: 0 },
      batch: { minEventBatchSize: 1, maxWaitTimeMs: 100 },
      logger: jsonLogger('e2e', 'error', () => true),
      ...options,
      env: { TWIN_PATCH_INTERVAL_MS: '0', ...options.env },
    });
    const close = stack.close.bind(stack);
    return Object.assign(stack, {
      dir,
      async close() {
        await close();
        rmSync(dir, { recursive: true, force: true });
      },
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Simulated devices for these machines on the stack's hub; the run's ground truth goes to <dir>/<run>. */
export function fleetOn(
  stack: TestStack,
  equipment: PlantEquipment[],
  options: Omit<FleetOptions, 'devices' | 'caPem' | 'runDir'> & { run?: string; degradation?: DegradationPlan; silences?: Readonly<Record<string, Silence>> },
): Fleet {
  const { run = 'run', degradation, silences = {}, ...rest } = options;
  return new Fleet({
    devices: equipment.map((e) => ({ equipment: e, connectionString: stack.hub.registry.connectionString(e.id, stack.hub.hostName), degradation, ...(Object.hasOwn(silences, e.id) ? { silence: silences[e.id]! } : {}) })),
    caPem: stack.hub.caPem,
    runDir: join(stack.dir, run),
    ...rest,
  });
}
