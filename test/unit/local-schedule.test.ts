import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { onSchedule } from '../../src/local/schedule.ts';

describe('the local host runs its timer functions on their schedules', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs the communication watch half a minute after each twin refresh, as their crons do in Azure, never on the same tick', () => {
    const ran: string[] = [];
    const refresh = onSchedule(60_000, 0, () => ran.push(`refresh ${Date.now() / 1000}`));
    const watch = onSchedule(60_000, 30_000, () => ran.push(`watch ${Date.now() / 1000}`));
    const start = Date.now() / 1000;
    vi.advanceTimersByTime(185_000);
    expect(ran.map((r) => r.replace(/\d+(\.\d+)?$/, (t) => String(Number(t) - start)))).toEqual([
      'watch 30',
      'refresh 60',
      'watch 90',
      'refresh 120',
      'watch 150',
      'refresh 180',
    ]);
    refresh.stop();
    watch.stop();
  });

  it('runs nothing once stopped, whether before its first run or after', () => {
    let runs = 0;
    const early = onSchedule(1_000, 500, () => runs++);
    early.stop();
    const later = onSchedule(1_000, 500, () => runs++);
    vi.advanceTimersByTime(1_600);
    expect(runs).toBe(2);
    later.stop();
    vi.advanceTimersByTime(10_000);
    expect(runs).toBe(2);
  });
});
