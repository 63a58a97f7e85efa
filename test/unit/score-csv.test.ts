/**
 * `npm run score`: any CSV with a timestamp column in, the same rows with anomaly_score out.
 */
import { describe, expect, it } from 'vitest';
import { Readable, PassThrough } from 'node:stream';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { propertyRuns } from '../support/property-runs.ts';
import { parseTimestamp, readNumber, scoreCsv, sniffDelimiter, type ScoreCsvOptions } from '../../src/lib/anomaly/score-csv.ts';
import { rng } from '../../src/simulator/scenarios.ts';

async function score(csv: string, options: ScoreCsvOptions = {}) {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const result = await scoreCsv(Readable.from([csv]), out, options);
  const lines = Buffer.concat(chunks).toString('utf8').trimEnd().split('\n');
  return { result, lines };
}

function signal(rows: number, spikeAt: number) {
  const r = rng(11);
  const lines = ['timestamp,temperature,vibration,note'];
  for (let i = 0; i < rows; i++) {
    const t = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();
    const temp = 65 + 2.5 * (r() - 0.5) * 3 + (i === spikeAt ? 30 : 0);
    lines.push(`${t},${temp.toFixed(2)},${(0.5 + 0.1 * (r() - 0.5)).toFixed(3)},"shift A, cell 2"`);
  }
  return `${lines.join('\n')}\n`;
}

