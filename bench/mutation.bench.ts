/**
 * npm run bench:mutation
 * Stryker over the modules that keep the product's promises (stryker.config.mjs), incremental, so
 * a rerun tries only mutants whose code or tests changed. Prints what survives, file by file, and
 * the score. Equivalent mutants are argued in docs/mutation-testing.md.
 */
import { Stryker } from '@stryker-mutator/core';
import type { MutantResult } from '@stryker-mutator/api/core';
// @ts-expect-error: the Stryker config is plain JavaScript (read by Stryker itself).
import config from '../stryker.config.mjs';

const all: MutantResult[] = await new Stryker({ configFile: 'stryker.config.mjs' }).runMutationTest();
// An incremental run also reports mutants from its previous report that now lie outside the
// configured ranges (a range narrowed since): the score is over what is configured now.
const ranges = ((config as { mutate: string[] }).mutate).map((entry) => {
  const m = /^(.*?)(?::(\d+)-(\d+))?$/.exec(entry)!;
  return { file: m[1]!, from: m[2] ? Number(m[2]) : 1, to: m[3] ? Number(m[3]) : Infinity };
});
const results = all.filter((r) => ranges.some((g) => r.fileName.endsWith(g.file) && r.location.start.line >= g.from && r.location.start.line <= g.to));

const count = (status: MutantResult['status']) => results.filter((r) => r.status === status).length;
const byFile = new Map<string, MutantResult[]>();
for (const r of results) byFile.set(r.fileName, [...(byFile.get(r.fileName) ?? []), r]);
const rel = (f: string) => f.slice(f.indexOf('src/'));
for (const [file, rs] of [...byFile].sort()) {
  const detected = rs.filter((r) => r.status === 'Killed' || r.status === 'Timeout').length;
  const valid = rs.filter((r) => r.status !== 'CompileError' && r.status !== 'RuntimeError' && r.status !== 'Ignored').length;
  process.stdout.write(`${rel(file)} score=${valid ? ((100 * detected) / valid).toFixed(1) : 'n/a'}% mutants=${valid}\n`);
  for (const r of rs) {
    if (r.status !== 'Survived' && r.status !== 'NoCoverage') continue;
    process.stdout.write(`  ${r.status === 'Survived' ? 'survived' : 'no_coverage'} ${rel(file)}:${r.location.start.line} ${r.mutatorName}: ${(r.replacement ?? '').replace(/\s+/g, ' ').slice(0, 100)}\n`);
  }
}
const killed = count('Killed');
const timeout = count('Timeout');
const survived = count('Survived');
const noCoverage = count('NoCoverage');
const score = (100 * (killed + timeout)) / Math.max(1, killed + timeout + survived + noCoverage);
process.stdout.write(`mutation score=${score.toFixed(2)}% killed=${killed} survived=${survived} timeout=${timeout} no_coverage=${noCoverage}\n`);
