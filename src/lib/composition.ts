/**
 * The one composition root: builds every adapter from the validated settings. Which endpoints it
 * talks to — Azure or the local emulators — is decided by the settings alone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { lineHoursOf, loadConfig, workingHoursOf, type Config } from './config.ts';
import { jsonLogger, type Logger } from './log.ts';
import { projectRoot } from './paths.ts';
import { loadPlantModels } from './dtdl/index.ts';
import { TelemetryCatalog } from './telemetry/catalog.ts';
import { AdtTwins, StaticTokenCredential, readCa } from './twins/adt-twins.ts';
import { KustoTelemetryStore } from './store/kusto-telemetry-store.ts';
import { MlEndpointClient } from './anomaly/ml-endpoint-client.ts';
import { ResilientScorer } from './anomaly/resilient-scorer.ts';
import { FAILURE_FEATURES } from './anomaly/streaming-detector.ts';
import { IotHubDeviceConnections, IotHubDirectMethods, type IotHubServiceOptions } from './commands/iothub-service.ts';
import { STOP_RATE_WINDOW_MS } from './commands/stop-policy.ts';
import { TeamsWebhook } from './alerts/teams-webhook.ts';
import { AlertDelivery, noAlertRound, type AlertRound } from './alerts/alert-delivery.ts';
import { ALERT_OUTBOX_CONTAINER, BlobAlertOutbox } from './alerts/blob-alert-outbox.ts';
import { BlobClaimWindow, FLOOD_CONTAINER, STOP_CONTAINER } from './coordination/blob-claim-window.ts';
import { DEFAULT_ALARM_SETTINGS } from './alerts/alarm-lifecycle.ts';
import { ContainerClient } from '@azure/storage-blob';
import { TelemetryPipeline, type PipelineSettings } from './pipeline.ts';
import { createTelemetryIngest } from './telemetry-ingest.ts';
import { BlobBatchDeadLetters, BATCH_DEAD_LETTER_CONTAINER } from './store/blob-batch-dead-letters.ts';
import { noReadmission, readmitNowDescribed, readmitRefused, REFUSED_CONTAINER, type ReadmissionOptions, type ReadmissionResult } from './refused-readings.ts';
import { noRedelivery, redeliverBatches, type RedeliveryResult } from './batch-redelivery.ts';
import { createTwinApi } from './http/twin-api.ts';
import { refreshTwins } from './twin-refresh.ts';
import { CommunicationWatch } from './alerts/communication-watch.ts';
import { AppError } from './errors.ts';
import type { AlertSink, BatchDeadLetterPort, CommandsPort, ClaimWindowPort, TelemetryReadPort, TelemetryStorePort, TwinsPort } from './ports.ts';
import { createPlantApi, type PlantApi } from './http/plant-api.ts';

export interface Services {
  config: Config;
  catalog: TelemetryCatalog;
  twins: TwinsPort;
  store: TelemetryStorePort;
  pipeline: TelemetryPipeline;
  telemetryIngest: ReturnType<typeof createTelemetryIngest>;
  twinApi: ReturnType<typeof createTwinApi>;
  plantApi: PlantApi;
  refreshTwins: () => ReturnType<typeof refreshTwins>;
  /** The communication-loss sweep: equipment in service silent too long raises its incident. */
  watchCommunication: CommunicationWatch['run'];
  /** Where batches are kept after their retries: the app's storage account, when it has one. */
  deadLetters: BatchDeadLetterPort | undefined;
  /** Where refused events are kept whole, to be taken in again; undefined without a storage account. */
  refused: BatchDeadLetterPort | undefined;
  /** Hands dead-lettered batches back to the pipeline (none kept without a storage account). */
  redeliverBatches: () => Promise<RedeliveryResult>;
  /** Takes in the refused readings of twins whose model this build describes and the one that refused them did not (none kept without a storage account). */
  readmitNowDescribed: () => Promise<ReadmissionResult>;
  /** Sends the alert cards kept while Teams did not take them, oldest first (none kept without a storage account). */
  deliverKeptAlerts: () => Promise<AlertRound>;
  logger: Logger;
}

