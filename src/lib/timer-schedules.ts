/**
 * The timer functions' schedules (NCRONTAB: second minute hour day month weekday), in one place
 * for Azure's registrations (src/functions) and the local host, which runs them as they run there.
 * The communication watch sweeps half a minute after the twin refresh, not on its tick: a sweep
 * that ran beside it raced the refresh for the twin it had just read.
 */
export const TIMER_SCHEDULES = Object.freeze({
  twinRefresh: '0 */1 * * * *',
  communicationWatch: '30 */1 * * * *',
  alertDelivery: '0 */1 * * * *',
  batchRedelivery: '0 */5 * * * *',
  refusedReadmission: '30 */5 * * * *',
});
