/**
 * Query conformance: the query examples of the Azure Digital Twins documentation ("Query the twin
 * graph" and the query language reference), run through @azure/digital-twins-core against the
 * emulator on a building of 253 twins, each compared with the result set worked out from the
 * plant's own description below (plain array filters, not the query engine). Then the queries
 * ADT refuses, each with the problem it names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from 'node:https';
import { DefaultHttpClient } from '@azure/core-http';
import { DigitalTwinsClient } from '@azure/digital-twins-core';
import { startAdtEmulator, type AdtEmulator } from '../../src/emulators/adt/server.ts';
import { StaticTokenCredential } from '../../src/lib/twins/adt-twins.ts';
import { forEachLimited } from '../../src/lib/bounded-set.ts';

type Doc = Record<string, any>;
const ctx = 'dtmi:dtdl:context;3';
const dtmi = (name: string) => `dtmi:com:contoso:${name};1`;
const rel = (name: string, target?: string, properties: Doc[] = []) => ({ '@type': 'Relationship', name, ...(target ? { target: dtmi(target) } : {}), ...(properties.length ? { properties } : {}) });
const prop = (name: string, schema: unknown) => ({ '@type': 'Property', name, schema });
const MODELS = [
  { '@context': ctx, '@id': dtmi('Building'), '@type': 'Interface', contents: [prop('name', 'string'), rel('hasFloor', 'Floor')] },
  { '@context': ctx, '@id': dtmi('Floor'), '@type': 'Interface', contents: [prop('name', 'string'), rel('contains', 'Room')] },
  {
    '@context': ctx, '@id': dtmi('Room'), '@type': 'Interface',
    contents: [
      prop('name', 'string'), prop('Temperature', 'double'), prop('Humidity', 'double'), prop('firmwareVersion', 'string'), prop('Location', 'string'),
      prop('tags', { '@type': 'Map', mapKey: { name: 'tag', schema: 'string' }, mapValue: { name: 'set', schema: 'boolean' } }),
      rel('contains'), rel('servicedBy', 'Technician', [prop('reportedCondition', 'string')]),
    ],
  },
  { '@context': ctx, '@id': dtmi('Device'), '@type': 'Interface', contents: [prop('serialNumber', 'string'), prop('Temperature', 'double')] },
  { '@context': ctx, '@id': dtmi('LightPanel'), '@type': 'Interface', extends: dtmi('Device'), contents: [rel('contains', 'LightBulb')] },
  { '@context': ctx, '@id': dtmi('LightBulb'), '@type': 'Interface', extends: dtmi('Device'), contents: [prop('brightness', 'integer'), prop('isOn', 'boolean')] },
  { '@context': ctx, '@id': dtmi('Thermostat'), '@type': 'Interface', extends: dtmi('Device'), contents: [] },
  { '@context': ctx, '@id': dtmi('Technician'), '@type': 'Interface', contents: [prop('name', 'string')] },
];

// ---- the building, described once: twins and relationships as plain data ------------------------
interface Twin { id: string; model: string; props: Doc }
interface Rel { source: string; id: string; name: string; target: string; props: Doc }
const twins: Twin[] = [];
const rels: Rel[] = [];
const add = (id: string, model: string, props: Doc = {}) => twins.push({ id, model: dtmi(model), props });
const link = (source: string, name: string, target: string, props: Doc = {}) => rels.push({ source, id: `${source}-${name}-${target}`, name, target, props });
const CITIES = ['Paris', 'Tokyo', 'Oslo'];
for (let t = 0; t < 3; t++) add(`tech-${t}`, 'Technician', { name: `Technician ${t}` });
let r = 0;
for (let b = 0; b < 2; b++) {
  add(`building-${b}`, 'Building', { name: `Building ${b}` });
  for (let f = 0; f < 4; f++) {
    const floor = `floor-${b}-${f}`;
    add(floor, 'Floor', { name: `Floor ${b}.${f}` });
    link(`building-${b}`, 'hasFloor', floor);
    for (let k = 0; k < 5; k++, r++) {
      const room = `room-${r}`;
      const props: Doc = { name: `Room ${r}`, firmwareVersion: r % 3 === 0 ? '1.1' : '1.0' };
      if (r % 10 !== 9) props.Temperature = 60 + ((r * 7) % 25);
      if (r % 5 !== 0) props.Humidity = 30 + (r % 20);
      if (r % 2 === 0) props.Location = CITIES[r % 3];
      if (r % 4 < 2) props.tags = r % 4 === 0 ? { red: true } : { blue: true };
      add(room, 'Room', props);
      link(floor, 'contains', room);
      add(`panel-${r}`, 'LightPanel', { serialNumber: `LP-${r}`, Temperature: 30 + (r % 7) });
      add(`thermostat-${r}`, 'Thermostat', { serialNumber: `TH-${r}`, Temperature: props.Temperature ?? 20 });
      link(room, 'contains', `panel-${r}`);
      link(room, 'contains', `thermostat-${r}`);
      link(room, 'servicedBy', `tech-${r % 3}`, { reportedCondition: r % 2 ? 'clean' : 'dirty' });
      for (let i = 0; i < 3; i++) {
        add(`bulb-${r}-${i}`, 'LightBulb', { serialNumber: `LB-${r}-${i}`, brightness: (r * 13 + i * 29) % 101, isOn: (r + i) % 2 === 0 });
        link(`panel-${r}`, 'contains', `bulb-${r}-${i}`);
      }
    }
  }
}

// ---- oracles over that description ---------------------------------------------------------------
const byId = new Map(twins.map((t) => [t.id, t]));
const isA = (t: Twin, model: string) => t.model === dtmi(model) || (['LightPanel', 'LightBulb', 'Thermostat'].some((m) => t.model === dtmi(m)) && model === 'Device');
const of = (model: string) => twins.filter((t) => isA(t, model));
const idsOf = (list: Twin[]) => list.map((t) => t.id).sort();
const out = (source: string, name?: string) => rels.filter((x) => x.source === source && (!name || x.name === name));
const targets = (source: string, name?: string) => out(source, name).map((x) => byId.get(x.target)!);

let adt: AdtEmulator;
let client: DigitalTwinsClient;
/** Every item of a query, over all its pages (the emulator serves pages of 50 here). */
async function query(q: string): Promise<Doc[]> {
  const items: Doc[] = [];
  for await (const item of client.queryTwins(q)) items.push(item as Doc);
  return items;
}
const ids = async (q: string, key?: string) => (await query(q)).map((i) => (key ? i[key] : i).$dtId as string).sort();

