/**
 * The whole product on one machine: the ADT emulator, the local IoT Hub routing into a durable
 * event log, the Event Hubs endpoint over that log, Azurite, the trigger runner (the Event Hubs
 * SDK with blob checkpoints) calling the same telemetryIngest handler the Function App
 * registers, a DuckDB file in place of Data Explorer, the HTTP API and a Teams webhook capture.
 * State lives under one data folder; a restart resumes from the checkpoints in Azurite.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startAdtEmulator, type AdtEmulator } from '../emulators/adt/server.ts';
import { startIotHub, type IotHub } from '../emulators/iothub/server.ts';
import { EventLog, type RetentionReport } from '../emulators/event-log/event-log.ts';
import { DuckDbTelemetryStore } from '../lib/store/duckdb-telemetry-store.ts';
import { loadConfig, type ConfigInput } from '../lib/config.ts';
import { createServices, type Services } from '../lib/composition.ts';
import { jsonLogger, type Logger } from '../lib/log.ts';
import { projectRoot } from '../lib/paths.ts';
import { readModelDocuments } from '../lib/dtdl/index.ts';
import { digitalTwinsClient, StaticTokenCredential } from '../lib/twins/adt-twins.ts';
import { iotHubRegistry } from '../lib/commands/iothub-service.ts';
import { DEFAULT_PLANT, type PlantDescription } from '../lib/plant/plant.ts';
import { seedPlant, type SeedResult } from '../lib/plant/seed-plant.ts';
import { TELEMETRY_INGEST_TRIGGER } from '../lib/telemetry-ingest.ts';
import { TriggerRunner, readHostBatchSettings, retryPolicyOf, type BatchSettings, type RetryPolicy, type TriggerRunnerOptions } from './trigger-runner.ts';
import { startEventHubs, type EventHubsEndpoint } from '../emulators/event-hubs/server.ts';
import { startAzurite, type Azurite } from './azurite.ts';
import { BlobCheckpointStore } from '@azure/eventhubs-checkpointstore-blob';
import { ContainerClient } from '@azure/storage-blob';
import { startHttpHost, type HttpHost } from './http-host.ts';

import { startMlEndpoint, type MlEndpoint } from '../emulators/ml/server.ts';
import { FailureModel, latestModelFile } from '../lib/anomaly/failure-model.ts';

/** The local scoring endpoint's key: local only, like the emulators' tokens. */
const LOCAL_ML_KEY = 'local-development';

