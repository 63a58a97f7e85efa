/**
 * The whole product on one machine: the ADT emulator, the local IoT Hub routing into a durable
 * event log, the Event Hubs endpoint over that log, Azurite, the trigger runner (the Event Hubs
 * SDK with blob checkpoints) calling the same telemetryIngest handler the Function App
 * registers, a DuckDB file in place of Data Explorer, the HTTP API and a Teams webhook capture.
 * State lives under one data folder; a restart resumes from the checkpoints in Azurite.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startAdtEmulator, type AdtEmulator } from '../emulators/adt/server.ts';
import { startIotHub, type IotHub } from '../emulators/iothub/server.ts';
import { EventLog } from '../emulators/event-log/event-log.ts';
import { startEventHubs, type EventHubsEndpoint } from '../emulators/event-hubs/server.ts';
import { startMlEndpoint, type MlEndpoint } from '../emulators/ml/server.ts';
import type { ConfigInput } from '../lib/config.ts';
import { jsonLogger, type Logger } from '../lib/log.ts';
import { projectRoot } from '../lib/paths.ts';
import type { PlantDescription } from '../lib/plant/plant.ts';
import { FailureModel, latestModelFile } from '../lib/anomaly/failure-model.ts';
import type { BatchSettings, RetryPolicy, TriggerRunnerOptions } from './trigger-runner.ts';
import { startAzurite, type Azurite } from './azurite.ts';
import { startFunctionHost, type FunctionHost } from './function-host.ts';
import { watchRetention } from './retention.ts';

/** The local scoring endpoint's key: local only, like the emulators' tokens. */
export const LOCAL_ML_KEY = 'local-development';

export interface LocalStackOptions {
  dataDir?: string;
  /** 0 picks free ports (tests). Defaults: API 7071, ADT 7443, IoT Hub 8883, ML scoring 7080, Event Hubs 5672, Azurite blobs 10000. */
  ports?: { api?: number; adt?: number; iothub?: number; ml?: number; eventHubs?: number; azurite?: number };
  /** The API key the keyed routes need (default: API_KEY, else one generated into <data>/api-key and kept). */
  apiKey?: string;
  /** The failure model the local scoring endpoint serves (default: the newest in models/). */
  modelFile?: string;
  plant?: PlantDescription;
  partitions?: number;
  /** Settings on top of the local ones (e.g. TWIN_PATCH_INTERVAL_MS). */
  env?: ConfigInput;
  batch?: Partial<BatchSettings>;
  retry?: RetryPolicy;
  /** How the trigger's consumer balances partitions (tests shorten it). */
  loadBalancing?: TriggerRunnerOptions['loadBalancing'];
  logger?: Logger;
}

export interface LocalStack extends Omit<FunctionHost, 'close'> {
  adt: AdtEmulator;
  hub: IotHub;
  /** The local Azure ML scoring endpoint, when a model file exists. */
  ml: MlEndpoint | undefined;
  eventLog: EventLog;
  eventHubs: EventHubsEndpoint;
  azurite: Azurite;
  close(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const dataDir = options.dataDir ?? join(projectRoot(), '.data');
  mkdirSync(dataDir, { recursive: true });
  const ports = options.ports ?? {};
  const logger = options.logger ?? jsonLogger('local', (process.env.LOG_LEVEL as 'info' | undefined) ?? 'info');
  const log = (line: string) => logger.log('warn', line);

  const adt = await startAdtEmulator({ dataDir: join(dataDir, 'adt'), port: ports.adt ?? 7443, token: 'any', log });
  const eventLog = EventLog.open(join(dataDir, 'eventlog'), { partitions: options.partitions ?? 4 });
  const hub = await startIotHub({ dataDir: join(dataDir, 'iothub'), port: ports.iothub ?? 8883, endpoints: { events: eventLog }, log });
  // The log as an Event Hub (what IoT Hub's built-in endpoint is), and storage for the trigger's leases and checkpoints.
  const eventHubs = await startEventHubs({ eventLog, hubName: 'telemetry', port: ports.eventHubs ?? 5672, log });
  const azurite = await startAzurite({ location: join(dataDir, 'azurite'), port: ports.azurite ?? 10000 });
  // The failure model behind a local endpoint with Azure ML's contract; without a model file the
  // pipeline scores with the streaming detector alone, as it does when Azure ML is unreachable.
  const modelFile = options.modelFile ?? latestModelFile(join(projectRoot(), 'models'));
  const ml = modelFile ? await startMlEndpoint({ model: FailureModel.load(modelFile), key: LOCAL_ML_KEY, port: ports.ml ?? 7080, log }) : undefined;
  if (!ml) logger.log('warn', 'no failure model in models/: run npm run train; scoring with the streaming detector alone');
  const retention = await watchRetention({ eventLog, storage: azurite.connectionString, hubName: 'telemetry', consumerGroup: '$Default', logger });

  const host = await startFunctionHost({
    dataDir,
    logger,
    apiPort: ports.api ?? 7071,
    ...(options.apiKey ? { apiKey: options.apiKey } : {}),
    endpoints: {
      adt: { url: adt.url, caPem: adt.caPem, caFile: adt.caFile },
      iotHub: { serviceConnectionString: hub.registry.serviceConnectionString(hub.hostName), caPem: hub.caPem, caFile: hub.caFile },
      eventHubs: eventHubs.connectionString(),
      storage: azurite.connectionString,
      ml: ml ? { scoringUri: ml.scoringUri, key: LOCAL_ML_KEY } : undefined,
    },
    ...(options.plant ? { plant: options.plant } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.batch ? { batch: options.batch } : {}),
    ...(options.retry ? { retry: options.retry } : {}),
    ...(options.loadBalancing ? { loadBalancing: options.loadBalancing } : {}),
    status: () => ({ hub: hub.stats, eventLog: Object.fromEntries(eventLog.partitionIds.map((p) => [p, eventLog.bounds(p)])), eventHubs: eventHubs.stats }),
  });

  let closing: Promise<void> | undefined;
  return {
    ...host,
    adt,
    hub,
    ml,
    eventLog,
    eventHubs,
    azurite,
    close: () =>
      (closing ??= (async () => {
        retention.stop();
        await hub.close();
        await host.close();
        await eventHubs.close();
        await azurite.close();
        eventLog.close();
        await adt.close();
        await ml?.close();
      })()),
  };
}
