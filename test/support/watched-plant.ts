/**
 * Production lines of robotic arms under the communication watch, on the in-memory twins, on a
 * clock the test moves (Digital Twins' clock follows it): the plant the silence stories run on.
 */
import { CommunicationWatch } from '../../src/lib/alerts/communication-watch.ts';
import type { WorkingHours } from '../../src/lib/plant/working-hours.ts';
import { defaultSettings, harness } from './pipeline-harness.ts';
import { ARM, LINE, iso, plantCatalog } from './plant.ts';

/** `lines`: each line's twin id and its arms; `start`: the clock's first reading (epoch ms). */
export function watchedPlant(lines: Record<string, readonly string[]>, start: number, workingHours?: WorkingHours, lineHours?: ReadonlyMap<string, WorkingHours>) {
  let clock = start;
  const h = harness({ now: () => clock });
  h.twins.now = () => clock;
  for (const [line, arms] of Object.entries(lines)) {
    h.twins.add(line, LINE);
    for (const id of arms) {
      h.twins.add(id, ARM, { equipmentId: id });
      h.twins.relate(line, id, 'contains');
    }
  }
  const logged: string[] = [];
  const watch = new CommunicationWatch({ catalog: plantCatalog(), twins: h.twins, store: h.store, connectionEvents: h.store, alerts: h.alerts, settings: defaultSettings, logger: { log: (level, message) => void logged.push(`${level} ${message}`) }, concurrency: 2, now: () => clock, workingHours, lineHours });
  /** A minute of readings of each arm named, ten seconds apart, ending at `until`. */
  const run = async (ids: readonly string[], until: number) => {
    for (let t = until - 50_000; t <= until; t += 10_000) {
      clock = t;
      // IoT Hub takes each in when it is sent, on the test's clock.
      await h.send(ids.map((device, d) => ({ device, enqueued: t, body: { timestamp: iso(t), temperature: 70 + 0.1 * ((t / 10_000 + d) % 4), vibration: 0.4, pressure: 6, status: 'running' } })));
    }
  };
  const moveTo = (t: number) => void (clock = t);
  let sequence = 0;
  /** IoT Hub's connection event for a device at `time`, as the pipeline stores it. */
  const connection = (deviceId: string, state: 'connected' | 'disconnected', time: number) =>
    h.store.write({ telemetry: [], anomalies: [], deadLetters: [], connections: [{ Timestamp: iso(time), DeviceId: deviceId, State: state, SequenceNumber: (++sequence).toString(16).padStart(64, '0'), EnqueuedTime: iso(time) }] });
  return { h, watch, logged, run, moveTo, connection };
}
