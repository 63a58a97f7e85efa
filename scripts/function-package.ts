/**
 * The Function App package `azd deploy` uploads, staged by `npm run package` (azd runs that script
 * after `npm run build`, and packages the folder azure.yaml's `dist` names).
 *
 * The platform builds the package remotely with Oryx, which runs `npm install` (devDependencies
 * included) and then `npm run build` whenever package.json has a build script. Our own package.json
 * has one (tsc over src/, which the package leaves out), and twenty-odd devDependencies of the local
 * stack and its tests (emulators, DuckDB, Azurite, a mutation tester): uploaded as it is, the remote
 * build would install all of them and then fail on the missing tsconfig. So the package carries a
 * production manifest: the same name, version, entry point, engines and dependencies (the lock file
 * pins them), no scripts and no devDependencies. The remote build then installs what the functions
 * load, on Linux, and compiles nothing: the JavaScript was compiled here.
 *
 *   npx tsx scripts/function-package.ts          lists the files the package takes from the project
 *   npx tsx scripts/function-package.ts DEST     stages the package in DEST (emptied first)
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ignore from 'ignore';
import { projectRoot } from '../src/lib/paths.ts';

/** Paths (relative, with /) of the project's files the package holds: every one `.funcignore` (read with .gitignore semantics) leaves in. */
export function packageFiles(root: string, funcignore: string): string[] {
  const ig = ignore().add(funcignore);
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.name === '.git') continue; // never packaged, whatever the file says
      if (e.isDirectory()) {
        if (!ig.ignores(`${path}/`)) walk(path);
      } else if (e.isFile() && !ig.ignores(path)) out.push(path);
    }
  };
  walk('');
  return out.sort();
}

/** What the deployed app's package.json keeps of the project's: what the host and `npm install` read, nothing that builds or tests. */
const PRODUCTION_FIELDS = ['name', 'version', 'private', 'description', 'type', 'main', 'engines', 'dependencies', 'overrides'] as const;

export function productionManifest(manifest: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of PRODUCTION_FIELDS) if (Object.hasOwn(manifest, field)) out[field] = manifest[field];
  return out;
}

/** The package's own ignore file: azd reads it in the folder it packages (node_modules comes from the remote build). */
const STAGED_FUNCIGNORE = '# Staged by scripts/function-package.ts: the remote build installs node_modules.\n/node_modules/\n/local.settings*.json\n';

/** Stages the deployment package in `dest` (emptied first) and returns its files. */
export function stagePackage(root: string, dest: string, funcignore = readFileSync(join(root, '.funcignore'), 'utf8')): string[] {
  const files = packageFiles(root, funcignore);
  if (!files.some((f) => f.startsWith('dist/src/functions/'))) throw new Error(`nothing compiled in ${join(root, 'dist')}: run npm run build first`);
  rmSync(dest, { recursive: true, force: true });
  for (const f of files) {
    mkdirSync(dirname(join(dest, f)), { recursive: true });
    copyFileSync(join(root, f), join(dest, f));
  }
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dest, 'package.json'), `${JSON.stringify(productionManifest(manifest), null, 2)}\n`);
  writeFileSync(join(dest, '.funcignore'), STAGED_FUNCIGNORE);
  return [...new Set([...files, '.funcignore'])].sort();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = projectRoot();
  const dest = process.argv[2];
  const files = dest ? stagePackage(root, resolve(root, dest)) : packageFiles(root, readFileSync(join(root, '.funcignore'), 'utf8'));
  if (!dest) for (const f of files) process.stdout.write(`${f}\n`);
  process.stderr.write(`${files.length} files${dest ? ` staged in ${dest} (production package.json: no scripts, no devDependencies)` : ''}\n`);
}
