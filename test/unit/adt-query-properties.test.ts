/**
 * The emulator's ADT query language against a plain reading of its rules, on random twins and
 * random WHERE clauses written out as query text: three-valued logic (a comparison with a missing
 * property is neither true nor false, and only true rows are kept), ordering only between two
 * numbers or two strings, IN and the IS_ and string functions, and properties read as the twin's
 * own (a property called `constructor` or `valueOf` is one the twin has, not one every object
 * inherits). The evaluator's shortcuts (ids pinned in WHERE, the model index, pruning a JOIN's
 * source before it multiplies rows, a MATCH walked backward from a pinned twin on its right) must
 * not change an answer. fast-check, fixed seed.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { propertyRuns } from '../support/property-runs.ts';
import { evaluate, type Doc, type QueryGraph } from '../../src/emulators/adt/query/evaluate.ts';
import { parseQuery } from '../../src/emulators/adt/query/parse.ts';
import { adtString } from '../../src/lib/twins/query-text.ts';

type Value = string | number | boolean | null | Value[] | { [k: string]: Value };
type Tri = boolean | undefined;

/** Names a twin may have, some of them also the names of what every JavaScript object inherits. */
const NAMES = ['a', 'b', 'temperature', 'constructor', 'valueOf', 'toString', 'hasOwnProperty', '__proto__', 'group'] as const;
const NESTED = ['x', 'y', 'constructor', '__proto__'] as const;
const MODELS = ['dtmi:t:Equipment;1', 'dtmi:t:Arm;1', 'dtmi:t:Conveyor;1', 'dtmi:t:Line;1'] as const;
/** Arm and Conveyor extend Equipment. */
const BASE: Readonly<Record<string, string>> = { 'dtmi:t:Arm;1': 'dtmi:t:Equipment;1', 'dtmi:t:Conveyor;1': 'dtmi:t:Equipment;1' };
const isA = (model: string, base: string) => model === base || BASE[model] === base;

const text = fc.constantFrom('', 'a', 'ab', 'b', 'A', "it's", 'back\\slash', 'arm-1');
const number = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.double({ min: -5, max: 5, noNaN: true }));
const primitive: fc.Arbitrary<Value> = fc.oneof(number, text, fc.boolean(), fc.constant(null));
const value: fc.Arbitrary<Value> = fc.oneof(
  { weight: 6, arbitrary: primitive },
  { weight: 1, arbitrary: fc.array(primitive, { maxLength: 3 }) },
  { weight: 2, arbitrary: fc.dictionary(fc.constantFrom(...NESTED), primitive, { maxKeys: 3 }).map((o) => Object.fromEntries(Object.entries(o)) as Value) },
);

/** Twins as JSON would give them: every key an own property, `__proto__` included. */
const twinsArb = fc.array(
  fc.record({ model: fc.constantFrom(...MODELS), props: fc.dictionary(fc.constantFrom(...NAMES), value, { maxKeys: 5 }) }),
  { minLength: 1, maxLength: 10 },
).map((list) => list.map(({ model, props }, i): Doc => Object.fromEntries([['$dtId', `tw-${i}`], ['$metadata', { $model: model }], ...Object.entries(props)])));

const relsArb = (n: number) =>
  fc.array(fc.record({ from: fc.nat({ max: n - 1 }), to: fc.nat({ max: n - 1 }), name: fc.constantFrom('contains', 'feeds'), props: fc.dictionary(fc.constantFrom('position', 'constructor'), primitive, { maxKeys: 2 }) }), { maxLength: 12 }).map((list) =>
    list.map(({ from, to, name, props }, i): Doc => Object.fromEntries([['$relationshipId', `r-${i}`], ['$sourceId', `tw-${from}`], ['$targetId', `tw-${to}`], ['$relationshipName', name], ...Object.entries(props)])),
  );

function graphOf(twins: readonly Doc[], rels: readonly Doc[]): QueryGraph {
  const modelOf = (t: Doc) => (t.$metadata as Doc).$model as string;
  return {
    twin: (id) => twins.find((t) => t.$dtId === id),
    twins: () => twins,
    twinsOfModel: (m, exact) => [twins.filter((t) => (exact ? modelOf(t) === m : isA(modelOf(t), m)))],
    relationships: () => rels,
    outgoing: (id) => rels.filter((r) => r.$sourceId === id),
    incoming: (id) => rels.filter((r) => r.$targetId === id),
    isA,
  };
}

// ---- conditions: an AST of our own, written out as query text and read by the oracle ----------

