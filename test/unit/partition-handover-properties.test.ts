/**
 * One arm's events through a partition that moves between two instances at any batch, whose
 * checkpoint may lag what the instance handling it had done (the next one gets those batches
 * again), with batches cut anywhere, replayed to the instance that handled them, and failed once
 * by a far end (the host retries). Whatever the sequence, every reading is stored once, and the
 * detector has learnt each reading once: the twin ends with exactly the detector state of one
 * instance that handled the events straight through. fast-check, fixed seed and bounded runs.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { propertyRuns } from '../support/property-runs.ts';
import { AppError } from '../../src/lib/errors.ts';
import { harness } from '../support/pipeline-harness.ts';
import { ARM, iso, type Msg } from '../support/plant.ts';

/** Every batch patches its twin, so a moved partition loses no learning and the end states can be compared. */
const settings = { twinPatchIntervalMs: 0 };

const handover = fc.record({
  values: fc.array(fc.record({ temperature: fc.double({ min: 55, max: 80, noNaN: true }), vibration: fc.double({ min: 0.3, max: 0.9, noNaN: true }), pressure: fc.double({ min: 5, max: 7, noNaN: true }) }), { minLength: 1, maxLength: 160 }),
  cuts: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 30 }),
  /** Which instance has the partition for each batch. */
  owner: fc.array(fc.constantFrom(0, 1), { minLength: 1, maxLength: 30 }),
  /** When the partition moves, how many of the batches before it the new owner gets again (the checkpoint's lag). */
  lag: fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 30 }),
  replays: fc.array(fc.boolean(), { minLength: 1, maxLength: 30 }),
  faults: fc.array(fc.constantFrom<'none' | 'store' | 'twins'>('none', 'none', 'none', 'store', 'twins'), { minLength: 1, maxLength: 30 }),
});

function readingsOf(values: readonly { temperature: number; vibration: number; pressure: number }[]): Msg[] {
  const start = Date.now() - 100_000;
  return values.map((v, n) => ({ device: 'robotic-arm-001', body: { timestamp: iso(start + n * 500), ...v, status: 'running' }, messageId: `m-${n}` }));
}

type Instance = ReturnType<typeof harness>;

/** As the host sends a batch: a far end fails once (when given), the batch is retried until it goes through. */
async function deliver(h: Instance, batch: Msg[], fault: 'none' | 'store' | 'twins'): Promise<void> {
  if (fault === 'store') h.store.failNext.push(new AppError('store.http503', 'Data Explorer answered 503', { retryable: true }));
  if (fault === 'twins') h.twins.failNext.patch = [new AppError('twins.unavailable', 'Digital Twins: 429', { retryable: true, status: 503 })];
  try {
    await h.send(batch);
  } catch {
    await h.send(batch);
  }
  h.store.failNext.length = 0;
  h.twins.failNext.patch = [];
}

describe('a partition moving between instances', () => {
  it('stores every reading once and leaves the twin with the detector state of one instance that never moved', async () => {
    await fc.assert(
      fc.asyncProperty(handover, async ({ values, cuts, owner, lag, replays, faults }) => {
        const readings = readingsOf(values);
        const batches: Msg[][] = [];
        for (let at = 0, k = 0; at < readings.length; k++) {
          batches.push(readings.slice(at, at + cuts[k % cuts.length]!));
          at += batches.at(-1)!.length;
        }

        const straight = harness({ settings });
        straight.twins.add('robotic-arm-001', ARM);
        for (const batch of batches) await straight.send(batch);

        const a = harness({ settings });
        const b = harness({ settings, twins: a.twins, sequences: a.sequences });
        a.twins.add('robotic-arm-001', ARM);
        // Where each batch began in the partition, so that a lagging checkpoint can hand batches out again.
        const began: number[] = [];
        let current: Instance | undefined;
        for (let k = 0; k < batches.length; k++) {
          const next = owner[k % owner.length] === 0 ? a : b;
          if (current && next !== current) {
            // The new owner starts from the last checkpoint: the batches the other handled since, again.
            const again = Math.min(lag[k % lag.length]!, k);
            if (again > 0) {
              a.sequences.set('0', began[k - again]!);
              for (let j = k - again; j < k; j++) await next.send(batches[j]!);
            }
          }
          current = next;
          began[k] = a.sequences.get('0') ?? 0;
          await deliver(current, batches[k]!, faults[k % faults.length]!);
          // IoT Hub's routing may deliver a batch twice to the instance that handled it.
          if (replays[k % replays.length]) {
            a.sequences.set('0', began[k]!);
            await current.send(batches[k]!);
          }
        }

        const stored = new Set([...a.store.telemetry.keys(), ...b.store.telemetry.keys()]);
        expect(stored.size).toBe(readings.length);
        expect(a.twins.props('robotic-arm-001').detectorState).toBe(straight.twins.props('robotic-arm-001').detectorState);
      }),
      propertyRuns(20261204, 300),
    );
  }, 120_000);
});
