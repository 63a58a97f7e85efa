/** The local event log: partitions by key, keeps events across restarts and crashes, checkpoints, retention. */
import { afterEach, describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventLog } from '../../src/emulators/event-log/event-log.ts';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'eventlog-'));
  dirs.push(d);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
const event = (device: string, n: number) => ({ partitionKey: device, body: Buffer.from(JSON.stringify({ n })), properties: { kind: 'telemetry' }, systemProperties: { 'iothub-connection-device-id': device } });

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
    log.close();
  });

  it('survives a restart, and cuts a torn tail left by a crash without losing whole records', async () => {
    const dir = tempDir();
    const log = EventLog.open(dir, { partitions: 2 });
    for (let i = 0; i < 10; i++) await log.append(event('d', i));
    const p = log.partitionFor('d');
    log.setCheckpoint('$Default', p, { sequenceNumber: 4, offset: 0 });
    log.close();
    // A kill mid-write leaves half a record at the end of the file.
    const file = join(dir, 'partitions', p, readdirSync(join(dir, 'partitions', p))[0]!);
    appendFileSync(file, Buffer.from([200, 0, 0, 0, 1, 2, 3]));

    const reopened = EventLog.open(dir);
    expect(reopened.bounds(p)).toEqual({ first: 0, next: 10 });
    expect(reopened.checkpoint('$Default', p)).toEqual({ sequenceNumber: 4, offset: 0 });
    await reopened.append(event('d', 10));
    expect(reopened.read(p, 0, 100).map((r) => JSON.parse(r.body.toString()).n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
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

  it('starts with a damaged checkpoint (reading the partition again), and takes a checkpoint past the surviving end back to it', async () => {
    const dir = tempDir();
    const log = EventLog.open(dir, { partitions: 1 });
    for (let i = 0; i < 10; i++) await log.append(event('d', i));
    // Power cut: the checkpoint says 49, the log kept 10 events.
    log.setCheckpoint('$Default', '0', { sequenceNumber: 49, offset: 99_999 });
    expect(log.checkpoint('$Default', '0')).toMatchObject({ sequenceNumber: 9 });
    // The next event gets sequence number 10: after that checkpoint, so it is read, not skipped.
    expect(await log.append(event('d', 10))).toMatchObject({ sequenceNumber: 10 });
    log.close();
    writeFileSync(join(dir, 'checkpoints', '$Default', '0.json'), '{"sequenceNumber": 4, "off');
    const reopened = EventLog.open(dir);
    expect(reopened.checkpoint('$Default', '0')).toBeUndefined();
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
    log.setCheckpoint('pipeline', '0', { sequenceNumber: 3, offset: 0 });
    // Something else left in the checkpoints folder is not a consumer group.
    mkdirSync(join(dir, 'checkpoints', 'not a group'));
    const report = log.enforceRetention();
    expect(report.segments).toBeGreaterThan(0);
    const first = log.bounds('0').first;
    expect(first).toBeGreaterThan(0);
    expect(log.read('0', 0, 100).at(-1)!.sequenceNumber).toBe(10);
    // It says what went, and what of it the consumer group had not read (past its checkpoint at 3).
    expect(report.dropped).toEqual([{ partitionId: '0', fromSequence: 0, toSequence: first - 1, unread: [{ consumerGroup: 'pipeline', count: first - 1 - 3 }] }]);
    expect(log.enforceRetention().dropped).toEqual([]);
    log.close();
  });

  it('rejects a bad consumer group name or partition id', () => {
    const log = EventLog.open(tempDir(), { partitions: 2 });
    expect(() => log.checkpoint('../x', '0')).toThrow(/consumer group/);
    expect(() => log.read('7', 0, 1)).toThrow(/no partition/);
    log.close();
  });
});
