/**
 * Which readings this instance has already handled, per device: the last N keys of each device
 * with their source times. A reading newer than everything recorded for its device cannot be a
 * replay, so the common in-order case costs no lookup at all; only a reading at or before the
 * device's newest time is searched for. IoT Hub's routing replays arrive within moments, so a
 * short memory per device catches them. Correctness never rests on it (the store is keyed and
 * twins only move forward): it spares a replay the work and the twin its patch.
 */
class DeviceHistory {
  readonly keys: (string | undefined)[];
  readonly times: Float64Array;
  next = 0;
  newest = -Infinity;

  constructor(size: number) {
    this.keys = new Array<string | undefined>(size);
    this.times = new Float64Array(size);
  }

  record(key: string, time: number): void {
    this.keys[this.next] = key;
    this.times[this.next] = time;
    this.next = (this.next + 1) % this.keys.length;
    if (time > this.newest) this.newest = time;
  }

  indexOf(key: string): number {
    return this.keys.indexOf(key);
  }
}

export class RecentKeys {
  private readonly devices = new Map<string, DeviceHistory>();
  constructor(private readonly perDevice = 256) {}

  /** Records the reading; false when it was already recorded for this device. */
  addIfAbsent(deviceId: string, key: string, time: number): boolean {
    let history = this.devices.get(deviceId);
    if (!history) this.devices.set(deviceId, (history = new DeviceHistory(this.perDevice)));
    if (time <= history.newest && history.indexOf(key) >= 0) return false;
    history.record(key, time);
    return true;
  }

  /** Forgets a reading again (the batch that recorded it failed and will be retried). */
  forget(deviceId: string, key: string): void {
    const history = this.devices.get(deviceId);
    const i = history?.indexOf(key) ?? -1;
    if (!history || i < 0) return;
    history.keys[i] = undefined;
    history.newest = -Infinity;
    history.keys.forEach((k, j) => {
      if (k !== undefined && history.times[j]! > history.newest) history.newest = history.times[j]!;
    });
  }
}