type Path = { c: string; p: string[] };
type Operand = { path: Path } | { lit: string | number | boolean | null };
type Cond =
  | { k: 'cmp'; op: '=' | '!=' | '<' | '<=' | '>' | '>='; l: Operand; r: Operand }
  | { k: 'in'; l: Path; values: (string | number | boolean | null)[]; negate: boolean }
  | { k: 'is'; fn: 'IS_DEFINED' | 'IS_NULL' | 'IS_BOOL' | 'IS_NUMBER' | 'IS_STRING' | 'IS_PRIMITIVE' | 'IS_OBJECT'; arg: Path }
  | { k: 'str'; fn: 'STARTSWITH' | 'ENDSWITH' | 'CONTAINS'; a: Operand; b: Operand }
  | { k: 'arr'; arr: Path; v: string | number | boolean | null }
  | { k: 'model'; c: string; model: string; exact: boolean }
  | { k: 'bool'; v: boolean }
  | { k: 'boolPath'; path: Path }
  | { k: 'not'; e: Cond }
  | { k: 'and' | 'or'; l: Cond; r: Cond };

const literal = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.double({ min: -5, max: 5, noNaN: true }), text, fc.boolean(), fc.constant(null));

function condArb(collections: readonly string[]): fc.Arbitrary<Cond> {
  const path: fc.Arbitrary<Path> = fc.record({
    c: fc.constantFrom(...collections),
    p: fc.oneof(fc.tuple(fc.constantFrom(...NAMES)).map((p) => [...p]), fc.tuple(fc.constantFrom(...NAMES), fc.constantFrom(...NESTED)).map((p) => [...p])),
  });
  const operand: fc.Arbitrary<Operand> = fc.oneof({ weight: 2, arbitrary: path.map((p) => ({ path: p })) }, { weight: 2, arbitrary: literal.map((v) => ({ lit: v })) });
  const leaf: fc.Arbitrary<Cond> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ k: fc.constant('cmp' as const), op: fc.constantFrom('=', '!=', '<', '<=', '>', '>=' as const), l: operand, r: operand }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('in' as const), l: path, values: fc.array(literal, { maxLength: 4 }), negate: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('is' as const), fn: fc.constantFrom('IS_DEFINED', 'IS_NULL', 'IS_BOOL', 'IS_NUMBER', 'IS_STRING', 'IS_PRIMITIVE', 'IS_OBJECT' as const), arg: path }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('str' as const), fn: fc.constantFrom('STARTSWITH', 'ENDSWITH', 'CONTAINS' as const), a: operand, b: operand }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('arr' as const), arr: path, v: literal }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('model' as const), c: fc.constantFrom(...collections), model: fc.constantFrom(...MODELS), exact: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('bool' as const), v: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('boolPath' as const), path }) },
  );
  // At most 15 AND/OR terms: well under the language's 50.
  const tree = fc.letrec<{ cond: Cond }>((tie) => ({
    cond: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.record({ k: fc.constant('not' as const), e: tie('cond') }),
      fc.record({ k: fc.constantFrom('and' as const, 'or' as const), l: tie('cond'), r: tie('cond') }),
    ),
  })).cond;
  return tree.filter((c) => terms(c) <= 15);
}

const terms = (c: Cond): number => (c.k === 'and' || c.k === 'or' ? 1 + terms(c.l) + terms(c.r) : c.k === 'not' ? terms(c.e) : 0);

/** A name as the query language takes it: escaped when it is a keyword, and sometimes anyway. */
const KEYWORDS = new Set(['SELECT', 'FROM', 'WHERE', 'AND', 'OR', 'NOT', 'IN', 'NIN', 'TOP', 'COUNT', 'AS', 'JOIN', 'RELATED', 'MATCH', 'DIGITALTWINS', 'RELATIONSHIPS', 'TRUE', 'FALSE', 'NULL', 'GROUP', 'EXACT']);
const nameText = (n: string) => (KEYWORDS.has(n.toUpperCase()) || n.length % 3 === 0 ? `[[${n}]]` : n);
const pathText = (p: Path) => [p.c, ...p.p].map(nameText).join('.');
const literalText = (v: string | number | boolean | null) => (typeof v === 'string' ? adtString(v) : v === null ? 'null' : typeof v === 'boolean' ? (v ? 'true' : 'FALSE') : v < 0 || Object.is(v, -0) ? `-${String(-v)}` : String(v));
const operandText = (o: Operand) => ('path' in o ? pathText(o.path) : literalText(o.lit));

