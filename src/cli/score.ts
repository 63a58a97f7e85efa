/**
 * npm run score -- --in FILE.csv --out OUT.csv [--group-by deviceId]
 * Runs the streaming detector over a CSV (a `timestamp` column and numeric columns) and writes
 * the same rows with an `anomaly_score` column. The output appears only when scoring succeeded.
 */
import { createReadStream, createWriteStream, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { progressBar } from './progress.ts';
import { parseCommandLine } from '../lib/command-line.ts';
import { scoreCsv } from '../lib/anomaly/score-csv.ts';

const USAGE = `usage: npm run score -- --in FILE.csv --out OUT.csv [--group-by COLUMN] [--quiet]

Adds an anomaly_score column in [0,1] to every row of FILE.csv, scoring each row only with the
rows before it. FILE.csv needs a 'timestamp' column (ISO 8601 or epoch s/ms) and numeric columns;
a 'status' column is used when present; --group-by scores each value of COLUMN (e.g. a device id)
separately.`;

async function main(): Promise<number> {
  const { values } = parseCommandLine(USAGE, { options: { in: { type: 'string' }, out: { type: 'string' }, 'group-by': { type: 'string' }, quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.in || !values.out) {
    console.error(`--in and --out are required\n\n${USAGE}`);
    return 2;
  }
  if (!existsSync(values.in)) {
    console.error(`no such file: ${values.in}`);
    return 2;
  }
  const partial = `${values.out}.partial`;
  const started = performance.now();
  try {
    const input = createReadStream(values.in);
    const bar = progressBar(`scoring ${values.in}`, statSync(values.in).size, { quiet: values.quiet ?? false });
    input.on('data', () => bar.update(input.bytesRead));
    const result = await scoreCsv(input, createWriteStream(partial), values['group-by'] ? { groupBy: values['group-by'] } : {});
    bar.finish();
    renameSync(partial, values.out);
    const seconds = (performance.now() - started) / 1000;
    console.error(`scored ${result.scored} of ${result.rows} rows (columns: ${result.numericColumns.join(', ')}) in ${seconds.toFixed(1)} s → ${values.out}`);
    if (result.unreadableCount) console.error(`${result.unreadableCount} row(s) with an unreadable timestamp kept without a score, e.g. lines ${result.unreadable.join(', ')}`);
    return 0;
  } catch (error) {
    rmSync(partial, { force: true });
    console.error(`score: ${(error as Error).message}`);
    return 1;
  }
}

process.exitCode = await main();
