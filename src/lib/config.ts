/**
 * The only place that reads process.env. Every setting is spelled the same here, in
 * local.settings.example.json and in infra/. Validated once, with one line per bad setting.
 */
import { z } from 'zod';
import { AppError } from './errors.ts';
import { parseLineHours, WorkingHours, WorkingHoursError } from './plant/working-hours.ts';

const url = (what: string) => z.url({ message: `must be a URL (${what})` });
const ms = (def: number) => z.coerce.number().int().min(0).default(def);
const fraction = (def: number) => z.coerce.number().min(0).max(1).default(def);
const optionalString = z.string().trim().min(1).optional().catch(undefined);

const schema = z
  .object({
    /** Event Hub the trigger reads; the binding uses %EVENTHUB_NAME%. */
    EVENTHUB_NAME: z.string().min(1).default('telemetry'),
    EVENTHUB_CONSUMER_GROUP: z.string().min(1).default('$Default'),
    DIGITAL_TWINS_URL: url('the Azure Digital Twins endpoint, e.g. https://<name>.api.<region>.digitaltwins.azure.net'),
    /** Static bearer token: only for the local ADT emulator. Azure uses the managed identity. */
    DIGITAL_TWINS_TOKEN: optionalString,
    /** PEM file of a CA to trust for DIGITAL_TWINS_URL (the local emulator's). */
    DIGITAL_TWINS_CA_FILE: optionalString,
    ADX_CLUSTER_URL: url('the Data Explorer cluster URI, e.g. https://<cluster>.<region>.kusto.windows.net').optional(),
    /** Local runs only: keep telemetry in this DuckDB file instead of Data Explorer. */
    DUCKDB_PATH: optionalString,
    ADX_DATABASE: z.string().min(1).default('telemetry'),
    ML_ENDPOINT_URL: url('the Azure ML online endpoint scoring URI, ending in /score').optional(),
    ML_ENDPOINT_KEY: optionalString,
    ML_DEPLOYMENT: optionalString,
    ML_TIMEOUT_MS: ms(2_000),
    TEAMS_WEBHOOK_URL: url('a Teams Workflows webhook URL').optional(),
    /** IoT Hub for direct methods (emergencyStop), by managed identity in Azure: <name>.azure-devices.net */
    IOTHUB_HOSTNAME: optionalString,
    /** Local hub only: its service connection string and CA. */
    IOTHUB_CONNECTION_STRING: optionalString,
    IOTHUB_CA_FILE: optionalString,
    /**
     * The app's own storage account (the Functions host's), where the windows every instance
     * shares are kept (the production lines' flood windows, the plant's emergencyStop rate limit)
     * and the telemetry batches kept after their retries: a connection string (Azurite locally),
     * or in Azure the account name reached with the managed identity. Absent: each instance keeps
     * its own windows, and a failing batch is retried for as long as it fails.
     */
    AzureWebJobsStorage: optionalString,
    AzureWebJobsStorage__accountName: optionalString,
    /** Automated emergencyStop: off, dry-run (decide and record, send nothing) or on. */
    AUTO_STOP_MODE: z.enum(['off', 'dry-run', 'on']).default('dry-run'),
    /** Interlocks: the failure probability a stop needs, readings in a row that confirm it, stops per hour, one stop per incident window. */
    AUTO_STOP_MIN_PROBABILITY: fraction(0.9),
    AUTO_STOP_CONFIRM_READINGS: z.coerce.number().int().min(1).max(100).default(3),
    AUTO_STOP_MAX_PER_HOUR: z.coerce.number().int().min(0).default(3),
    AUTO_STOP_INCIDENT_MS: ms(4 * 3_600_000),
    /** Only readings younger than this may stop a machine (a replayed backlog must not). */
    AUTO_STOP_MAX_AGE_MS: ms(2 * 60_000),
    DASHBOARD_URL: url('where the dashboard is served, used in alert links').optional(),
    ANOMALY_WARNING_THRESHOLD: fraction(0.5),
    ANOMALY_CRITICAL_THRESHOLD: fraction(0.8),
    /** Alarm lifecycle: unusual readings in a row before an alarm (on-delay), quiet time before it clears (off-delay), new notified incidents per line per 10 minutes. */
    ALARM_ON_DELAY_READINGS: z.coerce.number().int().min(1).max(1000).default(5),
    ALARM_OFF_DELAY_MS: ms(60_000),
    ALARM_FLOOD_LIMIT: z.coerce.number().int().min(1).default(3),
    /** A reading handled this long after IoT Hub received it (a backlog) is late: what it raises is recorded, and told only if it still stands on readings in time. */
    ALARM_LATE_MS: ms(10 * 60_000),
    /** A sensor its readings state as not measured (null) this long, the machine in service, is a diagnostic alarm (warning). */
    ALARM_BLIND_AFTER_MS: ms(5 * 60_000),
    /** Equipment in service that has sent nothing this long is a communication-loss alarm (warning), raised by the communicationWatch timer. */
    ALARM_SILENT_AFTER_MS: ms(10 * 60_000),
    /**
     * The plant's working hours on its wall clock ("Mon-Fri 06:00-22:00; Sat 06:00-14:00"), in
     * PLANT_TIME_ZONE: outside them a machine that sends nothing is expected to be off (no
     * communication-loss alarm, no page for the whole plant gone quiet). Unset: always working.
     */
    PLANT_WORKING_HOURS: z.string().trim().min(1).optional(),
    /** IANA time zone of the plant's wall clock (Europe/Berlin, America/Chicago…), for PLANT_WORKING_HOURS. */
    PLANT_TIME_ZONE: z.string().trim().min(1).default('UTC'),
    /** Days the plant is closed on its calendar ("2026-12-24..2027-01-01; 2027-04-02"): no shift begins on them. */
    PLANT_HOLIDAYS: z.string().trim().min(1).optional(),
    /**
     * Lines that keep other hours than the plant's ("production-line-b=Mon-Fri 06:00-14:00 |
     * production-line-c=Mon-Sun 00:00-24:00"), on its clock and calendar: a line named works its
     * own hours whatever PLANT_WORKING_HOURS says.
     */
    LINE_WORKING_HOURS: z.string().trim().min(1).optional(),
    /** A twin gets its latest readings at most this often, unless its status or health changes. */
    TWIN_PATCH_INTERVAL_MS: ms(15_000),
    TWIN_PATCH_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
    /** Readings stamped further in the future than this are rejected (a bad clock would pin the twin). */
    MAX_CLOCK_SKEW_MS: ms(5 * 60_000),
    API_MAX_BODY_BYTES: z.coerce.number().int().min(256).default(32 * 1024),
    API_MAX_PAGE_SIZE: z.coerce.number().int().min(1).max(1000).default(100),
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  })
  .refine((c) => (c.ADX_CLUSTER_URL === undefined) !== (c.DUCKDB_PATH === undefined), {
    message: 'set exactly one of ADX_CLUSTER_URL (Data Explorer) and DUCKDB_PATH (a local DuckDB file)',
    path: ['ADX_CLUSTER_URL'],
  })
  .refine((c) => c.AUTO_STOP_MODE !== 'on' || c.IOTHUB_HOSTNAME !== undefined || c.IOTHUB_CONNECTION_STRING !== undefined, {
    message: "is 'on' but no IoT Hub is configured: set IOTHUB_HOSTNAME (or IOTHUB_CONNECTION_STRING locally)",
    path: ['AUTO_STOP_MODE'],
  })
  .refine((c) => c.ANOMALY_WARNING_THRESHOLD <= c.ANOMALY_CRITICAL_THRESHOLD, {
    message: 'must not exceed ANOMALY_CRITICAL_THRESHOLD',
    path: ['ANOMALY_WARNING_THRESHOLD'],
  })
  .superRefine((c, ctx) => {
    try {
      WorkingHours.parse(c.PLANT_WORKING_HOURS ?? ALWAYS, c.PLANT_TIME_ZONE, c.PLANT_HOLIDAYS);
    } catch (error) {
      if (!(error instanceof WorkingHoursError)) throw error;
      const setting = { hours: 'PLANT_WORKING_HOURS', timeZone: 'PLANT_TIME_ZONE', holidays: 'PLANT_HOLIDAYS', lines: 'LINE_WORKING_HOURS' }[error.part];
      ctx.addIssue({ code: 'custom', message: error.message, path: [setting] });
      return;
    }
    try {
      parseLineHours(c.LINE_WORKING_HOURS ?? '', c.PLANT_TIME_ZONE, c.PLANT_HOLIDAYS);
    } catch (error) {
      if (!(error instanceof WorkingHoursError)) throw error;
      ctx.addIssue({ code: 'custom', message: error.message, path: ['LINE_WORKING_HOURS'] });
    }
  });

