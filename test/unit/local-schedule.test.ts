import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { onSchedule } from '../../src/local/schedule.ts';
import { TIMER_SCHEDULES } from '../../src/lib/timer-schedules.ts';

describe('the local host runs its timer functions on their schedules', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs the communication watch half a minute after each twin refresh, as their crons do in Azure, never on the same tick', () => {
    const ran: string[] = [];
    const start = Date.now();
    const at = (name: string) => () => ran.push(`${name} ${(Date.now() - start) / 1000}`);
    const refresh = onSchedule(TIMER_SCHEDULES.twinRefresh, at('refresh'));
    const watch = onSchedule(TIMER_SCHEDULES.communicationWatch, at('watch'));
    vi.advanceTimersByTime(185_000);
    expect(ran).toEqual([
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

  it('keeps the phase its share of a shortened period, and runs nothing once stopped, whether before its first run or after', () => {
    let runs = 0;
    const early = onSchedule(TIMER_SCHEDULES.communicationWatch, () => runs++, 1_000);
    early.stop();
    const later = onSchedule(TIMER_SCHEDULES.communicationWatch, () => runs++, 1_000);
    vi.advanceTimersByTime(1_600);
    expect(runs).toBe(2);
    later.stop();
    vi.advanceTimersByTime(10_000);
    expect(runs).toBe(2);
  });

  it('refuses at start-up a schedule it could not follow, rather than run it on another beat', () => {
    expect(() => onSchedule('0 0 */2 * * *', () => {})).toThrow(/the local host runs schedules of the form 'S \*\/M \* \* \* \*', not '0 0 \*\/2 \* \* \*'/);
    expect(() => onSchedule('60 */1 * * * *', () => {})).toThrow(RangeError);
    expect(() => onSchedule('0 */0 * * * *', () => {})).toThrow(RangeError);
  });
});
