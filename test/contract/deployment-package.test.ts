/**
 * The package `azd deploy` sends: built as azd builds it (npm run build, then every file the
 * .funcignore leaves in, read with .gitignore semantics), production dependencies installed into
 * it as the platform's remote build does, and every function module loaded from it with
 * @azure/functions. The registrations must be what the code declares, and nothing in that graph may
 * load a native binary, an emulator or the local stack.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageFiles, stagePackage } from '../../scripts/function-package.ts';
import { describeRegistration, sourceRegistrations, type Registration } from '../support/function-registrations.ts';

const root = new URL('../../', import.meta.url).pathname;
const LOCAL_ONLY = /\/dist\/src\/(emulators|local|simulator|cli)\/|\/node_modules\/(better-sqlite3|@duckdb|aedes|node-forge|azure-iot-device|mqtt)\//;

describe('the deployment package', () => {
  let stage: string;
  let files: string[];
  let loaded: { registrations: Registration[]; hooks: string[]; esm: string[]; cjs: string[]; natives: string[] };

  beforeAll(() => {
    rmSync(join(root, 'dist'), { recursive: true, force: true });
    execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'pipe' });
    stage = mkdtempSync(join(tmpdir(), 'function-package-'));
    files = stagePackage(root, stage);
    // The platform's remote build: production dependencies only, from the lock file.
    execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: stage, stdio: 'pipe', timeout: 300_000 });
    const out = execFileSync(process.execPath, [join(root, 'test/support/load-functions.mjs'), stage], { cwd: stage, encoding: 'utf8', maxBuffer: 64 * 2 ** 20, timeout: 120_000 });
    loaded = JSON.parse(out) as typeof loaded;
  }, 400_000);
  afterAll(() => stage && rmSync(stage, { recursive: true, force: true }));

  it('holds the compiled functions, the models and the dashboard, and neither sources nor node_modules', () => {
    expect(files).toEqual(expect.arrayContaining(['host.json', 'package.json', 'package-lock.json', 'dist/src/functions/telemetry-ingest.js', 'dist/src/lib/pipeline.js', 'dtdl/equipment.json', 'web/index.html']));
    expect(files.filter((f) => /^(src|test|bench|infra|node_modules|\.data)\//.test(f) || /^dist\/src\/(emulators|local|simulator)\//.test(f))).toEqual([]);
  });

  it('registers, from the installed package, exactly the functions the code declares', async () => {
    const source = await sourceRegistrations();
    expect(loaded.registrations.map(describeRegistration).sort()).toEqual(source.registrations.map(describeRegistration).sort());
    expect(loaded.registrations.length).toBeGreaterThanOrEqual(14);
    expect(loaded.hooks).toEqual(source.hooks);
  });

  it('loads no native binary, no emulator and nothing of the local stack', () => {
    expect(loaded.natives).toEqual([]);
    expect([...loaded.esm, ...loaded.cjs].filter((m) => LOCAL_ONLY.test(m))).toEqual([]);
    // It did load the app's real adapters from the installed dependencies.
    const all = [...loaded.esm, ...loaded.cjs];
    // (The DTDL parser is not among them: it loads on first use, when the host starts the app.)
    for (const dep of ['azure-kusto-data', '@azure/identity', '@azure/digital-twins-core']) expect(all.some((m) => m.includes(`/node_modules/${dep}/`)), dep).toBe(true);
  });
});

describe('.funcignore is read with .gitignore semantics', () => {
  let tree: string;
  const touch = (rel: string) => {
    mkdirSync(dirname(join(tree, rel)), { recursive: true });
    writeFileSync(join(tree, rel), '');
  };
  beforeAll(() => {
    tree = mkdtempSync(join(tmpdir(), 'funcignore-'));
    for (const f of ['dist/src/functions/health.js', 'src/functions/health.ts', 'node_modules/azure-kusto-data/src/index.js', 'test/a.test.ts', 'host.json']) touch(f);
  });
  afterAll(() => rmSync(tree, { recursive: true, force: true }));

  it('the project\'s file keeps the compiled functions and leaves out sources and node_modules', async () => {
    const { readFileSync } = await import('node:fs');
    expect(packageFiles(tree, readFileSync(join(root, '.funcignore'), 'utf8'))).toEqual(['dist/src/functions/health.js', 'host.json']);
  });

  it('an unanchored "src/" would drop every compiled function (the regression this guards)', () => {
    const regressed = 'src/\ntest/\nbin/\n';
    const kept = packageFiles(tree, regressed);
    expect(kept).not.toContain('dist/src/functions/health.js');
    expect(kept).not.toContain('node_modules/azure-kusto-data/src/index.js');
    expect(kept).toContain('host.json');
  });
});
