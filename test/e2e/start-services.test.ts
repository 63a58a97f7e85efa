/**
 * `npm run start:services`: the emulators without the function host, for `func start` to consume.
 * What the Functions host would do with local.settings.json is done here with the same SDK: a
 * device's telemetry sent through the local IoT Hub is read from the printed EventHubConnection,
 * and the plant is there (seeded) for the functions to find.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EventHubConsumerClient, earliestEventPosition, type ReceivedEventData } from '@azure/event-hubs';
import deviceSdk from 'azure-iot-device';
import mqttTransport from 'azure-iot-device-mqtt';
import { DeviceRegistry } from '../../src/emulators/iothub/registry.ts';
import { digitalTwinsClient, StaticTokenCredential } from '../../src/lib/twins/adt-twins.ts';
import { projectRoot } from '../../src/lib/paths.ts';
import { until } from '../support/until.ts';

const dir = mkdtempSync(join(tmpdir(), 'services-'));
let child: ChildProcess | undefined;
afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('npm run start:services', () => {
  it('serves the hub, Event Hubs, Azurite and ADT with the plant seeded, and no function host', { timeout: 120_000 }, async () => {
    child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot(), 'src/local/main.ts'), '--no-functions', '--data', dir, '--json', '--api-port', '0', '--adt-port', '0', '--iothub-port', '0', '--ml-port', '0', '--eventhubs-port', '0', '--azurite-port', '0'], {
      cwd: projectRoot(),
      env: { ...process.env, LOG_LEVEL: 'error' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const first = await createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next();
    const ready = JSON.parse(first.value as string) as { apiUrl?: string; adtUrl: string; adtCaFile: string; iotHubHostName: string; caFile: string; eventHubs: string; storage: string; pids: Record<string, number> };
    expect(ready.apiUrl).toBeUndefined();
    expect(ready.pids.functions).toBeUndefined();
    expect(ready.eventHubs).toMatch(/^Endpoint=sb:\/\/localhost:\d+;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;EntityPath=telemetry$/);

    // The plant the functions will look up is there.
    const adt = digitalTwinsClient({ endpoint: ready.adtUrl, credential: new StaticTokenCredential('x'), caPem: readFileSync(ready.adtCaFile, 'utf8') });
    expect((await adt.getDigitalTwin('robotic-arm-001')).body).toMatchObject({ $dtId: 'robotic-arm-001' });

    // A device sends through the hub; the Event Hubs trigger's connection reads it.
    const registry = new DeviceRegistry(join(dir, 'iothub', 'registry.json'));
    const device = deviceSdk.Client.fromConnectionString(registry.connectionString('robotic-arm-001', ready.iotHubHostName), mqttTransport.Mqtt);
    await device.setOptions({ ca: readFileSync(ready.caFile, 'utf8') });
    await device.open();
    await device.sendEvent(new deviceSdk.Message(JSON.stringify({ temperature: 61.5, timestamp: new Date().toISOString() })));
    await device.close();

    const consumer = new EventHubConsumerClient('$Default', ready.eventHubs);
    const got: ReceivedEventData[] = [];
    const sub = consumer.subscribe({ processEvents: async (events) => void got.push(...events), processError: async () => {} }, { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 0.2 });
    const bySource = (source: string) => got.filter((e) => e.systemProperties?.['iothub-message-source'] === source);
    await until("the device's event and its disconnect", () => bySource('Telemetry').length > 0 && bySource('deviceConnectionStateEvents').length === 2, { timeoutMs: 20_000 });
    await sub.close();
    await consumer.close();
    const [reading] = bySource('Telemetry');
    expect(reading!.body).toMatchObject({ temperature: 61.5 });
    expect(reading!.systemProperties).toMatchObject({ 'iothub-connection-device-id': 'robotic-arm-001' });
    // Its connect and disconnect too, as IoT Hub's second route sends them: the kind an application property, the order in the body.
    expect(bySource('deviceConnectionStateEvents').map((e) => [e.properties?.opType, e.systemProperties?.['iothub-connection-device-id'], typeof (e.body as { sequenceNumber?: unknown }).sequenceNumber])).toEqual([
      ['deviceConnected', 'robotic-arm-001', 'string'],
      ['deviceDisconnected', 'robotic-arm-001', 'string'],
    ]);
  });
});