describe('scoring a CSV', () => {
  it('keeps every row and column and adds a score in [0,1] that singles out the spike', async () => {
    const { result, lines } = await score(signal(500, 400));
    expect(lines).toHaveLength(501);
    expect(lines[0]).toBe('timestamp,temperature,vibration,note,anomaly_score');
    expect(lines[1]).toMatch(/^2026-01-01T00:00:00.000Z,[\d.]+,[\d.]+,"shift A, cell 2",[\d.]+$/);
    const scores = lines.slice(1).map((l) => Number(l.split(',').at(-1)));
    expect(scores.every((s) => s >= 0 && s <= 1)).toBe(true);
    // The spike (its step up, or back down) is the highest score after the first hour's learning.
    const spike = Math.max(scores[400]!, scores[401]!);
    expect(spike).toBeGreaterThanOrEqual(0.5);
    expect(Math.max(...scores.filter((_, i) => i !== 400 && i !== 401 && i > 60))).toBeLessThan(spike);
    expect(result).toMatchObject({ rows: 500, scored: 500, unreadableCount: 0, numericColumns: ['temperature', 'vibration'] });
  });

  it('scores each device against its own history with --group-by', async () => {
    const rows = ['timestamp,device,flow'];
    for (let i = 0; i < 300; i++) {
      rows.push(`${1767225600 + i * 60},a,${(0.5 + (i % 3) * 0.01).toFixed(2)}`);
      // Device b's flow steps up by five of its own standard deviations at minute 150.
      rows.push(`${1767225600 + i * 60},b,${(5 + (i % 3) * 0.1 + (i >= 150 ? 0.5 : 0)).toFixed(2)}`);
    }
    const last = (lines: string[], device: string) => lines.slice(1).filter((l) => l.split(',')[1] === device).map((l) => Number(l.split(',').at(-1)));
    const grouped = await score(rows.join('\n'), { groupBy: 'device' });
    expect(Math.max(...last(grouped.lines, 'b').slice(150, 200))).toBeGreaterThanOrEqual(0.5);
    expect(Math.max(...last(grouped.lines, 'a').slice(70))).toBeLessThan(0.5);
    expect(Math.max(...last(grouped.lines, 'b').slice(70, 150))).toBeLessThan(0.5);
  });

  it('reads ISO 8601 and epoch seconds or milliseconds, and a time written without a zone as UTC', () => {
    expect(parseTimestamp('2026-01-01T00:00:00Z')).toBe(Date.UTC(2026, 0, 1));
    expect(parseTimestamp('2026-01-01 00:00:00')).toBe(Date.UTC(2026, 0, 1));
    expect(parseTimestamp('2026-01-01T01:30')).toBe(Date.UTC(2026, 0, 1, 1, 30));
    expect(parseTimestamp('2026-01-01 00:00:00.250')).toBe(Date.UTC(2026, 0, 1) + 250);
    expect(parseTimestamp('2026-01-01T02:00:00+02:00')).toBe(Date.UTC(2026, 0, 1));
    expect(parseTimestamp('1767225600')).toBe(Date.UTC(2026, 0, 1));
    expect(parseTimestamp('1767225600000')).toBe(Date.UTC(2026, 0, 1));
    expect(parseTimestamp('yesterday')).toBeUndefined();
    // A number no date can be (beyond ±8.64e15 ms, some 275,000 years) is unreadable, not a time.
    expect(parseTimestamp('8640000000000000')).toBe(8.64e15);
    expect(parseTimestamp('8640000000000001')).toBeUndefined();
    expect(parseTimestamp('-99999999999999999999')).toBeUndefined();
    // A day that does not exist is unreadable, as a device's would be, not 1 March.
    expect(parseTimestamp('2024-02-30 10:00:00')).toBeUndefined();
  });

  it("reads a time column of Excel's serial days (dates formatted as numbers) as the same times written in ISO 8601, and says so", async () => {
    const r = rng(9);
    const values = Array.from({ length: 400 }, (_, i) => (20 + (r() - 0.5) + (i === 300 ? 8 : 0)).toFixed(2));
    const start = Date.UTC(2025, 11, 6, 8);
    const iso = await score(['timestamp,temp', ...values.map((v, i) => `${new Date(start + i * 60_000).toISOString()},${v}`)].join('\n'));
    // Excel's serial of 2025-12-06 08:00 is 45,997.333…; a minute is 1/1440 of a day, written to six decimals as Excel does.
    const serial = await score(['timestamp,temp', ...values.map((v, i) => `${((start + i * 60_000) / 86_400_000 + 25_569).toFixed(6)},${v}`)].join('\n'));
    const scores = (lines: string[]) => lines.slice(1).map((l) => l.slice(l.lastIndexOf(',') + 1));
    expect(scores(serial.lines)).toEqual(scores(iso.lines));
    expect(serial.result).toMatchObject({ scored: 400, unreadableCount: 0, excelSerialTimes: true });
    expect(parseTimestamp('46002.5', undefined, true)).toBe(Date.UTC(2025, 11, 11, 12));
    // Seconds counted from a test rig's start are read as seconds, as before.
    const rig = await score(['time,temp', ...values.map((v, i) => `${i},${v}`)].join('\n'));
    expect(rig.result).toMatchObject({ scored: 400, excelSerialTimes: false });
  });

  it('keeps rows with an unreadable timestamp, unscored, and says which', async () => {
    const { result, lines } = await score('timestamp,x\n2026-01-01T00:00:00Z,1\nsoon,2\n2026-01-01T00:02:00Z,3\n');
    expect(lines[2]).toBe('soon,2,');
    expect(result).toMatchObject({ rows: 3, scored: 2, unreadableCount: 1, unreadable: [3] });
  });

  it('reads a file exported with semicolons and decimal commas, its times in a datetime column, as the same data written with commas, and writes it back as it came', async () => {
    // As an industrial test rig or a European spreadsheet exports it: ';' between fields, ',' in numbers, labels beside the data.
    const r = rng(5);
    const rows = Array.from({ length: 300 }, (_, i) => ({
      t: new Date(Date.UTC(2020, 2, 9, 10) + i * 1000).toISOString().slice(0, 19).replace('T', ' '),
      acc: (0.027 + 0.001 * (r() - 0.5) + (i === 250 ? 0.05 : 0)).toFixed(5),
      current: (1.8 + 0.05 * (r() - 0.5)).toFixed(3),
      label: i === 250 ? 1 : 0,
    }));
    const semicolons = ['datetime;Accelerometer1RMS;Current;anomaly;changepoint', ...rows.map((x) => `${x.t};${x.acc.replace('.', ',')};${x.current.replace('.', ',')};${x.label};0`)];
    const commas = ['timestamp,Accelerometer1RMS,Current', ...rows.map((x) => `${x.t}Z,${x.acc},${x.current}`)];
    const { result, lines: out } = await score(`${semicolons.join('\n')}\n`, { ignore: ['anomaly', 'changepoint'] });
    expect(result).toMatchObject({ rows: 300, scored: 300, timeColumn: 'datetime', delimiter: ';', numericColumns: ['Accelerometer1RMS', 'Current'], binaryColumns: [] });
    // Not left out, the labels are scored as readings, and said to look like labels.
    expect((await score(`${semicolons.join('\n')}\n`)).result.binaryColumns).toEqual(['anomaly', 'changepoint']);
    expect(out[0]).toBe('datetime;Accelerometer1RMS;Current;anomaly;changepoint;anomaly_score');
    expect(out[251]!.split(';').slice(0, 5).join(';')).toBe(semicolons[251]);
    const scores = out.slice(1).map((l) => Number(l.split(';').at(-1)));
    expect(scores).toEqual((await score(`${commas.join('\n')}\n`)).lines.slice(1).map((l) => Number(l.split(',').at(-1))));
    // The spike is read as the number it is (0,07695 → 0.07695) and singled out (its step up, or back down).
    const spike = Math.max(scores[250]!, scores[251]!);
    expect(spike).toBeGreaterThanOrEqual(0.5);
    expect(Math.max(...scores.filter((_, i) => i !== 250 && i !== 251 && i > 60))).toBeLessThan(spike);
  });

  it("reads a German spreadsheet's export (Excel's sep= line, days with dots, decimal commas) as the same data in ISO 8601, and writes the sep= line back", async () => {
    const r = rng(9);
    const rows = Array.from({ length: 200 }, (_, i) => ({ at: new Date(Date.UTC(2026, 1, 1, 23, 0) + i * 60_000), v: (20 + r() + (i === 150 ? 8 : 0)).toFixed(2) }));
    // 1 February, running past midnight into 2 February: read month first it would be 2 January, then 2 February.
    const dd = (d: Date) => `${String(d.getUTCDate()).padStart(2, '0')}.${String(d.getUTCMonth() + 1).padStart(2, '0')}.${d.getUTCFullYear()} ${d.toISOString().slice(11, 19)}`;
    const german = ['sep=;', 'Zeit;Temperatur', ...rows.map((x) => `${dd(x.at)};${x.v.replace('.', ',')}`)];
    const iso = ['timestamp,Temperatur', ...rows.map((x) => `${x.at.toISOString()},${x.v}`)];
    const { result, lines } = await score(`${german.join('\r\n')}\r\n`, { timeColumn: 'Zeit' });
    expect(result).toMatchObject({ rows: 200, scored: 200, unreadableCount: 0, delimiter: ';', timeColumn: 'Zeit' });
    expect(result.slashDates).toBeUndefined();
    expect(lines.slice(0, 2)).toEqual(['sep=;', 'Zeit;Temperatur;anomaly_score']);
    const scores = lines.slice(2).map((l) => Number(l.split(';').at(-1)));
    expect(scores).toEqual((await score(`${iso.join('\n')}\n`)).lines.slice(1).map((l) => Number(l.split(',').at(-1))));
  });

  it('reads days written with slashes in the order the first rows show, says so, and names the rows another order would read', async () => {
    const uk = await score('Date,Value\n12/01/2026 10:00,1\n13/01/2026 10:00,2\n');
    expect(uk.result).toMatchObject({ scored: 2, slashDates: { order: 'day-first', from: 'data', otherOrder: 0 } });
    const us = await score('Date,Value\n1/12/2026 11:59 PM,1\n1/13/2026 12:00 AM,2\n');
    expect(us.result).toMatchObject({ scored: 2, slashDates: { order: 'month-first', from: 'data' } });
    // Nothing in the first 64 KB tells (every day there is its own month, 01/01 to 12/12; the 13th comes
    // after): month first, and the rows that could only be day first are named.
    const untold = Array.from({ length: 4_000 }, (_, i) => `${String((i % 12) + 1).padStart(2, '0')}/${String((i % 12) + 1).padStart(2, '0')}/2026 10:00,1\n`);
    expect(untold.join('').length).toBeGreaterThan(65_536);
    const result = await scoreCsv(Readable.from(['Date,Value\n', ...untold, '13/02/2026 10:00,2\n']), new PassThrough().resume(), {});
    expect(result).toMatchObject({ scored: 4_000, unreadableCount: 1, slashDates: { order: 'month-first', from: 'default', otherOrder: 1 } });
    const told = await score('Date,Value\n01/02/2026 10:00,1\n', { dateOrder: 'day-first' });
    expect(told.result.slashDates).toEqual({ order: 'day-first', from: 'option', otherOrder: 0 });
    expect(parseTimestamp('01/02/2026 10:00', 'day-first')).toBe(Date.UTC(2026, 1, 1, 10));
  });

  it('takes the delimiter from the header line, quotes aside', () => {
    expect(sniffDelimiter('timestamp,a,b')).toBe(',');
    expect(sniffDelimiter('timestamp;a;b')).toBe(';');
    expect(sniffDelimiter('timestamp\ta\tb')).toBe('\t');
    expect(sniffDelimiter('timestamp|a|b')).toBe('|');
    expect(sniffDelimiter('"time; UTC",a,b')).toBe(',');
    expect(sniffDelimiter('timestamp')).toBe(',');
  });

  it('tells a delimiter from the same character inside a column name by the data lines, then by the time column, and gives a tie to a tab', () => {
    // A semicolon export whose names hold a comma: the header alone has as many of each.
    expect(sniffDelimiter('Zeit;Druck, bar;Temperatur, C', ['2020-03-09 10:00:00;12;20', '2020-03-09 10:00:01;12;21'])).toBe(';');
    // A comma file with a name holding a semicolon, and a ragged row among the rest.
    expect(sniffDelimiter('timestamp,a;b', ['2026-01-01T00:00:00Z,1', '2026-01-01T00:01:00Z,2,9', '2026-01-01T00:02:00Z,3'])).toBe(',');
    // Only a header: a tab is the delimiter over a comma or a semicolon in a name.
    expect(sniffDelimiter('timestamp\t,')).toBe('\t');
    expect(sniffDelimiter('timestamp\ta;b')).toBe('\t');
    expect(sniffDelimiter('timestamp,a;b')).toBe(',');
    // Decimal commas make the data lines agree with a comma in a name too: the time column decides.
    expect(sniffDelimiter('Zeit;Druck, bar', ['2020-03-09 10:00:00;12,5', '2020-03-09 10:00:01;12,75'], 'Zeit')).toBe(';');
    expect(sniffDelimiter('time;Druck, bar', ['2020-03-09 10:00:00;12,5'])).toBe(';');
    expect(sniffDelimiter('timestamp;p, bar')).toBe(';');
  });

  it('scores a semicolon export whose column names hold commas, its numbers written with decimal commas', async () => {
    // As many commas on every line as in the header: only the time column tells the delimiter.
    const rows = Array.from({ length: 120 }, (_, i) => `${new Date(Date.UTC(2020, 2, 9, 10) + i * 1000).toISOString().slice(0, 19).replace('T', ' ')};${12 + (i % 3)},5;${i % 2 === 0 ? '20,5' : '20,25'}`);
    const { result, lines } = await score(['Zeit;Druck, bar;Temperatur, C', ...rows].join('\n'), { timeColumn: 'Zeit' });
    expect(result).toMatchObject({ delimiter: ';', timeColumn: 'Zeit', numericColumns: ['Druck, bar', 'Temperatur, C'], scored: 120 });
    expect(lines[0]).toBe('Zeit;Druck, bar;Temperatur, C;anomaly_score');
    expect(lines[1]).toMatch(/^2020-03-09 10:00:00;12,5;20,5;0\.\d{6}$/);
  });

  it('reads numbers as spreadsheets write them, grouped in thousands, as the same data written plainly', async () => {
    const r = rng(5);
    const values = Array.from({ length: 400 }, (_, i) => Math.round(1000 + 40 * (r() - 0.5) + (i === 300 ? 5000 : 0)));
    const time = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();
    const plain = await score(['timestamp,requests', ...values.map((v, i) => `${time(i)},${v}`)].join('\n'));
    const grouped = await score(['timestamp,requests', ...values.map((v, i) => `${time(i)},"${v.toLocaleString('en-US')}"`)].join('\n'));
    const scores = (lines: string[]) => lines.slice(1).map((l) => l.slice(l.lastIndexOf(',') + 1));
    expect(scores(grouped.lines)).toEqual(scores(plain.lines));
    expect(Math.max(...scores(grouped.lines).slice(300, 302).map(Number))).toBeGreaterThanOrEqual(0.5);
    expect(grouped.result.unreadValues).toEqual([]);
  });

  it('reads grouped thousands in every convention, and leaves a lone group to the decimal separator', () => {
    expect(readNumber('1,234,567.5', false)).toBe(1234567.5);
    expect(readNumber('-1,234', false)).toBe(-1234);
    expect(readNumber('1.234,5', true)).toBe(1234.5);
    expect(readNumber('1.234.567', true)).toBe(1234567);
    expect(readNumber('12\u00a0345,5', true)).toBe(12345.5);
    expect(readNumber('12 345.5', false)).toBe(12345.5);
    expect(readNumber("12'345.5", false)).toBe(12345.5);
    // A lone group is a decimal number: 1.234 where the point is decimal, 1,234 where the comma is.
    expect(readNumber('1.234', true)).toBe(1.234);
    expect(readNumber('1,234', true)).toBe(1.234);
    expect(readNumber('1,234.5', true)).toBe(1234.5);
    expect(readNumber('1,23,4', false)).toBeUndefined();
    expect(readNumber('#DIV/0!', false)).toBeUndefined();
  });

  it("says which values of a numeric column it could not read, and takes an export's markers of a missing value as missing", async () => {
    const rows = ['timestamp,flow,temp'];
    for (let i = 0; i < 300; i++) rows.push(`${new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString()},${i % 100 === 9 ? '#DIV/0!' : i % 50 === 7 ? 'NaN' : 100 + (i % 7)},${i === 3 ? 'n/a' : i === 4 ? '-' : 20}`);
    const { result, lines } = await score(`${rows.join('\n')}\n`);
    expect(result.unreadValues).toEqual([{ column: 'flow', count: 3, line: 11, text: '#DIV/0!' }]);
    expect(lines[10]).toMatch(/,#DIV\/0!,20,\d\.\d{6}$/);
    // A column of text only is not a reading: nothing said about it.
    expect((await score(signal(200, 150))).result.unreadValues).toEqual([]);
  });

  it('scores the columns it is told to leave out not at all, and reads the times from the column it is given', async () => {
    const csv = 'when,x,label\n' + Array.from({ length: 50 }, (_, i) => `${1767225600 + i * 60},${i % 3},${i === 40 ? 1000 : 0}`).join('\n') + '\n';
    const { result, lines } = await score(csv, { timeColumn: 'when', ignore: ['label'] });
    expect(result).toMatchObject({ timeColumn: 'when', numericColumns: ['x'], scored: 50 });
    // The label's jump to 1000 is not a reading: nothing flagged.
    expect(Math.max(...lines.slice(1).map((l) => Number(l.split(',').at(-1))))).toBeLessThan(0.5);
  });

  it('assumes nothing from a column\'s name, unless told the file is this plant\'s telemetry', async () => {
    // Fahrenheit, as another plant logs it: far past the hard limit of ours in Celsius, and normal there.
    const csv = 'timestamp,temperature\n' + Array.from({ length: 200 }, (_, i) => `${new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString()},${(150 + (i % 5) * 0.3).toFixed(1)}`).join('\n') + '\n';
    const scores = (lines: string[]) => lines.slice(101).map((l) => Number(l.split(',').at(-1)));
    expect(Math.max(...scores((await score(csv)).lines))).toBeLessThan(0.5);
    expect(Math.min(...scores((await score(csv, { plantEnvelopes: true })).lines))).toBeGreaterThanOrEqual(0.5);
  });

  it('writes the score under anomaly_score on a row shorter or longer than the header, and keeps every field', async () => {
    const rows = ['timestamp,a,b,note'];
    for (let i = 0; i < 200; i++) rows.push(`${new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString()},${i % 7},${i % 5},ok`);
    rows.push('2026-01-02T00:00:00Z,3');
    rows.push('2026-01-02T00:01:00Z,3,4,late,extra');
    const { lines } = await score(`${rows.join('\n')}\n`);
    expect(lines.at(-2)).toMatch(/^2026-01-02T00:00:00Z,3,,,\d\.\d{6}$/);
    expect(lines.at(-1)).toMatch(/^2026-01-02T00:01:00Z,3,4,late,\d\.\d{6},extra$/);
  });

  it('reads a file in small chunks exactly as in one: the delimiter and the order of days come from its first 64 KB, not its first chunk', async () => {
    const rows = ['sep=;', 'datetime;temperature;pressure'];
    for (let i = 0; i < 3_000; i++) rows.push(`${String((i % 28) + 1).padStart(2, '0')}/03/2026 ${String(i % 24).padStart(2, '0')}:00;${(60 + (i % 9) * 0.5).toFixed(1).replace('.', ',')};${(6 + (i % 4) * 0.1).toFixed(2).replace('.', ',')}`);
    const text = `${rows.join('\n')}\n`;
    expect(text.length).toBeGreaterThan(65_536);
    const whole = await score(text);
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const bytes = Buffer.from(text);
    const small = Readable.from(Array.from({ length: Math.ceil(bytes.length / 7) }, (_, i) => bytes.subarray(i * 7, i * 7 + 7)));
    const result = await scoreCsv(small, out);
    expect(Buffer.concat(chunks).toString('utf8').trimEnd().split('\n')).toEqual(whole.lines);
    expect(result).toEqual(whole.result);
    expect(result).toMatchObject({ delimiter: ';', scored: 3_000, slashDates: { order: 'day-first', from: 'data' } });
  });

  it('refuses a CSV it cannot score, saying why', async () => {
    await expect(score('when,x\n1,2\n')).rejects.toThrow('needs a timestamp column (called timestamp, datetime, time, date or ts, or named with --time); its header is: when, x');
    await expect(score('when,x\n1,2\n', { timeColumn: 'at' })).rejects.toThrow("--time 'at' is not a column");
    await expect(score('timestamp,x\n1,2\n', { ignore: ['label'] })).rejects.toThrow("--ignore 'label' is not a column");
    // A refused file is closed at once, not read to its end nor left open.
    const big = Readable.from((function* () {
      yield 'when,x\n';
      for (let i = 0; i < 1000; i++) yield '1,2\n'.repeat(100);
    })());
    await expect(scoreCsv(big, new PassThrough())).rejects.toThrow('needs a timestamp column');
    expect(big.destroyed).toBe(true);
    await expect(score('')).rejects.toThrow('the CSV is empty');
    await expect(score('timestamp,name\n2026-01-01T00:00:00Z,arm\n')).rejects.toThrow('no column holds numbers');
    await expect(score('timestamp,x,anomaly_score\n')).rejects.toThrow("already has an 'anomaly_score' column");
    await expect(score('timestamp,x\n', { groupBy: 'device' })).rejects.toThrow("--group-by 'device' is not a column");
  });

  it("reads a historian's export as it comes: gzipped, UTF-16 in either byte order with or without a mark, in chunks cut anywhere", async () => {
    const csv = signal(150, 120).replaceAll('shift A, cell 2', 'Schicht Ä, Zelle 2 — 70 °C');
    const plain = await score(csv);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('utf-8', 'utf-16le', 'utf-16be'), fc.boolean(), fc.boolean(), fc.array(fc.integer({ min: 1, max: 4096 }), { minLength: 1, maxLength: 8 }), async (encoding, mark, gzip, cuts) => {
        const text = mark ? `\uFEFF${csv}` : csv;
        const encoded = encoding === 'utf-8' ? Buffer.from(text) : encoding === 'utf-16le' ? Buffer.from(text, 'utf16le') : Buffer.from(text, 'utf16le').swap16();
        const bytes = gzip ? gzipSync(encoded) : encoded;
        // Cut where the sizes fall, then the rest in one: a character or the gzip header may be split.
        const chunks: Buffer[] = [];
        let at = 0;
        for (const n of cuts) if (at < bytes.length) chunks.push(bytes.subarray(at, (at += n)));
        if (at < bytes.length) chunks.push(bytes.subarray(at));
        const out = new PassThrough();
        const written: Buffer[] = [];
        out.on('data', (c: Buffer) => written.push(c));
        const result = await scoreCsv(Readable.from(chunks), out);
        expect(result).toEqual(plain.result);
        expect(Buffer.concat(written).toString('utf8').trimEnd().split('\n')).toEqual(plain.lines);
      }),
      propertyRuns(1618, 40),
    );
  });

  it('says a gzipped file that does not inflate is so, and a UTF-32 one that it is not read, and closes them', async () => {
    const broken = gzipSync(signal(50, 40)).subarray(0, 200);
    const input = Readable.from([broken]);
    await expect(scoreCsv(input, new PassThrough())).rejects.toMatchObject({ code: 'csv.badGzip', message: expect.stringMatching(/^the file is gzip but does not inflate: /) });
    expect(input.destroyed).toBe(true);
    const utf32 = Buffer.alloc(44);
    [...'timestamp,x'].forEach((c, i) => utf32.writeUInt32LE(c.codePointAt(0)!, i * 4));
    const wide = Readable.from([utf32]);
    await expect(scoreCsv(wide, new PassThrough())).rejects.toMatchObject({ code: 'csv.encoding', message: 'the file looks like UTF-32LE text, which is not read: save it as UTF-8 or UTF-16' });
    expect(wide.destroyed).toBe(true);
  });

  it('from the command line: writes the output only on success', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'score-'));
    writeFileSync(join(dir, 'in.csv'), signal(120, 100));
    writeFileSync(join(dir, 'bad.csv'), 'when,x\n1,2\n');
    const run = promisify(execFile);
    const ok = await run(process.execPath, ['--import', 'tsx', 'src/cli/score.ts', '--in', join(dir, 'in.csv'), '--out', join(dir, 'out.csv')]);
    expect(ok.stderr).toContain('scored 120 of 120 rows');
    expect(ok.stderr).toContain("times from 'timestamp'");
    expect(readFileSync(join(dir, 'out.csv'), 'utf8').split('\n')[0]).toBe('timestamp,temperature,vibration,note,anomaly_score');
    // An output named .gz is written gzipped: the same rows.
    await run(process.execPath, ['--import', 'tsx', 'src/cli/score.ts', '--in', join(dir, 'in.csv'), '--out', join(dir, 'out.csv.gz'), '--quiet']);
    expect(gunzipSync(readFileSync(join(dir, 'out.csv.gz'))).toString('utf8')).toBe(readFileSync(join(dir, 'out.csv'), 'utf8'));
    const bad = await run(process.execPath, ['--import', 'tsx', 'src/cli/score.ts', '--in', join(dir, 'bad.csv'), '--out', join(dir, 'bad-out.csv')]).catch((e: { code: number; stderr: string }) => e);
    expect((bad as { code: number }).code).toBe(1);
    expect((bad as { stderr: string }).stderr).toContain('needs a timestamp column');
    expect(existsSync(join(dir, 'bad-out.csv'))).toBe(false);
    expect(existsSync(join(dir, 'bad-out.csv.partial'))).toBe(false);
    const badGz = await run(process.execPath, ['--import', 'tsx', 'src/cli/score.ts', '--in', join(dir, 'bad.csv'), '--out', join(dir, 'bad-out.csv.gz')]).catch((e: { code: number }) => e);
    expect((badGz as { code: number }).code).toBe(1);
    expect(existsSync(join(dir, 'bad-out.csv.gz'))).toBe(false);
    expect(existsSync(join(dir, 'bad-out.csv.gz.partial'))).toBe(false);
  });

  it('from the command line: a file given on its own is scored to stdout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'score-'));
    // Gzipped, as an archived log comes: told from its bytes.
    writeFileSync(join(dir, 'in.csv.gz'), gzipSync(signal(120, 100)));
    const run = promisify(execFile);
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/score.ts', join(dir, 'in.csv.gz'), '--quiet']);
    const lines = stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(121);
    expect(lines[0]).toBe('timestamp,temperature,vibration,note,anomaly_score');
    expect(Math.max(...lines.slice(101, 103).map((l) => Number(l.split(',').at(-1))))).toBeGreaterThanOrEqual(0.5);
    expect(stderr).toContain('→ stdout');
    expect(stderr).not.toContain('held only 0 and 1');
    writeFileSync(join(dir, 'labelled.csv'), 'timestamp,x,anomaly\n' + Array.from({ length: 40 }, (_, i) => `${1767225600 + i * 60},${i % 7},${i > 30 ? 1 : 0}`).join('\n') + '\n');
    const labelled = await run(process.execPath, ['--import', 'tsx', 'src/cli/score.ts', join(dir, 'labelled.csv'), '--quiet']);
    expect(labelled.stderr).toContain('column anomaly held only 0 and 1 and was scored as readings; if it is a label, leave it out with --ignore anomaly');
  });
});
