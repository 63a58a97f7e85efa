/**
 * What one device's detector learnt since a checkpoint, so that a failed batch can be rolled back
 * (the host's retry must score it exactly as the failed attempt did) without copying the device's
 * state before every batch. That copy walked a few dozen small objects scattered over the heap:
 * about 2.7 µs a device and batch in the pipeline, more than scoring a reading, and most of the
 * cost of a batch that carries one or two readings per device, as the Functions host's batches do.
 *
 * A checkpoint is one copy of the state; every reading scored since is appended as plain numbers
 * (time, status, whether it ended its message, one value per sensor); a rollback copies the checkpoint back and replays the
 * readings before the failed batch. The detector is deterministic, so the replayed state is the
 * one the batch started from, to the last bit. A new checkpoint is taken at a batch's start once
 * `maxReadings` are journalled, or when the device's state is another object (read from the twin,
 * another instance's), or its sensors are others.
 */
import { type StreamingDetector } from './streaming-detector.ts';
import { copyDetectorState, type DetectorState } from './detector-state.ts';
import { dict } from '../own-properties.ts';

/** Statuses by code: 0 none, 1 running, then whatever else this device has reported since the checkpoint. */
const NONE = 0;
const RUNNING = 1;
/** Numbers a reading takes before its values: time, status, whether it ended its message. */
const FIXED = 3;

export class DetectorJournal {
  /** The state the journal describes (checkpoint plus readings); another one starts it afresh. */
  private state: DetectorState | undefined;
  private checkpoint: DetectorState | undefined;
  private names: readonly string[] = [];
  /** Per reading: time, status code, 1 when it ended its message (else 0), then one value per name (NaN where the reading has no number). */
  private data = new Float64Array(0);
  private count = 0;
  private readonly statuses: string[] = [];

  constructor(private readonly maxReadings = 64) {}

  /** Before a batch's first reading of the device: where a rollback of this batch returns to. */
  begin(state: DetectorState, names: readonly string[]): number {
    if (state !== this.state || this.count >= this.maxReadings || !sameNames(names, this.names)) {
      this.checkpoint = copyDetectorState(state, this.checkpoint);
      this.state = state;
      this.names = names;
      this.count = 0;
      this.statuses.length = 0;
    }
    return this.count;
  }

  /** A reading the detector just learnt from `state` (as begun): what a replay feeds it again. */
  record(time: number, values: Readonly<Record<string, unknown>>, status: string | undefined, endsMessage = true): void {
    const names = this.names;
    const width = FIXED + names.length;
    let at = this.count * width;
    if (at + width > this.data.length) {
      const grown = new Float64Array(Math.max(2 * this.data.length, 16 * width));
      grown.set(this.data.subarray(0, at));
      this.data = grown;
    }
    const data = this.data;
    data[at++] = time;
    data[at++] = this.codeOf(status);
    data[at++] = endsMessage ? 1 : 0;
    for (let i = 0; i < names.length; i++) {
      const x = values[names[i]!];
      // The detector skips anything that is not a finite number: NaN replays as the same skip.
      data[at++] = typeof x === 'number' ? x : NaN;
    }
    this.count++;
  }

  /**
   * The state as it was at `mark` (from begin), rebuilt from the checkpoint by replaying the
   * readings journalled before it; the readings after it are forgotten. Undefined when the journal
   * describes no state (nothing was begun since it was last reset).
   */
  rollback(detector: StreamingDetector, mark: number): DetectorState | undefined {
    if (!this.state || !this.checkpoint || mark > this.count) return undefined;
    // Written over the state the journal describes when it has the same sensors (nothing allocated).
    const state = copyDetectorState(this.checkpoint, this.state);
    const names = this.names;
    const width = FIXED + names.length;
    for (let r = 0; r < mark; r++) {
      const at = r * width;
      const features = dict<number>();
      for (let i = 0; i < names.length; i++) features[names[i]!] = this.data[at + FIXED + i]!;
      detector.step(state, this.data[at]!, features, this.statusOf(this.data[at + 1]!), names, this.data[at + 2] === 1);
    }
    this.state = state;
    this.count = mark;
    return state;
  }

  private codeOf(status: string | undefined): number {
    if (status === undefined) return NONE;
    if (status === 'running') return RUNNING;
    let i = this.statuses.indexOf(status);
    if (i < 0) i = this.statuses.push(status) - 1;
    return RUNNING + 1 + i;
  }

  private statusOf(code: number): string | undefined {
    return code === NONE ? undefined : code === RUNNING ? 'running' : this.statuses[code - RUNNING - 1];
  }
}

const sameNames = (a: readonly string[], b: readonly string[]) => a === b || (a.length === b.length && a.every((name, i) => name === b[i]));
