/**
 * Scores any CSV with the streaming detector: a timestamp column (ISO 8601, days with dots or
 * slashes, or epoch seconds or milliseconds; a time without a zone is read as UTC) and one or more
 * numeric columns; every row is written back unchanged with an `anomaly_score` column in [0, 1]
 * added. Streams, so the file's size does not matter. Files as exported elsewhere are read as they
 * come: the delimiter (comma, semicolon, tab or bar) is taken from the header line or Excel's
 * `sep=` line, a decimal comma is read where the delimiter is not a comma (and thousands grouped as
 * spreadsheets write them), days written with
 * slashes in the order the first rows show, and the timestamp column may be called timestamp,
 * datetime, time, date or ts (or be named with `timeColumn`). Nothing is assumed from the other columns' names unless
 * `plantEnvelopes` says the file is this plant's telemetry. A `status` column, when present, is
 * passed to the detector; with `groupBy` each value of that column (a device id) gets its own
 * detector state; `ignore` leaves columns out of the scoring (labels kept beside the data, say). A
 * row whose timestamp cannot be read is kept, with an empty score, and reported.
 */
import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import { stringify } from 'csv-stringify';
import { AppError } from '../errors.ts';
import { dict } from '../own-properties.ts';
import { csvText } from './csv-text.ts';
import { StreamingDetector } from './streaming-detector.ts';
import { emptyDetectorState, type DetectorState } from './detector-state.ts';
import { dateOrderOf, readTime, type DateOrder } from '../telemetry/time.ts';

export interface ScoreCsvOptions {
  groupBy?: string;
  /** The timestamp column, when it is not one of the names looked for. */
  timeColumn?: string;
  /** Columns not to score (they are still written back). */
  ignore?: readonly string[];
  /**
   * Apply the plant's operating envelopes (src/lib/anomaly/operating-envelopes.ts) to columns named
   * as its sensors are (temperature, pressure, …, in its models' units): for telemetry exported from
   * this plant. Off by default: on any other CSV a column's name says nothing about its limits.
   */
  plantEnvelopes?: boolean;
  /** How days written with slashes are read; by default from the first rows (month first when none tells). */
  dateOrder?: DateOrder;
  detector?: StreamingDetector;
}

export interface ScoreCsvResult {
  rows: number;
  scored: number;
  /** Data lines (1 = the header) whose timestamp could not be read: kept, not scored. */
  unreadable: number[];
  unreadableCount: number;
  numericColumns: string[];
  /** The column the times were read from, and the delimiter the file uses. */
  timeColumn: string;
  delimiter: string;
  /**
   * How days written with slashes were read, when the file has any: told (`option`), seen in the
   * first rows (`data`), or month first because none of them told (`default`). `otherOrder`: rows
   * left unreadable that the other order would have read (31/01/2026 read month first).
   */
  slashDates?: { order: DateOrder; from: 'option' | 'data' | 'default'; otherOrder: number };
  /** Scored columns that held only 0 and 1 (a switch, or labels kept beside the data: worth an --ignore then). */
  binaryColumns: string[];
  /** Whether the time column's numbers were read as Excel's serial days (its first number was one of 2000-2099) rather than epoch seconds or milliseconds; undefined: it held none. */
  excelSerialTimes?: boolean;
  /**
   * Scored columns with fields that are not numbers (nor written as missing: NaN, NA, null, -, …),
   * left out of their rows' scoring: how many, and the first (its line, 1 = the header, and text).
   */
  unreadValues: { column: string; count: number; line: number; text: string }[];
}

