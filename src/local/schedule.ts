/**
 * A timer function's schedule run locally as its cron runs it in Azure: every M minutes at second
 * S of the minute is every M minutes, the first time S seconds after start (a whole period when S
 * is 0). `periodMs` shortens the period (tests), the phase keeping its share of it. Only that form,
 * the one the schedules use: another is refused at start-up rather than run on some other beat.
 * Unref'd: a timer does not keep the process alive.
 */
export function onSchedule(schedule: string, run: () => void, periodMs?: number): { stop(): void } {
  const every = /^(\d{1,2}) \*\/(\d{1,2}) \* \* \* \*$/.exec(schedule);
  if (!every || Number(every[1]) > 59 || Number(every[2]) === 0) throw new RangeError(`the local host runs schedules of the form 'S */M * * * *', not '${schedule}'`);
  const cronPeriodMs = Number(every[2]) * 60_000;
  const period = periodMs ?? cronPeriodMs;
  const phase = (Number(every[1]) * 1000 * period) / cronPeriodMs;
  let interval: ReturnType<typeof setInterval> | undefined;
  const first = setTimeout(() => {
    interval = setInterval(run, period);
    interval.unref();
    run();
  }, phase || period);
  first.unref();
  return {
    stop: () => {
      clearTimeout(first);
      clearInterval(interval);
    },
  };
}
