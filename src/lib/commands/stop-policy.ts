/**
 * When the pipeline may send a machine its emergencyStop, and when it must not. Interlocks:
 * - a failure prediction, not an anomaly score alone: no stop without a failure probability of
 *   at least `minProbability` on a reading that is also critical;
 * - confirmed: the last `confirmReadings` fresh readings all qualify, or the equipment's incident
 *   was critical before the newest reading and that reading still qualifies;
 * - never twice for one incident: not while the machine reports it is stopped, and not within
 *   `incidentMs` of the last stop recorded on the twin or made by this instance;
 * - a rate limit of `maxPerHour` stops per instance (and plant-wide, shared by every instance, where the app has its storage account: the pipeline claims it), so a bad model cannot stop the plant;
 * - fresh: only readings younger than `maxAgeMs` (a backlog replayed after an outage must not
 *   stop machines for conditions long gone);
 * - `mode`: off, dry-run (decide and record, send nothing) or on.
 */
import { BoundedMap } from '../bounded-set.ts';
import type { TwinState } from '../ports.ts';
import { healthOf, type ScoredReading, type Thresholds } from '../twins/twin-update.ts';
import { counted } from '../words.ts';

export interface StopSettings {
  mode: 'off' | 'dry-run' | 'on';
  minProbability: number;
  confirmReadings: number;
  maxPerHour: number;
  incidentMs: number;
  /** Readings older than this (against the wall clock) never stop a machine. */
  maxAgeMs: number;
}

export interface StopVerdict {
  /**
   * `recorded`: this very reading's stop was sent already (the twin, or this instance, holds it)
   * and the batch is being replayed after a failure or a crash: not sent again, but its card and
   * row still go out (at least once).
   */
  kind: 'stop' | 'dry-run' | 'blocked' | 'recorded';
  incidentId: string;
  trigger: ScoredReading;
  reason: string;
  /**
   * Set on a host retry of a batch whose verdict was acted on already (a stop that failed, a block,
   * a dry run): the same verdict, so that the retry raises, tells and records what the first
   * attempt did, with the outcome it had; nothing is sent or counted again.
   */
  replay?: { outcome: string; detail: string };
}

/** The window `maxPerHour` counts over (the shared plant-wide window too). */
export const STOP_RATE_WINDOW_MS = 3_600_000;
const RETRY_FAILED_MS = 10_000;
const STOPPED = new Set(['emergencyStopped', 'stopped']);

export class StopPolicy {
  /**
   * The hourly limit's places, by incident: claimed when a stop (or a dry run) is decided, not when
   * it is acted on, since one batch decides for all its equipment before any stop goes out (a batch
   * in which every machine looked about to fail once stopped them all). Given back if the stop
   * fails or is blocked after all; kept if the batch fails before acting (its retry decides the
   * same incident and finds its place), the conservative side for a safety limit.
   */
  private readonly claims = new Map<string, number>();
  private readonly lastStop = new Map<string, number>();
  /** A blocked stop is reported once per incident window, not on every batch. */
  private readonly lastBlocked = new Map<string, number>();
  /** When a stop last failed per device: retried, but not on every batch. */
  private readonly lastFailed = new Map<string, number>();
  /** Incidents already decided here, with what came of them (a host retry of the batch must not act twice, and must say the same). */
  private readonly decided = new BoundedMap<string, { kind: StopVerdict['kind']; outcome: string; detail: string }>(10_000);

  constructor(private readonly settings: StopSettings, private readonly thresholds: Thresholds) {}

