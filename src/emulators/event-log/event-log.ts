/**
 * A durable, partitioned event log: what the local Event Hub stores (src/emulators/event-hubs
 * serves it over AMQP). Events are appended to per-partition segment files and read back by
 * sequence number; old segments go after the retention period. Consumer positions are not kept
 * here: consumers keep their own checkpoints, as with Event Hubs. It survives restarts and crashes:
 * every record carries a CRC, and a torn tail left by a kill is cut off on open.
 *
 *   const log = EventLog.open('.data/eventlog', { partitions: 4 });
 *   await log.append({ partitionKey: 'arm-1', body, properties, systemProperties });
 *   log.read(0, fromSequenceNumber, 1000);
 *
 * Appends are group-committed: all appends of one event-loop turn become one write per
 * partition, and each append resolves once its bytes are in the file (so they survive the
 * process being killed; `fsync: true` also survives the machine losing power).
 */
import { closeSync, existsSync, fstatSync, statSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

/** An application property's value, as AMQP senders set them. */
export type PropertyValue = string | number | boolean;

export interface EventInput {
  partitionKey: string;
  /** Where it goes when the sender named a partition; else the key's hash decides. */
  partitionId?: string;
  body: Buffer;
  /** Application properties, as the sender set them. */
  properties?: Record<string, PropertyValue>;
  /** Broker-set properties (IoT Hub's iothub-connection-device-id and the like). */
  systemProperties?: Record<string, unknown>;
}

export interface EventRecord {
  partitionId: string;
  sequenceNumber: number;
  /** Byte position of the record in the partition, Event Hubs' "offset". */
  offset: number;
  enqueuedTime: number;
  partitionKey: string;
  properties: Record<string, PropertyValue>;
  systemProperties: Record<string, unknown>;
  body: Buffer;
}

export interface RetentionReport {
  segments: number;
  dropped: { partitionId: string; fromSequence: number; toSequence: number; unread: { consumerGroup: string; count: number }[] }[];
}

export interface EventLogOptions {
  partitions?: number;
  /** How long events are kept (default 1 day); whole segments are removed after it. */
  retentionMs?: number;
  /** A segment file is closed and a new one started past this size (default 64 MiB). */
  segmentBytes?: number;
  /** fsync after each group commit (survives power loss, costs throughput). */
  fsync?: boolean;
  now?: () => number;
}

interface Segment {
  baseSeq: number;
  baseOffset: number;
  path: string;
  fd: number;
  size: number;
  /** Position of each record in the file. */
  positions: number[];
  lastTime: number;
}

interface Pending {
  input: EventInput;
  resolve: (r: { partitionId: string; sequenceNumber: number }) => void;
  reject: (error: Error) => void;
}

const HEADER = 8; // u32 length of what follows the CRC + u32 CRC32 of it
const MAX_RECORD = 16 * 1024 * 1024;

class Partition {
  readonly segments: Segment[] = [];
  private readonly waiters = new Set<() => void>();
  pending: Pending[] = [];

  constructor(
    readonly id: string,
    private readonly dir: string,
    private readonly options: Required<Omit<EventLogOptions, 'partitions'>>,
  ) {
    mkdirSync(dir, { recursive: true });
    const files = readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
    for (const f of files) this.segments.push(this.openSegment(join(dir, f)));
    if (this.segments.length === 0) this.segments.push(this.newSegment(0, 0));
  }

  get nextSeq(): number {
    const last = this.segments[this.segments.length - 1]!;
    return last.baseSeq + last.positions.length;
  }

  get firstSeq(): number {
    return this.segments[0]!.baseSeq;
  }

  private newSegment(baseSeq: number, baseOffset: number): Segment {
    const path = join(this.dir, `${String(baseSeq).padStart(20, '0')}-${String(baseOffset).padStart(20, '0')}.log`);
    return { baseSeq, baseOffset, path, fd: openSync(path, 'a+'), size: 0, positions: [], lastTime: 0 };
  }

  /** Reads a segment's records back; cuts off a torn or corrupt tail (a crash mid-write). */
  private openSegment(path: string): Segment {
    const [seqText, offsetText] = path.slice(path.lastIndexOf('/') + 1, -4).split('-');
    const fd = openSync(path, 'r+');
    const data = readFileSync(path);
    const positions: number[] = [];
    let pos = 0;
    let lastTime = 0;
    while (pos + HEADER <= data.length) {
      const len = data.readUInt32LE(pos);
      const end = pos + HEADER + len;
      if (len > MAX_RECORD || end > data.length || crc32(data.subarray(pos + HEADER, end)) !== data.readUInt32LE(pos + 4)) break;
      lastTime = decodeHeader(data, pos).t;
      positions.push(pos);
      pos = end;
    }
    if (pos < data.length) ftruncateSync(fd, pos);
    closeSync(fd);
    return { baseSeq: Number(seqText), baseOffset: Number(offsetText), path, fd: openSync(path, 'a+'), size: pos, positions, lastTime };
  }

  /**
   * Writes everything appended this turn as one write, and acknowledges it only once all of it is
   * written (a short write is continued). When the write fails (a full disk), the segment is cut
   * back to its last whole record and every event of the batch is refused: none is acknowledged,
   * none is half there.
   */
  flush(now: number): void {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    try {
      this.write(batch, now);
    } catch (error) {
      for (const p of batch) p.reject(error as Error);
    }
  }

  private write(batch: Pending[], now: number): void {
    let segment = this.segments[this.segments.length - 1]!;
    let fresh = false;
    if (segment.size >= this.options.segmentBytes) {
      segment = this.newSegment(this.nextSeq, segment.baseOffset + segment.size);
      this.segments.push(segment);
      fresh = true;
    }
    const buffers: Buffer[] = [];
    const results: { partitionId: string; sequenceNumber: number }[] = [];
    let seq = this.nextSeq;
    let size = segment.size;
    const positions: number[] = [];
    for (const { input } of batch) {
      const record = encode(seq, now, input);
      positions.push(size);
      buffers.push(record);
      results.push({ partitionId: this.id, sequenceNumber: seq });
      size += record.length;
      seq++;
    }
    const data = buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers);
    try {
      for (let written = 0; written < data.length; ) written += writeSync(segment.fd, data, written, data.length - written);
      if (this.options.fsync) fsyncSync(segment.fd);
    } catch (error) {
      try {
        if (fresh) {
          // A segment that holds nothing yet goes, so the next write starts it again.
          this.segments.pop();
          closeSync(segment.fd);
          rmSync(segment.path, { force: true });
        } else ftruncateSync(segment.fd, segment.size);
      } catch {
        // The segment is reopened (and its torn tail cut) at the next start.
      }
      throw new Error(`the event log cannot write partition ${this.id}: ${(error as Error).message}`, { cause: error });
    }
    segment.size = size;
    segment.positions.push(...positions);
    segment.lastTime = now;
    batch.forEach((p, i) => p.resolve(results[i]!));
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  read(fromSeq: number, max: number): EventRecord[] {
    const out: EventRecord[] = [];
    // A position between two records (2.5) starts at the next one.
    let seq = Math.max(Math.ceil(fromSeq), this.firstSeq);
    for (const segment of this.segments) {
      if (out.length >= max) break;
      // A segment cut short by a crash (its tail not yet on disk when a newer segment was) leaves
      // a gap before the next one: a reader in it goes on from the next record there is, as after
      // retention, instead of finding nothing there for ever.
      if (seq < segment.baseSeq) seq = segment.baseSeq;
      const index = seq - segment.baseSeq;
      if (index >= segment.positions.length) continue;
      const count = Math.min(max - out.length, segment.positions.length - index);
      const start = segment.positions[index]!;
      const end = index + count < segment.positions.length ? segment.positions[index + count]! : segment.size;
      const data = Buffer.allocUnsafe(end - start);
      readSync(segment.fd, data, 0, data.length, start);
      let pos = 0;
      for (let i = 0; i < count; i++) {
        const len = data.readUInt32LE(pos);
        out.push(decode(data.subarray(pos, pos + HEADER + len), this.id, segment.baseOffset + start + pos));
        pos += HEADER + len;
      }
      seq += count;
    }
    return out;
  }

  /**
   * The first retained sequence number whose record satisfies `past` (monotonic along the log), by
   * binary search; a number in a gap left by a crash stands for the first record after it, whose
   * own number is the answer.
   */
  sequenceWhere(past: (r: EventRecord) => boolean): number {
    let lo = this.firstSeq;
    let hi = this.nextSeq;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const record = this.read(mid, 1)[0];
      if (record === undefined || past(record)) hi = mid;
      else lo = mid + 1;
    }
    return this.read(lo, 1)[0]?.sequenceNumber ?? lo;
  }

  /** Resolves when an event at or after `seq` exists, or after `timeoutMs`. */
  waitFor(seq: number, timeoutMs: number): Promise<void> {
    // A record to read, not only a higher next number: in a gap a crash left at the end, with
    // the newest segment still empty, there is none yet, and a reader resolved at once would spin.
    if (timeoutMs <= 0 || (this.nextSeq > seq && this.read(seq, 1).length > 0)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }

  /** Drops whole segments older than the retention period (never the one being written); says which sequence numbers went. */
  enforceRetention(now: number): { segments: number; fromSequence: number; toSequence: number } | undefined {
    let removed = 0;
    let from = -1;
    let to = -1;
    while (this.segments.length > 1 && this.segments[0]!.lastTime < now - this.options.retentionMs) {
      const old = this.segments.shift()!;
      if (old.positions.length) {
        if (from < 0) from = old.baseSeq;
        to = old.baseSeq + old.positions.length - 1;
      }
      closeSync(old.fd);
      rmSync(old.path, { force: true });
      removed++;
    }
    return removed ? { segments: removed, fromSequence: from, toSequence: to } : undefined;
  }

  wakeAll(): void {
    for (const w of this.waiters) w();
  }

  close(): void {
    this.wakeAll();
    for (const s of this.segments) closeSync(s.fd);
  }
}

function encode(seq: number, time: number, input: EventInput): Buffer {
  const header = Buffer.from(JSON.stringify({ s: seq, t: time, k: input.partitionKey, p: input.properties ?? {}, y: input.systemProperties ?? {} }));
  const record = Buffer.allocUnsafe(HEADER + 4 + header.length + input.body.length);
  record.writeUInt32LE(4 + header.length + input.body.length, 0);
  record.writeUInt32LE(header.length, HEADER);
  header.copy(record, HEADER + 4);
  input.body.copy(record, HEADER + 4 + header.length);
  record.writeUInt32LE(crc32(record.subarray(HEADER)), 4);
  return record;
}

interface Header {
  s: number;
  t: number;
  k: string;
  p: Record<string, PropertyValue>;
  y: Record<string, unknown>;
}

function decodeHeader(record: Buffer, pos: number): Header {
  const headerLen = record.readUInt32LE(pos + HEADER);
  return JSON.parse(record.toString('utf8', pos + HEADER + 4, pos + HEADER + 4 + headerLen)) as Header;
}

function decode(record: Buffer, partitionId: string, offset: number): EventRecord {
  const h = decodeHeader(record, 0);
  const headerLen = record.readUInt32LE(HEADER);
  return { partitionId, sequenceNumber: h.s, offset, enqueuedTime: h.t, partitionKey: h.k, properties: h.p, systemProperties: h.y, body: record.subarray(HEADER + 4 + headerLen) };
}

/** FNV-1a: a stable partition for a key, the same across restarts. */
export function partitionOf(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

export class EventLog {
  readonly partitionIds: string[];
  /** When the log was made (epoch ms): the hub's creation time. */
  readonly createdAt: number;
  private readonly parts: Partition[];
  private scheduled = false;
  private closed = false;
  private readonly now: () => number;

  private constructor(
    readonly dir: string,
    options: EventLogOptions,
  ) {
    const meta = join(dir, 'log.json');
    mkdirSync(dir, { recursive: true });
    // The partition count is fixed at creation, as in Event Hubs: keys must keep their partition.
    const saved = existsSync(meta) ? (JSON.parse(readFileSync(meta, 'utf8')) as { partitions: number }).partitions : undefined;
    const partitions = saved ?? options.partitions ?? 4;
    if (options.partitions !== undefined && saved !== undefined && saved !== options.partitions) {
      throw new Error(`the event log in ${dir} has ${saved} partitions; it cannot be reopened with ${options.partitions}`);
    }
    if (saved === undefined) writeFileSync(meta, JSON.stringify({ partitions }));
    this.createdAt = statSync(meta).mtimeMs;
    this.now = options.now ?? Date.now;
    const resolved = { retentionMs: options.retentionMs ?? 24 * 3600_000, segmentBytes: options.segmentBytes ?? 64 * 1024 * 1024, fsync: options.fsync ?? false, now: this.now };
    this.partitionIds = Array.from({ length: partitions }, (_, i) => String(i));
    this.parts = this.partitionIds.map((id) => new Partition(id, join(dir, 'partitions', id), resolved));
    this.enforceRetention();
  }

  static open(dir: string, options: EventLogOptions = {}): EventLog {
    return new EventLog(dir, options);
  }

  partitionFor(key: string): string {
    return String(partitionOf(key, this.parts.length));
  }

  /** Appends an event to its partition (named, else its key's); resolves once it is written. */
  append(input: EventInput): Promise<{ partitionId: string; sequenceNumber: number }> {
    if (this.closed) return Promise.reject(new Error('the event log is closed'));
    let part: Partition;
    try {
      part = input.partitionId === undefined ? this.parts[partitionOf(input.partitionKey, this.parts.length)]! : this.part(input.partitionId);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return new Promise((resolve, reject) => {
      part.pending.push({ input, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const now = this.now();
    for (const p of this.parts) p.flush(now);
  }

  read(partitionId: string, fromSequenceNumber: number, maxCount: number): EventRecord[] {
    return this.part(partitionId).read(fromSequenceNumber, maxCount);
  }

  /** Resolves when the partition has an event at or after `sequenceNumber`, or after the timeout. */
  waitFor(partitionId: string, sequenceNumber: number, timeoutMs: number): Promise<void> {
    return this.closed ? Promise.resolve() : this.part(partitionId).waitFor(sequenceNumber, timeoutMs);
  }

  /**
   * The first sequence number at or after a byte offset (after it when not `inclusive`): where a
   * reader that names an offset starts. The partition's end when none is there yet.
   */
  sequenceAtOffset(partitionId: string, offset: number, inclusive: boolean): number {
    return this.part(partitionId).sequenceWhere((r) => (inclusive ? r.offset >= offset : r.offset > offset));
  }

  /** The first sequence number enqueued after `time` (epoch ms): where a reader that names a time starts. */
  sequenceAfterTime(partitionId: string, time: number): number {
    return this.part(partitionId).sequenceWhere((r) => r.enqueuedTime > time);
  }

  /** First and next sequence numbers of a partition (next = last + 1). */
  bounds(partitionId: string): { first: number; next: number } {
    const p = this.part(partitionId);
    return { first: p.firstSeq, next: p.nextSeq };
  }

  /** Wakes every reader waiting in waitFor (when its consumer stops). */
  wakeReaders(): void {
    for (const p of this.parts) p.wakeAll();
  }

  /**
   * Drops what is older than the retention period, as Event Hubs does, whether or not it was read,
   * and reports it: per partition, the sequence numbers dropped and how many of them each consumer
   * group had not yet handled, from where each has checkpointed (`consumed`: group → partition →
   * last sequence number handled; the checkpoints live with the consumers, not in the log).
   */
  enforceRetention(consumed: Readonly<Record<string, Readonly<Record<string, number>>>> = {}): RetentionReport {
    const now = this.now();
    const report: RetentionReport = { segments: 0, dropped: [] };
    const groups = Object.keys(consumed).sort();
    for (const p of this.parts) {
      const gone = p.enforceRetention(now);
      if (!gone) continue;
      report.segments += gone.segments;
      if (gone.fromSequence < 0) continue;
      const unread = groups
        .map((consumerGroup) => {
          const seen = Object.hasOwn(consumed[consumerGroup]!, p.id) ? consumed[consumerGroup]![p.id]! : -1;
          return { consumerGroup, count: Math.max(0, gone.toSequence - Math.max(seen, gone.fromSequence - 1)) };
        })
        .filter((u) => u.count > 0);
      report.dropped.push({ partitionId: p.id, fromSequence: gone.fromSequence, toSequence: gone.toSequence, unread });
    }
    this.lastRetention = report;
    return report;
  }

  /** What the last retention pass (also run at open) dropped. */
  lastRetention: RetentionReport = { segments: 0, dropped: [] };

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    for (const p of this.parts) p.close();
  }

  private part(id: string): Partition {
    const p = this.parts[Number(id)];
    if (!p || String(Number(id)) !== id) throw new Error(`no partition '${id}' (the log has ${this.parts.length})`);
    return p;
  }
}
