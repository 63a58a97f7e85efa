/**
 * `npm run score` on any CSV a user may hand it (fast-check, fixed seeds): columns called anything,
 * times readable or not, in order or not, values missing, huge or not numbers at all, rows shorter
 * or longer than the header, the file arriving in chunks of any size. Every row comes back with its
 * own fields, and its score in the header's `anomaly_score` column; a file that cannot be scored is
 * refused with the reason, never with a crash; and how the bytes were cut into chunks changes nothing.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { propertyRuns } from '../support/property-runs.ts';
import { PassThrough, Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { scoreCsv, type ScoreCsvResult } from '../../src/lib/anomaly/score-csv.ts';
import { AppError } from '../../src/lib/errors.ts';

const T0 = Date.UTC(2026, 0, 1);

const columnName = fc.oneof(
  fc.constantFrom('value', 'temperature', 'status', 'device', '__proto__', 'constructor', 'hasOwnProperty', 'a;b', 'p, bar', 'x"y', 'flow rate', 'anomaly_score'),
  fc.string({ maxLength: 6 }),
);
const timeName = fc.constantFrom('timestamp', 'Time', 'datetime', 'ts', 'date', 'when');
const valueCell = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((x) => String(Math.round(x * 1000) / 1000)) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', 'NaN', 'Infinity', '-', '1e400', '-1e300', '1,5', ' 3 ', '0', '1', 'on', '2026-01-01') },
);
/** How a row's time is written: the row's instant in one of the forms read, or something that is not a time. */
const timeForm = fc.constantFrom('iso', 'iso', 'iso', 'epoch-s', 'epoch-ms', 'space', 'slash', 'dots', 'empty', 'junk');

function writeTime(form: string, t: number): string {
  const iso = new Date(t).toISOString();
  const [day, clock] = [iso.slice(0, 10), iso.slice(11, 19)];
  const [y, m, d] = day.split('-');
  switch (form) {
    case 'epoch-s':
      return String(Math.floor(t / 1000));
    case 'epoch-ms':
      return String(t);
    case 'space':
      return `${day} ${clock}`;
    case 'slash':
      return `${m}/${d}/${y} ${clock}`;
    case 'dots':
      return `${d}.${m}.${y} ${clock}`;
    case 'empty':
      return '';
    case 'junk':
      return 'n/a';
    default:
      return iso;
  }
}

const csvFile = fc
  .record({
    timeName,
    timeAt: fc.nat({ max: 3 }),
    columns: fc.array(columnName, { minLength: 1, maxLength: 4 }),
    delimiter: fc.constantFrom(',', ';', '\t'),
    rows: fc.array(
      fc.record({
        // Seconds since the last row: mostly forward, sometimes a repeat or a step back.
        step: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 3_600 }) }, { weight: 1, arbitrary: fc.integer({ min: -7_200, max: 0 }) }),
        form: timeForm,
        values: fc.array(valueCell, { minLength: 5, maxLength: 5 }),
        // Fields more (+) or fewer (−) than the header has.
        ragged: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -2, max: 2 }) }),
      }),
      { maxLength: 160, size: 'max' },
    ),
  })
  .map(({ timeName, timeAt, columns, delimiter, rows }) => {
    const header = [...columns];
    const at = Math.min(timeAt, header.length);
    header.splice(at, 0, timeName);
    let t = T0;
    const records = rows.map(({ step, form, values, ragged }) => {
      t += step * 1000;
      const record = header.map((_, i) => (i === at ? writeTime(form, t) : values[i % values.length]!));
      const length = Math.max(at + 1, 2, record.length + ragged);
      while (record.length < length) record.push(values[record.length % values.length]!);
      return record.slice(0, length);
    });
    const text = stringify([header, ...records], { delimiter });
    return { header, records, delimiter, text };
  });

/** The file cut into chunks at the given points, as strings or as bytes (which may split a character). */
function chunked(text: string, cuts: number[], bytes: boolean): Readable {
  const data = bytes ? Buffer.from(text, 'utf8') : text;
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const pieces: (string | Buffer)[] = [];
  let from = 0;
  for (const p of [...points, data.length]) {
    if (p > from) pieces.push(data.slice(from, p));
    from = p;
  }
  return Readable.from(pieces, { objectMode: false });
}

type Outcome = { ok: true; output: string; result: ScoreCsvResult } | { ok: false; error: unknown };

async function score(input: Readable): Promise<Outcome> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  try {
    const result = await scoreCsv(input, out);
    return { ok: true, output: Buffer.concat(chunks).toString('utf8'), result };
  } catch (error) {
    return { ok: false, error };
  }
}

describe('scoring any CSV', () => {
  it('gives every row back with its own fields and a score in the anomaly_score column, or refuses the file saying why', async () => {
    await fc.assert(
      fc.asyncProperty(csvFile, async ({ header, records, delimiter, text }) => {
        const outcome = await score(Readable.from([text]));
        if (!outcome.ok) {
          // Refused: with the reason (ours, or the CSV parser's on malformed quoting), never a crash.
          const error = outcome.error as Error;
          expect(error instanceof AppError || error.name === 'CsvError', String(error)).toBe(true);
          expect(error.message.length).toBeGreaterThan(10);
          return;
        }
        const { output, result } = outcome;
        const lines = parse(output, { delimiter, relax_column_count: true }) as string[][];
        expect(lines[0]).toEqual([...header, 'anomaly_score']);
        const rows = lines.slice(1);
        expect(rows).toHaveLength(records.length);
        expect(result.rows).toBe(records.length);
        let unscored = 0;
        rows.forEach((row, r) => {
          const record = records[r]!;
          // The row's own fields, where they were (a short row padded with empty ones), the score
          // under the header's anomaly_score, and the fields beyond the header after it.
          const named = Array.from({ length: header.length }, (_, i) => record[i] ?? '');
          expect(row.slice(0, header.length)).toEqual(named);
          expect(row.slice(header.length + 1)).toEqual(record.slice(header.length));
          const cell = row[header.length]!;
          if (cell === '') unscored++;
          else {
            expect(cell).toMatch(/^[01]\.\d{6}$/);
            expect(Number(cell)).toBeLessThanOrEqual(1);
          }
        });
        expect(unscored).toBe(result.unreadableCount);
        expect(result.scored + result.unreadableCount).toBe(records.length);
      }),
      propertyRuns(13, 300),
    );
  });

  it('scores a file the same however its bytes are cut into chunks', async () => {
    await fc.assert(
      fc.asyncProperty(csvFile, fc.array(fc.nat(), { maxLength: 12 }), fc.boolean(), async ({ text }, cuts, bytes) => {
        const whole = await score(Readable.from([text]));
        const pieces = await score(chunked(text, cuts, bytes));
        if (whole.ok && pieces.ok) {
          expect(pieces.output).toBe(whole.output);
          expect(pieces.result).toEqual(whole.result);
        } else {
          expect(pieces.ok).toBe(whole.ok);
          expect(String((pieces as { error: unknown }).error)).toBe(String((whole as { error: unknown }).error));
        }
      }),
      propertyRuns(17, 300),
    );
  });
});
