/**
 * azd's post-provision hook, run the way azd runs it (a child process reading its settings from
 * the environment) against the local ADT emulator and the local IoT Hub: the plant appears in
 * Digital Twins and the hub's registry, a second run creates nothing, and bad settings fail
 * with a message naming the setting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startAdtEmulator, type AdtEmulator } from '../../src/emulators/adt/server.ts';
import { startIotHub, type IotHub } from '../../src/emulators/iothub/server.ts';
import { EventLog } from '../../src/emulators/event-log/event-log.ts';
import { digitalTwinsClient, StaticTokenCredential } from '../../src/lib/twins/adt-twins.ts';
import { iotHubRegistry } from '../../src/lib/commands/iothub-service.ts';
import { DEFAULT_PLANT } from '../../src/lib/plant/plant.ts';
import { readModelDocuments } from '../../src/lib/dtdl/index.ts';
import { postProvision as seed } from '../../scripts/post-provision.ts';
import { seedPlant } from '../../src/lib/plant/seed-plant.ts';

const run = promisify(execFile);
let dir: string;
let adt: AdtEmulator;
let hub: IotHub;
let log: EventLog;
let env: Record<string, string>;

async function postProvision(extraEnv: Record<string, string> = {}, args: string[] = []) {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'scripts/post-provision.ts', ...args], { env: { PATH: process.env.PATH!, ...env, ...extraEnv }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'post-provision-'));
  adt = await startAdtEmulator({ memory: true, token: 'provision-token', port: 0 });
  log = EventLog.open(join(dir, 'log'), { partitions: 2 });
  hub = await startIotHub({ memory: true, port: 0, endpoints: { events: log } });
  writeFileSync(join(dir, 'adt-ca.pem'), adt.caPem);
  writeFileSync(join(dir, 'hub-ca.pem'), hub.caPem);
  env = {
    DIGITAL_TWINS_URL: adt.url,
    DIGITAL_TWINS_TOKEN: 'provision-token',
    DIGITAL_TWINS_CA_FILE: join(dir, 'adt-ca.pem'),
    IOTHUB_CONNECTION_STRING: hub.registry.serviceConnectionString(hub.hostName),
    IOTHUB_CA_FILE: join(dir, 'hub-ca.pem'),
  };
});

afterAll(async () => {
  await hub?.close();
  await adt?.close();
  log?.close();
  rmSync(dir, { recursive: true, force: true });
});

const settingsFor = (other: AdtEmulator) => ({ DIGITAL_TWINS_URL: other.url, IOTHUB_CONNECTION_STRING: env.IOTHUB_CONNECTION_STRING, IOTHUB_CA_FILE: env.IOTHUB_CA_FILE });
const writeCa = (other: AdtEmulator) => {
  const file = join(dir, `adt-ca-${other.url.split(':').pop()}.pem`);
  writeFileSync(file, other.caPem);
  return file;
};

describe('post-provision hook', () => {
  it('uploads the models, creates the plant and registers its devices', async () => {
    const first = await postProvision();
    expect(first.stderr).not.toMatch(/error/i);
    expect(first.code).toBe(0);
    const twinCount = 1 + DEFAULT_PLANT.lines.length + DEFAULT_PLANT.equipment.length;
    const relCount = DEFAULT_PLANT.lines.length + DEFAULT_PLANT.equipment.length;
    expect(first.stdout).toContain(`${readModelDocuments().length} models, ${twinCount} twins, ${relCount} relationships, ${DEFAULT_PLANT.equipment.length} devices created`);

    const client = digitalTwinsClient({ endpoint: adt.url, credential: new StaticTokenCredential('provision-token'), caPem: adt.caPem });
    const rows: Record<string, unknown>[] = [];
    for await (const row of client.queryTwins("SELECT line.$dtId AS line, eq.$dtId AS eq FROM DIGITALTWINS factory JOIN line RELATED factory.contains JOIN eq RELATED line.contains WHERE factory.$dtId = 'factory-01'")) rows.push(row);
    expect(rows.map((r) => r.eq).sort()).toEqual(DEFAULT_PLANT.equipment.map((e) => e.id).sort());

    const registry = iotHubRegistry({ connectionString: env.IOTHUB_CONNECTION_STRING!, caPem: hub.caPem });
    const devices = (await registry.list()).responseBody.map((d) => d.deviceId).sort();
    expect(devices).toEqual(DEFAULT_PLANT.equipment.map((e) => e.id).sort());
  });

  it('is idempotent: a second run creates nothing and keeps live twin values', async () => {
    const client = digitalTwinsClient({ endpoint: adt.url, credential: new StaticTokenCredential('provision-token'), caPem: adt.caPem });
    await client.updateDigitalTwin('robotic-arm-001', [{ op: 'replace', path: '/status', value: 'running' }]);
    const again = await postProvision();
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('0 models, 0 twins, 0 relationships, 0 devices created');
    const arm = (await client.getDigitalTwin('robotic-arm-001')).body as { status: string };
    expect(arm.status).toBe('running');
  });

  it('adds a simulated fleet on request', async () => {
    const fleet = await postProvision({}, ['--fleet', '3']);
    expect(fleet.code).toBe(0);
    expect(fleet.stdout).toMatch(/ 3 devices created/);
  });

  it('refuses bad settings with a message naming them', async () => {
    const missing = await postProvision({ DIGITAL_TWINS_URL: '', IOTHUB_CONNECTION_STRING: '' });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('DIGITAL_TWINS_URL');
    expect(missing.stderr).toContain('IOTHUB_HOSTNAME');
    const badFleet = await postProvision({}, ['--fleet', 'many']);
    expect(badFleet.code).toBe(1);
    expect(badFleet.stderr).toContain('--fleet must be a whole number');
  });

  it('reports access still refused once its wait is over, naming the roles, having created nothing', async () => {
    const before = adt.graph.counts;
    const denied = await postProvision({ DIGITAL_TWINS_TOKEN: 'wrong', POST_PROVISION_WAIT_SECONDS: '1' });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/access is still refused \(HTTP 401\).*Azure Digital Twins Data Owner.*azd hooks run postprovision/);
    expect(adt.graph.counts).toEqual(before);
  });

  it('refuses, before creating anything, a Digital Twins that holds one of its models as an earlier version wrote it', async () => {
    // An instance seeded before the alarm lifecycle: Equipment;1 without alarmState. Seeding on would
    // leave it so, and every batch's patch of alarmState would fail at run time.
    const older = await startAdtEmulator({ memory: true, token: 'provision-token', port: 0 });
    try {
      const models = readModelDocuments().map((m) => structuredClone(m) as { '@id': string; contents?: { name?: string }[] });
      const equipment = models.find((m) => m['@id'] === 'dtmi:manufacturing:Equipment;1')!;
      equipment.contents = equipment.contents!.filter((c) => c.name !== 'alarmState');
      await older.graph.createModels(models);
      const lines: string[] = [];
      const seeding = seed({ ...settingsFor(older), DIGITAL_TWINS_CA_FILE: writeCa(older) }, { credential: new StaticTokenCredential('provision-token'), logger: { log: (_l, m) => lines.push(m) } });
      await expect(seeding).rejects.toThrow(/holds dtmi:manufacturing:Equipment;1 with a definition other than dtdl\/'s .*cannot change in place.*fresh data folder/);
      expect(older.graph.counts.twins).toBe(0);
    } finally {
      await older.close();
    }
  });

  it('upgrades an instance to new versions of the models: its twins move to them, their values and relationships kept, the old versions decommissioned', async () => {
    const instance = await startAdtEmulator({ memory: true, token: 'provision-token', port: 0 });
    try {
      const client = digitalTwinsClient({ endpoint: instance.url, credential: new StaticTokenCredential('provision-token'), caPem: instance.caPem });
      await seedPlant({ client, models: readModelDocuments(), plant: DEFAULT_PLANT });
      await client.updateDigitalTwin('robotic-arm-001', [{ op: 'add', path: '/status', value: 'running' }, { op: 'add', path: '/alarmState', value: '{"id":"robotic-arm-001|1"}' }]);
      // A twin of ours outside this plant (a fleet's, seeded with --fleet): the new version reads none of the old, so it moves too.
      await client.upsertDigitalTwin('fleet-arm-0001', JSON.stringify({ $metadata: { $model: 'dtmi:manufacturing:RoboticArm;1' }, equipmentId: 'fleet-arm-0001' }));
      // The next version: every model at ;2 (so those extending or targeting Equipment follow it), Equipment with one property more.
      const v2 = JSON.parse(JSON.stringify(readModelDocuments()).replace(/(dtmi:manufacturing:[A-Za-z:]+);1"/g, '$1;2"')) as { '@id': string; contents: object[] }[];
      v2.find((m) => m['@id'] === 'dtmi:manufacturing:Equipment;2')!.contents.push({ '@type': 'Property', name: 'serviceIntervalHours', schema: 'double' });

      const upgrade = await seedPlant({ client, models: v2, plant: DEFAULT_PLANT });
      const twinCount = 1 + DEFAULT_PLANT.lines.length + DEFAULT_PLANT.equipment.length;
      expect(upgrade).toMatchObject({ modelsCreated: v2.length, twinsCreated: 0, twinsMoved: twinCount + 1, modelsDecommissioned: v2.length, relationshipsCreated: 0 });
      expect(((await client.getDigitalTwin('fleet-arm-0001')).body as { $metadata: { $model: string } }).$metadata.$model).toBe('dtmi:manufacturing:RoboticArm;2');
      const arm = (await client.getDigitalTwin('robotic-arm-001')).body as Record<string, unknown> & { $metadata: { $model: string } };
      expect(arm).toMatchObject({ $metadata: { $model: 'dtmi:manufacturing:RoboticArm;2' }, status: 'running', alarmState: '{"id":"robotic-arm-001|1"}' });
      // What the new version added can be written now; the graph is as it was.
      await client.updateDigitalTwin('robotic-arm-001', [{ op: 'add', path: '/serviceIntervalHours', value: 500 }]);
      const rows: Record<string, unknown>[] = [];
      for await (const row of client.queryTwins("SELECT eq.$dtId AS eq FROM DIGITALTWINS line JOIN eq RELATED line.contains WHERE line.$dtId = 'production-line-a' AND IS_OF_MODEL(eq, 'dtmi:manufacturing:Equipment;2')")) rows.push(row);
      expect(rows.map((r) => r.eq).sort()).toEqual(DEFAULT_PLANT.equipment.filter((e) => e.line === 'production-line-a').map((e) => e.id).sort());
      const old = await client.getModel('dtmi:manufacturing:RoboticArm;1');
      expect(old.decommissioned).toBe(true);
      // Seeding again: nothing left to move or decommission.
      expect(await seedPlant({ client, models: v2, plant: DEFAULT_PLANT })).toMatchObject({ modelsCreated: 0, twinsMoved: 0, modelsDecommissioned: 0 });
    } finally {
      await instance.close();
    }
  });

  it('takes its models back in another order of keys and items as the same models', async () => {
    const reordered = await startAdtEmulator({ memory: true, token: 'provision-token', port: 0 });
    try {
      // Every object's keys and every list but @context (whose first item DTDL fixes) the other way round.
      const reverse = (v: unknown): unknown =>
        Array.isArray(v) ? v.map(reverse).reverse() : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, k === '@context' ? x : reverse(x)])) : v;
      await reordered.graph.createModels(readModelDocuments().map(reverse));
      const result = await seed({ ...settingsFor(reordered), DIGITAL_TWINS_CA_FILE: writeCa(reordered) }, { credential: new StaticTokenCredential('provision-token'), logger: { log: () => {} } });
      expect(result.modelsCreated).toBe(0);
      expect(result.twinsCreated).toBe(1 + DEFAULT_PLANT.lines.length + DEFAULT_PLANT.equipment.length);
    } finally {
      await reordered.close();
    }
  });

  it('waits, with backoff, while its roles are still applying, then seeds', async () => {
    // Refused three times (as while Azure RBAC propagates), then let in. The token expires at once,
    // so the SDK asks for one per request and the emulator's answer can change between attempts.
    let calls = 0;
    const credential = { getToken: async () => ({ token: ++calls <= 3 ? 'not-yet' : 'provision-token', expiresOnTimestamp: Date.now() }) };
    const waits: number[] = [];
    const lines: string[] = [];
    const result = await seed(
      { DIGITAL_TWINS_URL: adt.url, DIGITAL_TWINS_CA_FILE: env.DIGITAL_TWINS_CA_FILE, IOTHUB_CONNECTION_STRING: env.IOTHUB_CONNECTION_STRING, IOTHUB_CA_FILE: env.IOTHUB_CA_FILE },
      { credential, logger: { log: (_l, m) => lines.push(m) }, accessWait: { maxWaitMs: 60_000, firstDelayMs: 100, maxDelayMs: 250, sleep: async (ms) => void waits.push(ms) } },
    );
    expect(result).toMatchObject({ modelsCreated: expect.any(Number) });
    expect(adt.graph.twin('factory-01')).toBeDefined();
    expect(waits).toEqual([100, 200, 250]);
    expect(lines.filter((l) => /access refused \(HTTP 401\): waiting/.test(l))).toHaveLength(3);
  });
});