/** Far ends a caller may supply instead of the ones the settings describe (the local stack's store). */
export interface ServiceOverrides {
  twins?: TwinsPort;
  store?: TelemetryStorePort;
  alerts?: AlertSink;
  commands?: CommandsPort;
  credential?: TokenCredential;
  logger?: Logger;
  modelsDir?: string;
}

export function pipelineSettings(config: Config): PipelineSettings {
  return {
    thresholds: { warning: config.ANOMALY_WARNING_THRESHOLD, critical: config.ANOMALY_CRITICAL_THRESHOLD },
    twinPatchIntervalMs: config.TWIN_PATCH_INTERVAL_MS,
    twinPatchConcurrency: config.TWIN_PATCH_CONCURRENCY,
    alarms: { sustainReadings: config.ALARM_ON_DELAY_READINGS, offDelayMs: config.ALARM_OFF_DELAY_MS, floodLimit: config.ALARM_FLOOD_LIMIT, lateMs: config.ALARM_LATE_MS, blindAfterMs: config.ALARM_BLIND_AFTER_MS, silentAfterMs: config.ALARM_SILENT_AFTER_MS },
    maxClockSkewMs: config.MAX_CLOCK_SKEW_MS,
    dashboardUrl: config.DASHBOARD_URL,
    autoStop: {
      mode: config.AUTO_STOP_MODE,
      minProbability: config.AUTO_STOP_MIN_PROBABILITY,
      confirmReadings: config.AUTO_STOP_CONFIRM_READINGS,
      maxPerHour: config.AUTO_STOP_MAX_PER_HOUR,
      incidentMs: config.AUTO_STOP_INCIDENT_MS,
      maxAgeMs: config.AUTO_STOP_MAX_AGE_MS,
    },
  };
}

