/**
 * Which anomalies become a Teams alert. One per twin per batch at most (its worst fresh reading),
 * none while the twin's cooldown runs unless the severity escalates, and none twice for the same
 * reading: the id derives from the reading, and ids sent by this instance are remembered so a
 * host retry of the batch does not post again.
 */
import type { TwinState } from '../ports.ts';
import { BoundedSet } from '../bounded-set.ts';
import { healthOf, type ScoredReading, type Thresholds } from '../twins/twin-update.ts';

export interface AlertDecision {
  id: string;
  severity: 'warning' | 'critical';
  trigger: ScoredReading;
  /** The condition has outlasted the cooldown since the last alert: tell someone more senior. */
  escalation?: { since: number };
}

export class AlertPolicy {
  private readonly sent = new BoundedSet<string>(50_000);

  constructor(private readonly thresholds: Thresholds, private readonly cooldownMs: number) {}

  decide(state: TwinState, fresh: readonly ScoredReading[]): AlertDecision | undefined {
    let worst: ScoredReading | undefined;
    // On a tie the newer reading wins: it is the one an engineer will look at.
    for (const s of fresh) if (!worst || s.score.anomalyScore >= worst.score.anomalyScore) worst = s;
    if (!worst) return undefined;
    const severity = healthOf(worst.score.anomalyScore, this.thresholds);
    if (severity === 'normal') return undefined;
    const id = `${worst.reading.key}|${severity}`;
    if (this.sent.has(id)) return undefined;
    const coolingDown = state.lastAlertTime !== undefined && worst.reading.time - state.lastAlertTime < this.cooldownMs;
    const escalates = severity === 'critical' && state.healthStatus !== 'critical';
    if (coolingDown && !escalates) return undefined;
    // Still unhealthy when the cooldown ends: the same incident, now escalated.
    const persists = state.lastAlertTime !== undefined && (state.healthStatus === 'warning' || state.healthStatus === 'critical') && !coolingDown;
    return { id, severity, trigger: worst, ...(persists ? { escalation: { since: state.lastAlertTime! } } : {}) };
  }

  markSent(id: string): void {
    this.sent.add(id);
  }
}
