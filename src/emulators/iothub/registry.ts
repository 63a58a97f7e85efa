/**
 * The local IoT Hub's identity registry: devices with primary and secondary symmetric keys, and
 * the hub's own shared access policy (iothubowner) for service calls. Kept in one JSON file,
 * rewritten atomically on each change.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface DeviceIdentity {
  deviceId: string;
  primaryKey: string;
  secondaryKey: string;
  status: 'enabled' | 'disabled';
  createdAt: string;
  /** Bumped when the identity changes: the generation id IoT Hub stamps on messages. */
  generationId: string;
}

interface RegistryFile {
  servicePolicy: { name: string; primaryKey: string; secondaryKey: string };
  devices: DeviceIdentity[];
}

const DEVICE_ID = /^[A-Za-z0-9\-:.+%_#*?!(),=@$']{1,128}$/;
const newKey = () => randomBytes(32).toString('base64');

export class RegistryError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class DeviceRegistry {
  private readonly devices = new Map<string, DeviceIdentity>();
  readonly servicePolicy: RegistryFile['servicePolicy'];
  private loadedAt = 0;

  /** `file` undefined: in memory only. */
  constructor(private readonly file: string | undefined) {
    const saved = file && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as RegistryFile) : undefined;
    this.servicePolicy = saved?.servicePolicy ?? { name: 'iothubowner', primaryKey: newKey(), secondaryKey: newKey() };
    for (const d of saved?.devices ?? []) this.devices.set(d.deviceId, d);
    if (!saved) this.save();
    // A file written by an earlier version was readable by everyone: its owner's only, from now on.
    else if (file && (statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    this.loadedAt = this.mtime();
  }

  private mtime(): number {
    return this.file && existsSync(this.file) ? statSync(this.file).mtimeMs : 0;
  }

  /** Picks up changes another process (the CLI) made to the file. */
  private refresh(): void {
    if (!this.file || this.mtime() === this.loadedAt) return;
    const saved = JSON.parse(readFileSync(this.file, 'utf8')) as RegistryFile;
    this.devices.clear();
    for (const d of saved.devices) this.devices.set(d.deviceId, d);
    this.loadedAt = this.mtime();
  }

  get(deviceId: string): DeviceIdentity | undefined {
    this.refresh();
    return this.devices.get(deviceId);
  }

  /** The identity as last loaded, without looking at the file: for hot paths that refresh on their own schedule. */
  peek(deviceId: string): DeviceIdentity | undefined {
    return this.devices.get(deviceId);
  }

  list(): DeviceIdentity[] {
    this.refresh();
    return [...this.devices.values()];
  }

  /** Adds a device (keys generated unless given); with `ifAbsent`, returns the existing one instead of failing. */
  add(deviceId: string, options: { primaryKey?: string; secondaryKey?: string; status?: DeviceIdentity['status']; ifAbsent?: boolean } = {}): DeviceIdentity {
    this.refresh();
    if (!DEVICE_ID.test(deviceId)) throw new RegistryError(400, 'ArgumentInvalid', `'${deviceId}' is not a valid device id (1-128 letters, digits and -:.+%_#*?!(),=@$').`);
    const existing = this.devices.get(deviceId);
    if (existing) {
      if (options.ifAbsent) return existing;
      throw new RegistryError(409, 'DeviceAlreadyExists', `A device with id '${deviceId}' is already registered.`);
    }
    for (const k of [options.primaryKey, options.secondaryKey]) {
      if (k !== undefined && Buffer.from(k, 'base64').length < 16) throw new RegistryError(400, 'ArgumentInvalid', 'Symmetric keys must be base64 of 16 to 64 bytes.');
    }
    const device: DeviceIdentity = {
      deviceId,
      primaryKey: options.primaryKey ?? newKey(),
      secondaryKey: options.secondaryKey ?? newKey(),
      status: options.status ?? 'enabled',
      createdAt: new Date().toISOString(),
      generationId: String(Date.now()) + String(Math.floor(Math.random() * 1e6)).padStart(6, '0'),
    };
    this.devices.set(deviceId, device);
    this.save();
    return device;
  }

  setStatus(deviceId: string, status: DeviceIdentity['status']): DeviceIdentity {
    const d = this.require(deviceId);
    d.status = status;
    this.save();
    return d;
  }

  remove(deviceId: string): void {
    this.require(deviceId);
    this.devices.delete(deviceId);
    this.save();
  }

  require(deviceId: string): DeviceIdentity {
    const d = this.get(deviceId);
    if (!d) throw new RegistryError(404, 'DeviceNotFound', `Device '${deviceId}' is not registered.`);
    return d;
  }

  connectionString(deviceId: string, hostName: string): string {
    const d = this.require(deviceId);
    return `HostName=${hostName};DeviceId=${d.deviceId};SharedAccessKey=${d.primaryKey}`;
  }

  serviceConnectionString(hostName: string): string {
    return `HostName=${hostName};SharedAccessKeyName=${this.servicePolicy.name};SharedAccessKey=${this.servicePolicy.primaryKey}`;
  }

  private save(): void {
    if (!this.file) return;
    mkdirSync(dirname(this.file), { recursive: true });
    const data: RegistryFile = { servicePolicy: this.servicePolicy, devices: this.list() };
    // It holds every device key and the iothubowner key: readable by its owner only.
    writeFileSync(`${this.file}.tmp`, JSON.stringify(data, null, 2), { mode: 0o600 });
    chmodSync(`${this.file}.tmp`, 0o600);
    renameSync(`${this.file}.tmp`, this.file);
    this.loadedAt = this.mtime();
  }
}
