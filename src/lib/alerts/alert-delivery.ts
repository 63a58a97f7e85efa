/**
 * Alert cards reach Teams, or wait for it. A card Teams does not take (down, throttling past the
 * webhook's retries, a webhook URL gone) used to fail its telemetry batch, and the host retries a
 * failed batch for as long as it fails: a Teams outage held a quarter of the plant's telemetry up
 * (no twins moved, no detection, no automated stop on that partition) until Teams came back. Now,
 * where the app has its storage account, such a card is kept there and the batch goes on; a timer
 * (`alertDelivery`, every minute) sends the kept cards, oldest first, once Teams takes them again.
 * While any card waits, new ones are kept behind it, so an incident's steps reach people in order
 * (never its "cleared" before its raise); of an incident with several cards waiting, the newest
 * alone goes out, and incidents raised and over during the outage go out together in one summary
 * card. A card sent late says so. Without a storage account
 * nothing can be kept, and the batch fails as before (its retry sends the card).
 */
import { AppError, isAppError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Alert, AlertOutboxPort, AlertSink, WaitingAlert } from '../ports.ts';
import { counted } from '../words.ts';

/** The timer function that sends kept cards (src/functions/alert-delivery.ts); infra/'s alert rule counts its failed invocations. */
export const ALERT_DELIVERY_FUNCTION = 'alertDelivery';
/** What is logged (as a warning) when a card is kept instead of delivered. */
export const ALERT_KEPT_LOG = 'alert card kept: Teams did not take it';
/** Kept cards tried per round at most: a backlog goes out over a few minutes, not as one flood. */
export const ALERTS_PER_ROUND = 30;
/** Incidents raised and over while Teams did not answer: from this many they are told in one summary card, at most this many a card. */
export const SUMMARY_MIN = 2;
export const SUMMARY_MAX = 20;
/** Cards refused for good in a row a round goes past, looking for one Teams takes; beyond, the webhook refuses everything. */
export const REFUSED_IN_A_ROW = 5;

export interface AlertRound {
  /** Kept cards Teams took this round (each then removed). */
  sent: number;
  /** Kept cards not sent because a later kept card of the same incident, delivered, told its newest state. */
  folded: number;
  /** Incidents raised and over while Teams did not answer, told together in one summary card. */
  summarised: number;
  /** Cards Teams refuses for good while it takes the next: moved out of the queue (`refused/` in the container). */
  setAside: number;
  /** Cards still kept after the round (of the first 5,000 listed). */
  waiting: number;
  /** When the oldest still kept was kept (ISO). */
  oldest: string | undefined;
  /** Why the round stopped early: Teams still not taking cards. */
  error: { code: string; message: string } | undefined;
  /** Blobs in the queue that are no card this app kept: set aside (`refused/`), and said. */
  unreadable: number;
}

/** A round that had nothing to send (also what an app without a storage account reports). */
export const noAlertRound = (): AlertRound => ({ sent: 0, folded: 0, summarised: 0, setAside: 0, waiting: 0, oldest: undefined, error: undefined, unreadable: 0 });

const summaryOf = (error: unknown) => (isAppError(error) ? { code: error.code, message: error.message } : { code: 'alerts.failed', message: error instanceof Error ? error.message : String(error) });

/**
 * What a round that leaves cards waiting ends with: the timer's invocation fails on it, so that
 * someone looks (a failed invocation is a request, which Application Insights keeps unsampled).
 */
export function alertRoundFailure(round: AlertRound): AppError | undefined {
  if (round.waiting === 0 && round.unreadable === 0) return undefined;
  const why = round.error ? `: Teams does not take them (${round.error.code}: ${round.error.message.slice(0, 300)})` : '';
  const parts = [
    round.waiting ? `${counted(round.waiting, 'alert card')} waiting for Teams since ${round.oldest}${why}` : '',
    round.unreadable ? `${counted(round.unreadable, 'blob')} in the alerts outbox ${round.unreadable === 1 ? 'was' : 'were'} no card this app kept (set aside under refused/)` : '',
  ].filter(Boolean);
  return new AppError('alerts.waiting', `${parts.join('; ')}. Operators are not being told of incidents: check the Teams webhook (TEAMS_WEBHOOK_URL); the dashboard shows the incidents meanwhile.`, { status: 503 });
}

