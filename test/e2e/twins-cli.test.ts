/**
 * `npm run twins`: the everyday tasks against a running local stack, through the same SDKs as in
 * Azure (@azure/digital-twins-core, azure-iothub); every command has --help; mistakes are said
 * plainly with a non-zero exit.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { COMMANDS, twinsCli } from '../../src/cli/twins.ts';
import { projectRoot } from '../../src/lib/paths.ts';
import { startTestStack, type TestStack } from '../support/local-stack.ts';

let stack: TestStack;
const saved = { ...process.env };

/** Runs the CLI in this process, capturing what it prints. */
async function twins(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((stdout += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => ((stderr += String(c)), true));
  try {
    const code = await twinsCli(args);
    return { code, stdout, stderr };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

beforeAll(async () => {
  stack = await startTestStack('cli');
  Object.assign(process.env, {
    DIGITAL_TWINS_URL: stack.adt.url,
    DIGITAL_TWINS_CA_FILE: stack.adt.caFile,
    DIGITAL_TWINS_TOKEN: 'cli',
    IOTHUB_CONNECTION_STRING: stack.hub.registry.serviceConnectionString(stack.hub.hostName),
    IOTHUB_CA_FILE: stack.hub.caFile,
  });
});

afterAll(async () => {
  process.env = saved;
  await stack?.close();
});

describe('npm run twins', () => {
  it('lists the models, validates dtdl/, and uploads only what is missing', async () => {
    expect((await twins('models', 'list')).stdout).toContain('dtmi:manufacturing:RoboticArm;1');
    expect((await twins('models', 'validate')).stdout).toMatch(/^\d+ interfaces valid/);
    expect((await twins('models', 'upload')).stdout).toMatch(/uploaded 0 model\(s\); \d+ already there/);
  });

  it('lists twins of a model and shows one', async () => {
    const list = await twins('twins', 'list', '--model', 'dtmi:manufacturing:Conveyor;1');
    expect(list.stdout).toContain('conveyor-001');
    expect(list.stdout).not.toContain('robotic-arm-001');
    expect(JSON.parse((await twins('twins', 'get', 'robotic-arm-001')).stdout).$dtId).toBe('robotic-arm-001');
    const missing = await twins('twins', 'get', 'nobody');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/twins twins: \(404/);
  });

  it('runs a query as a table or as JSON lines, and reports a bad query', async () => {
    const q = "SELECT L.$dtId FROM DIGITALTWINS L WHERE IS_OF_MODEL(L, 'dtmi:manufacturing:ProductionLine;1')";
    expect((await twins('query', q)).stdout.split('\n').slice(2).filter(Boolean).sort()).toEqual(['production-line-a', 'production-line-b']);
    expect((await twins('query', '--json', q)).stdout.trim().split('\n').map((l) => JSON.parse(l).$dtId).sort()).toEqual(['production-line-a', 'production-line-b']);
    const bad = await twins('query', 'SELECT FROM nowhere');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/twins query: \(400/);
  });

  it('adds, shows, lists and removes a device identity through azure-iothub', async () => {
    expect((await twins('devices', 'add', 'press-007')).stdout).toContain('added press-007');
    expect((await twins('devices', 'list')).stdout).toContain('press-007');
    expect((await twins('devices', 'show', 'press-007')).stdout).toMatch(/press-007\s+enabled/);
    expect((await twins('devices', 'remove', 'press-007')).stdout).toContain('removed press-007');
    expect((await twins('devices', 'show', 'press-007')).code).toBe(1);
    expect((await twins('devices', 'show')).code).toBe(2);
  });

  it('has --help on every command, and says so for an unknown one', async () => {
    for (const name of Object.keys(COMMANDS).filter((n) => COMMANDS[n]!.usage)) {
      const h = await twins(name, '--help');
      expect(h.code, name).toBe(0);
      expect(h.stdout, name).toMatch(/^usage: twins /);
    }
    // A name every object inherits is no command either.
    for (const name of ['frobnicate', 'toString', 'constructor', '__proto__']) {
      const unknown = await twins(name);
      expect(unknown.code, name).toBe(2);
      expect(unknown.stderr, name).toContain(`no command '${name}'`);
    }
  });

  it('passes the long-running commands through to their own entry points, help included', async () => {
    const run = promisify(execFile);
    for (const name of ['simulate', 'train', 'score', 'backtest']) {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', join(projectRoot(), 'src/cli/twins.ts'), name, '--help'], { cwd: projectRoot() });
      expect(stdout, name).toMatch(/^usage: npm run /);
    }
  }, 60_000);

  it('is also `npx twins`, the project\'s own bin: a query against the stack and a long-running tool', async () => {
    const npx = (...args: string[]) =>
      promisify(execFile)('npx', ['--no-install', 'twins', ...args], { cwd: projectRoot(), env: process.env });
    const rows = (await npx('query', '--json', "SELECT T.$dtId FROM DIGITALTWINS T WHERE T.$dtId = 'production-line-a'")).stdout;
    expect(rows.trim().split('\n').map((l) => JSON.parse(l).$dtId)).toEqual(['production-line-a']);
    expect((await npx('score', '--help')).stdout).toMatch(/^usage: npm run score/);
    await expect(npx('frobnicate')).rejects.toMatchObject({ code: 2 });
  }, 60_000);
});