/** Names a timestamp column goes by, looked for in this order, case aside. */
const TIME_NAMES = ['timestamp', 'datetime', 'date_time', 'date time', 'time_stamp', 'time', 'date', 'ts'];
/** Candidate delimiters, in the order a tie goes. */
const SNIFF_ORDER = ['\t', ',', ';', '|'];
/** 12,5 or -0,25: a number written with a decimal comma (read only where the delimiter is not a comma). */
const DECIMAL_COMMA = /^[+-]?\d*,\d+$/;
/**
 * Digits grouped in thousands, as a spreadsheet writes a formatted cell: 1,234,567.5 (commas), 1.234,5
 * (dots, a decimal comma), 12 345,5 (a space or Excel's no-break spaces) and 12'345.5 (Swiss). A
 * lone 1.234 or 1,234 is not read as grouped: it is a decimal number in one convention or the other.
 */
const GROUPED_COMMAS = /^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/;
const GROUPED_DOTS = /^[+-]?\d{1,3}(?:\.\d{3})+,\d+$|^[+-]?\d{1,3}(?:\.\d{3}){2,}$/;
const GROUPED_SPACES = /^[+-]?\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d+)?$/;
const GROUPED_APOSTROPHES = /^[+-]?\d{1,3}(?:['\u2019]\d{3})+(?:\.\d+)?$/;
/** What exports write for a value not there (pandas, R, Excel, SQL): missing, not unreadable. */
const MISSING = /^(?:nan|na|n\/a|#n\/a|null|none|nil|-|--|\?)$/i;

/**
 * A field as a number, written as spreadsheets and historians export numbers, or undefined. A decimal
 * comma only where the delimiter is not a comma (there, 1,234 is 1.234; in a comma-delimited file a
 * quoted "1,234" can only be grouped thousands).
 */
export function readNumber(text: string, decimalComma: boolean): number | undefined {
  let value: number;
  if (decimalComma && DECIMAL_COMMA.test(text)) value = Number(text.replace(',', '.'));
  else if (GROUPED_COMMAS.test(text)) value = Number(text.replaceAll(',', ''));
  else if (decimalComma && GROUPED_DOTS.test(text)) value = Number(text.replaceAll('.', '').replace(',', '.'));
  else if (GROUPED_SPACES.test(text)) value = Number(text.replace(/[ \u00a0\u202f]/g, '').replace(',', '.'));
  else if (GROUPED_APOSTROPHES.test(text)) value = Number(text.replace(/['\u2019]/g, ''));
  else value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

/** Excel's first line naming the delimiter (`sep=;`), which it reads and writes. */
const SEP_LINE = /^sep=(.)$/i;
const SLASH_DAY = /^\s*\d{1,2}\/\d{1,2}\/\d{4}/;
/** How much of the file's start is looked at for its delimiter and its order of days. */
const HEAD_BYTES = 65_536;

/**
 * A row written back with its score under the header's `anomaly_score`: a row shorter than the
 * header padded with empty fields, one longer keeping the fields beyond the header after the score.
 */
function withScore(record: readonly string[], columns: number, score: string): string[] {
  const out = record.slice(0, columns);
  while (out.length < columns) out.push('');
  out.push(score);
  for (let i = columns; i < record.length; i++) out.push(record[i]!);
  return out;
}

/** The index of the timestamp column in `header` (trimmed names), or the error that says why there is none. */
function timeColumnOf(header: readonly string[], timeColumn: string | undefined): number | AppError {
  if (timeColumn !== undefined) {
    const i = header.indexOf(timeColumn);
    return i >= 0 ? i : new AppError('csv.noTimeColumn', `--time '${timeColumn}' is not a column; the header is: ${header.join(', ')}`, { status: 400 });
  }
  const lower = header.map((h) => h.toLowerCase());
  for (const name of TIME_NAMES) if (lower.includes(name)) return lower.indexOf(name);
  return new AppError('csv.noTimestamp', `the CSV needs a timestamp column (called timestamp, datetime, time, date or ts, or named with --time); its header is: ${header.join(', ')}`, { status: 400 });
}

/** The order of slash-written days told by the time column of the complete lines of `head` (the file's first chunk), if any tells. */
function dateOrderOfHead(lines: readonly string[], delimiter: string, timeColumn: string | undefined): DateOrder | undefined {
  try {
    const rows = parseSync(lines.join('\n'), { delimiter, relax_column_count: true, skip_empty_lines: true }) as string[][];
    const index = rows[0] ? timeColumnOf(rows[0].map((h) => h.trim()), timeColumn) : -1;
    return typeof index === 'number' && index >= 0 ? dateOrderOf(rows.slice(1).map((r) => r[index] ?? '')) : undefined;
  } catch {
    return undefined; // a quote left open by the chunk's end, say: the rows will tell the parser what is wrong
  }
}

/** The farthest from 1970 a Date reaches, in ms either way. */
const MAX_TIME = 8.64e15;

/**
 * How a spreadsheet stores a date: days since 1899-12-30, the time of day as the fraction. Excel
 * writes them so to a CSV when the time column is formatted as a number. 36526 to 73050 are the
 * years 2000 to 2099, which as epoch seconds would be the first hours of 1970: no log's time.
 */
const EXCEL_EPOCH_DAYS = 25_569;
const isExcelSerial = (n: number) => n >= 36_526 && n < 73_051;
const NUMBER = /^-?\d+(\.\d+)?$/;

/**
 * ISO 8601 (no zone: UTC; a day that does not exist: none), days with dots or slashes, another form
 * with readTime, or a number: epoch seconds or milliseconds (told apart by size), or with `excel`
 * Excel's serial days.
 */
export function parseTimestamp(text: string, order?: DateOrder, excel = false): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  if (NUMBER.test(t)) {
    const n = Number(t);
    if (excel) return isExcelSerial(n) ? Math.round((n - EXCEL_EPOCH_DAYS) * 86_400_000) : undefined;
    const ms = Math.abs(n) < 1e11 ? n * 1000 : n;
    // Beyond it a number is not a time: it has no hour of the day for the daily profile.
    return Math.abs(ms) <= MAX_TIME ? ms : undefined;
  }
  return readTime(t, order);
}

/** How often `delimiter` occurs in `line` outside quotes. */
function countOutsideQuotes(line: string, delimiter: string): number {
  let count = 0;
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === delimiter) count++;
  }
  return count;
}

/** Whether `headerLine`, split at `delimiter`, has a time column (named, or one of TIME_NAMES). */
function hasTimeColumn(headerLine: string, delimiter: string, timeColumn: string | undefined): boolean {
  try {
    const [names] = parseSync(headerLine, { delimiter, relax_quotes: true }) as string[][];
    return names !== undefined && typeof timeColumnOf(names.map((h) => h.trim()), timeColumn) === 'number';
  } catch {
    return false;
  }
}

/**
 * The delimiter of a CSV from its header line and the data lines after it: of the candidates in the
 * header (outside quotes), the one found as often on most data lines, then the one under which the
 * header has its time column, then the one found most often in the header. A tie goes to a tab (no
 * one types a tab into a column name), then a comma. A name may hold another candidate ("Druck, bar"
 * in a semicolon file, "a;b" in a comma file), which the header alone cannot tell from a delimiter:
 * the data lines usually can, and where decimal commas make those agree too, the time column does.
 */
export function sniffDelimiter(headerLine: string, dataLines: readonly string[] = [], timeColumn?: string): string {
  let best = ',';
  let bestRank = -1;
  for (const d of SNIFF_ORDER) {
    const count = countOutsideQuotes(headerLine, d);
    if (count === 0) continue;
    let agree = 0;
    for (const line of dataLines) if (line !== '' && countOutsideQuotes(line, d) === count) agree++;
    // In that order of weight: a header within the 64 KB head has fewer than 1e5 of any character.
    const rank = agree * 1e6 + (hasTimeColumn(headerLine, d, timeColumn) ? 1e5 : 0) + count;
    if (rank > bestRank) {
      best = d;
      bestRank = rank;
    }
  }
  return best;
}

/** Data lines the delimiter is judged on. */
const SNIFF_LINES = 50;

/**
 * `input` as an async iterable whose first 64 KB have been read already (to sniff the delimiter and
 * the order of days): the chunks come out exactly as they went in. Read up to 64 KB, not one chunk,
 * so that how the bytes were cut (a pipe's small chunks, a header longer than the first) changes nothing.
 */
async function headOf(input: AsyncIterable<unknown>): Promise<{ head: string; chunks: AsyncIterable<unknown> }> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<unknown>;
  const read: unknown[] = [];
  let size = 0;
  let done = false;
  while (size < HEAD_BYTES) {
    const next = await it.next();
    if (next.done) {
      done = true;
      break;
    }
    read.push(next.value);
    size += typeof next.value === 'string' || Buffer.isBuffer(next.value) ? next.value.length : String(next.value).length;
  }
  // Bytes joined before they are decoded: a chunk may end inside a character. At most the first
  // 64 KB either way (a caller may hand the whole file over as one string).
  const head = read.every((c) => Buffer.isBuffer(c))
    ? Buffer.concat(read as Buffer[]).toString('utf8', 0, Math.min(size, HEAD_BYTES))
    : read.map((c) => (Buffer.isBuffer(c) ? c.toString('utf8') : String(c))).join('').slice(0, HEAD_BYTES);
  async function* chunks() {
    try {
      yield* read;
      if (done) return;
      for (let next = await it.next(); !next.done; next = await it.next()) yield next.value;
    } finally {
      // Stopped early (a refused header): the input is closed, not left open.
      await it.return?.();
    }
  }
  return { head, chunks: chunks() };
}

export async function scoreCsv(input: Readable, output: Writable, options: ScoreCsvOptions = {}): Promise<ScoreCsvResult> {
  const detector = options.detector ?? (options.plantEnvelopes ? new StreamingDetector() : new StreamingDetector({}, {}));
  const states = new Map<string, DetectorState>();
  const { head, chunks } = await headOf(csvText(input));
  const lines = head.replace(/^\uFEFF/, '').split(/\r?\n/);
  // The last line of the head may be cut short: only whole lines are looked at.
  if (lines.length > 1) lines.pop();
  const sepLine = SEP_LINE.exec(lines[0] ?? '');
  if (sepLine) lines.shift();
  const delimiter = sepLine ? sepLine[1]! : sniffDelimiter(lines[0] ?? '', lines.slice(1, 1 + SNIFF_LINES), options.timeColumn);
  const decimalComma = delimiter !== ',';
  const toldOrder = options.dateOrder;
  const seenOrder = toldOrder ?? dateOrderOfHead(lines, delimiter, options.timeColumn);
  const order: DateOrder = seenOrder ?? 'month-first';
  const other: DateOrder = order === 'day-first' ? 'month-first' : 'day-first';
  const result: ScoreCsvResult = { rows: 0, scored: 0, unreadable: [], unreadableCount: 0, numericColumns: [], timeColumn: '', delimiter, binaryColumns: [], unreadValues: [] };
  let skip: boolean[] = [];
  const numeric = new Set<string>();
  /** Numeric columns seen with a value other than 0 or 1. */
  const notBinary = new Set<string>();
  let header: string[] | undefined;
  let timeIndex = -1;
  let statusIndex = -1;
  let groupIndex = -1;
  /** By column: fields neither a number nor written as missing, and the first of them. */
  const unread: ({ count: number; line: number; text: string } | undefined)[] = [];

  const score = new Transform({
    objectMode: true,
    transform(record: string[], _enc, done) {
      if (!header) {
        header = record.map((h) => h.trim());
        const lower = header.map((h) => h.toLowerCase());
        const found = timeColumnOf(header, options.timeColumn);
        if (found instanceof AppError) return done(found);
        timeIndex = found;
        result.timeColumn = header[timeIndex]!;
        for (const name of options.ignore ?? []) {
          if (!header.includes(name)) return done(new AppError('csv.noIgnoredColumn', `--ignore '${name}' is not a column; the header is: ${header.join(', ')}`, { status: 400 }));
        }
        skip = header.map((h) => options.ignore?.includes(h) ?? false);
        if (header.includes('anomaly_score')) return done(new AppError('csv.alreadyScored', "the CSV already has an 'anomaly_score' column", { status: 400 }));
        statusIndex = lower.indexOf('status');
        if (options.groupBy !== undefined) {
          groupIndex = header.indexOf(options.groupBy);
          if (groupIndex < 0) return done(new AppError('csv.noGroupColumn', `--group-by '${options.groupBy}' is not a column; the header is: ${header.join(', ')}`, { status: 400 }));
        }
        return done(null, [...record, 'anomaly_score']);
      }
      result.rows++;
      const text = record[timeIndex] ?? '';
      // The first number in the time column says whether the file's numbers are Excel's serial days.
      if (result.excelSerialTimes === undefined && NUMBER.test(text.trim())) result.excelSerialTimes = isExcelSerial(Number(text));
      const time = parseTimestamp(text, order, result.excelSerialTimes);
      // Asked once per row at most, and only while it can still matter: before the first slash date, or of an unreadable row.
      const slashed = (!result.slashDates || time === undefined) && SLASH_DAY.test(text);
      if (slashed) result.slashDates ??= { order, from: toldOrder ? 'option' : seenOrder ? 'data' : 'default', otherOrder: 0 };
      if (time === undefined) {
        if (slashed && parseTimestamp(text, other) !== undefined) result.slashDates!.otherOrder++;
        result.unreadableCount++;
        if (result.unreadable.length < 20) result.unreadable.push(result.rows + 1);
        return done(null, withScore(record, header.length, ''));
      }
      // Null prototype: a column may be called anything, `__proto__` and `constructor` included.
      const features = dict<number | null>();
      for (let i = 0; i < header.length; i++) {
        if (i === timeIndex || i === statusIndex || i === groupIndex || skip[i]) continue;
        const text = (record[i] ?? '').trim();
        if (text === '') continue;
        const value = readNumber(text, decimalComma);
        if (value !== undefined) {
          features[header[i]!] = value;
          numeric.add(header[i]!);
          if (value !== 0 && value !== 1) notBinary.add(header[i]!);
        } else if (!MISSING.test(text)) {
          // Said at the end for the columns that do hold numbers: a value read as missing in silence is a reading lost.
          const seen = (unread[i] ??= { count: 0, line: result.rows + 1, text });
          seen.count++;
        }
      }
      const key = groupIndex >= 0 ? (record[groupIndex] ?? '') : '';
      let state = states.get(key);
      if (!state) states.set(key, (state = emptyDetectorState()));
      const status = statusIndex >= 0 ? record[statusIndex]?.trim() || undefined : undefined;
      const d = detector.step(state, time, features, status);
      result.scored++;
      // Six decimals: a threshold sweep needs distinct scores for distinct evidence.
      done(null, withScore(record, header.length, d.anomalyScore.toFixed(6)));
    },
  });

  // Excel's delimiter line is written back too, so the scored file opens in Excel as the original did.
  if (sepLine) output.write(`sep=${delimiter}\n`);
  await pipeline(chunks, parse({ delimiter, relax_column_count: true, skip_empty_lines: true, bom: true, from_line: sepLine ? 2 : 1 }), score, stringify({ delimiter }), output);
  if (!header) throw new AppError('csv.empty', 'the CSV is empty: it needs a header with a timestamp column', { status: 400 });
  if (result.rows > 0 && numeric.size === 0) throw new AppError('csv.noNumericColumns', 'no column holds numbers: nothing to score', { status: 400 });
  result.numericColumns = [...numeric];
  result.binaryColumns = result.numericColumns.filter((c) => !notBinary.has(c));
  result.unreadValues = unread.flatMap((u, i) => (u && numeric.has(header![i]!) ? [{ column: header![i]!, ...u }] : []));
  return result;
}