  /**
   * `critical`: whether the equipment's incident was critical before the newest reading (the alarm
   * lifecycle's view); by default, the twin's health before the batch. The caller that knows better
   * says so: an incident that cleared within the batch, or that the newest reading itself made
   * critical, does not confirm a stop on one hot reading.
   */
  decide(state: TwinState, fresh: readonly ScoredReading[], now: number, critical = state.healthStatus === 'critical'): StopVerdict | undefined {
    const s = this.settings;
    if (s.mode === 'off') return undefined;
    const newest = fresh[fresh.length - 1];
    if (!newest) return undefined;
    if (now - newest.reading.time > s.maxAgeMs) return undefined;
    const qualifies = (r: ScoredReading) => r.score.failureProbability !== undefined && r.score.failureProbability >= s.minProbability && healthOf(r.score.anomalyScore, this.thresholds) === 'critical';
    if (!qualifies(newest)) return undefined;
    let run = 0;
    for (let i = fresh.length - 1; i >= 0 && qualifies(fresh[i]!); i--) run++;
    const confirmed = run >= s.confirmReadings || (critical && run >= 1);
    if (!confirmed) return undefined;

    const status = typeof newest.reading.values.status === 'string' ? newest.reading.values.status : state.status;
    if (status !== undefined && STOPPED.has(status)) return undefined;
    const last = Math.max(state.lastEmergencyStopTime ?? -Infinity, this.lastStop.get(state.id) ?? -Infinity);
    const incidentId = `${state.id}|stop|${newest.reading.key}`;
    const p = newest.score.failureProbability!;
    const reason = `failure probability ${(p * 100).toFixed(0)} % (≥ ${(s.minProbability * 100).toFixed(0)} %), critical for ${counted(run, 'reading')}${run < s.confirmReadings ? ' of a critical incident' : ''}`;
    if (s.mode === 'on' && last === newest.reading.time) return { kind: 'recorded', incidentId, trigger: newest, reason };
    if (newest.reading.time - last < s.incidentMs) return undefined;

    const acted = this.decided.get(incidentId);
    if (acted) return { kind: acted.kind, incidentId, trigger: newest, reason, replay: { outcome: acted.outcome, detail: acted.detail } };
    if (now - (this.lastFailed.get(state.id) ?? -Infinity) < RETRY_FAILED_MS) return undefined;
    for (const [id, at] of this.claims) if (at <= now - STOP_RATE_WINDOW_MS) this.claims.delete(id);
    if (!this.claims.has(incidentId) && this.claims.size >= s.maxPerHour) {
      if (newest.reading.time - (this.lastBlocked.get(state.id) ?? -Infinity) < s.incidentMs) return undefined;
      return { kind: 'blocked', incidentId, trigger: newest, reason: `rate limit: ${this.claims.size} stops in the last hour (max ${s.maxPerHour}); ${reason}` };
    }
    if (!this.claims.has(incidentId)) this.claims.set(incidentId, now);
    return { kind: s.mode === 'on' ? 'stop' : 'dry-run', incidentId, trigger: newest, reason };
  }

  /**
   * Records a verdict that was acted on (stop sent, dry run logged, block recorded). A stop that
   * failed (device offline, timeout, refused) is not one: it does not count toward the hourly
   * limit or the incident window, so the next qualifying readings try again, at most every
   * `RETRY_FAILED_MS`.
   */
  record(verdict: StopVerdict, now: number, failed = false, acted: { outcome: string; detail: string } = { outcome: failed ? 'failed' : verdict.kind, detail: verdict.reason }): void {
    if (verdict.replay) return;
    this.decided.set(verdict.incidentId, { kind: verdict.kind, ...acted });
    const deviceId = verdict.trigger.reading.deviceId;
    if (failed) {
      this.claims.delete(verdict.incidentId);
      this.lastFailed.set(deviceId, now);
      return;
    }
    if (verdict.kind === 'blocked') {
      // Blocked here, or by the plant-wide limit after this instance had claimed its place.
      this.claims.delete(verdict.incidentId);
      this.lastBlocked.set(deviceId, verdict.trigger.reading.time);
      return;
    }
    if (verdict.kind === 'recorded' && this.lastStop.get(deviceId) === verdict.trigger.reading.time) return; // counted when sent
    if (!this.claims.has(verdict.incidentId)) this.claims.set(verdict.incidentId, now);
    this.lastStop.set(deviceId, verdict.trigger.reading.time);
  }
}
