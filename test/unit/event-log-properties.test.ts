/**
 * The event log after a crash, whatever it took: events appended in random batches over segments
 * of random sizes, then one or two segment files cut short at any byte or with one byte changed (a
 * write that never reached the disk, a torn sector). Reopened, the log holds only whole records
 * that were appended, each under the sequence number it was given and in order; a reader starting
 * anywhere gets exactly the records from there on; a reader past the last record waits for the
 * next one; and what is appended next is read by every reader. fast-check, fixed seed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { propertyRuns } from '../support/property-runs.ts';
import { EventLog } from '../../src/emulators/event-log/event-log.ts';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

const damageArb = fc.array(fc.record({ file: fc.nat(), at: fc.double({ min: 0, max: 1, noNaN: true }), flip: fc.boolean() }), { minLength: 1, maxLength: 2 });

describe('the event log after a crash', () => {
  it('keeps only whole records, each under its own number and in order, and readers go on from anywhere', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.string({ maxLength: 120 }), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 60, max: 2000 }),
        damageArb,
        fc.nat(),
        async (batches, segmentBytes, damage, startAt) => {
          const dir = mkdtempSync(join(tmpdir(), 'eventlog-prop-'));
          dirs.push(dir);
          const log = EventLog.open(dir, { partitions: 1, segmentBytes });
          // What each sequence number was given to.
          const sent = new Map<number, string>();
          for (const batch of batches) {
            const acks = await Promise.all(batch.map((text) => log.append({ partitionKey: 'arm', body: Buffer.from(text), properties: Object.fromEntries([['n', text.length], ['__proto__', 'p']]) })));
            acks.forEach((a, i) => sent.set(a.sequenceNumber, batch[i]!));
          }
          log.close();
          const folder = join(dir, 'partitions', '0');
          const files = readdirSync(folder).sort().map((f) => join(folder, f));
          for (const d of damage) {
            const file = files[d.file % files.length]!;
            const bytes = readFileSync(file);
            if (bytes.length === 0) continue;
            const at = Math.min(bytes.length - 1, Math.floor(d.at * bytes.length));
            if (d.flip) {
              bytes[at] = bytes[at]! ^ 0x5a;
              writeFileSync(file, bytes);
            } else writeFileSync(file, bytes.subarray(0, at));
          }

          const reopened = EventLog.open(dir);
          try {
            const all = reopened.read('0', 0, 10_000);
            const seqs = all.map((r) => r.sequenceNumber);
            expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
            expect(new Set(seqs).size).toBe(seqs.length);
            for (const r of all) {
              expect(sent.has(r.sequenceNumber)).toBe(true);
              expect(r.body.toString()).toBe(sent.get(r.sequenceNumber));
              expect(r.properties).toEqual(Object.fromEntries([['n', sent.get(r.sequenceNumber)!.length], ['__proto__', 'p']]));
            }
            const { next } = reopened.bounds('0');
            const from = startAt % (next + 2);
            expect(reopened.read('0', from, 10_000)).toEqual(all.filter((r) => r.sequenceNumber >= from));
            // Past the last record, a reader waits (here, for a moment) rather than being told there is more.
            const last = seqs.at(-1) ?? -1;
            let waited = false;
            const wait = reopened.waitFor('0', last + 1, 30).then(() => (waited = true));
            await new Promise((r) => setImmediate(r));
            expect(waited).toBe(false);
            await wait;
            const { sequenceNumber } = await reopened.append({ partitionKey: 'arm', body: Buffer.from('after the crash') });
            expect(sequenceNumber).toBe(next);
            expect(reopened.read('0', Math.min(from, last + 1), 10_000).at(-1)).toMatchObject({ sequenceNumber: next, body: Buffer.from('after the crash') });
          } finally {
            reopened.close();
          }
        },
      ),
      propertyRuns(5150, 150),
    );
  });
});
