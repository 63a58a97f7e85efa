/**
 * Twin patches in the ADT emulator against a plain model of them: random JSON Patch documents
 * (add, replace, remove; properties the model has and names it lacks, `__proto__` and
 * `constructor` among them; values of the right type or not) applied one after another to a
 * robotic arm's twin. A document that leaves a valid twin changes exactly what it says, gives the
 * twin a new etag and stamps `$metadata` for exactly the properties the twin then holds; one that
 * does not (400) changes nothing: all or nothing. fast-check, fixed seed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { propertyRuns } from '../support/property-runs.ts';
import { TwinGraph } from '../../src/emulators/adt/twin-graph.ts';
import { AdtStorage } from '../../src/emulators/adt/storage.ts';
import { dtdlParser, readModelDocuments } from '../../src/lib/dtdl/index.ts';

type Doc = Record<string, unknown>;
const ARM = 'dtmi:manufacturing:RoboticArm;1';
/** Some of the arm's properties by schema, and names it does not have. */
const DOUBLES = ['temperature', 'vibration', 'pressure', 'anomalyScore'];
const STRINGS = ['equipmentId', 'modelVersion', 'detectorState'];
const STATUS = ['running', 'idle', 'stopped', 'fault', 'maintenance'];
const UNKNOWN = ['noSuchProperty', '__proto__', 'constructor', 'toString'];

type Op = { op: 'add' | 'replace' | 'remove'; path: string; value?: unknown };
/** A value for `name`, and whether the model takes it. */
const valueFor = (name: string): fc.Arbitrary<{ value: unknown; valid: boolean }> =>
  DOUBLES.includes(name)
    ? fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((value) => ({ value, valid: true })), fc.constantFrom('hot', null, true).map((value) => ({ value, valid: false })))
    : STRINGS.includes(name)
      ? fc.oneof(fc.string({ maxLength: 20 }).map((value) => ({ value, valid: true })), fc.constantFrom(42, null, { a: 1 }).map((value) => ({ value, valid: false })))
      : name === 'status'
        ? fc.oneof(fc.constantFrom(...STATUS).map((value) => ({ value, valid: true })), fc.constantFrom('broken', 1).map((value) => ({ value, valid: false })))
        : fc.constant({ value: 1, valid: false });

const opArb: fc.Arbitrary<{ op: Op; valid: boolean }> = fc
  .tuple(fc.constantFrom<Op['op']>('add', 'replace', 'remove'), fc.constantFrom(...DOUBLES, ...STRINGS, 'status', ...UNKNOWN))
  .chain(([op, name]): fc.Arbitrary<{ op: Op; valid: boolean }> => (op === 'remove' ? fc.constant({ op: { op, path: `/${name}` }, valid: !UNKNOWN.includes(name) }) : valueFor(name).map(({ value, valid }) => ({ op: { op, path: `/${name}`, value }, valid }))));

let graph: TwinGraph;
beforeAll(async () => {
  graph = new TwinGraph(new AdtStorage(':memory:'), await dtdlParser());
  graph.createModels(readModelDocuments());
});

/** The twin's own properties (no $-fields), as JSON would give them. */
const contentOf = (twin: Doc) => Object.fromEntries(Object.entries(twin).filter(([k]) => !k.startsWith('$')));

describe('twin patches in the ADT emulator', () => {
  it('apply all of a document that leaves a valid twin and nothing of one that does not, and stamp metadata for exactly what the twin holds', () => {
    let n = 0;
    fc.assert(
      fc.property(fc.array(fc.array(opArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 8 }), (documents) => {
        const id = `arm-${n++}`;
        graph.upsertTwin(id, { $metadata: { $model: ARM }, equipmentId: id, temperature: 20 }, {});
        let expected: Doc = { equipmentId: id, temperature: 20 };
        for (const doc of documents) {
          const before = structuredClone(graph.getTwin(id));
          // The model: each operation in turn on a copy. One that reaches past the twin's own
          // properties (`__proto__`, `constructor`) or replaces or removes nothing refuses the document
          // at once; otherwise the twin it leaves is judged, as ADT judges a patched twin.
          let next: Doc | undefined = { ...expected };
          const wrong = new Set<string>();
          for (const { op, valid } of doc) {
            const name = op.path.slice(1);
            if (name === '__proto__' || name === 'constructor' || (op.op !== 'add' && !Object.hasOwn(next!, name))) {
              next = undefined;
              break;
            }
            if (op.op === 'remove') {
              delete next![name];
              wrong.delete(name);
            } else {
              next = Object.fromEntries([...Object.entries(next!), [name, op.value]]);
              if (valid) wrong.delete(name);
              else wrong.add(name);
            }
          }
          if (wrong.size > 0) next = undefined;
          let refused = false;
          try {
            graph.updateTwin(id, doc.map((d) => d.op));
          } catch (error) {
            refused = true;
            expect((error as { status?: number }).status, JSON.stringify(doc)).toBe(400);
          }
          const after = graph.getTwin(id);
          if (next === undefined) {
            expect(refused, JSON.stringify(doc)).toBe(true);
            expect(after).toEqual(before);
            continue;
          }
          expect(refused, JSON.stringify(doc)).toBe(false);
          expected = next;
          expect(contentOf(after)).toEqual(expected);
          expect(after.$etag).not.toBe(before.$etag);
          const metadata = after.$metadata as Doc;
          expect(Object.keys(metadata).filter((k) => !k.startsWith('$')).sort()).toEqual(Object.keys(expected).sort());
          for (const k of Object.keys(expected)) expect(typeof (metadata[k] as Doc).lastUpdateTime).toBe('string');
        }
      }),
      propertyRuns(6060, 150),
    );
  });
});
