/**
 * Whether another instance may have handled a device's events since this one last checked its
 * twin. Event Hubs numbers a partition's events one by one, so a batch that does not begin where
 * this instance's last successful batch of the partition ended means the events in between went
 * to another instance (the partition moved away and came back), or that this is its first batch
 * here. Each such gap opens a new epoch of that partition: a twin checked in its partition's
 * current epoch (read by id, or patched with If-Match) can be trusted as this instance knows it;
 * one checked before may hold what another instance wrote since. A device's events come through
 * one partition (IoT Hub routes by device), so a gap in one partition casts no doubt on the others.
 */
import type { BatchMetadata } from './decode.ts';

const MAX_DEVICES = 200_000;
/** Batches that do not say where they are: each one is a gap. */
const UNPLACED = '';

export class PartitionGaps {
  /** Per partition, the sequence number after this instance's last successful batch. */
  private readonly next = new Map<string, number>();
  private readonly epochs = new Map<string, number>();
  /** Per device, the partition and its epoch when its twin was last checked. */
  private readonly checked = new Map<string, { partition: string; epoch: number }>();

  /** At a batch's start: a gap (or a batch that does not say where it is) opens a new epoch of its partition, which is returned. */
  begin(meta: BatchMetadata): string {
    const at = span(meta);
    const partition = at?.partition ?? UNPLACED;
    if (!at || this.next.get(partition) !== at.first) this.epochs.set(partition, (this.epochs.get(partition) ?? 0) + 1);
    return partition;
  }

  /** Once a batch has succeeded: the next one of its partition is expected right after it. */
  end(meta: BatchMetadata): void {
    const at = span(meta);
    if (at) this.next.set(at.partition, at.last + 1);
  }

  /** The device's twin was just read or written: what this instance holds of it is the twin. */
  check(deviceId: string, partition: string): void {
    if (this.checked.size >= MAX_DEVICES && !this.checked.has(deviceId)) this.checked.clear();
    this.checked.set(deviceId, { partition, epoch: this.epochs.get(partition) ?? 0 });
  }

  /** Whether the twin may have changed since this instance last checked it. */
  suspect(deviceId: string, partition: string): boolean {
    const last = this.checked.get(deviceId);
    return last === undefined || last.partition !== partition || last.epoch !== (this.epochs.get(partition) ?? 0);
  }
}

function span(meta: BatchMetadata): { partition: string; first: number; last: number } | undefined {
  const partition = meta.partitionContext?.PartitionId ?? meta.partitionContext?.partitionId;
  const seq = meta.sequenceNumberArray;
  if (partition === undefined || !seq?.length) return undefined;
  const first = Number(seq[0]);
  const last = Number(seq[seq.length - 1]);
  return Number.isSafeInteger(first) && Number.isSafeInteger(last) ? { partition, first, last } : undefined;
}
