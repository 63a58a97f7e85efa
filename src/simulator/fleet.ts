/**
 * Simulated devices on IoT Hub: each one an azure-iot-device client over MQTT with its registry
 * connection string, sending its scenario's readings at a fixed rate and obeying emergencyStop
 * (it reports emergencyStopped once and stops sending). The ground truth — which messages were
 * anomalous on purpose, when wear began and when a device failed — is written beside the run.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import deviceSdk from 'azure-iot-device';
import mqttTransport from 'azure-iot-device-mqtt';
import type { PlantEquipment } from '../lib/plant/plant.ts';
import { isSilent, newState, sample, seedOf, withProbeFailure, type DegradationPlan, type ProbeFailure, type ScenarioState, type ShiftPlan, type Silence } from './scenarios.ts';

const { Client, Message } = deviceSdk;
const { Mqtt } = mqttTransport;
type DeviceClient = InstanceType<typeof Client>;

export interface FleetDevice {
  equipment: PlantEquipment;
  connectionString: string;
  degradation?: DegradationPlan;
  probeFailure?: ProbeFailure;
  /** Sends nothing for a while (its gateway lost its network or its power). */
  silence?: Silence;
}

export interface FleetOptions {
  devices: FleetDevice[];
  caPem: string;
  /** Messages per second per device. */
  rate: number;
  /** Stop after this long (default: until stop()). */
  seconds?: number;
  /** Stop each device after this many messages. */
  messagesPerDevice?: number;
  anomalyRate?: number;
  /** Every device runs and rests in turn (stopped between runs), from its start. */
  shift?: ShiftPlan;
  /** Where the run's ground truth goes (one folder per run). */
  runDir: string;
  /** Most unacknowledged messages per device before it waits (keeps the hub's queues bounded). */
  maxInFlight?: number;
  log?: (line: string) => void;
}

export interface FleetStats {
  sent: number;
  acked: number;
  failed: number;
  stoppedByCommand: string[];
  /** Device send time (epoch ms) by message id: for end-to-end latency. */
  sentAt: Map<string, number>;
}

interface Running {
  device: FleetDevice;
  client: DeviceClient;
  state: ScenarioState;
  seq: number;
  inFlight: number;
  stopped: boolean;
  failedReported: boolean;
  /** Off the network for a silence (its gateway without power): disconnected from the hub, connected again after it. */
  offline: boolean;
  /** The disconnect or reconnect under way, so that the next waits for it. */
  link: Promise<void>;
  reconnecting: boolean;
}

export class Fleet {
  readonly stats: FleetStats = { sent: 0, acked: 0, failed: 0, stoppedByCommand: [], sentAt: new Map() };
  private readonly running: Running[] = [];
  private timers: NodeJS.Timeout[] = [];
  private startedAt = 0;
  /** This run's boot id, in every message id. */
  private bootId = '';
  private done: Promise<void> = Promise.resolve();
  private finish: () => void = () => {};
  private readonly truthFile: string;

  constructor(private readonly options: FleetOptions) {
    mkdirSync(options.runDir, { recursive: true });
    this.truthFile = join(options.runDir, 'anomalies.jsonl');
  }

  async start(): Promise<void> {
    const { options } = this;
    this.startedAt = Date.now();
    this.bootId = this.startedAt.toString(36);
    writeFileSync(
      join(options.runDir, 'ground-truth.json'),
      JSON.stringify(
        {
          startedAt: new Date(this.startedAt).toISOString(),
          rate: options.rate,
          anomalyRate: options.anomalyRate ?? 0.05,
          anomalies: 'anomalies.jsonl',
          ...(options.shift ? { shift: options.shift } : {}),
          degradation: options.devices.filter((d) => d.degradation).map((d) => ({
            deviceId: d.equipment.id,
            onset: new Date(this.startedAt + d.degradation!.onsetSeconds * 1000).toISOString(),
            failure: new Date(this.startedAt + d.degradation!.failureSeconds * 1000).toISOString(),
          })),
          probeFailures: options.devices.filter((d) => d.probeFailure).map(({ equipment, probeFailure: p }) => ({
            deviceId: equipment.id,
            sensor: p!.sensor,
            from: new Date(this.startedAt + p!.fromSeconds * 1000).toISOString(),
            ...(p!.toSeconds !== undefined ? { to: new Date(this.startedAt + p!.toSeconds * 1000).toISOString() } : {}),
          })),
          silences: options.devices.filter((d) => d.silence).map(({ equipment, silence: s }) => ({
            deviceId: equipment.id,
            from: new Date(this.startedAt + s!.fromSeconds * 1000).toISOString(),
            ...(s!.toSeconds !== undefined ? { to: new Date(this.startedAt + s!.toSeconds * 1000).toISOString() } : {}),
          })),
        },
        null,
        2,
      ),
    );
    writeFileSync(this.truthFile, '');
    // Open in small waves: hundreds of TLS handshakes at once starve the hub.
    for (let i = 0; i < options.devices.length; i += 50) {
      await Promise.all(options.devices.slice(i, i + 50).map((d) => this.open(d)));
    }
    this.done = new Promise((resolve) => (this.finish = resolve));
    const interval = 1000 / options.rate;
    for (const r of this.running) {
      // Spread devices over the interval so the hub sees a steady stream.
      const offset = Math.random() * interval;
      const first = setTimeout(() => {
        this.tick(r);
        this.timers.push(setInterval(() => this.tick(r), interval));
      }, offset);
      this.timers.push(first);
    }
    if (options.seconds) this.timers.push(setTimeout(() => void this.stop(), options.seconds * 1000));
  }

