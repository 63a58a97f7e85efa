/**
 * The package `azd deploy` uploads: built as azd builds it (`npm run build`, then `npm run package`,
 * which stages every file the .funcignore leaves in with a production package.json), then built
 * remotely as the platform's Oryx build does it (`npm install`, then `npm run build` when the
 * manifest has a build script), and every function module loaded from it with @azure/functions.
 * The registrations must be what the code declares, and nothing in that graph may load a native
 * binary, an emulator or the local stack.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageFiles, productionManifest, stagePackage } from '../../scripts/function-package.ts';
import { describeRegistration, sourceRegistrations, type Registration } from '../support/function-registrations.ts';

const root = new URL('../../', import.meta.url).pathname;
const LOCAL_ONLY = /\/dist\/src\/(emulators|local|simulator|cli)\/|\/node_modules\/(better-sqlite3|@duckdb|aedes|node-forge|azure-iot-device|mqtt)\//;

/** Oryx's Node build, as its documentation gives it: `npm install` without flags, then the build script if there is one. */
function oryxBuild(dir: string): { ranBuild: boolean } {
  // --prefer-offline, --no-audit and --no-fund change where packages come from and what is printed, not what is installed.
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, stdio: 'pipe', timeout: 300_000 });
  const scripts = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
  if (Object.hasOwn(scripts, 'build')) execFileSync('npm', ['run', 'build'], { cwd: dir, stdio: 'pipe', timeout: 300_000 });
  return { ranBuild: Object.hasOwn(scripts, 'build') };
}

describe('the deployment package', () => {
  let stage: string;
  let files: string[];
  let loaded: { registrations: Registration[]; hooks: string[]; esm: string[]; cjs: string[]; natives: string[] };
  let remote: { ranBuild: boolean };

  beforeAll(() => {
    rmSync(join(root, 'dist'), { recursive: true, force: true });
    execFileSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'pipe' });
    stage = mkdtempSync(join(tmpdir(), 'function-package-'));
    files = stagePackage(root, stage);
    remote = oryxBuild(stage);
    const out = execFileSync(process.execPath, [join(root, 'test/support/load-functions.mjs'), stage], { cwd: stage, encoding: 'utf8', maxBuffer: 64 * 2 ** 20, timeout: 120_000 });
    loaded = JSON.parse(out) as typeof loaded;
  }, 400_000);
  afterAll(() => stage && rmSync(stage, { recursive: true, force: true }));

  it('holds the compiled functions, the models and the dashboard, and neither sources nor node_modules', () => {
    expect(files).toEqual(expect.arrayContaining(['host.json', 'package.json', 'package-lock.json', 'dist/src/functions/telemetry-ingest.js', 'dist/src/lib/pipeline.js', 'dtdl/equipment.json', 'web/index.html']));
    expect(files.filter((f) => /^(src|test|bench|infra|node_modules|\.data|\.deploy)\//.test(f) || /^dist\/src\/(emulators|local|simulator)\//.test(f))).toEqual([]);
  });

  it('survives the remote build: nothing to compile there, and only what the functions need installed', () => {
    // The project's own build script compiles src/, which the package leaves out: run remotely, it failed the deployment.
    expect(remote.ranBuild).toBe(false);
    const project = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
    const staged = JSON.parse(readFileSync(join(stage, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(staged).toEqual(productionManifest(project));
    expect(staged).toMatchObject({ name: project.name, main: project.main, type: 'module', dependencies: project.dependencies });
    expect(staged).not.toHaveProperty('devDependencies');
    for (const dev of ['typescript', 'azurite', 'better-sqlite3', '@duckdb/node-api', 'vitest']) expect(existsSync(join(stage, 'node_modules', dev)), dev).toBe(false);
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

  it('the project\'s file keeps the compiled functions and leaves out sources and node_modules', () => {
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