/** A plant without working hours works all week. */
const ALWAYS = 'Mon-Sun 00:00-24:00';

/** The plant's working hours and holidays the settings give (holidays alone: every other day is worked whole), or undefined when it always works. */
export function workingHoursOf(config: Pick<Config, 'PLANT_WORKING_HOURS' | 'PLANT_TIME_ZONE' | 'PLANT_HOLIDAYS'>): WorkingHours | undefined {
  if (config.PLANT_WORKING_HOURS === undefined && config.PLANT_HOLIDAYS === undefined) return undefined;
  return WorkingHours.parse(config.PLANT_WORKING_HOURS ?? ALWAYS, config.PLANT_TIME_ZONE, config.PLANT_HOLIDAYS);
}

/** The lines that keep their own working hours (LINE_WORKING_HOURS), by twin id; empty when none do. */
export function lineHoursOf(config: Pick<Config, 'LINE_WORKING_HOURS' | 'PLANT_TIME_ZONE' | 'PLANT_HOLIDAYS'>): Map<string, WorkingHours> {
  return parseLineHours(config.LINE_WORKING_HOURS ?? '', config.PLANT_TIME_ZONE, config.PLANT_HOLIDAYS);
}

export type Config = z.infer<typeof schema> & {
  /**
   * Settings that still hold an unresolved Key Vault reference (`@Microsoft.KeyVault(...)`): the
   * platform could not read the secret yet (the app's Key Vault role was still applying when it
   * started). They count as unset, so the app runs without them and health says so.
   */
  unresolvedKeyVaultReferences: string[];
};
export type ConfigInput = Record<string, string | undefined>;

/** Empty strings count as unset: app settings are often present but blank. */
function withoutBlanks(env: ConfigInput): ConfigInput {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
}

/** What App Service leaves in a setting whose Key Vault reference it could not resolve. */
const KEY_VAULT_REFERENCE = /^@Microsoft\.KeyVault\(/i;

export function loadConfig(env: ConfigInput = process.env): Config {
  const present = withoutBlanks(env);
  const unresolved = Object.keys(present).filter((k) => KEY_VAULT_REFERENCE.test(present[k]!.trim())).sort();
  for (const k of unresolved) delete present[k];
  const parsed = schema.safeParse(present);
  if (parsed.success) return { ...parsed.data, unresolvedKeyVaultReferences: unresolved };
  const lines = parsed.error.issues.map((i) => {
    const name = i.path.join('.') || '(settings)';
    const value = env[name];
    return `${name}: ${value === undefined || value === '' ? 'missing — ' : ''}${i.message}`;
  });
  throw new AppError('config.invalid', `Invalid app settings:\n  ${lines.join('\n  ')}`, { status: 500, detail: { issues: lines } });
}

export const configSchema = schema;
