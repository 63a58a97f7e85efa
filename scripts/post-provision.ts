/**
 * azd's post-provision hook: uploads dtdl/ to Digital Twins, creates the plant's twins and
 * relationships, and registers the plant's devices in IoT Hub. Idempotent: run it again and it
 * creates only what is missing, never resetting a twin's live readings.
 *
 * In Azure (azd sets DIGITAL_TWINS_URL and IOTHUB_HOSTNAME from main.bicep's outputs), it signs
 * in with DefaultAzureCredential: the azd user, who main.bicep made ADT Data Owner and IoT Hub
 * Registry Contributor. Against the local emulators it takes a static token and the hub's
 * service connection string, each with the emulator's CA.
 *
 *   npx tsx scripts/post-provision.ts            (azd runs this after `azd provision`)
 *   npx tsx scripts/post-provision.ts --fleet 50 (also 50 simulated fleet devices)
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { z } from 'zod';
import { readModelDocuments } from '../src/lib/dtdl/index.ts';
import { DEFAULT_PLANT, fleetPlant, type PlantDescription } from '../src/lib/plant/plant.ts';
import { seedPlant, type SeedResult } from '../src/lib/plant/seed-plant.ts';
import { digitalTwinsClient, StaticTokenCredential } from '../src/lib/twins/adt-twins.ts';
import { iotHubRegistry } from '../src/lib/commands/iothub-service.ts';
import { jsonLogger, type Logger } from '../src/lib/log.ts';

const blankIsUnset = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optional = z.preprocess(blankIsUnset, z.string().optional());

const settingsSchema = z
  .object({
    DIGITAL_TWINS_URL: z.url({ message: 'must be the Digital Twins endpoint URL (azd sets it from the provision outputs)' }),
    /** Local emulator only: a static bearer token and the emulator's CA. */
    DIGITAL_TWINS_TOKEN: optional,
    DIGITAL_TWINS_CA_FILE: optional,
    /** Azure: the hub's host name (identity-based access). */
    IOTHUB_HOSTNAME: optional,
    /** Local hub: its service connection string and CA. */
    IOTHUB_CONNECTION_STRING: optional,
    IOTHUB_CA_FILE: optional,
  })
  .refine((s) => s.IOTHUB_HOSTNAME || s.IOTHUB_CONNECTION_STRING, { message: 'set IOTHUB_HOSTNAME (Azure) or IOTHUB_CONNECTION_STRING (local hub)', path: ['IOTHUB_HOSTNAME'] });

export type PostProvisionSettings = z.infer<typeof settingsSchema>;

export function readSettings(env: Record<string, string | undefined>): PostProvisionSettings {
  const parsed = settingsSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  throw new Error(`post-provision settings:\n  ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n  ')}`);
}

export interface AccessWait {
  /** How long to keep trying while access is refused (401/403): role assignments take minutes to apply. */
  maxWaitMs: number;
  firstDelayMs: number;
  maxDelayMs: number;
  sleep?: (ms: number) => Promise<void>;
}
export const DEFAULT_ACCESS_WAIT: AccessWait = { maxWaitMs: 15 * 60_000, firstDelayMs: 5_000, maxDelayMs: 60_000 };

const refusedStatus = (error: unknown): number | undefined => {
  const status = (error as { statusCode?: number; status?: number; response?: { statusCode?: number } })?.statusCode ?? (error as { status?: number })?.status ?? (error as { response?: { statusCode?: number } })?.response?.statusCode;
  return status === 401 || status === 403 ? status : undefined;
};

/**
 * Runs `seed` again while Digital Twins or IoT Hub refuse access (401/403), with backoff, for at
 * most `maxWaitMs`: azd runs this hook seconds after creating the deployer's roles, and Azure RBAC
 * takes minutes to apply them. Seeding is idempotent, so a retry continues where it stopped.
 */
