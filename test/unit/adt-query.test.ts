/** The emulator's ADT query language over a small plant graph: documented query shapes and bad queries. */
import { describe, expect, it } from 'vitest';
import { evaluate, type Doc, type QueryGraph } from '../../src/emulators/adt/query/evaluate.ts';
import { parseQuery, QueryError } from '../../src/emulators/adt/query/parse.ts';
import { adtString } from '../../src/lib/twins/query-text.ts';

const twin = (id: string, model: string, props: Doc = {}): Doc => ({ $dtId: id, $etag: 'W/"1"', $metadata: { $model: model }, ...props });
const rel = (source: string, id: string, name: string, target: string, props: Doc = {}): Doc => ({ $relationshipId: id, $sourceId: source, $targetId: target, $relationshipName: name, ...props });
const base: Record<string, string> = { 'dtmi:m:Arm;1': 'dtmi:m:Equipment;1', 'dtmi:m:Conveyor;1': 'dtmi:m:Equipment;1' };

const twins = [
  twin('factory', 'dtmi:m:Factory;1', { name: 'Plant' }),
  twin('line-a', 'dtmi:m:Line;1', { name: 'Line A' }),
  twin('line-b', 'dtmi:m:Line;1', { name: 'Line B' }),
  twin('arm-1', 'dtmi:m:Arm;1', { temperature: 70, status: 'running', tags: { red: true } }),
  twin('arm-2', 'dtmi:m:Arm;1', { temperature: 90, status: 'fault' }),
  twin('conv-1', 'dtmi:m:Conveyor;1', { speed: 1.5, status: 'running' }),
];
const rels = [
  rel('factory', 'f-a', 'contains', 'line-a'),
  rel('factory', 'f-b', 'contains', 'line-b'),
  rel('line-a', 'a-1', 'contains', 'arm-1', { position: 1 }),
  rel('line-a', 'a-2', 'contains', 'arm-2', { position: 2 }),
  rel('line-b', 'b-1', 'contains', 'conv-1', { position: 1 }),
];
const graph: QueryGraph = {
  twin: (id) => twins.find((t) => t.$dtId === id),
  twins: () => twins,
  twinsOfModel: (m, exact) => [twins.filter((t) => (t.$metadata as Doc).$model === m || (!exact && base[(t.$metadata as Doc).$model as string] === m))],
  relationships: () => rels,
  outgoing: (id) => rels.filter((r) => r.$sourceId === id),
  incoming: (id) => rels.filter((r) => r.$targetId === id),
  isA: (m, b) => m === b || base[m] === b,
};
const run = (q: string) => evaluate(parseQuery(q), graph).items;
const ids = (items: Doc[], key?: string) => items.map((i) => ((key ? i[key] : i) as Doc).$dtId ?? i.$dtId).sort();

