/**
 * The local function host: what the Functions host runs in Azure, on this machine. The Event Hub
 * trigger (the Event Hubs SDK with blob checkpoints in Azurite) calls the same telemetryIngest
 * handler the Function App registers; the HTTP functions and the dashboard are served from the
 * same route table; a DuckDB file stands in for Data Explorer and a capture for the Teams
 * webhook. It seeds the plant on first start. The services it talks to (ADT, IoT Hub, Event Hubs,
 * storage, Azure ML) are given by address, so they may run in this process or in others.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { DuckDbTelemetryStore } from '../lib/store/duckdb-telemetry-store.ts';
import { loadConfig, type ConfigInput } from '../lib/config.ts';
import { createServices, type Services } from '../lib/composition.ts';
import type { Logger } from '../lib/log.ts';
import { projectRoot } from '../lib/paths.ts';
import { DEFAULT_PLANT, type PlantDescription } from '../lib/plant/plant.ts';
import type { SeedResult } from '../lib/plant/seed-plant.ts';
import { seedLocalPlant } from './seed-local.ts';
import { TELEMETRY_INGEST_TRIGGER } from '../lib/telemetry-ingest.ts';
import type { BatchDeadLetterPort } from '../lib/ports.ts';
import { tally } from '../lib/http/plant-api.ts';
import { roundFailure } from '../lib/batch-redelivery.ts';
import { alertRoundFailure } from '../lib/alerts/alert-delivery.ts';
import { readmissionFailure } from '../lib/refused-readings.ts';
import { TriggerRunner, readHostBatchSettings, retryPolicyOf, type BatchSettings, type RetryPolicy, type TriggerRunnerOptions } from './trigger-runner.ts';
import { startHttpHost, type HttpHost } from './http-host.ts';
import { onSchedule } from './schedule.ts';
import { TIMER_SCHEDULES } from '../lib/timer-schedules.ts';

/** The API key kept in the data folder: made once, so bookmarks with ?code= keep working. */
export function localApiKey(dataDir: string): string {
  const file = join(dataDir, 'api-key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const key = randomBytes(18).toString('base64url');
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

/** Where the services the functions use are. */
export interface FunctionHostEndpoints {
  adt: { url: string; caPem: string; caFile: string | undefined };
  iotHub: { serviceConnectionString: string; caPem: string; caFile: string | undefined };
  /** EventHubConnection. */
  eventHubs: string;
  /** AzureWebJobsStorage. */
  storage: string;
  ml: { scoringUri: string; key: string } | undefined;
}

export interface FunctionHostOptions {
  dataDir: string;
  endpoints: FunctionHostEndpoints;
  logger: Logger;
  /** The HTTP API's port (default 7071; 0 picks a free one). */
  apiPort?: number;
  /** The API key the keyed routes need (default: API_KEY, else one generated into <data>/api-key and kept). */
  apiKey?: string;
  plant?: PlantDescription;
  /** Settings on top of the local ones (e.g. TWIN_PATCH_INTERVAL_MS). */
  env?: ConfigInput;
  batch?: Partial<BatchSettings>;
  retry?: RetryPolicy;
  /** How the trigger's consumer balances partitions (tests shorten it). */
  loadBalancing?: TriggerRunnerOptions['loadBalancing'];
  /** How often kept alert cards are tried (the alertDelivery timer's minute; tests lengthen it to run rounds themselves). */
  alertDeliveryMs?: number;
  /** How often the communication watch sweeps (the communicationWatch timer's minute; tests shorten it). */
  communicationWatchMs?: number;
  /** More for /local/status (what the other services say about themselves). */
  status?: () => Promise<Record<string, unknown>> | Record<string, unknown>;
}

export interface FunctionHost {
  apiUrl: string;
  apiKey: string;
  store: DuckDbTelemetryStore;
  services: Services;
  runner: TriggerRunner;
  http: HttpHost;
  seeded: SeedResult;
  close(): Promise<void>;
}

/** How many batches a container keeps (after their retries, or refused readings), counted as the API counts them. */
async function keptBatches(kept: BatchDeadLetterPort | undefined): Promise<number> {
  return kept ? (await tally(kept, 0)).batches : 0;
}

export async function startFunctionHost(options: FunctionHostOptions): Promise<FunctionHost> {
  const { dataDir, endpoints, logger } = options;
  const duckdbPath = join(dataDir, 'telemetry.duckdb');
  const store = await DuckDbTelemetryStore.open(duckdbPath);
  let services: Services | undefined;
  let runner: TriggerRunner | undefined;
  // What the stack has done so far, for people and for the end-to-end tests.
  const status = async () => ({
    rows: { EquipmentTelemetry: await store.count('EquipmentTelemetry'), AnomalyFlags: await store.count('AnomalyFlags'), DeadLetters: await store.count('DeadLetters') },
    runner: runner?.stats,
    deadLetteredBatches: await keptBatches(services?.deadLetters),
    refusedKeptBatches: await keptBatches(services?.refused),
    alerts: http.alerts.length,
    teamsDownUntil: http.teamsDownUntil(),
    ...(await options.status?.()),
  });
  const apiKey = options.apiKey ?? process.env.API_KEY ?? localApiKey(dataDir);
  const http: HttpHost = await startHttpHost({
    services: () => services!,
    apiKey,
    port: options.apiPort ?? 7071,
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
    DIGITAL_TWINS_URL: endpoints.adt.url,
    DIGITAL_TWINS_TOKEN: 'local-development',
    DIGITAL_TWINS_CA_FILE: endpoints.adt.caFile,
    DUCKDB_PATH: duckdbPath,
    // The windows instances share (lines' floods, the plant's stop limit), as in Azure; the trigger's checkpoints are there too.
    AzureWebJobsStorage: endpoints.storage,
    TEAMS_WEBHOOK_URL: `${http.url}/local/teams-webhook`,
    DASHBOARD_URL: http.url,
    ...(endpoints.ml ? { ML_ENDPOINT_URL: endpoints.ml.scoringUri, ML_ENDPOINT_KEY: endpoints.ml.key } : {}),
    // Simulated machines: the pipeline may stop them for real.
    IOTHUB_CONNECTION_STRING: endpoints.iotHub.serviceConnectionString,
    ...(endpoints.iotHub.caFile ? { IOTHUB_CA_FILE: endpoints.iotHub.caFile } : {}),
    AUTO_STOP_MODE: 'on',
    ...options.env,
  });
  try {
    services = await createServices(config, { store, logger });
    const seeded = await seedLocalPlant(endpoints, options.plant ?? DEFAULT_PLANT, logger);
    runner = new TriggerRunner({
      connectionString: endpoints.eventHubs,
      storageConnectionString: endpoints.storage,
      deadLetterDir: join(dataDir, 'dead-letters'),
      // One host per data folder: after a restart it takes its partitions back at once.
      ownerId: `local-function-host-${apiKey.slice(0, 8)}`,
      // Greedy: one local host claims every partition at its first pass (balanced takes one per pass).
      loadBalancing: options.loadBalancing ?? { strategy: 'greedy', updateIntervalMs: 2000, ownershipExpiryMs: 20_000 },
      functionName: 'telemetryIngest',
      eventHubName: config.EVENTHUB_NAME,
      consumerGroup: config.EVENTHUB_CONSUMER_GROUP,
      handler: services.telemetryIngest,
      dataType: TELEMETRY_INGEST_TRIGGER.dataType,
      batch: { ...readHostBatchSettings(join(projectRoot(), 'host.json')), ...options.batch },
      retry: options.retry ?? retryPolicyOf(TELEMETRY_INGEST_TRIGGER.retry),
      logger,
    });
    await runner.start();
    // The timer functions, each on its Azure schedule (TIMER_SCHEDULES).
    const refresh = onSchedule(TIMER_SCHEDULES.twinRefresh, () => void services!.refreshTwins().catch((e: Error) => logger.log('error', 'twin refresh failed', { error: e.message })));
    // Each sweep's result is logged, as the Azure timer function logs it (offShift, raised, plantSilent…).
    const sweep = async () => logger.log('info', 'communication watch', { ...(await services!.watchCommunication()) });
    const watch = onSchedule(TIMER_SCHEDULES.communicationWatch, () => void sweep().catch((e: Error) => logger.log('error', 'communication watch failed', { error: e.message })), options.communicationWatchMs);
    // A round that leaves batches failing fails as the function's invocation does (roundFailure).
    const redeliver = async () => {
      const failure = roundFailure(await services!.redeliverBatches());
      if (failure) throw failure;
    };
    const redelivery = onSchedule(TIMER_SCHEDULES.batchRedelivery, () => void redeliver().catch((e: Error) => logger.log('error', 'dead-lettered batch redelivery failed', { error: e.message })));
    // Readings refused for a model this build now describes.
    const readmitDescribed = async () => {
      const result = await services!.readmitNowDescribed();
      if (result.tried || result.failed) logger.log('info', 'refused readings of models this build describes taken in', { ...result });
      const failure = readmissionFailure(result);
      if (failure) throw failure;
    };
    const readmission = onSchedule(TIMER_SCHEDULES.refusedReadmission, () => void readmitDescribed().catch((e: Error) => logger.log('error', 'readmission of refused readings failed', { error: e.message })));
    // Cards kept while Teams did not take them.
    const deliverAlerts = async () => {
      const failure = alertRoundFailure(await services!.deliverKeptAlerts());
      if (failure) throw failure;
    };
    const alertRounds = onSchedule(TIMER_SCHEDULES.alertDelivery, () => void deliverAlerts().catch((e: Error) => logger.log('error', 'kept alert card delivery failed', { error: e.message })), options.alertDeliveryMs);
    const started = runner;
    let closing: Promise<void> | undefined;
    return {
      apiUrl: http.url,
      apiKey,
      store,
      services,
      runner: started,
      http,
      seeded,
      close: () =>
        (closing ??= (async () => {
          for (const timer of [refresh, watch, redelivery, readmission, alertRounds]) timer.stop();
          await started.stop();
          await http.close();
          await store.close();
        })()),
    };
  } catch (error) {
    await runner?.stop().catch(() => {});
    await http.close();
    await store.close();
    throw error;
  }
}
