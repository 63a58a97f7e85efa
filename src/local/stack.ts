/**
 * The whole product composed in one process, for the end-to-end tests (which read its parts'
 * state directly); `npm start` runs the same parts a process each (main.ts). The ADT emulator,
 * the local IoT Hub routing into a durable event log, the Event Hubs endpoint over that log,
 * Azurite, the ML endpoint and the function host (function-host.ts). State lives under one data
 * folder; a restart resumes from the checkpoints in Azurite.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startAdtEmulator, type AdtEmulator } from '../emulators/adt/server.ts';
import { startIotHub, type IotHub } from '../emulators/iothub/server.ts';
import { EventLog } from '../emulators/event-log/event-log.ts';
import { startEventHubs, type EventHubsEndpoint } from '../emulators/event-hubs/server.ts';
import { LOCAL_ML_KEY, startMlEndpoint, type MlEndpoint } from '../emulators/ml/server.ts';
import { jsonLogger, type Logger } from '../lib/log.ts';
import { projectRoot } from '../lib/paths.ts';
import { FailureModel, latestModelFile } from '../lib/anomaly/failure-model.ts';
import { startAzurite, type Azurite } from './azurite.ts';
import { startFunctionHost, type FunctionHost, type FunctionHostOptions } from './function-host.ts';
import { watchRetention } from './retention.ts';

/** The function host's own options (API key, plant, settings, batches, retry, balancing) pass through. */
export interface LocalStackOptions extends Pick<FunctionHostOptions, 'apiKey' | 'plant' | 'env' | 'batch' | 'retry' | 'loadBalancing' | 'alertDeliveryMs' | 'communicationWatchMs'> {
  dataDir?: string;
  /** 0 picks free ports (tests). Defaults: API 7071, ADT 7443, IoT Hub 8883, ML scoring 7080, Event Hubs 5672, Azurite blobs 10000. */
  ports?: { api?: number; adt?: number; iothub?: number; ml?: number; eventHubs?: number; azurite?: number };
  /** The failure model the local scoring endpoint serves (default: the newest in models/). */
  modelFile?: string;
  partitions?: number;
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

export async function startLocalStack({ dataDir: dataDirOption, ports: portsOption, modelFile: modelFileOption, partitions, logger: loggerOption, ...hostOptions }: LocalStackOptions = {}): Promise<LocalStack> {
  const dataDir = dataDirOption ?? join(projectRoot(), '.data');
  mkdirSync(dataDir, { recursive: true });
  const ports = portsOption ?? {};
  const logger = loggerOption ?? jsonLogger('local', (process.env.LOG_LEVEL as 'info' | undefined) ?? 'info');
  const log = (line: string) => logger.log('warn', line);

  const adt = await startAdtEmulator({ dataDir: join(dataDir, 'adt'), port: ports.adt ?? 7443, token: 'any', log });
  const eventLog = EventLog.open(join(dataDir, 'eventlog'), { partitions: partitions ?? 4 });
  const hub = await startIotHub({ dataDir: join(dataDir, 'iothub'), port: ports.iothub ?? 8883, endpoints: { events: eventLog }, log });
  // The log as an Event Hub (what IoT Hub's built-in endpoint is), and storage for the trigger's leases and checkpoints.
  const eventHubs = await startEventHubs({ eventLog, hubName: 'telemetry', port: ports.eventHubs ?? 5672, log });
  const azurite = await startAzurite({ location: join(dataDir, 'azurite'), port: ports.azurite ?? 10000 });
  // The failure model behind a local endpoint with Azure ML's contract; without a model file the
  // pipeline scores with the streaming detector alone, as it does when Azure ML is unreachable.
  const modelFile = modelFileOption ?? latestModelFile(join(projectRoot(), 'models'));
  const ml = modelFile ? await startMlEndpoint({ model: FailureModel.load(modelFile), key: LOCAL_ML_KEY, port: ports.ml ?? 7080, log }) : undefined;
  if (!ml) logger.log('warn', 'no failure model in models/: run npm run train; scoring with the streaming detector alone');
  const retention = await watchRetention({ eventLog, storage: azurite.connectionString, hubName: 'telemetry', consumerGroup: '$Default', logger });

  const host = await startFunctionHost({
    dataDir,
    logger,
    apiPort: ports.api ?? 7071,
    ...hostOptions,
    endpoints: {
      adt: { url: adt.url, caPem: adt.caPem, caFile: adt.caFile },
      iotHub: { serviceConnectionString: hub.registry.serviceConnectionString(hub.hostName), caPem: hub.caPem, caFile: hub.caFile },
      eventHubs: eventHubs.connectionString(),
      storage: azurite.connectionString,
      ml: ml ? { scoringUri: ml.scoringUri, key: LOCAL_ML_KEY } : undefined,
    },
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
