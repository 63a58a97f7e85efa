/**
 * A timer function's schedule run locally: every `periodMs`, the first time `phaseMs` after start
 * (a whole period when 0), as the seconds field of its cron offsets it in Azure. The communication
 * watch runs half a minute after the twin refresh there; run on the same tick here, a sweep raced
 * the refresh for the twin it had just read. Unref'd: a timer does not keep the process alive.
 */
export function onSchedule(periodMs: number, phaseMs: number, run: () => void): { stop(): void } {
  let interval: ReturnType<typeof setInterval> | undefined;
  const first = setTimeout(() => {
    interval = setInterval(run, periodMs);
    interval.unref();
    run();
  }, phaseMs || periodMs);
  first.unref();
  return {
    stop: () => {
      clearTimeout(first);
      clearInterval(interval);
    },
  };
}