function condText(c: Cond): string {
  switch (c.k) {
    case 'cmp': return `${operandText(c.l)} ${c.op === '!=' && 'lit' in c.l ? '<>' : c.op} ${operandText(c.r)}`;
    case 'in': return `${pathText(c.l)} ${c.negate ? 'NIN' : 'IN'} [${c.values.map(literalText).join(', ')}]`;
    case 'is': return `${c.fn}(${pathText(c.arg)})`;
    case 'str': return `${c.fn}(${operandText(c.a)}, ${operandText(c.b)})`;
    case 'arr': return `ARRAY_CONTAINS(${pathText(c.arr)}, ${literalText(c.v)})`;
    case 'model': return `IS_OF_MODEL(${c.c}, ${adtString(c.model)}${c.exact ? ', exact' : ''})`;
    case 'bool': return c.v ? 'TRUE' : 'false';
    case 'boolPath': return pathText(c.path);
    case 'not': return `NOT (${condText(c.e)})`;
    case 'and': return `(${condText(c.l)}) AND (${condText(c.r)})`;
    case 'or': return `(${condText(c.l)}) OR (${condText(c.r)})`;
  }
}

// ---- the oracle: the rules read plainly, on own properties only -------------------------------

type Row = Record<string, Doc>;

function read(row: Row, p: Path): unknown {
  let v: unknown = row[p.c];
  for (const s of p.p) {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, s)) return undefined;
    v = (v as Doc)[s];
  }
  return v;
}
const operandValue = (row: Row, o: Operand) => ('path' in o ? read(row, o.path) : o.lit);