  private async open(device: FleetDevice): Promise<void> {
    const r: Running = {
      device,
      // The stop handler reads `r` only once a call comes, after this is built.
      client: await this.connect(device, (request, response) => this.emergencyStop(r, request, response)),
      state: newState(device.equipment.kind, seedOf(device.equipment.id), this.options.anomalyRate ?? 0.05, device.degradation, this.options.shift),
      seq: 0,
      inFlight: 0,
      stopped: false,
      failedReported: false,
      offline: false,
      reconnecting: false,
      link: Promise.resolve(),
    };
    this.running.push(r);
  }

  /** A device client connected to the hub, answering emergencyStop. */
  private async connect(device: FleetDevice, onStop: Parameters<DeviceClient['onDeviceMethod']>[1]): Promise<DeviceClient> {
    const client = Client.fromConnectionString(device.connectionString, Mqtt);
    await client.setOptions({ ca: this.options.caPem });
    await client.open();
    client.onDeviceMethod('emergencyStop', onStop);
    return client;
  }

  private emergencyStop(r: Running, request: { payload: unknown }, response: { send(status: number, payload: unknown): Promise<void> }): void {
    const first = !r.stopped;
    r.stopped = true;
    if (first) {
      this.stats.stoppedByCommand.push(r.device.equipment.id);
      this.options.log?.(`simulator: ${r.device.equipment.id} stopped by emergencyStop (${JSON.stringify(request.payload)})`);
      this.send(r, { status: 'emergencyStopped' }, false);
    }
    void response.send(200, { accepted: true, status: 'emergencyStopped' });
  }

  /** Its gateway loses power: what is in flight is acknowledged or fails, then the link goes (IoT Hub sees the device disconnect). */
  private goOffline(r: Running): void {
    r.offline = true;
    r.link = r.link.then(async () => {
      const deadline = Date.now() + 10_000;
      while (r.inFlight > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      await r.client.close().catch(() => undefined);
    });
  }

  /** Power back: a new connection (answering emergencyStop again); it sends once connected. */
  private comeBack(r: Running): void {
    if (r.reconnecting) return;
    r.reconnecting = true;
    r.link = r.link.then(async () => {
      try {
        if (!r.stopped) {
          r.client = await this.connect(r.device, (request, response) => this.emergencyStop(r, request, response));
          r.offline = false;
        }
      } catch (error) {
        this.options.log?.(`simulator: ${r.device.equipment.id} could not reconnect (tried again next tick): ${(error as Error).message}`);
      } finally {
        r.reconnecting = false;
      }
    });
  }

  private tick(r: Running): void {
    if (r.stopped || r.inFlight >= (this.options.maxInFlight ?? 100)) return;
    const limit = this.options.messagesPerDevice;
    if (limit !== undefined && r.seq >= limit) {
      r.stopped = true;
      if (this.running.every((x) => x.stopped)) void this.stop();
      return;
    }
    const t = (Date.now() - this.startedAt) / 1000;
    // Off the network: its readings are not taken meanwhile, and none is sent later either.
    const silent = isSilent(r.device.silence, t);
    if (silent && !r.offline) this.goOffline(r);
    if (r.offline) {
      if (!silent) this.comeBack(r);
      return;
    }
    const s = withProbeFailure(sample(r.state, t), r.device.probeFailure, t);
    if (s.body.status === 'fault') {
      // A failed machine reports its fault once and goes quiet.
      if (r.failedReported) return;
      r.failedReported = true;
    }
    this.send(r, s.body, s.anomaly);
  }

  private send(r: Running, body: Record<string, unknown>, anomaly: boolean): void {
    const id = r.device.equipment.id;
    // Unique per run too: the counter starts again at every start, like a rebooted device's.
    const messageId = `${id}:${this.bootId}:${r.seq++}`;
    const now = Date.now();
    const message = new Message(JSON.stringify(body));
    message.messageId = messageId;
    message.contentType = 'application/json';
    message.contentEncoding = 'utf-8';
    message.properties.add('iothub-creation-time-utc', new Date(now).toISOString());
    if (anomaly) appendFileSync(this.truthFile, `${JSON.stringify({ deviceId: id, messageId, time: new Date(now).toISOString(), body })}\n`);
    r.inFlight++;
    this.stats.sent++;
    this.stats.sentAt.set(messageId, now);
    r.client.sendEvent(message).then(
      () => {
        r.inFlight--;
        this.stats.acked++;
      },
      (error: Error) => {
        r.inFlight--;
        this.stats.failed++;
        this.options.log?.(`simulator: ${id} send failed: ${error.message}`);
      },
    );
  }

  /** Resolves when every device has stopped (time or message limit, or stop()). */
  whenDone(): Promise<void> {
    return this.done;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    for (const r of this.running) r.stopped = true;
    // Let acknowledgements of messages in flight arrive before closing. After a hub restart the
    // device SDK resends with backoff, which on a busy machine takes more than a few seconds.
    const deadline = Date.now() + 60_000;
    while (this.running.some((r) => r.inFlight > 0) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    await Promise.all(this.running.map(async (r) => {
      await r.link;
      await r.client.close().catch(() => undefined);
    }));
    this.finish();
  }
}
