/**
 * The automated action (emergencyStop) taken during an incident, as MaintenanceActions records it:
 * sent, a dry run, blocked by an interlock, or failed. A stop is decided on the equipment, not on
 * the alarm (its row's IncidentId is the stop's own), so an incident's action is the equipment's
 * latest one from the incident's raise to its clearing. Both stores read it this way, so the
 * dashboard can say, for past incidents too, what was done and why.
 */
import type { MaintenanceActionRow } from '../store/rows.ts';

export interface IncidentAction {
  name: string;
  /** executed | dry-run | blocked | failed */
  outcome: string;
  /** The triggering reading's time (ISO). */
  time: string;
  detail: string;
}

/** Of an incident, what matching needs: whose, raised when, cleared when (null: active). */
interface IncidentSpan {
  deviceId: string;
  time: string;
  clearedAt: string | null;
}

export type ActionRow = Pick<MaintenanceActionRow, 'Timestamp' | 'DeviceId' | 'Action' | 'Outcome' | 'Detail'>;

/** The incidents with their actions (`action`: null when none was taken). `actions` in any order. */
export function withActions<T extends IncidentSpan>(incidents: readonly T[], actions: readonly ActionRow[]): (T & { action: IncidentAction | null })[] {
  const byDevice = new Map<string, { at: number; row: ActionRow }[]>();
  for (const row of actions) {
    const at = Date.parse(row.Timestamp);
    if (Number.isNaN(at)) continue;
    const list = byDevice.get(row.DeviceId) ?? [];
    list.push({ at, row });
    byDevice.set(row.DeviceId, list);
  }
  return incidents.map((incident) => {
    const from = Date.parse(incident.time);
    const to = incident.clearedAt === null ? Infinity : Date.parse(incident.clearedAt);
    let best: { at: number; row: ActionRow } | undefined;
    for (const a of byDevice.get(incident.deviceId) ?? []) if (a.at >= from && a.at <= to && (!best || a.at > best.at)) best = a;
    return { ...incident, action: best ? { name: best.row.Action, outcome: best.row.Outcome, time: new Date(best.at).toISOString(), detail: best.row.Detail } : null };
  });
}
