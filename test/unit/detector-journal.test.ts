/**
 * The detector journal: a device's detector rolled back to where a failed batch began is exactly
 * the state it had then, however the readings since looked (statuses, maintenance, values missing
 * or not numbers, a sensor that appears later, several in one message) and however many checkpoints were taken meanwhile.
 */
import { describe, expect, it } from 'vitest';
import { DetectorJournal } from '../../src/lib/anomaly/detector-journal.ts';
import { StreamingDetector } from '../../src/lib/anomaly/streaming-detector.ts';
import { copyDetectorState, emptyDetectorState, type DetectorState } from '../../src/lib/anomaly/detector-state.ts';
import { rng } from '../../src/simulator/scenarios.ts';

const T0 = Date.UTC(2026, 10, 1);
const detector = new StreamingDetector({ learnLateReadings: true });
const NAMES = ['temperature', 'vibration', 'pressure'];
const STATUSES = ['running', 'running', 'running', 'running', 'idle', 'fault', 'maintenance', undefined, 'warming up'];

/** Reading `i` of a machine whose readings are now and then odd. */
function reading(r: () => number, i: number): { time: number; values: Record<string, unknown>; status: string | undefined; endsMessage: boolean } {
  const status = STATUSES[Math.floor(r() * STATUSES.length)];
  const values: Record<string, unknown> = { temperature: 65 + 5 * r(), vibration: 0.5 + r() / 10, status };
  // Pressure is fitted later in the run, and its gauge sometimes sends nothing or text.
  if (i > 40) values.pressure = r() < 0.1 ? (r() < 0.5 ? null : 'n/a') : 6 + r();
  // Now and then a reading from a clock that went back.
  // Some come several to a message (a logger's array): only the last of those ends it.
  return { time: T0 + i * 1000 - (r() < 0.05 ? 30_000 : 0), values, status, endsMessage: r() < 0.6 };
}

/** Feeds batches to a device as the pipeline does: begin, then step and record each reading. */
function feed(journal: DetectorJournal, state: DetectorState, batch: ReturnType<typeof reading>[]): number {
  const mark = journal.begin(state, NAMES);
  for (const { time, values, status, endsMessage } of batch) {
    detector.step(state, time, values as Record<string, number>, status, NAMES, endsMessage);
    journal.record(time, values, status, endsMessage);
  }
  return mark;
}

describe('the detector journal', () => {
  it('rolls a failed batch back to exactly the state it began from, across checkpoints, maintenance and odd readings', () => {
    const r = rng(7);
    const journal = new DetectorJournal(16);
    let state = emptyDetectorState();
    let i = 0;
    for (let b = 0; b < 40; b++) {
      const before = copyDetectorState(state);
      const size = 1 + Math.floor(r() * 7);
      const batch = Array.from({ length: size }, () => reading(r, i++));
      const mark = feed(journal, state, batch);
      if (b % 3 === 2) {
        // The batch failed: rolled back, and the host's retry scores it again from there.
        state = journal.rollback(detector, mark)!;
        expect(state).toEqual(before);
        const again = copyDetectorState(state);
        for (const { time, values, status, endsMessage } of batch) detector.step(again, time, values as Record<string, number>, status, NAMES, endsMessage);
        feed(journal, state, batch);
        expect(state).toEqual(again);
      }
    }
    expect(Object.keys(state.s)).toEqual(expect.arrayContaining(NAMES));
  });

  it('continues from a state read from elsewhere (another instance’s) instead of the one it journalled', () => {
    const r = rng(11);
    const journal = new DetectorJournal();
    const mine = emptyDetectorState();
    feed(journal, mine, Array.from({ length: 30 }, (_, i) => reading(r, i)));
    const theirs = copyDetectorState(mine);
    feed(journal, theirs, Array.from({ length: 5 }, (_, i) => reading(r, 30 + i)));
    const before = copyDetectorState(theirs);
    const mark = feed(journal, theirs, Array.from({ length: 5 }, (_, i) => reading(r, 35 + i)));
    expect(journal.rollback(detector, mark)).toEqual(before);
  });

  it('has nothing to roll back to before it began', () => {
    expect(new DetectorJournal().rollback(detector, 0)).toBeUndefined();
  });
});
