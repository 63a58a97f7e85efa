/**
 * The path `func start` would take, checked without Core Tools: Azure.Messaging.EventHubs, the .NET
 * client the Functions host's Event Hubs extension is built on, reads the local Event Hubs
 * endpoint with a `UseDevelopmentEmulator=true` connection string, continues from the checkpoint
 * the Node trigger wrote in Azurite, writes its own in the same blob layout (which the Node
 * checkpoint store then reads), and sends an event the Node SDK reads back. The client is a
 * small test-only program in test/dotnet/EventHubsClient, built with the .NET SDK and NuGet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ContainerClient } from '@azure/storage-blob';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { EventLog } from '../../src/emulators/event-log/event-log.ts';
import { startEventHubs, type EventHubsEndpoint } from '../../src/emulators/event-hubs/server.ts';
import { startAzurite, type Azurite } from '../../src/local/azurite.ts';
import { TriggerRunner } from '../../src/local/trigger-runner.ts';
import { jsonLogger } from '../../src/lib/log.ts';
import { projectRoot } from '../../src/lib/paths.ts';
import { until } from '../support/until.ts';

const run = promisify(execFile);
const project = join(projectRoot(), 'test', 'dotnet', 'EventHubsClient');
let dir: string;
let log: EventLog;
let endpoint: EventHubsEndpoint;
let azurite: Azurite;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dotnet-eh-'));
  log = EventLog.open(join(dir, 'eventlog'), { partitions: 4 });
  endpoint = await startEventHubs({ eventLog: log, hubName: 'telemetry', port: 0 });
  azurite = await startAzurite({ location: join(dir, 'azurite'), port: 0 });
  // Built once here (restore included) so the test's own time is the client's.
  await run('dotnet', ['build', project, '-c', 'Release', '--nologo', '-v', 'quiet'], { timeout: 240_000 });
}, 300_000);
afterAll(async () => {
  await endpoint?.close();
  await azurite?.close();
  log?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Event 6 is UTF-16, as a .NET device sends with Encoding.Unicode, and says so as IoT Hub carries it. */
const device = (n: number) =>
  n === 6
    ? { partitionKey: 'arm-7', body: Buffer.from(JSON.stringify({ n }), 'utf16le'), properties: {}, systemProperties: { 'iothub-connection-device-id': 'arm-7', 'message-id': `arm-7-${n}`, 'content-encoding': 'utf-16', 'content-type': 'application/json' } }
    : { partitionKey: 'arm-7', body: Buffer.from(JSON.stringify({ n })), properties: {}, systemProperties: { 'iothub-connection-device-id': 'arm-7', 'message-id': `arm-7-${n}` } };

describe('the .NET Event Hubs client against the local endpoint', () => {
  it('continues from the Node trigger\'s checkpoint, checkpoints in the same layout, and sends what Node reads', { timeout: 120_000 }, async () => {
    const partition = log.partitionFor('arm-7');
    for (let n = 0; n < 5; n++) await log.append(device(n));
    // The Node trigger handles the first five and checkpoints them in Azurite.
    const handled: unknown[] = [];
    const runner = new TriggerRunner({
      connectionString: endpoint.connectionString(), storageConnectionString: azurite.connectionString, deadLetterDir: join(dir, 'dead'),
      functionName: 'telemetryIngest', eventHubName: 'telemetry', consumerGroup: '$Default', logger: jsonLogger('test', 'error', () => true),
      handler: async (bodies) => void handled.push(...bodies),
      batch: { maxEventBatchSize: 100, minEventBatchSize: 1, maxWaitTimeMs: 20 },
      retry: { strategy: 'fixedDelay', maxRetryCount: 0, minimumIntervalMs: 0, maximumIntervalMs: 0 },
      loadBalancing: { strategy: 'greedy', updateIntervalMs: 200, ownershipExpiryMs: 2000 },
    });
    await runner.start();
    await until('five events handled and checkpointed', () => runner.stats.checkpoints[partition] === 4, { timeoutMs: 15_000 });
    await runner.stop();
    for (let n = 5; n < 8; n++) await log.append(device(n));

    const { stdout } = await run('dotnet', [join(project, 'bin', 'Release', 'net10.0', 'EventHubsClient.dll'), endpoint.connectionString('RootManageSharedAccessKey', false), 'telemetry', azurite.connectionString, partition, '3'], { timeout: 90_000 });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { partitionIds: string[]; lastEnqueuedSequenceNumber: number; concurrentPartitionQueries: number; startedAfter: number | null; read: { sequenceNumber: number; offset: string; partitionKey: string; body: string; device: string; systemProperties: Record<string, string | null> }[]; checkpointWritten: { sequencenumber: string; offset: string } };

    expect(result.partitionIds).toEqual(['0', '1', '2', '3']);
    expect(result.lastEnqueuedSequenceNumber).toBe(7);
    // Twenty $management requests in flight at once on one link, answered (the client's request
    // links are settled on send only if our attach says so: otherwise the second one threw).
    expect(result.concurrentPartitionQueries).toBe(20);
    // It started after the Node trigger's checkpoint: nothing handled twice, nothing skipped.
    expect(result.startedAfter).toBe(4);
    expect(result.read.map((e) => Buffer.from(e.body, 'base64').toString('base64'))).toEqual([5, 6, 7].map((n) => device(n).body.toString('base64')));
    // The system properties by the names the host's client gives them, which the trigger runner
    // hands a function too (and the decoder reads): the AMQP properties IoT Hub fills, hyphenated.
    expect(result.read[1]!.systemProperties).toMatchObject({ 'iothub-connection-device-id': 'arm-7', 'message-id': 'arm-7-6', 'content-encoding': 'utf-16', 'content-type': 'application/json' });
    expect(result.read[0]).toMatchObject({ sequenceNumber: 5, partitionKey: 'arm-7', device: 'arm-7', offset: String(log.read(partition, 5, 1)[0]!.offset) });
    expect(result.checkpointWritten).toEqual({ sequencenumber: '7', offset: String(log.read(partition, 7, 1)[0]!.offset) });

    // The Node checkpoint store reads the .NET client's checkpoint…
    const store = new BlobCheckpointStore(new ContainerClient(azurite.connectionString, 'azure-webjobs-eventhub'));
    const checkpoints = await store.listCheckpoints('localhost', 'telemetry', '$Default');
    expect(checkpoints.find((c) => c.partitionId === partition)).toMatchObject({ sequenceNumber: 7 });
    // …and what it sent is in the log, in its key's partition.
    const sent = log.read(log.partitionFor('dotnet-client'), 0, 100).find((r) => r.partitionKey === 'dotnet-client');
    expect(JSON.parse(sent!.body.toString())).toEqual({ from: 'dotnet' });
  });
});