beforeAll(async () => {
  adt = await startAdtEmulator({ memory: true, queryPageSize: 50 });
  const http = new DefaultHttpClient();
  const agent = new Agent({ ca: adt.caPem, keepAlive: true });
  (http as unknown as { getOrCreateAgent: () => Agent }).getOrCreateAgent = () => agent;
  client = new DigitalTwinsClient(adt.url, new StaticTokenCredential('dev'), { httpClient: http, retryOptions: { maxRetries: 0 } });
  await client.createModels(MODELS);
  await forEachLimited(twins, 16, (t) => client.upsertDigitalTwin(t.id, JSON.stringify({ $metadata: { $model: t.model }, ...t.props })));
  await forEachLimited(rels, 16, (x) => client.upsertRelationship(x.source, x.id, { $targetId: x.target, $relationshipName: x.name, ...x.props }));
}, 60_000);
afterAll(async () => adt?.close());

describe('the documentation query examples on a 253-twin building', () => {
  it('the building has the size the suite claims', () => {
    expect(twins.length).toBe(253);
    expect(adt.graph.counts).toEqual({ models: MODELS.length, twins: 253, relationships: rels.length });
  });

  it('shows all digital twins, across pages', async () => {
    expect(await ids('SELECT * FROM DIGITALTWINS')).toEqual(idsOf(twins));
  });

  it('queries by property, including $dtId', async () => {
    const room3 = byId.get('room-3')!.props;
    expect(await ids(`SELECT * FROM DIGITALTWINS T WHERE T.firmwareVersion = '1.1' AND T.$dtId IN ['room-0', 'room-3', 'room-4'] AND T.Temperature = ${room3.Temperature}`)).toEqual(
      idsOf(['room-0', 'room-3', 'room-4'].map((id) => byId.get(id)!).filter((t) => t.props.firmwareVersion === '1.1' && t.props.Temperature === room3.Temperature)),
    );
  });

  it('finds twins where a property is defined, a tag is set, a property is a number', async () => {
    expect(await ids('SELECT * FROM DIGITALTWINS WHERE IS_DEFINED(Location)')).toEqual(idsOf(twins.filter((t) => t.props.Location !== undefined)));
    expect(await ids('SELECT * FROM DIGITALTWINS WHERE IS_DEFINED(tags.red)')).toEqual(idsOf(twins.filter((t) => t.props.tags?.red)));
    expect(await ids('SELECT * FROM DIGITALTWINS T WHERE IS_NUMBER(T.Temperature)')).toEqual(idsOf(twins.filter((t) => typeof t.props.Temperature === 'number')));
  });

  it('reads map properties by key', async () => {
    expect(await ids('SELECT * FROM DIGITALTWINS T WHERE T.tags.blue = true')).toEqual(idsOf(twins.filter((t) => t.props.tags?.blue === true)));
  });

  it('queries by model, with inheritance, exact, and with a collection name', async () => {
    expect(await ids(`SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('${dtmi('Device')}')`)).toEqual(idsOf(of('Device')));
    expect(await ids(`SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('${dtmi('Device')}', exact)`)).toEqual([]);
    expect(await ids(`SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('${dtmi('LightBulb')}', exact)`)).toEqual(idsOf(of('LightBulb')));
    expect(await ids(`SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '${dtmi('Room')}') AND T.Temperature > 75`)).toEqual(idsOf(of('Room').filter((t) => t.props.Temperature > 75)));
  });

  it('queries by relationship (JOIN ... RELATED), with relationship properties', async () => {
    const rows = await query("SELECT T, CT FROM DIGITALTWINS T JOIN CT RELATED T.contains WHERE T.$dtId = 'floor-1-2'");
    expect(rows.map((x) => x.T.$dtId)).toEqual(Array(5).fill('floor-1-2'));
    expect(rows.map((x) => x.CT.$dtId).sort()).toEqual(idsOf(targets('floor-1-2', 'contains')));

    const serviced = await query("SELECT T, SBT, R FROM DIGITALTWINS T JOIN SBT RELATED T.servicedBy R WHERE T.$dtId = 'room-7' AND R.reportedCondition = 'clean'");
    expect(serviced).toHaveLength(1);
    expect(serviced[0]).toMatchObject({ T: { $dtId: 'room-7' }, SBT: { $dtId: 'tech-1' }, R: { $relationshipName: 'servicedBy', reportedCondition: 'clean', $sourceId: 'room-7' } });
    expect(await query("SELECT T, SBT, R FROM DIGITALTWINS T JOIN SBT RELATED T.servicedBy R WHERE T.$dtId = 'room-8' AND R.reportedCondition = 'clean'")).toEqual([]);
  });

  it('follows several JOINs: the bulbs of the light panels of two rooms', async () => {
    const q = `SELECT LightBulb FROM DIGITALTWINS Room JOIN LightPanel RELATED Room.contains JOIN LightBulb RELATED LightPanel.contains
      WHERE IS_OF_MODEL(LightPanel, '${dtmi('LightPanel')}') AND IS_OF_MODEL(LightBulb, '${dtmi('LightBulb')}') AND Room.$dtId IN ['room-1', 'room-2']`;
    expect(await ids(q.replace(/\s+/g, ' '), 'LightBulb')).toEqual(idsOf(['room-1', 'room-2'].flatMap((room) => targets(room, 'contains').filter((t) => isA(t, 'LightPanel')).flatMap((p) => targets(p.id, 'contains')))));
  });

  it('counts items, with filters and over JOINs', async () => {
    expect(await query('SELECT COUNT() FROM DIGITALTWINS')).toEqual([{ COUNT: 253 }]);
    expect(await query(`SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('${dtmi('LightBulb')}') AND isOn = true`)).toEqual([{ COUNT: of('LightBulb').filter((t) => t.props.isOn).length }]);
    expect(await query(`SELECT COUNT() FROM DIGITALTWINS Room JOIN LightPanel RELATED Room.contains JOIN LightBulb RELATED LightPanel.contains WHERE IS_OF_MODEL(LightPanel, '${dtmi('LightPanel')}') AND Room.$dtId = 'room-5'`)).toEqual([{ COUNT: 3 }]);
  });

  it('takes the TOP items', async () => {
    const top = await query(`SELECT TOP(5) FROM DIGITALTWINS WHERE IS_OF_MODEL('${dtmi('LightBulb')}')`);
    expect(top).toHaveLength(5);
    expect(top.every((t) => t.$metadata.$model === dtmi('LightBulb'))).toBe(true);
  });

  it('projects collections, properties and aliases', async () => {
    const rows = await query("SELECT Room.name, Tech.name AS technician, Edge.reportedCondition FROM DIGITALTWINS Room JOIN Tech RELATED Room.servicedBy Edge WHERE Room.$dtId = 'room-4'");
    expect(rows).toEqual([{ name: 'Room 4', technician: 'Technician 1', reportedCondition: 'dirty' }]);
    const temps = await query(`SELECT T.$dtId, T.Temperature AS temp FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, '${dtmi('Room')}') AND T.Temperature >= 80`);
    expect(temps.sort((a, b) => a.$dtId.localeCompare(b.$dtId))).toEqual(idsOf(of('Room').filter((t) => t.props.Temperature >= 80)).map((id) => ({ $dtId: id, temp: byId.get(id)!.props.Temperature })));
  });

  it('MATCHes patterns: chained hops, a relationship variable, variable hops, either direction', async () => {
    const chain = await query(`SELECT Floor, Room FROM DIGITALTWINS MATCH (Building)-[:hasFloor]->(Floor)-[:contains]->(Room) WHERE Building.$dtId = 'building-1' AND IS_OF_MODEL(Room, '${dtmi('Room')}')`);
    expect(chain.map((x) => x.Room.$dtId).sort()).toEqual(idsOf(targets('building-1', 'hasFloor').flatMap((f) => targets(f.id, 'contains'))));

    const withRel = await query("SELECT B, R FROM DIGITALTWINS MATCH (B)-[R:hasFloor]->(F) WHERE B.$dtId = 'building-0'");
    expect(withRel.map((x) => x.R.$targetId).sort()).toEqual(idsOf(targets('building-0', 'hasFloor')));

    const bulbs = await ids(`SELECT Bulb FROM DIGITALTWINS MATCH (Building)-[*3..4]->(Bulb) WHERE Building.$dtId = 'building-0' AND IS_OF_MODEL(Bulb, '${dtmi('LightBulb')}')`, 'Bulb');
    expect(bulbs).toEqual(idsOf(targets('building-0').flatMap((f) => targets(f.id)).flatMap((room) => targets(room.id)).flatMap((p) => targets(p.id))));

    expect(await ids("SELECT Room FROM DIGITALTWINS MATCH (Tech)-[]-(Room) WHERE Tech.$dtId = 'tech-2'", 'Room')).toEqual(rels.filter((x) => x.target === 'tech-2').map((x) => x.source).sort());
    expect(await ids("SELECT Floor FROM DIGITALTWINS MATCH (Room)<-[:contains]-(Floor) WHERE Room.$dtId = 'room-13'", 'Floor')).toEqual(['floor-0-2']);
  });

  it('queries relationships directly', async () => {
    const fromRoom = await query("SELECT * FROM RELATIONSHIPS R WHERE R.$sourceId = 'room-3'");
    expect(fromRoom.map((x) => x.$relationshipId).sort()).toEqual(out('room-3').map((x) => x.id).sort());
    expect(await query("SELECT COUNT() FROM RELATIONSHIPS WHERE $relationshipName = 'servicedBy' AND reportedCondition = 'dirty'")).toEqual([{ COUNT: rels.filter((x) => x.props.reportedCondition === 'dirty').length }]);
  });

  it('uses string functions, IN and NIN, OR and NOT with three-valued logic', async () => {
    expect(await ids("SELECT * FROM DIGITALTWINS T WHERE STARTSWITH(T.$dtId, 'floor-1')")).toEqual(idsOf(twins.filter((t) => t.id.startsWith('floor-1'))));
    expect(await ids("SELECT * FROM DIGITALTWINS T WHERE ENDSWITH(T.name, ' 1') AND CONTAINS(T.$dtId, 'o')")).toEqual(idsOf(twins.filter((t) => String(t.props.name ?? '').endsWith(' 1') && t.id.includes('o'))));
    expect(await ids("SELECT * FROM DIGITALTWINS WHERE Location IN ['Paris', 'Tokyo']")).toEqual(idsOf(twins.filter((t) => ['Paris', 'Tokyo'].includes(t.props.Location))));
    // A room with no Location is neither in nor out of the list.
    expect(await ids(`SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('${dtmi('Room')}') AND Location NIN ['Paris']`)).toEqual(idsOf(of('Room').filter((t) => t.props.Location !== undefined && t.props.Location !== 'Paris')));
    expect(await ids(`SELECT * FROM DIGITALTWINS R WHERE IS_OF_MODEL(R, '${dtmi('Room')}') AND (R.Temperature > 80 OR NOT IS_DEFINED(R.Humidity))`)).toEqual(
      idsOf(of('Room').filter((t) => t.props.Temperature > 80 || t.props.Humidity === undefined)),
    );
    expect(await ids(`SELECT * FROM DIGITALTWINS R WHERE IS_OF_MODEL(R, '${dtmi('Room')}') AND NOT R.Temperature > 70`)).toEqual(idsOf(of('Room').filter((t) => t.props.Temperature !== undefined && !(t.props.Temperature > 70))));
  });

  it('checks types and reads $metadata', async () => {
    expect(await ids('SELECT * FROM DIGITALTWINS WHERE IS_BOOL(isOn) AND isOn = false')).toEqual(idsOf(of('LightBulb').filter((t) => !t.props.isOn)));
    expect(await ids('SELECT * FROM DIGITALTWINS WHERE IS_STRING(Location)')).toEqual(idsOf(twins.filter((t) => typeof t.props.Location === 'string')));
    expect(await ids('SELECT * FROM DIGITALTWINS WHERE IS_OBJECT(tags)')).toEqual(idsOf(twins.filter((t) => t.props.tags)));
    expect(await ids('SELECT * FROM DIGITALTWINS WHERE IS_PRIMITIVE(tags)')).toEqual([]);
    expect(await ids(`SELECT * FROM DIGITALTWINS T WHERE T.$metadata.$model = '${dtmi('Thermostat')}'`)).toEqual(idsOf(of('Thermostat')));
    expect(await ids("SELECT * FROM DIGITALTWINS T WHERE T.$metadata.Humidity.lastUpdateTime > '2000-01-01T00:00:00Z'")).toEqual(idsOf(twins.filter((t) => t.props.Humidity !== undefined)));
  });
});

