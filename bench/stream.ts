/**
 * A generated plant stream: N devices (robotic arms and conveyors, alternating) sending R readings
 * a second, cut into batches of `batchSeconds`, as IoT Hub-routed events with their metadata.
 * A small share of devices runs an overheating episode, so anomalies and alerts are exercised.
 */
import type { BatchMetadata } from '../src/lib/telemetry/decode.ts';

export interface StreamOptions {
  devices: number;
  ratePerDevice: number;
  seconds: number;
  batchSeconds: number;
  /** Share of devices that overheat for a few seconds somewhere in the run. */
  episodeShare: number;
  seed?: number;
  /**
   * Batches as the Functions host hands them over: each device's events in one of `partitions`
   * (IoT Hub routes a device to one partition), a batch at most `maxBatch` events of one
   * partition, partitions taking turns. Absent: one batch per `batchSeconds` of every device.
   */
  host?: { partitions: number; maxBatch: number };
}

export interface Batch {
  /** Each event's bytes, as the host hands the telemetry trigger (`dataType: 'binary'`). */
  bodies: Buffer[];
  meta: BatchMetadata;
}

export const deviceId = (i: number) => (i % 2 === 0 ? `robotic-arm-${String(i).padStart(4, '0')}` : `conveyor-belt-${String(i).padStart(4, '0')}`);

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The stream as a sequence of batches made on demand (deterministic for a seed), so a benchmark
 * holds one batch at a time, as the Functions host does, rather than the whole run in memory.
 */
export function* generateStream(o: StreamOptions, start: number): Generator<Batch> {
  const random = rng(o.seed ?? 42);
  const gauss = () => Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random());
  // Controllers report a few decimals, not a double's seventeen digits.
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  const episodes = new Map<number, number>();
  for (let d = 0; d < o.devices; d++) if (random() < o.episodeShare) episodes.set(d, random() * (o.seconds - 5));
  const stepMs = 1000 / o.ratePerDevice;
  const perBatch = o.batchSeconds * o.ratePerDevice;
  let seq = 0;
  // Each partition's next sequence number, when the host's batches are made (Event Hubs numbers a partition's events one by one).
  const sequences: number[] = [];
  for (let b = 0; b * o.batchSeconds < o.seconds; b++) {
    const bodies: Buffer[] = [];
    const sys: Record<string, unknown>[] = [];
    const enq: string[] = [];
    for (let k = 0; k < perBatch; k++) {
      const tick = b * perBatch + k;
      const time = start + tick * stepMs;
      for (let d = 0; d < o.devices; d++) {
        const ep = episodes.get(d);
        const hot = ep !== undefined && tick * stepMs >= ep * 1000 && tick * stepMs < (ep + 5) * 1000;
        const id = deviceId(d);
        const body =
          d % 2 === 0
            ? { timestamp: new Date(time).toISOString(), seq: tick, temperature: r3((hot ? 96 : 65) + gauss() * 2), vibration: r3(0.5 + gauss() * 0.05), pressure: r3(6 + gauss() * 0.2), status: 'running' }
            : { timestamp: new Date(time).toISOString(), seq: tick, speed: r3(1.5 + gauss() * 0.05), load: r3(250 + gauss() * 10), motorTemperature: r3((hot ? 99 : 60) + gauss() * 2), status: 'running' };
        bodies.push(Buffer.from(JSON.stringify(body)));
        sys.push({ 'iothub-connection-device-id': id, 'message-id': `${id}-${tick}` });
        enq.push(new Date(time + 50).toISOString());
        seq++;
      }
    }
    if (!o.host) {
      yield { bodies, meta: { partitionContext: { PartitionId: '0' }, systemPropertiesArray: sys, enqueuedTimeUtcArray: enq, sequenceNumberArray: bodies.map((_, i) => seq - bodies.length + i) } };
      continue;
    }
    yield* hostBatches(o.host, o.devices, bodies, sys, enq, sequences);
  }
}

/** One window's events (device after device, tick after tick) cut as the Functions host cuts them. */
function* hostBatches(host: { partitions: number; maxBatch: number }, devices: number, bodies: Buffer[], sys: Record<string, unknown>[], enq: string[], next: number[]): Generator<Batch> {
  const byPartition = Array.from({ length: host.partitions }, () => [] as number[]);
  for (let i = 0; i < bodies.length; i++) byPartition[(i % devices) % host.partitions]!.push(i);
  const queues = byPartition.map((events, p) => ({ p, events, at: 0 }));
  while (queues.some((q) => q.at < q.events.length)) {
    for (const q of queues) {
      if (q.at >= q.events.length) continue;
      const take = q.events.slice(q.at, q.at + host.maxBatch);
      q.at += take.length;
      const first = next[q.p] ?? 0;
      next[q.p] = first + take.length;
      yield {
        bodies: take.map((i) => bodies[i]!),
        meta: { partitionContext: { PartitionId: String(q.p) }, systemPropertiesArray: take.map((i) => sys[i]!), enqueuedTimeUtcArray: take.map((i) => enq[i]!), sequenceNumberArray: take.map((_, k) => first + k) },
      };
    }
  }
}
