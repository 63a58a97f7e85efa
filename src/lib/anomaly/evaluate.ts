/**
 * How well alarms predict failures, against ground truth (onset and failure time per machine).
 * Alarms are counted as episodes: an episode starts at an alarming reading and ends after
 * `rearmMs` without one, as an engineer would see them (one page, not one per reading).
 * - A failing machine is detected when an episode starts between its onset and its failure; its
 *   lead time is (failure − first such start) / (failure − onset).
 * - Every episode that starts outside [onset, failure] is a false alarm (on a healthy machine, or
 *   before the wear began); false alarms per device-week use the time machines were healthy.
 * - precision = detected / (detected + false alarms), recall = detected / failing machines.
 */
export interface GroundTruth {
  deviceId: string;
  /** Absent for a machine that did not fail. */
  onsetTime?: number;
  failureTime?: number;
  /** Time the run covers (for the healthy exposure). */
  startTime: number;
  endTime: number;
}

export class EpisodeTracker {
  private lastAlarm = -Infinity;
  readonly starts: number[] = [];
  constructor(private readonly rearmMs: number) {}

  observe(time: number, alarm: boolean): void {
    if (!alarm) return;
    if (time - this.lastAlarm > this.rearmMs) this.starts.push(time);
    this.lastAlarm = time;
  }
}

export interface DetectionReport {
  failing: number;
  detected: number;
  falseAlarms: number;
  healthyDeviceWeeks: number;
  recall: number;
  precision: number;
  f1: number;
  medianLeadTimePct: number;
  falseAlarmsPerDeviceWeek: number;
  leadTimesPct: number[];
}

const WEEK_MS = 7 * 86_400_000;

export function evaluateAlarms(truth: readonly GroundTruth[], episodeStarts: ReadonlyMap<string, readonly number[]>): DetectionReport {
  let failing = 0;
  let detected = 0;
  let falseAlarms = 0;
  let healthyMs = 0;
  const leads: number[] = [];
  for (const g of truth) {
    const starts = episodeStarts.get(g.deviceId) ?? [];
    const fails = g.onsetTime !== undefined && g.failureTime !== undefined;
    if (fails) failing++;
    healthyMs += (fails ? Math.min(g.onsetTime!, g.endTime) : g.endTime) - g.startTime;
    let first: number | undefined;
    for (const s of starts) {
      if (fails && s >= g.onsetTime! && s <= g.failureTime!) first ??= s;
      else if (!fails || s < g.onsetTime!) falseAlarms++;
      // An episode after the failure is the failure itself being reported: neither.
    }
    if (fails && first !== undefined) {
      detected++;
      leads.push((100 * (g.failureTime! - first)) / (g.failureTime! - g.onsetTime!));
    }
  }
  const recall = failing ? detected / failing : 1;
  const precision = detected + falseAlarms ? detected / (detected + falseAlarms) : 1;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  const sorted = [...leads].sort((a, b) => a - b);
  const median = sorted.length ? (sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2) : 0;
  const weeks = healthyMs / WEEK_MS;
  return { failing, detected, falseAlarms, healthyDeviceWeeks: weeks, recall, precision, f1, medianLeadTimePct: median, falseAlarmsPerDeviceWeek: weeks ? falseAlarms / weeks : 0, leadTimesPct: leads };
}