describe('queries ADT refuses', () => {
  const refused: [string, RegExp][] = [
    ['SELECT * FROM DIGITALTWINS WHERE', /expected/],
    ["SELECT T, CT FROM DIGITALTWINS T JOIN CT RELATED T.contains WHERE CT.Temperature > 3", /must pin its source or target twins by id/],
    ["SELECT B FROM DIGITALTWINS MATCH (B)-[:hasFloor]->(F) WHERE F.name = 'x'", /must pin at least one twin by id/],
    [`SELECT * FROM DIGITALTWINS WHERE $dtId IN [${Array.from({ length: 51 }, (_, i) => `'t${i}'`).join(', ')}]`, /at most 50/],
    [`SELECT * FROM DIGITALTWINS WHERE ${Array.from({ length: 52 }, (_, i) => `Temperature = ${i}`).join(' OR ')}`, /51 AND\/OR terms; at most 50/],
    [`SELECT * FROM DIGITALTWINS A ${Array.from({ length: 6 }, (_, i) => `JOIN J${i} RELATED ${i ? `J${i - 1}` : 'A'}.contains`).join(' ')} WHERE A.$dtId = 'room-1'`, /at most 5/],
    ['SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL(42)', /IS_OF_MODEL needs a model id/],
    ['SELECT TOP(2) COUNT() FROM DIGITALTWINS', /cannot be combined/],
    ["SELECT * FROM DIGITALTWINS WHERE NO_SUCH_FN(name)", /unknown function NO_SUCH_FN/],
    ["SELECT * FROM DIGITALTWINS WHERE name = 'unterminated", /unterminated string/],
    ['SELECT * FROM DIGITALTWINS WHERE name = @p', /query parameters/],
  ];
  it.each(refused)('%s', async (q, problem) => {
    await expect(query(q)).rejects.toMatchObject({ statusCode: 400, message: expect.stringMatching(problem) });
  });

  it('accepts queries right at the limits', async () => {
    expect(await query(`SELECT * FROM DIGITALTWINS WHERE ${Array.from({ length: 51 }, (_, i) => `Temperature = ${i + 60}`).join(' OR ')}`)).not.toHaveLength(0);
    expect(await query(`SELECT * FROM DIGITALTWINS WHERE $dtId IN [${Array.from({ length: 50 }, (_, i) => `'room-${i}'`).join(', ')}]`)).toHaveLength(40);
  });
});