describe('the ADT query language', () => {
  const cases: [string, (items: Doc[]) => void][] = [
    ['SELECT * FROM DIGITALTWINS', (r) => expect(r).toHaveLength(6)],
    ["SELECT * FROM DIGITALTWINS T WHERE T.$dtId IN ['arm-1', 'conv-1']", (r) => expect(ids(r)).toEqual(['arm-1', 'conv-1'])],
    ["SELECT * FROM digitaltwins WHERE IS_OF_MODEL('dtmi:m:Equipment;1')", (r) => expect(ids(r)).toEqual(['arm-1', 'arm-2', 'conv-1'])],
    ["SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:m:Equipment;1', exact)", (r) => expect(r).toEqual([])],
    ['SELECT * FROM DIGITALTWINS T WHERE T.temperature > 75', (r) => expect(ids(r)).toEqual(['arm-2'])],
    ['SELECT * FROM DIGITALTWINS T WHERE NOT T.temperature <= 75', (r) => expect(ids(r)).toEqual(['arm-2'])],
    ["SELECT * FROM DIGITALTWINS WHERE IS_DEFINED(tags.red)", (r) => expect(ids(r)).toEqual(['arm-1'])],
    ["SELECT * FROM DIGITALTWINS WHERE NOT IS_DEFINED(tags.red) AND IS_NUMBER(temperature)", (r) => expect(ids(r)).toEqual(['arm-2'])],
    ["SELECT * FROM DIGITALTWINS T WHERE STARTSWITH(T.$dtId, 'arm') AND T.status NIN ['fault']", (r) => expect(ids(r)).toEqual(['arm-1'])],
    ["SELECT * FROM DIGITALTWINS T WHERE ENDSWITH(T.$dtId, '-b') OR CONTAINS(T.name, 'Plant')", (r) => expect(ids(r)).toEqual(['factory', 'line-b'])],
    ['SELECT COUNT() FROM DIGITALTWINS', (r) => expect(r).toEqual([{ COUNT: 6 }])],
    ['SELECT COUNT() FROM RELATIONSHIPS', (r) => expect(r).toEqual([{ COUNT: 5 }])],
    ["SELECT * FROM RELATIONSHIPS WHERE $sourceId IN ['line-a']", (r) => expect(r).toHaveLength(2)],
    ['SELECT TOP(2) FROM DIGITALTWINS', (r) => expect(r).toHaveLength(2)],
    ["SELECT L, E FROM DIGITALTWINS L JOIN E RELATED L.contains WHERE L.$dtId = 'line-a'", (r) => expect(ids(r, 'E')).toEqual(['arm-1', 'arm-2'])],
    ["SELECT E.$dtId AS arm, R.position FROM DIGITALTWINS L JOIN E RELATED L.contains R WHERE L.$dtId = 'line-a' AND R.position = 2", (r) => expect(r).toEqual([{ arm: 'arm-2', position: 2 }])],
    ["SELECT E FROM DIGITALTWINS F JOIN L RELATED F.contains JOIN E RELATED L.contains WHERE F.$dtId = 'factory' AND IS_OF_MODEL(E, 'dtmi:m:Arm;1')", (r) => expect(ids(r, 'E')).toEqual(['arm-1', 'arm-2'])],
    ["SELECT F, E FROM DIGITALTWINS MATCH (F)-[:contains*2]->(E) WHERE F.$dtId = 'factory'", (r) => expect(ids(r, 'E')).toEqual(['arm-1', 'arm-2', 'conv-1'])],
    ["SELECT F FROM DIGITALTWINS MATCH (E)<-[*1..2]-(F) WHERE E.$dtId = 'arm-1'", (r) => expect(ids(r, 'F')).toEqual(['factory', 'line-a'])],
    ["SELECT L, R FROM DIGITALTWINS MATCH (L)-[R]-(E) WHERE E.$dtId = 'conv-1'", (r) => expect(r.map((x) => (x.R as Doc).$relationshipId)).toEqual(['b-1'])],
    ['SELECT name FROM DIGITALTWINS', (r) => expect(r.filter((x) => 'name' in x)).toHaveLength(3)],
  ];
  it.each(cases)('%s', (query, check) => check(run(query)));

  const bad: [string, RegExp][] = [
    ['SELECT * FROM TWINS', /DIGITALTWINS or RELATIONSHIPS/],
    ['SELECT * DIGITALTWINS', /expected FROM/],
    ["SELECT * FROM DIGITALTWINS WHERE T.name = 'x", /unterminated string/],
    ['SELECT * FROM DIGITALTWINS MATCH (a)-[]->(b)', /must pin at least one twin/],
    ["SELECT * FROM DIGITALTWINS MATCH (a)-[*11]->(b) WHERE a.$dtId = 'x'", /at most 10/],
    ["SELECT * FROM DIGITALTWINS A JOIN B RELATED A.r JOIN C RELATED B.r JOIN D RELATED C.r JOIN E RELATED D.r JOIN F RELATED E.r JOIN G RELATED F.r", /at most 5/],
    [`SELECT * FROM DIGITALTWINS T WHERE T.$dtId IN [${Array.from({ length: 51 }, (_, i) => `'${i}'`).join(',')}]`, /at most 50/],
    [`SELECT * FROM DIGITALTWINS T WHERE ${Array.from({ length: 52 }, () => 'T.a = 1').join(' AND ')}`, /at most 50/],
    ['SELECT * FROM DIGITALTWINS T WHERE FOO(T.a)', /unknown function FOO/],
    ["SELECT * FROM DIGITALTWINS A JOIN B RELATED A.r WHERE X.y = 1", /not a collection/],
    ['SELECT * FROM (SELECT * FROM DIGITALTWINS)', /nested queries/],
    [`SELECT * FROM DIGITALTWINS WHERE name = '${'x'.repeat(8000)}'`, /at most 8000/],
  ];
  it.each(bad)('rejects %s', (query, message) => {
    expect(() => run(query)).toThrow(QueryError);
    expect(() => run(query)).toThrow(message);
  });

  it('takes queries exactly at the limits: 5 JOINs, and a MATCH spanning 10 hops', () => {
    expect(() => parseQuery('SELECT * FROM DIGITALTWINS A JOIN B RELATED A.r JOIN C RELATED B.r JOIN D RELATED C.r JOIN E RELATED D.r JOIN F RELATED E.r')).not.toThrow();
    expect(() => parseQuery("SELECT * FROM DIGITALTWINS MATCH (a)-[*1..10]->(b) WHERE a.$dtId = 'x'")).not.toThrow();
    // The limit counts the most hops a range can take, not the fewest.
    expect(() => parseQuery("SELECT * FROM DIGITALTWINS MATCH (a)-[*1..11]->(b) WHERE a.$dtId = 'x'")).toThrow(/at most 10/);
  });

  it('takes every other limit exactly, and refuses one past it with the numbers in the message', () => {
    const padded = (length: number) => {
      const head = "SELECT * FROM DIGITALTWINS WHERE name = '";
      return `${head}${'x'.repeat(length - head.length - 1)}'`;
    };
    expect(padded(8000)).toHaveLength(8000);
    expect(() => parseQuery(padded(8000))).not.toThrow();
    expect(() => parseQuery(padded(8001))).toThrow('the query is 8001 characters long; at most 8000 are allowed');
    const inList = (n: number) => `SELECT * FROM DIGITALTWINS T WHERE T.$dtId IN [${Array.from({ length: n }, (_, i) => `'${i}'`).join(',')}]`;
    expect(() => parseQuery(inList(50))).not.toThrow();
    expect(() => parseQuery(inList(51))).toThrow('an IN list has 51 items; at most 50 are allowed');
    // 50 AND/OR terms: 51 conditions joined by 50 operators, mixing both.
    const terms = (n: number) => `SELECT * FROM DIGITALTWINS T WHERE ${Array.from({ length: n + 1 }, (_, i) => `T.a = ${i}`).join(' AND ').replace(/ AND (?=T\.a = \d*[05] )/g, ' OR ')}`;
    expect(() => parseQuery(terms(50))).not.toThrow();
    expect(() => parseQuery(terms(51))).toThrow('the WHERE clause has 51 AND/OR terms; at most 50 are allowed');
    expect(() => parseQuery('SELECT * FROM DIGITALTWINS A JOIN B RELATED A.r JOIN C RELATED B.r JOIN D RELATED C.r JOIN E RELATED D.r JOIN F RELATED E.r JOIN G RELATED F.r')).toThrow('the query has 6 JOINs; at most 5 are allowed');
    expect(() => parseQuery("SELECT * FROM DIGITALTWINS MATCH (a)-[*3]->(b)-[*8]->(c) WHERE a.$dtId = 'x'")).toThrow('the MATCH pattern can span 11 hops; at most 10 are allowed');
    expect(() => parseQuery("SELECT * FROM DIGITALTWINS MATCH (a)-[*3]->(b)-[*..7]->(c) WHERE a.$dtId = 'x'")).not.toThrow();
    // Nesting: 64 deep is allowed, 65 is not, through parentheses and NOT alike.
    const parens = (n: number) => `SELECT * FROM DIGITALTWINS T WHERE ${'('.repeat(n)}T.a = 1${')'.repeat(n)}`;
    expect(() => parseQuery(parens(64))).not.toThrow();
    expect(() => parseQuery(parens(65))).toThrow('the condition is nested more than 64 deep');
    const nots = (n: number) => `SELECT * FROM DIGITALTWINS T WHERE ${'NOT '.repeat(n)}T.a = 1`;
    expect(() => parseQuery(nots(64))).not.toThrow();
    expect(() => parseQuery(nots(65))).toThrow('the condition is nested more than 64 deep');
    // Depth is how deep, not how many: many groups side by side are fine.
    expect(() => parseQuery(`SELECT * FROM DIGITALTWINS T WHERE ${Array.from({ length: 40 }, () => '(NOT (T.a = 1))').join(' OR ')}`)).not.toThrow();
  });

  it('refuses hop ranges that are empty or backwards, and a relationship variable over several hops', () => {
    const match = (edge: string) => `SELECT * FROM DIGITALTWINS MATCH (a)-[${edge}]->(b) WHERE a.$dtId = 'x'`;
    expect(() => parseQuery(match('*0'))).toThrow('invalid hop range *0..0');
    expect(() => parseQuery(match('*3..2'))).toThrow('invalid hop range *3..2');
    expect(() => parseQuery(match('*2..2'))).not.toThrow();
    expect(() => parseQuery(match('r*2'))).toThrow('a relationship variable cannot be combined with multiple hops');
    expect(() => parseQuery(match('r*1'))).not.toThrow();
    expect(() => parseQuery(match('r:contains*1..1'))).not.toThrow();
  });

  it('reads back exactly the id our adapters quote, backslashes and quotes included', () => {
    for (const id of ["plain", "o'brien", 'back\\slash', "trail\\", "\\' OR 1=1 OR 'x"]) {
      const q = parseQuery(`SELECT * FROM DIGITALTWINS T WHERE T.$dtId = ${adtString(id)}`);
      expect(JSON.stringify(q.where), id).toContain(JSON.stringify(id));
    }
  });

  it('refuses a condition nested thousands deep as a bad query, not a stack overflow', () => {
    const deep = `SELECT * FROM DIGITALTWINS T WHERE ${'('.repeat(3900)}T.a = 1${')'.repeat(3900)}`;
    expect(() => parseQuery(deep)).toThrow(QueryError);
    expect(() => parseQuery(deep)).toThrow(/nested more than 64 deep/);
    expect(() => parseQuery(`SELECT * FROM DIGITALTWINS T WHERE ${'NOT '.repeat(1900)}T.a = 1`)).toThrow(/nested more than/);
    expect(() => parseQuery(`SELECT * FROM DIGITALTWINS T WHERE ${'('.repeat(10)}T.a = 1${')'.repeat(10)}`)).not.toThrow();
  });
});
