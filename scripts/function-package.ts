/**
 * The Function App package as azd builds it: every file of the project that `.funcignore` (read
 * with .gitignore semantics, unanchored patterns included) does not leave out. node_modules is
 * left out, so the platform installs production dependencies itself (remote build).
 *
 *   npx tsx scripts/function-package.ts [DEST]   lists the files, or copies them into DEST
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ignore from 'ignore';
import { projectRoot } from '../src/lib/paths.ts';

/** Paths (relative, with /) of the files the package holds. */
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

/** Copies the package's files into `dest`. */
export function stagePackage(root: string, dest: string, funcignore = readFileSync(join(root, '.funcignore'), 'utf8')): string[] {
  const files = packageFiles(root, funcignore);
  for (const f of files) {
    mkdirSync(dirname(join(dest, f)), { recursive: true });
    copyFileSync(join(root, f), join(dest, f));
  }
  return files;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = projectRoot();
  const dest = process.argv[2];
  const files = dest ? stagePackage(root, dest) : packageFiles(root, readFileSync(join(root, '.funcignore'), 'utf8'));
  if (!dest) for (const f of files) process.stdout.write(`${f}\n`);
  process.stderr.write(`${files.length} files${dest ? ` copied to ${dest}` : ''}\n`);
}