/** The API key kept in the data folder: made once, so bookmarks with ?code= keep working. */
function localApiKey(dataDir: string): string {
  const file = join(dataDir, 'api-key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const key = randomBytes(18).toString('base64url');
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

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

export interface LocalStack {
  apiUrl: string;
  /** The local stand-in for a function key: x-functions-key header or ?code=. */
  apiKey: string;
  adt: AdtEmulator;
  hub: IotHub;
  /** The local Azure ML scoring endpoint, when a model file exists. */
  ml: MlEndpoint | undefined;
  eventLog: EventLog;
  eventHubs: EventHubsEndpoint;
  azurite: Azurite;
  store: DuckDbTelemetryStore;
  services: Services;
  runner: TriggerRunner;
  http: HttpHost;
  seeded: SeedResult;
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
  const duckdbPath = join(dataDir, 'telemetry.duckdb');
  const store = await DuckDbTelemetryStore.open(duckdbPath);

  let services: Services | undefined;
  let runner: TriggerRunner | undefined;
  // What the stack has done so far, for people and for the end-to-end tests.
  const status = async () => ({
    rows: { EquipmentTelemetry: await store.count('EquipmentTelemetry'), AnomalyFlags: await store.count('AnomalyFlags'), DeadLetters: await store.count('DeadLetters') },
    runner: runner?.stats,
    hub: hub.stats,
    eventLog: Object.fromEntries(eventLog.partitionIds.map((p) => [p, eventLog.bounds(p)])),
    eventHubs: eventHubs.stats,
    alerts: http.alerts.length,
  });
  const apiKey = options.apiKey ?? process.env.API_KEY ?? localApiKey(dataDir);
  const http: HttpHost = await startHttpHost({
    services: () => services!,
    apiKey,
    port: ports.api ?? 7071,
    alertsFile: join(dataDir, 'alerts.jsonl'),
    extra: async (req, res, url) => {
      if (url.pathname !== '/local/status' || req.method !== 'GET') return false;
      const body = JSON.stringify(await status());
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return true;
    },
  });
  // The process environment tunes the pipeline (TWIN_PATCH_INTERVAL_MS, ALARM_*, AUTO_STOP_*…),
  // as app settings do in Azure; where the services are is the local stack's to say.
  const config = loadConfig({
    ...process.env,
    EVENTHUB_NAME: 'telemetry',
    EVENTHUB_CONSUMER_GROUP: '$Default',
    DIGITAL_TWINS_URL: adt.url,
    DIGITAL_TWINS_TOKEN: 'local-development',
    DIGITAL_TWINS_CA_FILE: adt.caFile,
    DUCKDB_PATH: duckdbPath,
    TEAMS_WEBHOOK_URL: `${http.url}/local/teams-webhook`,
    DASHBOARD_URL: http.url,
    ...(ml ? { ML_ENDPOINT_URL: ml.scoringUri, ML_ENDPOINT_KEY: LOCAL_ML_KEY } : {}),
    // Simulated machines: the pipeline may stop them for real.
    IOTHUB_CONNECTION_STRING: hub.registry.serviceConnectionString(hub.hostName),
    ...(hub.caFile ? { IOTHUB_CA_FILE: hub.caFile } : {}),
    AUTO_STOP_MODE: 'on',
    ...options.env,
  });
  services = await createServices(config, { store, logger });

  const seeded = await seedPlant({
    client: digitalTwinsClient({ endpoint: adt.url, credential: new StaticTokenCredential('local-development'), caPem: adt.caPem }),
    models: readModelDocuments(),
    plant: options.plant ?? DEFAULT_PLANT,
    registry: iotHubRegistry({ connectionString: hub.registry.serviceConnectionString(hub.hostName), caPem: hub.caPem }),
    logger,
  });

  const checkpoints = new ContainerClient(azurite.connectionString, 'azure-webjobs-eventhub');
  runner = new TriggerRunner({
    connectionString: eventHubs.connectionString(),
    storageConnectionString: azurite.connectionString,
    deadLetterDir: join(dataDir, 'dead-letters'),
    // One host per data folder: after a restart it takes its partitions back at once.
    ownerId: `local-function-host-${localApiKey(dataDir).slice(0, 8)}`,
    // Greedy: one local host claims every partition at its first pass (balanced takes one per pass).
    loadBalancing: options.loadBalancing ?? { strategy: 'greedy', updateIntervalMs: 2000, ownershipExpiryMs: 20_000 },
    functionName: 'telemetryIngest',
    eventHubName: config.EVENTHUB_NAME,
    consumerGroup: config.EVENTHUB_CONSUMER_GROUP,
    handler: services.telemetryIngest,
    batch: { ...readHostBatchSettings(join(projectRoot(), 'host.json')), ...options.batch },
    retry: options.retry ?? retryPolicyOf(TELEMETRY_INGEST_TRIGGER.retry),
    logger,
  });
  await runner.start();

  // Events past the log's retention (24 h, as Event Hubs) go whether or not they were read: say
  // so, against where the trigger's consumer group has checkpointed (in Azurite).
  const consumed = async () => {
    const list = await new BlobCheckpointStore(checkpoints).listCheckpoints('localhost', 'telemetry', config.EVENTHUB_CONSUMER_GROUP);
    return { [config.EVENTHUB_CONSUMER_GROUP]: Object.fromEntries(list.map((c) => [c.partitionId, c.sequenceNumber])) };
  };
  const enforceRetention = async () => {
    const report: RetentionReport = eventLog.enforceRetention(await consumed());
    for (const d of report.dropped) {
      for (const u of d.unread) logger.log('warn', 'event log retention dropped events a consumer group had not read', { partitionId: d.partitionId, consumerGroup: u.consumerGroup, unread: u.count, fromSequence: d.fromSequence, toSequence: d.toSequence });
    }
  };
  await enforceRetention();
  // The twinRefresh timer function's schedule (every minute), and the log's retention.
  const timers = [
    setInterval(() => void services!.refreshTwins().catch((e: Error) => logger.log('error', 'twin refresh failed', { error: e.message })), 60_000),
    setInterval(() => void enforceRetention().catch((e: Error) => logger.log('error', 'event log retention failed', { error: e.message })), 3600_000),
  ];
  timers.forEach((t) => t.unref());

  let closing: Promise<void> | undefined;
  return {
    apiUrl: http.url,
    apiKey,
    adt,
    hub,
    ml,
    eventLog,
    eventHubs,
    azurite,
    store,
    services,
    runner,
    http,
    seeded,
    close: () =>
      (closing ??= (async () => {
        timers.forEach((t) => clearInterval(t));
        await hub.close();
        await runner.stop();
        await eventHubs.close();
        await azurite.close();
        eventLog.close();
        await http.close();
        await store.close();
        await adt.close();
        await ml?.close();
      })()),
  };
}
