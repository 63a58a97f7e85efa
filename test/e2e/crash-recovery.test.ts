/**
 * `npm start`'s services are killed (SIGKILL) mid-stream, one after another: the function host
 * (the supervisor starts it again; the trigger resumes from its checkpoints in Azurite), the local
 * IoT Hub with its Event Hubs endpoint (devices reconnect and resend what was not acknowledged),
 * and then `npm start` itself, started again on the same data folder. In the end nothing is lost,
 * nothing is stored twice and no twin ever moved backwards (watched through the HTTP API the
 * whole time).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DEFAULT_PLANT } from '../../src/lib/plant/plant.ts';
import { DeviceRegistry } from '../../src/emulators/iothub/registry.ts';
import { Fleet } from '../../src/simulator/fleet.ts';
import { projectRoot } from '../../src/lib/paths.ts';
import { freePorts } from '../../src/local/free-ports.ts';

const dir = mkdtempSync(join(tmpdir(), 'crash-'));
const children: ChildProcess[] = [];
afterAll(() => {
  children.forEach((c) => c.exitCode === null && c.kill('SIGKILL'));
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `npm start`'s entry point in its own process; resolves with its endpoints once ready. */
async function startStack(ports: number[]): Promise<{ child: ChildProcess; apiUrl: string; apiKey: string; pids: Record<string, number> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot(), 'src/local/main.ts'), '--data', dir, '--no-simulator', '--json', '--api-port', String(ports[0]), '--adt-port', String(ports[1]), '--iothub-port', String(ports[2]), '--ml-port', String(ports[3]), '--eventhubs-port', String(ports[4]), '--azurite-port', String(ports[5])], {
    cwd: projectRoot(),
    env: { ...process.env, TWIN_PATCH_INTERVAL_MS: '0', LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const first = await createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next();
  const ready = JSON.parse(first.value as string) as { apiUrl: string; apiKey: string; pids: Record<string, number> };
  return { child, apiUrl: ready.apiUrl, apiKey: ready.apiKey, pids: ready.pids };
}

type Status = { rows: { EquipmentTelemetry: number; DeadLetters: number }; deadLetteredBatches: number };
const status = async (apiUrl: string) => (await (await fetch(`${apiUrl}/local/status`)).json()) as Status;

describe('a crash of the local stack', () => {
  it('loses nothing, stores nothing twice and never moves a twin backwards', async () => {
    const ports = await freePorts(6);
    let stack = await startStack(ports);
    const registry = new DeviceRegistry(join(dir, 'iothub', 'registry.json'));
    const hostName = `localhost:${ports[2]}`;
    const perDevice = 360;
    const fleet = new Fleet({
      devices: DEFAULT_PLANT.equipment.map((equipment) => ({ equipment, connectionString: registry.connectionString(equipment.id, hostName) })),
      caPem: readFileSync(join(dir, 'iothub', 'tls', 'ca.pem'), 'utf8'),
      rate: 40,
      messagesPerDevice: perDevice,
      runDir: join(dir, 'run'),
    });

    // Watch every twin's lastTelemetryTime through the API; it must never decrease.
    const seen = new Map<string, string>();
    const backwards: string[] = [];
    let watching = true;
    let apiUrl = stack.apiUrl;
    const watcher = (async () => {
      while (watching) {
        try {
          const res = await fetch(`${apiUrl}/api/twins/query`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-functions-key': stack.apiKey }, body: JSON.stringify({ query: "SELECT T.$dtId, T.lastTelemetryTime FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:manufacturing:Equipment;1')" }) });
          if (res.ok) {
            for (const t of ((await res.json()) as { items: { $dtId: string; lastTelemetryTime?: string }[] }).items) {
              const before = seen.get(t.$dtId);
              if (t.lastTelemetryTime && before && t.lastTelemetryTime < before) backwards.push(`${t.$dtId}: ${before} -> ${t.lastTelemetryTime}`);
              if (t.lastTelemetryTime) seen.set(t.$dtId, t.lastTelemetryTime);
            }
          }
        } catch {
          // The stack is down between the kill and the restart.
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const kill = async (pid: number) => {
      process.kill(pid, 'SIGKILL');
      while (alive(pid)) await new Promise((r) => setTimeout(r, 20));
    };
    await fleet.start();
    await new Promise((r) => setTimeout(r, 1500));
    // The function host, mid-batch: its supervisor starts it again.
    const sentBeforeKill = fleet.stats.sent;
    await kill(stack.pids.functions!);
    await new Promise((r) => setTimeout(r, 2000));
    // The IoT Hub with its Event Hubs endpoint: devices lose their connection and resend.
    const sentBeforeHubKill = fleet.stats.sent;
    await kill(stack.pids.iothub!);
    await new Promise((r) => setTimeout(r, 2500));
    // And npm start itself, with everything under it.
    const sentBeforeStackKill = fleet.stats.sent;
    stack.child.kill('SIGKILL');
    await new Promise((r) => stack.child.once('exit', r));
    await new Promise((r) => setTimeout(r, 500));
    stack = await startStack(ports);
    apiUrl = stack.apiUrl;

    await fleet.whenDone();
    const total = DEFAULT_PLANT.equipment.length * perDevice;
    expect(sentBeforeKill).toBeGreaterThan(0);
    expect(sentBeforeHubKill).toBeGreaterThan(sentBeforeKill);
    expect(sentBeforeStackKill).toBeLessThan(total);
    expect(fleet.stats).toMatchObject({ sent: total, acked: total, failed: 0 });
    const deadline = Date.now() + 60_000;
    while ((await status(apiUrl)).rows.EquipmentTelemetry < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, 1500)); // room for any late duplicate to show up
    watching = false;
    await watcher;

    const final = await status(apiUrl);
    expect(final.rows.EquipmentTelemetry).toBe(total); // 0 lost, 0 duplicated (rows are keyed by device and message id)
    expect(final.rows.DeadLetters).toBe(0);
    expect(final.deadLetteredBatches).toBe(0); // no batch was kept aside after its retries either
    expect(backwards).toEqual([]);
    // Each twin ends on its device's last reading.
    const lastSent = new Map<string, number>();
    for (const [id, at] of fleet.stats.sentAt) lastSent.set(id.split(':')[0]!, Math.max(lastSent.get(id.split(':')[0]!) ?? 0, at));
    for (const e of DEFAULT_PLANT.equipment) expect(seen.get(e.id), e.id).toBe(new Date(lastSent.get(e.id)!).toISOString());

    stack.child.kill('SIGTERM');
    await new Promise((r) => stack.child.once('exit', r));
  }, 180_000);
});