export async function whenAccessApplies<T>(seed: () => Promise<T>, wait: AccessWait, log: (line: string) => void): Promise<T> {
  const sleep = wait.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const began = Date.now();
  let delay = wait.firstDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await seed();
    } catch (error) {
      const status = refusedStatus(error);
      const waited = Date.now() - began;
      if (status === undefined) throw error;
      if (waited + delay > wait.maxWaitMs) {
        throw new Error(
          `access is still refused (HTTP ${status}) after ${Math.round(waited / 1000)} s: the role assignments azd made for you (Azure Digital Twins Data Owner, IoT Hub Registry Contributor) have not applied yet, or you are not AZURE_PRINCIPAL_ID. Run \`azd hooks run postprovision\` again in a few minutes.`,
        );
      }
      log(`access refused (HTTP ${status}): waiting ${Math.round(delay / 1000)} s for role assignments to apply (attempt ${attempt})`);
      await sleep(delay);
      delay = Math.min(wait.maxDelayMs, delay * 2);
    }
  }
}

export async function postProvision(settings: PostProvisionSettings, options: { plant?: PlantDescription; logger?: Logger; credential?: TokenCredential; accessWait?: AccessWait } = {}): Promise<SeedResult> {
  const credential = options.credential ?? (settings.DIGITAL_TWINS_TOKEN ? new StaticTokenCredential(settings.DIGITAL_TWINS_TOKEN) : new DefaultAzureCredential());
  const readCa = (file: string | undefined) => (file ? readFileSync(file, 'utf8') : undefined);
  const client = digitalTwinsClient({ endpoint: settings.DIGITAL_TWINS_URL, credential, caPem: readCa(settings.DIGITAL_TWINS_CA_FILE) });
  const registry = settings.IOTHUB_CONNECTION_STRING
    ? iotHubRegistry({ connectionString: settings.IOTHUB_CONNECTION_STRING, caPem: readCa(settings.IOTHUB_CA_FILE) })
    : iotHubRegistry({ hostName: settings.IOTHUB_HOSTNAME!, credential });
  const log = (line: string) => (options.logger ? options.logger.log('warn', line) : console.error(line));
  return whenAccessApplies(
    () => seedPlant({ client, models: readModelDocuments(), plant: options.plant ?? DEFAULT_PLANT, registry, ...(options.logger ? { logger: options.logger } : {}) }),
    options.accessWait ?? DEFAULT_ACCESS_WAIT,
    log,
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { fleet: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log('usage: tsx scripts/post-provision.ts [--fleet N]\n\nSeeds Digital Twins (dtdl/ models, the plant) and IoT Hub (device identities).\nReads DIGITAL_TWINS_URL and IOTHUB_HOSTNAME (set by azd), or for the local emulators\nDIGITAL_TWINS_TOKEN, DIGITAL_TWINS_CA_FILE, IOTHUB_CONNECTION_STRING, IOTHUB_CA_FILE.\nWhile access is refused (roles still applying) it retries with backoff for POST_PROVISION_WAIT_SECONDS (900).');
    return;
  }
  const fleet = values.fleet === undefined ? 0 : Number(values.fleet);
  if (!Number.isInteger(fleet) || fleet < 0) throw new Error(`--fleet must be a whole number, got '${values.fleet}'`);
  const plant = fleet > 0 ? fleetPlant(fleet) : DEFAULT_PLANT;
  // How long to wait for role assignments to apply (default 15 minutes).
  const waitSeconds = Number(process.env.POST_PROVISION_WAIT_SECONDS ?? DEFAULT_ACCESS_WAIT.maxWaitMs / 1000);
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0) throw new Error(`POST_PROVISION_WAIT_SECONDS must be a number of seconds, got '${process.env.POST_PROVISION_WAIT_SECONDS}'`);
  const result = await postProvision(readSettings(process.env), { plant, logger: jsonLogger('post-provision'), accessWait: { ...DEFAULT_ACCESS_WAIT, maxWaitMs: waitSeconds * 1000 } });
  console.log(`post-provision: ${result.modelsCreated} models, ${result.twinsCreated} twins, ${result.relationshipsCreated} relationships, ${result.devicesCreated} devices created (the rest already existed)`);
  if (result.twinsMoved || result.modelsDecommissioned) console.log(`post-provision: ${result.twinsMoved} twins moved to their models' new versions, ${result.modelsDecommissioned} earlier versions decommissioned`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: Error & { statusCode?: number; code?: string }) => {
    const status = error.statusCode ? ` (HTTP ${error.statusCode}${error.code ? ` ${error.code}` : ''})` : '';
    console.error(`post-provision failed${status}: ${error.message}`);
    process.exitCode = 1;
  });
}