function truth(row: Row, c: Cond): Tri {
  switch (c.k) {
    case 'cmp': {
      const a = operandValue(row, c.l);
      const b = operandValue(row, c.r);
      if (a === undefined || b === undefined) return undefined;
      if (c.op === '=') return a === b;
      if (c.op === '!=') return a !== b;
      if (!((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string'))) return undefined;
      return c.op === '<' ? a < b : c.op === '<=' ? a <= b : c.op === '>' ? a > b : a >= b;
    }
    case 'in': {
      const v = read(row, c.l);
      if (v === undefined) return undefined;
      return c.values.some((x) => x === v) !== c.negate;
    }
    case 'is': {
      const v = read(row, c.arg);
      switch (c.fn) {
        case 'IS_DEFINED': return v !== undefined;
        case 'IS_NULL': return v === null;
        case 'IS_BOOL': return typeof v === 'boolean';
        case 'IS_NUMBER': return typeof v === 'number';
        case 'IS_STRING': return typeof v === 'string';
        case 'IS_PRIMITIVE': return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
        case 'IS_OBJECT': return typeof v === 'object' && v !== null && !Array.isArray(v);
      }
      return undefined;
    }
    case 'str': {
      const s = operandValue(row, c.a);
      const t = operandValue(row, c.b);
      if (typeof s !== 'string' || typeof t !== 'string') return undefined;
      return c.fn === 'STARTSWITH' ? s.startsWith(t) : c.fn === 'ENDSWITH' ? s.endsWith(t) : s.includes(t);
    }
    case 'arr': {
      const a = read(row, c.arr);
      return Array.isArray(a) ? a.includes(c.v) : undefined;
    }
    case 'model': {
      const model = (row[c.c]!.$metadata as Doc).$model as string;
      return c.exact ? model === c.model : isA(model, c.model);
    }
    case 'bool': return c.v;
    case 'boolPath': {
      const v = read(row, c.path);
      return typeof v === 'boolean' ? v : undefined;
    }
    case 'not': {
      const v = truth(row, c.e);
      return v === undefined ? undefined : !v;
    }
    case 'and': {
      const a = truth(row, c.l);
      const b = truth(row, c.r);
      return a === false || b === false ? false : a === true && b === true ? true : undefined;
    }
    case 'or': {
      const a = truth(row, c.l);
      const b = truth(row, c.r);
      return a === true || b === true ? true : a === false && b === false ? false : undefined;
    }
  }
}

const run = (query: string, graph: QueryGraph) => evaluate(parseQuery(query), graph).items;

describe('the ADT query language in the emulator', () => {
  it('keeps exactly the twins whose condition is true, however the condition is written and whatever the twins hold', () => {
    fc.assert(
      fc.property(twinsArb, condArb(['T']), fc.option(fc.array(fc.nat({ max: 12 }), { maxLength: 4 })), fc.option(fc.record({ model: fc.constantFrom(...MODELS), exact: fc.boolean() })), (twins, cond, pinned, model) => {
        const graph = graphOf(twins, []);
        // Ids pinned and a model named in the top-level AND take the evaluator's shortcuts.
        const extra: Cond[] = [];
        if (pinned) extra.push({ k: 'in', l: { c: 'T', p: ['$dtId'] }, values: pinned.map((n) => `tw-${n}`), negate: false });
        if (model) extra.push({ k: 'model', c: 'T', ...model });
        const where = extra.reduce<Cond>((acc, e) => ({ k: 'and', l: e, r: acc }), cond);
        const query = `SELECT * FROM DIGITALTWINS T WHERE ${condText(where)}`;
        const expected = twins.filter((t) => truth({ T: t }, where) === true).map((t) => t.$dtId);
        const got = run(query, graph).map((t) => t.$dtId);
        expect({ query, ids: [...got].sort() }).toEqual({ query, ids: [...expected].sort() });
        expect(run(`SELECT COUNT() FROM DIGITALTWINS T WHERE ${condText(where)}`, graph)).toEqual([{ COUNT: expected.length }]);
        // TOP(n) is the first n of the same answer.
        expect(run(`SELECT TOP(2) FROM DIGITALTWINS T WHERE ${condText(where)}`, graph).map((t) => t.$dtId)).toEqual(got.slice(0, 2));
      }),
      propertyRuns(4242, 400),
    );
  });

  it('projects a twin\'s own properties only, under the names asked for', () => {
    fc.assert(
      fc.property(twinsArb, fc.constantFrom(...NAMES), fc.constantFrom('v', '__proto__', 'constructor'), (twins, name, alias) => {
        const items = run(`SELECT T.${nameText(name)} AS ${nameText(alias)}, T.$dtId AS id FROM DIGITALTWINS T`, graphOf(twins, []));
        expect(items.map((i) => i.id)).toEqual(twins.map((t) => t.$dtId));
        items.forEach((item, i) => {
          const twin = twins[i]!;
          expect(Object.getPrototypeOf(item)).toBe(Object.prototype);
          expect(Object.hasOwn(item, alias)).toBe(Object.hasOwn(twin, name));
          if (Object.hasOwn(twin, name)) expect(item[alias]).toEqual(twin[name]);
        });
      }),
      propertyRuns(4243, 200),
    );
  });

  it('joins each pinned source twin to the targets of its relationships of that name, the condition read on both', () => {
    fc.assert(
      fc.property(
        twinsArb.chain((twins) => fc.tuple(fc.constant(twins), relsArb(twins.length), fc.array(fc.nat({ max: twins.length - 1 }), { minLength: 1, maxLength: 3 }))),
        condArb(['S', 'E']),
        fc.constantFrom('contains', 'feeds'),
        ([twins, rels, sources], cond, relName) => {
          const graph = graphOf(twins, rels);
          const pin: Cond = { k: 'in', l: { c: 'S', p: ['$dtId'] }, values: sources.map((n) => `tw-${n}`), negate: false };
          const where: Cond = { k: 'and', l: pin, r: cond };
          const query = `SELECT S, E FROM DIGITALTWINS S JOIN E RELATED S.${relName} WHERE ${condText(where)}`;
          const expected: string[] = [];
          for (const s of twins) {
            for (const r of rels) {
              if (r.$sourceId !== s.$dtId || r.$relationshipName !== relName) continue;
              const e = twins.find((t) => t.$dtId === r.$targetId)!;
              if (truth({ S: s, E: e }, where) === true) expected.push(`${s.$dtId as string}>${e.$dtId as string}`);
            }
          }
          const got = run(query, graph).map((row) => `${(row.S as Doc).$dtId as string}>${(row.E as Doc).$dtId as string}`);
          expect({ query, rows: got.sort() }).toEqual({ query, rows: expected.sort() });
        },
      ),
      propertyRuns(4244, 300),
    );
  });

  it('binds MATCH patterns to exactly the twins joined by simple paths of the hops, names and directions asked for, whichever twin is pinned', () => {
    type Edge = { dir: 'right' | 'left' | 'both'; names: string[]; min: number; max: number; variable: boolean };
    const edgeArb: fc.Arbitrary<Edge> = fc
      .record({ dir: fc.constantFrom('right', 'left', 'both' as const), names: fc.subarray(['contains', 'feeds']), min: fc.integer({ min: 1, max: 3 }), span: fc.nat({ max: 2 }), variable: fc.boolean() })
      .map(({ dir, names, min, span, variable }) => (variable ? { dir, names, min: 1, max: 1, variable } : { dir, names, min, max: Math.min(3, min + span), variable }));
    const nodeNames = ['A', 'B', 'C'];
    fc.assert(
      fc.property(
        twinsArb.chain((twins) => fc.tuple(fc.constant(twins), relsArb(twins.length))),
        fc.array(edgeArb, { minLength: 1, maxLength: 2 }),
        fc.nat(),
        fc.nat(),
        fc.option(condArb(nodeNames), { freq: 2 }),
        ([twins, rels], edges, anchorAt, pinnedAt, cond) => {
          const nodes = nodeNames.slice(0, edges.length + 1);
          const anchor = nodes[anchorAt % nodes.length]!;
          const pinned = `tw-${pinnedAt % (twins.length + 1)}`;
          // A condition only on the pattern's twins (C is one only in a three-node pattern).
          const usable = cond && (nodes.length === 3 || !JSON.stringify(cond).includes('"c":"C"')) ? cond : null;
          const edgeText = (e: Edge, i: number) => {
            const inner = `${e.variable ? `R${i}` : ''}${e.names.length ? `:${e.names.join('|')}` : ''}${e.variable ? '' : e.min === e.max ? `*${e.min}` : e.min === 1 && e.max > 1 && i % 2 ? `*..${e.max}` : `*${e.min}..${e.max}`}`;
            return e.dir === 'right' ? `-[${inner}]->` : e.dir === 'left' ? `<-[${inner}]-` : `-[${inner}]-`;
          };
          const pattern = nodes.map((n, i) => `(${n})${i < edges.length ? edgeText(edges[i]!, i) : ''}`).join('');
          const select = [...nodes, ...edges.flatMap((e, i) => (e.variable ? [`R${i}`] : []))];
          const where = `${anchor}.$dtId = '${pinned}'${usable ? ` AND (${condText(usable)})` : ''}`;
          const query = `SELECT ${select.join(', ')} FROM DIGITALTWINS MATCH ${pattern} WHERE ${where}`;

          // The oracle: every assignment of twins to the nodes, each edge a simple path of its
          // length between its two twins, following relationships the way the arrow points.
          const named = (r: Doc, e: Edge) => e.names.length === 0 || e.names.includes(r.$relationshipName as string);
          const steps = (from: string, e: Edge): string[] =>
            rels.flatMap((r) => {
              if (!named(r, e)) return [];
              const out = r.$sourceId === from && e.dir !== 'left' ? [r.$targetId as string] : [];
              const back = r.$targetId === from && e.dir !== 'right' ? [r.$sourceId as string] : [];
              return [...out, ...back];
            });
          const joined = (a: string, b: string, e: Edge): boolean => {
            const walk = (at: string, path: string[]): boolean => {
              const depth = path.length - 1;
              if (depth >= e.min && at === b) return true;
              if (depth === e.max) return false;
              return steps(at, e).some((next) => !path.includes(next) && walk(next, [...path, next]));
            };
            return a !== b && walk(a, [a]);
          };
          const relsBetween = (a: string, b: string, e: Edge) =>
            rels.filter((r) => named(r, e) && a !== b && ((e.dir !== 'left' && r.$sourceId === a && r.$targetId === b) || (e.dir !== 'right' && r.$sourceId === b && r.$targetId === a)));
          const expected: string[] = [];
          const ids = twins.map((t) => t.$dtId as string);
          const assign = (i: number, chosen: string[], relIds: string[]): void => {
            if (i === nodes.length) {
              const row = Object.fromEntries(nodes.map((n, k) => [n, twins.find((t) => t.$dtId === chosen[k])!]));
              if (row[anchor]!.$dtId !== pinned) return;
              if (usable && truth(row, usable) !== true) return;
              expected.push([...chosen, ...relIds].join(' '));
              return;
            }
            for (const id of ids) {
              if (i === 0) {
                assign(1, [id], relIds);
                continue;
              }
              const e = edges[i - 1]!;
              const prev = chosen[i - 1]!;
              if (e.variable) for (const r of relsBetween(prev, id, e)) assign(i + 1, [...chosen, id], [...relIds, r.$relationshipId as string]);
              else if (joined(prev, id, e)) assign(i + 1, [...chosen, id], relIds);
            }
          };
          assign(0, [], []);

          const got = run(query, graphOf(twins, rels)).map((row) => [...nodes.map((n) => (row[n] as Doc).$dtId), ...select.slice(nodes.length).map((r) => (row[r] as Doc).$relationshipId)].join(' '));
          expect({ query, rows: got.sort() }).toEqual({ query, rows: expected.sort() });
        },
      ),
      propertyRuns(4245, 300),
    );
  });
});
