/**
 * An in-memory far end for the telemetry store: keyed rows, so a replay adds nothing, the way
 * readers see Data Explorer through its deduplicating views.
 */
import type { ConnectionEvent, LatestReading, StoreBatch, TelemetryReadPort, TelemetryStorePort } from '../../src/lib/ports.ts';
import type { AlarmEventRow, AnomalyFlagRow, DeadLetterRow, DeviceConnectionRow, MaintenanceActionRow, TelemetryRow } from '../../src/lib/store/rows.ts';
import type { AppError } from '../../src/lib/errors.ts';

export class InMemoryStore implements TelemetryStorePort {
  readonly telemetry = new Map<string, TelemetryRow>();
  readonly anomalies = new Map<string, AnomalyFlagRow>();
  readonly deadLetters: DeadLetterRow[] = [];
  readonly actions = new Map<string, MaintenanceActionRow>();
  private readonly alarmEventRows = new Map<string, AlarmEventRow>();
  readonly connections = new Map<string, DeviceConnectionRow>();
  writes = 0;
  /** Errors for the next writes, in order; an undefined entry lets that write through. */
  failNext: (AppError | undefined)[] = [];

  async write(batch: StoreBatch): Promise<void> {
    const e = this.failNext.shift();
    if (e) throw e;
    this.writes++;
    for (const r of batch.telemetry) this.telemetry.set(`${r.DeviceId}|${r.MessageId}`, r);
    for (const r of batch.anomalies) this.anomalies.set(`${r.DeviceId}|${r.MessageId}`, r);
    this.deadLetters.push(...batch.deadLetters);
    for (const r of batch.actions ?? []) this.actions.set(`${r.DeviceId}|${r.IncidentId}|${r.Action}`, r);
    for (const r of batch.alarmEvents ?? []) this.alarmEventRows.set(`${r.IncidentId}|${r.Event}|${r.Timestamp}`, r);
    for (const r of batch.connections ?? []) this.connections.set(`${r.DeviceId}|${r.SequenceNumber}`, r);
  }

  /** Each device's connection event with the highest sequence number. */
  async latestConnections(devices: readonly string[]): Promise<Map<string, ConnectionEvent>> {
    const latest = new Map<string, DeviceConnectionRow>();
    for (const r of this.connections.values()) {
      const cur = latest.get(r.DeviceId);
      if (devices.includes(r.DeviceId) && (!cur || r.SequenceNumber > cur.SequenceNumber)) latest.set(r.DeviceId, r);
    }
    return new Map([...latest].map(([id, r]) => [id, { connected: r.State === 'connected', at: Date.parse(r.Timestamp) }]));
  }

  /** Incident lifecycle steps as a reader sees them (keyed, so a replay adds nothing), oldest first. */
  get storedAlarmEvents(): AlarmEventRow[] {
    return [...this.alarmEventRows.values()].sort((a, b) => a.Timestamp.localeCompare(b.Timestamp));
  }

  async latestReadings(since: number): Promise<LatestReading[]> {
    const latest = new Map<string, LatestReading>();
    for (const r of this.telemetry.values()) {
      const time = Date.parse(r.Timestamp);
      if (time < since) continue;
      const cur = latest.get(r.DeviceId);
      if (!cur || time > cur.time) latest.set(r.DeviceId, { deviceId: r.DeviceId, time, readings: r.Readings, enqueuedTime: Date.parse(r.EnqueuedTime) });
    }
    return [...latest.values()];
  }
}

/**
 * The in-memory store with the reads a test makes (the HTTP API's listings answer from them), every
 * other read failing: the stores' own reads are tested in telemetry-store.test.ts.
 */
export function storeWithReads(reads: Partial<TelemetryReadPort>): InMemoryStore & TelemetryReadPort {
  const unread = async (): Promise<never> => {
    throw new Error('not read here');
  };
  return Object.assign(new InMemoryStore(), { history: unread, alerts: unread, acknowledge: unread, deadLetterGroups: unread, alarmEvents: unread, firstReadingAt: unread }, reads);
}