export class AlertDelivery implements AlertSink {
  private lastKeptAt = 0;
  constructor(
    private readonly teams: AlertSink,
    private readonly outbox: AlertOutboxPort | undefined,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  async send(alert: Alert): Promise<void | 'deferred'> {
    if (!this.outbox) return this.teams.send(alert);
    // Behind the cards already waiting: an incident's steps reach people in the order they happened.
    // Storage that cannot say is no reason to keep a card from Teams: then it is sent.
    const queued = await this.outbox.any().catch(() => false);
    if (queued) return this.keep(alert, { code: 'alerts.queued', message: 'kept behind cards still waiting for Teams' });
    try {
      return await this.teams.send(alert);
    } catch (error) {
      return this.keep(alert, summaryOf(error));
    }
  }

  private async keep(alert: Alert, why: { code: string; message: string }): Promise<'deferred'> {
    // Strictly later than the card kept before it here, so two kept within a millisecond keep their order.
    const at = Math.max(this.now(), this.lastKeptAt + 1);
    try {
      await this.outbox!.put(alert, at, why);
      this.lastKeptAt = at;
    } catch (error) {
      // Neither delivered nor kept: the batch fails (retryably) and its retry tries again.
      throw new AppError('alerts.unkept', `alert card ${alert.id} was neither delivered (${why.code}) nor kept: ${(error as Error).message}`, { status: 503, retryable: true, cause: error });
    }
    this.logger.log('warn', ALERT_KEPT_LOG, { alertId: alert.id, deviceId: alert.deviceId, step: alert.incident.event, reason: why.code, detail: why.message.slice(0, 300) });
    return 'deferred';
  }

  /**
   * One round: the kept cards, oldest first, until Teams refuses one as down or `limit` went out.
   * Of an incident with several cards kept, only its newest goes out (an escalation says when it
   * was raised, a clear that it is over); the older ones are removed once it has gone, so that if
   * Teams refuses it for good, the step before it is still told. Incidents raised and over while
   * Teams did not answer (their raise and their clear both kept) go out as one summary card when
   * there are several. A card Teams refuses for good (a 4xx: the card itself, or the webhook gone)
   * is told apart by the cards after it: once a later one goes through, those refused before it
   * are set aside (logged as errors; their incidents are on the dashboard and in AlarmEvents), so
   * that they cannot hold every later card back; more than REFUSED_IN_A_ROW refused in a row is
   * everything refused alike, and they all wait.
   */
  async deliverKept(limit = ALERTS_PER_ROUND): Promise<AlertRound> {
    if (!this.outbox) return noAlertRound();
    const outbox = this.outbox;
    let sent = 0;
    let setAside = 0;
    let unreadable = 0;
    let error: AlertRound['error'];
    let folded = 0;
    let summarised = 0;
    const refused: { name: string; alertId: string; why: { code: string; message: string } }[] = [];
    const queue = await outbox.waiting();
    /** Each incident's kept cards, oldest first. */
    const steps = new Map<string, WaitingAlert[]>();
    for (const entry of queue) if (entry.incident !== undefined) (steps.get(entry.incident) ?? steps.set(entry.incident, []).get(entry.incident)!).push(entry);
    const isNewest = (entry: WaitingAlert) => entry.incident === undefined || steps.get(entry.incident)!.at(-1) === entry;
    /** Removes the steps an incident's delivered card superseded. */
    const fold = async (entry: WaitingAlert) => {
      for (const older of entry.incident === undefined ? [] : steps.get(entry.incident)!) {
        if (older === entry) continue;
        await outbox.remove(older.name);
        folded++;
      }
    };
    /** Reads a kept card; a blob that is none is set aside (it would keep every later card waiting) and said. */
    const read = async (entry: WaitingAlert): Promise<Alert | undefined> => {
      try {
        return await outbox.get(entry.name);
      } catch (e) {
        if (!isAppError(e) || e.code !== 'alerts.outboxUnreadable') throw e;
        await outbox.setAside(entry.name, { code: e.code, message: e.message });
        unreadable++;
        this.logger.log('error', 'blob in the alerts outbox is no card this app kept: set aside', { blob: entry.name });
        return undefined;
      }
    };
    let tried = 0;
    const done = new Set<WaitingAlert>();

    // Incidents nobody was told of and which are over: several go out as one card, not as a run of stale clears.
    const over = queue.filter((e) => e.step === 'cleared' && e.incident !== undefined && isNewest(e) && steps.get(e.incident)!.some((s) => s.step === 'raised')).slice(0, SUMMARY_MAX);
    if (this.teams.sendSummary && over.length >= SUMMARY_MIN) {
      const told: { entry: WaitingAlert; alert: Alert }[] = [];
      for (const entry of over) {
        const alert = await read(entry);
        if (alert) told.push({ entry, alert });
        else done.add(entry);
      }
      if (told.length >= SUMMARY_MIN) {
        tried++;
        try {
          // From the first of their raises kept to the last of their clears.
          const keptFrom = Math.min(...told.map((t) => Date.parse(steps.get(t.entry.incident!)![0]!.keptAt)));
          await this.teams.sendSummary({ keptFrom, keptTo: Date.parse(told.at(-1)!.entry.keptAt), incidents: told.map((t) => t.alert) });
          for (const { entry } of told) {
            await outbox.remove(entry.name);
            await fold(entry);
            done.add(entry);
            summarised++;
          }
          sent++;
        } catch (e) {
          error = summaryOf(e);
          // Teams down: the round ends here, everything kept. Refused for good (the summary itself): each incident's own card instead.
          if (!isAppError(e) || e.retryable) return this.endRound({ sent, folded, setAside, unreadable, summarised, error });
          this.logger.log('error', 'summary card refused by Teams: each incident goes out on its own card', { incidents: told.length, reason: error.code, detail: error.message.slice(0, 300) });
          error = undefined;
        }
      }
    }

    for (const entry of queue) {
      // The newest card of its incident goes for it; the older ones are removed once it has.
      if (done.has(entry) || !isNewest(entry)) continue;
      if (tried++ >= limit) break;
      const alert = await read(entry);
      if (!alert) continue; // unreadable (set aside), or sent meanwhile by another round
      try {
        await this.teams.send({ ...alert, late: { keptAt: Date.parse(entry.keptAt) || this.now() } });
      } catch (e) {
        const why = summaryOf(e);
        if (isAppError(e) && !e.retryable && refused.length < REFUSED_IN_A_ROW) {
          refused.push({ name: entry.name, alertId: alert.id, why });
          continue;
        }
        error = why;
        break;
      }
      // Teams takes cards: those it refused before this one are their own fault.
      for (const r of refused.splice(0)) {
        await outbox.setAside(r.name, r.why);
        this.logger.log('error', 'alert card set aside: Teams refuses it, and takes the cards after it', { alertId: r.alertId, reason: r.why.code, detail: r.why.message.slice(0, 300) });
        setAside++;
      }
      // Removed only once Teams took it: a crash between the two sends it again (at least once).
      await outbox.remove(entry.name);
      await fold(entry);
      sent++;
    }
    return this.endRound({ sent, folded, setAside, unreadable, summarised, error: error ?? refused[0]?.why });
  }

  /** What is left once the round is over: listed again, since cards may have been kept meanwhile. */
  private async endRound(done: Omit<AlertRound, 'waiting' | 'oldest'>): Promise<AlertRound> {
    const left = await this.outbox!.waiting();
    const round: AlertRound = { ...done, waiting: left.length, oldest: left[0]?.keptAt };
    const { sent, folded, setAside, summarised, unreadable } = round;
    if (sent || folded || setAside || unreadable || left.length) this.logger.log(left.length ? 'warn' : 'info', 'kept alert cards delivered', { sent, summarised, folded, setAside, unreadable, waiting: round.waiting, oldest: round.oldest, error: round.error?.code });
    return round;
  }
}