/** IoT Hub's service side: by managed identity in Azure, by connection string to the local hub; none configured, undefined. */
function iotHubService(config: Config, credential: TokenCredential): IotHubServiceOptions | undefined {
  if (config.IOTHUB_CONNECTION_STRING) return { connectionString: config.IOTHUB_CONNECTION_STRING, caPem: readCa(config.IOTHUB_CA_FILE) };
  if (config.IOTHUB_HOSTNAME) return { hostName: config.IOTHUB_HOSTNAME, credential };
  return undefined;
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

async function telemetryStore(config: Config, credential: TokenCredential): Promise<TelemetryStorePort & TelemetryReadPort> {
  if (config.DUCKDB_PATH) {
    // The local stack's store: imported only here, so the deployed app never loads DuckDB's native binary.
    const { DuckDbTelemetryStore } = await import('./store/duckdb-telemetry-store.ts');
    return DuckDbTelemetryStore.open(config.DUCKDB_PATH);
  }
  const clusterUrl = config.ADX_CLUSTER_URL!;
  const local = /^http:\/\/(localhost|127\.0\.0\.1)/.test(clusterUrl);
  return new KustoTelemetryStore({ clusterUrl, database: config.ADX_DATABASE, ...(local ? {} : { credential }) });
}

/** The read side of a store; a store without one (a test's) answers that history is not kept. */
function readsOf(store: TelemetryStorePort): TelemetryReadPort {
  if ('history' in store && 'alerts' in store && 'acknowledge' in store && 'deadLetterGroups' in store && 'alarmEvents' in store && 'firstReadingAt' in store && 'latestConnections' in store) return store as TelemetryStorePort & TelemetryReadPort;
  const none = async (): Promise<never> => {
    throw new AppError('store.noReads', 'this telemetry store keeps no history to read', { status: 501 });
  };
  return { history: none, alerts: none, acknowledge: none, deadLetterGroups: none, alarmEvents: none, firstReadingAt: none, latestConnections: none };
}

export async function createServices(config: Config, overrides: ServiceOverrides = {}): Promise<Services> {
  const logger = overrides.logger ?? jsonLogger('manufacturing-twins', config.LOG_LEVEL);
  const catalog = new TelemetryCatalog(await loadPlantModels(overrides.modelsDir));
  const credential = overrides.credential ?? new DefaultAzureCredential();
  const twins =
    overrides.twins ??
    new AdtTwins({
      endpoint: config.DIGITAL_TWINS_URL,
      credential: config.DIGITAL_TWINS_TOKEN ? new StaticTokenCredential(config.DIGITAL_TWINS_TOKEN) : credential,
      caPem: readCa(config.DIGITAL_TWINS_CA_FILE),
    });
  const store = overrides.store ?? (await telemetryStore(config, credential));
  // Without its key (an unresolved Key Vault reference) every call would be refused: score without it.
  const endpoint = config.ML_ENDPOINT_URL && !config.unresolvedKeyVaultReferences.includes('ML_ENDPOINT_KEY')
    ? new MlEndpointClient({
        scoringUrl: config.ML_ENDPOINT_URL,
        featureColumns: catalog.featureColumns(),
        derivedColumns: FAILURE_FEATURES,
        timeoutMs: config.ML_TIMEOUT_MS,
        ...(config.ML_ENDPOINT_KEY ? { key: config.ML_ENDPOINT_KEY } : {}),
        ...(config.ML_DEPLOYMENT ? { deployment: config.ML_DEPLOYMENT } : {}),
      })
    : undefined;
  const teams = overrides.alerts ?? (config.TEAMS_WEBHOOK_URL ? new TeamsWebhook({ url: config.TEAMS_WEBHOOK_URL }) : undefined);
  for (const name of config.unresolvedKeyVaultReferences) {
    logger.log('warn', `${name} is an unresolved Key Vault reference: running without it until the platform resolves it (restart the app once its Key Vault role applies)`);
  }
  if (!endpoint) logger.log('warn', 'ML_ENDPOINT_URL is not set: scoring with the streaming detector alone (no failure probability)');
  if (!teams) logger.log('warn', 'TEAMS_WEBHOOK_URL is not set: alerts are recorded on twins and in AnomalyFlags but not posted');
  const hub = iotHubService(config, credential);
  const commands = overrides.commands ?? (hub ? new IotHubDirectMethods(hub) : undefined);
  const container = appContainer(config, credential);
  // Cards Teams does not take wait in the storage account, rather than holding telemetry up.
  const outbox = teams && container ? new BlobAlertOutbox(container(ALERT_OUTBOX_CONTAINER)) : undefined;
  const alerts = teams && new AlertDelivery(teams, outbox, logger);
  const windows = container && sharedWindows(config, container);
  const deadLetters = container && new BlobBatchDeadLetters(container(BATCH_DEAD_LETTER_CONTAINER));
  const refused = container && new BlobBatchDeadLetters(container(REFUSED_CONTAINER));
  if (!deadLetters) logger.log('warn', 'no storage account (AzureWebJobsStorage): a batch that keeps failing is retried for as long as it fails, never dead-lettered');
  const settings = pipelineSettings(config);
  const pipeline = new TelemetryPipeline({
    catalog,
    twins,
    store,
    scorer: new ResilientScorer(endpoint, logger),
    alerts,
    ...(commands ? { commands } : {}),
    ...(windows ?? {}),
    settings,
    logger,
    ...(refused ? { refused } : {}),
  });
  const workingHours = workingHoursOf(config);
  const lineHours = lineHoursOf(config);
  // Heard from lately: longer than a twin's write may trail a reading (a patch interval and the refresh sweep), at most the alarm's delay.
  const recentMs = Math.min(Math.max(3 * 60_000, 2 * config.TWIN_PATCH_INTERVAL_MS + 60_000), config.ALARM_SILENT_AFTER_MS);
  const communication = new CommunicationWatch({ catalog, twins, store, refused: readsOf(store), connections: hub ? new IotHubDeviceConnections(hub) : undefined, connectionEvents: readsOf(store), alerts, floods: windows?.floods, settings, logger, concurrency: config.TWIN_PATCH_CONCURRENCY, recentMs, workingHours, lineHours });
  const redeliver = async () => (deadLetters ? redeliverBatches({ deadLetters, pipeline, logger, limit: REDELIVERY_BATCHES_PER_ROUND }) : noRedelivery());
  const readmit = refused && ((options: ReadmissionOptions) => readmitRefused({ refused, pipeline, logger, limit: READMISSION_BATCHES_PER_CALL }, options));
  return {
    config,
    catalog,
    twins,
    store,
    pipeline,
    logger,
    telemetryIngest: createTelemetryIngest(pipeline, deadLetters ? { deadLetters } : {}),
    deadLetters,
    refused,
    twinApi: createTwinApi({ twins, logger, maxBodyBytes: config.API_MAX_BODY_BYTES, version: packageVersion(), unresolvedKeyVaultReferences: config.unresolvedKeyVaultReferences }),
    plantApi: createPlantApi({ twins, store: readsOf(store), logger, maxBodyBytes: config.API_MAX_BODY_BYTES, maxPageSize: config.API_MAX_PAGE_SIZE, warningThreshold: config.ANOMALY_WARNING_THRESHOLD, silentAfterMs: config.ALARM_SILENT_AFTER_MS, offNetworkAfterMs: recentMs, workingHours, lineHours, measuredOf: (m) => catalog.forTwinModel(m)?.measuredTelemetry, unitsOf: (m) => catalog.forTwinModel(m)?.units, ...(deadLetters ? { keptBatches: deadLetters, redeliver } : {}), ...(refused && readmit ? { refusedKept: refused, readmit } : {}), ...(outbox ? { alertOutbox: outbox } : {}) }),
    refreshTwins: () =>
      refreshTwins({ catalog, twins, store, logger, lookbackMs: Math.max(10 * 60_000, 4 * config.TWIN_PATCH_INTERVAL_MS), concurrency: config.TWIN_PATCH_CONCURRENCY }),
    watchCommunication: (logger) => communication.run(logger),
    redeliverBatches: redeliver,
    readmitNowDescribed: async () => (refused ? readmitNowDescribed({ refused, pipeline, logger, limit: READMISSION_BATCHES_PER_ROUND }, (model) => catalog.forTwinModel(model) !== undefined) : noReadmission()),
    deliverKeptAlerts: () => (alerts ? alerts.deliverKept() : Promise.resolve(noAlertRound())),
  };
}

/** Containers of the app's own storage account (AzureWebJobsStorage, by connection string or by identity), when one is configured. */
function appContainer(config: Config, credential: TokenCredential): ((name: string) => ContainerClient) | undefined {
  const { AzureWebJobsStorage: connection, AzureWebJobsStorage__accountName: account } = config;
  if (!connection && !account) return undefined;
  return (name) => (connection ? new ContainerClient(connection, name) : new ContainerClient(`https://${account}.blob.core.windows.net/${name}`, credential));
}

/** The windows all instances share, in the app's own storage account: the lines' flood windows and the plant's emergencyStop rate limit. */
function sharedWindows(config: Config, container: (name: string) => ContainerClient): { floods: ClaimWindowPort; stops: ClaimWindowPort } {
  return {
    floods: new BlobClaimWindow({ container: container(FLOOD_CONTAINER), limit: config.ALARM_FLOOD_LIMIT, windowMs: DEFAULT_ALARM_SETTINGS.floodWindowMs }),
    stops: new BlobClaimWindow({ container: container(STOP_CONTAINER), limit: config.AUTO_STOP_MAX_PER_HOUR, windowMs: STOP_RATE_WINDOW_MS }),
  };
}

/** Dead-lettered batches tried per round of the redelivery timer. */
const REDELIVERY_BATCHES_PER_ROUND = 20;
/** Kept batches of refused readings taken through per readmission call (each a batch's refused events, usually a few). */
const READMISSION_BATCHES_PER_CALL = 100;
/**
 * Kept batches the refusedReadmission timer takes through per round: after an upgrade, those its
 * deploy's minutes refused whole (up to host.json's maxEventBatchSize events each).
 */
const READMISSION_BATCHES_PER_ROUND = 500;

let shared: Promise<Services> | undefined;

/** The process-wide services for the Functions host, built on first use from the app settings. */
export function services(): Promise<Services> {
  if (!shared) {
    shared = createServices(loadConfig());
    // A failed start is not kept: the next invocation tries again (and reports again).
    shared.catch(() => (shared = undefined));
  }
  return shared;
}
