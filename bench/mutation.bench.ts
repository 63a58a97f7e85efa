/**
 * npm run bench:mutation
 * Stryker over the modules that keep the product's promises (stryker.config.mjs), incremental, so
 * a rerun tries only mutants whose code or tests changed. Prints what survives, file by file, and
 * the score. Equivalent mutants are argued in docs/mutation-testing.md.
 */
import { Stryker } from '@stryker-mutator/core';
import type { MutantResult } from '@stryker-mutator/api/core';

const results: MutantResult[] = await new Stryker({ configFile: 'stryker.config.mjs' }).runMutationTest();

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
