/**
 * npm run score -- [--in] FILE.csv [--out OUT.csv[.gz]] [--group-by deviceId] [--time COLUMN] [--dates day-first|month-first] [--ignore a,b] [--plant]
 * Runs the streaming detector over a CSV (a timestamp column and numeric columns) and writes
 * the same rows with an `anomaly_score` column. With --out, the output appears only when scoring
 * succeeded; without it the rows go to stdout as they are scored.
 */
import { createReadStream, createWriteStream, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { progressBar } from './progress.ts';
import { parseCommandLine } from '../lib/command-line.ts';
import { scoreCsv, type ScoreCsvOptions } from '../lib/anomaly/score-csv.ts';
import { counted } from '../lib/words.ts';

const USAGE = `usage: npm run score -- [--in] FILE.csv [--out OUT.csv] [--group-by COLUMN] [--time COLUMN] [--dates day-first|month-first] [--ignore COLUMN,...] [--plant] [--quiet]

Adds an anomaly_score column in [0,1] to every row of FILE.csv, scoring each row only with the
rows before it. FILE.csv needs a timestamp column (called timestamp, datetime, time, date or ts,
or named with --time: ISO 8601, 31.01.2026 10:00, 01/31/2026 10:00 AM or 31/01/2026 10:00, epoch
s/ms, or Excel's serial days (45997.5); without a zone, UTC) and numeric columns; UTF-8 or UTF-16 (Excel's Unicode text), gzipped or
not, told from the bytes. Days written with slashes are read in the order
the first rows show (month first when none tells; --dates says). Comma, semicolon, tab and bar
delimiters are recognised from the header (or Excel's sep= line), a decimal comma where the
delimiter is not a comma, and numbers grouped in thousands (1,234.5 1.234,5 12 345); values that are
not numbers (nor NaN, NA, null, -) are counted by column at the end. A 'status' column is used when present; --group-by scores each value of COLUMN (e.g. a
device id) separately; --ignore leaves columns (labels, say) out of the scoring; --plant applies the
plant's operating envelopes to columns named as its sensors (temperature, pressure, ...: telemetry
exported from this plant). Without --out the scored rows are written to stdout; an OUT ending in
.gz is written gzipped.`;

async function main(): Promise<number> {
  const { values, positionals } = parseCommandLine(USAGE, {
    allowPositionals: true,
    options: { in: { type: 'string' }, out: { type: 'string' }, 'group-by': { type: 'string' }, time: { type: 'string' }, dates: { type: 'string' }, ignore: { type: 'string' }, plant: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const file = values.in ?? positionals[0];
  if (!file || positionals.length > (values.in ? 0 : 1)) {
    console.error(`${file ? 'one input file at a time' : 'the CSV to score is required'}\n\n${USAGE}`);
    return 2;
  }
  if (!existsSync(file)) {
    console.error(`no such file: ${file}`);
    return 2;
  }
  if (values.dates !== undefined && values.dates !== 'day-first' && values.dates !== 'month-first') {
    console.error(`--dates is day-first (31/01/2026) or month-first (01/31/2026), not '${values.dates}'\n\n${USAGE}`);
    return 2;
  }
  const options: ScoreCsvOptions = {
    ...(values.dates ? { dateOrder: values.dates } : {}),
    ...(values['group-by'] ? { groupBy: values['group-by'] } : {}),
    ...(values.time ? { timeColumn: values.time } : {}),
    ...(values.plant ? { plantEnvelopes: true } : {}),
    ...(values.ignore ? { ignore: values.ignore.split(',').map((c) => c.trim()).filter(Boolean) } : {}),
  };
  const toStdout = values.out === undefined || values.out === '-';
  const partial = `${values.out}.partial`;
  const started = performance.now();
  try {
    const input = createReadStream(file);
    const bar = progressBar(`scoring ${file}`, statSync(file).size, { quiet: values.quiet ?? false });
    // Polled: the scorer reads the stream through its async iterator, which a 'data' listener would race.
    const progress = setInterval(() => bar.update(input.bytesRead), 250);
    // OUT.csv.gz is written gzipped, as an archived log is kept.
    const target = toStdout ? undefined : createWriteStream(partial);
    const gzip = target && values.out!.endsWith('.gz') ? createGzip() : undefined;
    const written = gzip ? pipeline(gzip, target!) : undefined;
    written?.catch(() => {}); // scoring's own failure is what is reported
    const result = await scoreCsv(input, gzip ?? target ?? process.stdout, options).finally(() => clearInterval(progress));
    await written;
    bar.finish();
    if (!toStdout) renameSync(partial, values.out!);
    const seconds = (performance.now() - started) / 1000;
    const read = `times from '${result.timeColumn}'${result.delimiter === ',' ? '' : `, delimiter ${JSON.stringify(result.delimiter)}`}`;
    console.error(`scored ${result.scored} of ${result.rows} rows (columns: ${result.numericColumns.join(', ')}; ${read}) in ${seconds.toFixed(1)} s → ${toStdout ? 'stdout' : values.out}`);
    if (result.binaryColumns.length) {
      const one = result.binaryColumns.length === 1;
      console.error(`${one ? 'column' : 'columns'} ${result.binaryColumns.join(', ')} held only 0 and 1 and ${one ? 'was' : 'were'} scored as readings; if ${one ? 'it is a label' : 'they are labels'}, leave ${one ? 'it' : 'them'} out with --ignore ${result.binaryColumns.join(',')}`);
    }
    if (result.excelSerialTimes) console.error("times read as Excel's serial days (days since 1899-12-30, the time of day as the fraction): the time column holds dates formatted as numbers");
    const slash = result.slashDates;
    if (slash) console.error(`days written with slashes read ${slash.order === 'day-first' ? 'day first (01/02 is 1 February)' : 'month first (01/02 is 2 January)'}${slash.from === 'option' ? '' : slash.from === 'data' ? ', as the first rows show' : `: the first rows do not tell; --dates ${slash.order === 'day-first' ? 'month-first' : 'day-first'} if they are not`}`);
    for (const u of result.unreadValues) console.error(`column ${u.column}: ${counted(u.count, 'value')} not read as numbers and left out of their rows' scores, e.g. line ${u.line}: ${JSON.stringify(u.text)}`);
    if (result.unreadableCount) console.error(`${counted(result.unreadableCount, 'row')} with an unreadable timestamp kept without a score, e.g. lines ${result.unreadable.join(', ')}`);
    if (slash?.otherOrder) console.error(`${slash.otherOrder} of them would be read ${slash.order === 'day-first' ? 'month first: --dates month-first' : 'day first: --dates day-first'}`);
    return 0;
  } catch (error) {
    // The reader of stdout stopped reading (`| head`): as for any Unix filter, not an error.
    if (toStdout && (error as NodeJS.ErrnoException).code === 'EPIPE') return 0;
    if (!toStdout) rmSync(partial, { force: true });
    console.error(`score: ${(error as Error).message}`);
    return 1;
  }
}

process.exitCode = await main();
