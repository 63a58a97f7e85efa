/** The local event log: partitions by key, keeps events across restarts and crashes, retention, positions by offset and time. */
import { afterEach, describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventLog, partitionOf } from '../../src/emulators/event-log/event-log.ts';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'eventlog-'));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const event = (device: string, n: number) => ({ partitionKey: device, body: Buffer.from(JSON.stringify({ n })), properties: { kind: 'telemetry' }, systemProperties: { 'iothub-connection-device-id': device } });

/** Thirty events in one partition over segments of 500 bytes, the log closed: its folder and segment files, oldest first. */
async function thirtyOverSegments(): Promise<{ dir: string; files: string[] }> {
  const dir = tempDir();
  const log = EventLog.open(dir, { partitions: 1, segmentBytes: 500 });
  for (let i = 0; i < 30; i++) await log.append(event('d', i));
  log.close();
  const folder = join(dir, 'partitions', '0');
  return { dir, files: readdirSync(folder).sort().map((f) => join(folder, f)) };
}

describe('the event log', () => {
  it('keeps each device in one partition, in order, with sequence numbers and offsets', async () => {
    const log = EventLog.open(tempDir(), { partitions: 4 });
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => log.append(event(`dev-${i % 5}`, i))));
    for (let d = 0; d < 5; d++) expect(new Set(results.filter((_, i) => i % 5 === d).map((r) => r.partitionId)).size).toBe(1);
    const all = log.partitionIds.flatMap((p) => log.read(p, 0, 1000));
    expect(all).toHaveLength(40);
    const p = results[0]!.partitionId;
    const records = log.read(p, 0, 1000);
    expect(records.map((r) => r.sequenceNumber)).toEqual(records.map((_, i) => i));
    expect(records[1]!.offset).toBeGreaterThan(records[0]!.offset);
    const dev0 = records.filter((r) => r.partitionKey === 'dev-0').map((r) => JSON.parse(r.body.toString()).n);
    expect(dev0).toEqual([0, 5, 10, 15, 20, 25, 30, 35]);
    expect(records[0]).toMatchObject({ properties: { kind: 'telemetry' }, systemProperties: { 'iothub-connection-device-id': expect.any(String) } });
    log.close();
  });

  it('reads from a sequence number, at most maxCount, across segment files', async () => {
    const log = EventLog.open(tempDir(), { partitions: 1, segmentBytes: 500 });
    for (let i = 0; i < 30; i++) await log.append(event('d', i));
    expect(readdirSync(join(log.dir, 'partitions', '0')).length).toBeGreaterThan(3);
    const page = log.read('0', 7, 10);
    expect(page.map((r) => JSON.parse(r.body.toString()).n)).toEqual([7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    expect(log.read('0', 25, 100).map((r) => r.sequenceNumber)).toEqual([25, 26, 27, 28, 29]);
    expect(log.read('0', 30, 100)).toEqual([]);
    // Between two records: from the next one (it threw on a buffer of NaN bytes).
    expect(log.read('0', 6.5, 2).map((r) => r.sequenceNumber)).toEqual([7, 8]);
    log.close();
  });

  it('survives a restart, and cuts a torn tail left by a crash without losing whole records', async () => {
    const dir = tempDir();
    const log = EventLog.open(dir, { partitions: 2 });
    for (let i = 0; i < 10; i++) await log.append(event('d', i));
    const p = log.partitionFor('d');
    log.close();
    // A kill mid-write leaves half a record at the end of the file.
    const file = join(dir, 'partitions', p, readdirSync(join(dir, 'partitions', p))[0]!);
    appendFileSync(file, Buffer.from([200, 0, 0, 0, 1, 2, 3]));

    const reopened = EventLog.open(dir);
    expect(reopened.bounds(p)).toEqual({ first: 0, next: 10 });
    await reopened.append(event('d', 10));
    expect(reopened.read(p, 0, 100).map((r) => JSON.parse(r.body.toString()).n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    reopened.close();
  });

  it('goes on past records lost from an older segment (its tail not yet on disk when a crash came), from any position', async () => {
    const { dir, files } = await thirtyOverSegments();
    const second = files[1]!;
    writeFileSync(second, readFileSync(second).subarray(0, statSync(second).size - 10));

    const reopened = EventLog.open(dir);
    const kept = reopened.read('0', 0, 100).map((r) => r.sequenceNumber);
    const lost = Array.from({ length: 30 }, (_, i) => i).filter((n) => !kept.includes(n));
    expect(lost).toHaveLength(1);
    expect(kept.at(-1)).toBe(29);
    // A reader at the lost record (a checkpoint there) goes on from the next one, instead of waiting for ever.
    expect(reopened.read('0', lost[0]!, 2).map((r) => r.sequenceNumber)).toEqual([lost[0]! + 1, lost[0]! + 2]);
    const after = reopened.read('0', lost[0]! + 1, 1)[0]!;
    expect(reopened.sequenceAtOffset('0', after.offset, true)).toBe(after.sequenceNumber);
    expect(reopened.sequenceAfterTime('0', 0)).toBe(0);
    await reopened.append(event('d', 30));
    expect(reopened.read('0', 29, 10).map((r) => JSON.parse(r.body.toString()).n)).toEqual([29, 30]);
    reopened.close();
  });

  it('has a reader in a gap a crash left at the end (the newest segment still empty) wait for the next record, then read it', async () => {
    const { dir, files } = await thirtyOverSegments();
    const [before, newest] = files.slice(-2);
    writeFileSync(before!, readFileSync(before!).subarray(0, statSync(before!).size - 10));
    writeFileSync(newest!, Buffer.alloc(0));

    const reopened = EventLog.open(dir);
    const last = reopened.read('0', 0, 100).at(-1)!.sequenceNumber;
    const { next } = reopened.bounds('0');
    expect(next).toBeGreaterThan(last + 1);
    expect(reopened.read('0', last + 1, 10)).toEqual([]);
    const began = Date.now();
    await reopened.waitFor('0', last + 1, 150);
    expect(Date.now() - began).toBeGreaterThanOrEqual(100);
    const woken = reopened.waitFor('0', last + 1, 5000);
    await reopened.append(event('d', 30));
    await woken;
    expect(reopened.read('0', last + 1, 10).map((r) => [r.sequenceNumber, JSON.parse(r.body.toString()).n])).toEqual([[next, 30]]);
    reopened.close();
  });

  it('cuts a last record whose length is intact but whose bytes were damaged (its checksum fails)', async () => {
    const dir = tempDir();
    const log = EventLog.open(dir, { partitions: 1 });
    for (let i = 0; i < 5; i++) await log.append(event('d', i));
    log.close();
    const file = join(dir, 'partitions', '0', readdirSync(join(dir, 'partitions', '0'))[0]!);
    const data = readFileSync(file);
    // Flip one byte of the last record's body (the file's last byte): the length field still fits.
    data[data.length - 1] = data[data.length - 1]! ^ 0xff;
    writeFileSync(file, data);
    const reopened = EventLog.open(dir);
    expect(reopened.bounds('0')).toEqual({ first: 0, next: 4 });
    expect(reopened.read('0', 0, 100).map((r) => JSON.parse(r.body.toString()).n)).toEqual([0, 1, 2, 3]);
    reopened.close();
  });

  it.skipIf(!existsSync('/dev/full'))('refuses what it cannot write (a full disk) without acknowledging it, keeps running, and takes it once there is room', async () => {
    const dir = tempDir();
    // One record per segment, so the next write goes to a file whose name is known in advance.
    const log = EventLog.open(dir, { partitions: 1, segmentBytes: 1 });
    await log.append(event('d', 0));
    const partDir = join(dir, 'partitions', '0');
    const first = join(partDir, readdirSync(partDir)[0]!);
    const next = join(partDir, `${String(1).padStart(20, '0')}-${String(statSync(first).size).padStart(20, '0')}.log`);
    // Writes to /dev/full fail with ENOSPC, as on a full disk.
    symlinkSync('/dev/full', next);
    await expect(log.append(event('d', 1))).rejects.toThrow(/ENOSPC|no space/i);
    expect(log.bounds('0')).toEqual({ first: 0, next: 1 });
    // Room again: the device's retry is stored, with the next sequence number.
    rmSync(next, { force: true });
    await expect(log.append(event('d', 1))).resolves.toEqual({ partitionId: '0', sequenceNumber: 1 });
    log.close();
    const reopened = EventLog.open(dir);
    expect(reopened.read('0', 0, 10).map((r) => JSON.parse(r.body.toString()).n)).toEqual([0, 1]);
    reopened.close();
  });

  it('refuses to reopen with a different partition count (keys would move)', () => {
    const dir = tempDir();
    EventLog.open(dir, { partitions: 4 }).close();
    expect(() => EventLog.open(dir, { partitions: 8 })).toThrow(/has 4 partitions/);
  });

  it('wakes a waiting reader when an event arrives', async () => {
    const log = EventLog.open(tempDir(), { partitions: 1 });
    const waiting = log.waitFor('0', 0, 10_000);
    void log.append(event('d', 1));
    await waiting;
    expect(log.read('0', 0, 10)).toHaveLength(1);
    log.close();
  });

  it('drops whole segments past retention, never the one being written', async () => {
    let now = 1_000_000;
    const dir = tempDir();
    const log = EventLog.open(dir, { partitions: 1, segmentBytes: 200, retentionMs: 60_000, now: () => now });
    for (let i = 0; i < 10; i++) await log.append(event('d', i));
    now += 120_000;
    await log.append(event('d', 10));
    const report = log.enforceRetention({ pipeline: { '0': 3 } });
    expect(report.segments).toBeGreaterThan(0);
    const first = log.bounds('0').first;
    expect(first).toBeGreaterThan(0);
    expect(log.read('0', 0, 100).at(-1)!.sequenceNumber).toBe(10);
    // It says what went, and what of it the consumer group had not read (past its checkpoint at 3).
    expect(report.dropped).toEqual([{ partitionId: '0', fromSequence: 0, toSequence: first - 1, unread: [{ consumerGroup: 'pipeline', count: first - 1 - 3 }] }]);
    expect(log.enforceRetention().dropped).toEqual([]);
    log.close();
  });

  it('rejects a partition id it does not have', async () => {
    const log = EventLog.open(tempDir(), { partitions: 2 });
    expect(() => log.read('7', 0, 1)).toThrow(/no partition/);
    await expect(log.append({ ...event('d', 0), partitionId: '2' })).rejects.toThrow(/no partition/);
    log.close();
  });

  it('gives offsets that keep growing across segment files, the same whichever sequence number a read starts at', async () => {
    const log = EventLog.open(tempDir(), { partitions: 1, segmentBytes: 300 });
    for (let i = 0; i < 20; i++) await log.append(event('d', i));
    expect(readdirSync(join(log.dir, 'partitions', '0')).length).toBeGreaterThan(3);
    const all = log.read('0', 0, 100);
    for (let i = 1; i < all.length; i++) expect(all[i]!.offset).toBeGreaterThan(all[i - 1]!.offset);
    for (const r of all) expect(log.read('0', r.sequenceNumber, 1)[0]!.offset).toBe(r.offset);
    log.close();
  });

  it('starts a new segment file once one reaches its size, not before', async () => {
    const dir = tempDir();
    const one = JSON.stringify(event('d', 0));
    const log = EventLog.open(dir, { partitions: 1, segmentBytes: 1 });
    await log.append(event('d', 0));
    const size = statSync(join(dir, 'partitions', '0', readdirSync(join(dir, 'partitions', '0'))[0]!)).size;
    log.close();
    expect(size).toBeGreaterThan(one.length / 2);
    // A segment exactly `size` bytes long is full: the next event goes to a new file.
    const exact = EventLog.open(tempDir(), { partitions: 1, segmentBytes: size });
    await exact.append(event('d', 0));
    await exact.append(event('d', 1));
    expect(readdirSync(join(exact.dir, 'partitions', '0'))).toHaveLength(2);
    exact.close();
    const roomy = EventLog.open(tempDir(), { partitions: 1, segmentBytes: size + 1 });
    await roomy.append(event('d', 0));
    await roomy.append(event('d', 1));
    expect(readdirSync(join(roomy.dir, 'partitions', '0'))).toHaveLength(1);
    roomy.close();
  });

  it('ignores files in a partition folder that are not segments', async () => {
    const dir = tempDir();
    const log = EventLog.open(dir, { partitions: 1 });
    await log.append(event('d', 0));
    log.close();
    writeFileSync(join(dir, 'partitions', '0', 'README.txt'), 'not a segment');
    const reopened = EventLog.open(dir);
    expect(reopened.bounds('0')).toEqual({ first: 0, next: 1 });
    reopened.close();
  });

  it('spreads keys over every partition with FNV-1a, the same on every start', () => {
    // FNV-1a 32-bit test vectors, taken whole (a partition count of 2^32).
    expect(partitionOf('a', 2 ** 32)).toBe(0xe40c292c);
    expect(partitionOf('foobar', 2 ** 32)).toBe(0xbf9cf968);
    expect(partitionOf('', 2 ** 32)).toBe(0x811c9dc5);
    const used = new Set(Array.from({ length: 64 }, (_, i) => partitionOf(`robotic-arm-${i}`, 4)));
    expect(used).toEqual(new Set([0, 1, 2, 3]));
  });

  it('answers a reader waiting for an event that is already there at once, and wakes waiting readers when asked', async () => {
    const log = EventLog.open(tempDir(), { partitions: 1 });
    await log.append(event('d', 0));
    const soon = (p: Promise<void>) => Promise.race([p.then(() => 'resolved'), new Promise((r) => setTimeout(() => r('waiting'), 500))]);
    expect(await soon(log.waitFor('0', 0, 60_000))).toBe('resolved');
    expect(await soon(log.waitFor('0', 1, 0))).toBe('resolved');
    const waiting = log.waitFor('0', 1, 60_000);
    log.wakeReaders();
    expect(await soon(waiting)).toBe('resolved');
    log.close();
  });

  it('refuses appends once closed, and can be closed twice', async () => {
    const log = EventLog.open(tempDir(), { partitions: 1 });
    log.close();
    log.close();
    await expect(log.append(event('d', 0))).rejects.toThrow('the event log is closed');
  });

  it('keeps a segment written exactly at the retention limit', async () => {
    let now = 1_000_000;
    const log = EventLog.open(tempDir(), { partitions: 1, segmentBytes: 1, retentionMs: 60_000, now: () => now });
    await log.append(event('d', 0));
    now += 1;
    await log.append(event('d', 1));
    now = 1_000_000 + 60_000;
    expect(log.enforceRetention().segments).toBe(0);
    now += 1;
    expect(log.enforceRetention().segments).toBe(1);
    expect(log.bounds('0').first).toBe(1);
    log.close();
  });

  it('knows only decimal partition ids', () => {
    const log = EventLog.open(tempDir(), { partitions: 2 });
    for (const id of ['length', '01', '1.0', ' 1', '-0']) expect(() => log.read(id, 0, 1), id).toThrow(/no partition/);
    log.close();
  });

  it('says, per consumer group, how many dropped events it had not read: none checkpointed, part, or all read', async () => {
    let now = 1_000_000;
    const log = EventLog.open(tempDir(), { partitions: 1, segmentBytes: 1, retentionMs: 60_000, now: () => now });
    for (let i = 0; i < 6; i++) await log.append(event('d', i));
    now += 120_000;
    await log.append(event('d', 6));
    const report = log.enforceRetention({ half: { '0': 2 }, done: { '0': 6 }, $Default: { '0': 0 }, never: {}, other: { '1': 9 } });
    // Segments 0..5 go (one event each); 6 is being written.
    expect(report).toEqual({
      segments: 6,
      dropped: [{ partitionId: '0', fromSequence: 0, toSequence: 5, unread: [{ consumerGroup: '$Default', count: 5 }, { consumerGroup: 'half', count: 3 }, { consumerGroup: 'never', count: 6 }, { consumerGroup: 'other', count: 6 }] }],
    });
    expect(log.lastRetention).toEqual(report);
    log.close();
  });

  it('finds where a reader starts: the first event at or after a byte offset, and the first enqueued after a time', async () => {
    let now = 5_000;
    const log = EventLog.open(tempDir(), { partitions: 1, now: () => now });
    for (let i = 0; i < 3; i++) await log.append(event('d', i));
    now = 6_000;
    for (let i = 3; i < 5; i++) await log.append(event('d', i));
    const offsets = log.read('0', 0, 10).map((r) => r.offset);
    expect(log.sequenceAtOffset('0', offsets[2]!, true)).toBe(2);
    expect(log.sequenceAtOffset('0', offsets[2]!, false)).toBe(3);
    // Between two records: the next one, inclusive or not; past the end: the end.
    expect(log.sequenceAtOffset('0', offsets[2]! + 1, true)).toBe(3);
    expect(log.sequenceAtOffset('0', offsets[4]! + 1, false)).toBe(5);
    // Events appended together share their time.
    expect(log.sequenceAfterTime('0', 4_999)).toBe(0);
    expect(log.sequenceAfterTime('0', 5_000)).toBe(3);
    expect(log.sequenceAfterTime('0', 6_000)).toBe(5);
    log.close();
  });
});
