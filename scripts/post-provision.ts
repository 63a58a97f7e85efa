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

export async function postProvision(settings: PostProvisionSettings, options: { plant?: PlantDescription; logger?: Logger; credential?: TokenCredential } = {}): Promise<SeedResult> {
  const credential = options.credential ?? (settings.DIGITAL_TWINS_TOKEN ? new StaticTokenCredential(settings.DIGITAL_TWINS_TOKEN) : new DefaultAzureCredential());
  const readCa = (file: string | undefined) => (file ? readFileSync(file, 'utf8') : undefined);
  const client = digitalTwinsClient({ endpoint: settings.DIGITAL_TWINS_URL, credential, caPem: readCa(settings.DIGITAL_TWINS_CA_FILE) });
  const registry = settings.IOTHUB_CONNECTION_STRING
    ? iotHubRegistry({ connectionString: settings.IOTHUB_CONNECTION_STRING, caPem: readCa(settings.IOTHUB_CA_FILE) })
    : iotHubRegistry({ hostName: settings.IOTHUB_HOSTNAME!, credential });
  return seedPlant({ client, models: readModelDocuments(), plant: options.plant ?? DEFAULT_PLANT, registry, ...(options.logger ? { logger: options.logger } : {}) });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { fleet: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log('usage: tsx scripts/post-provision.ts [--fleet N]\n\nSeeds Digital Twins (dtdl/ models, the plant) and IoT Hub (device identities).\nReads DIGITAL_TWINS_URL and IOTHUB_HOSTNAME (set by azd), or for the local emulators\nDIGITAL_TWINS_TOKEN, DIGITAL_TWINS_CA_FILE, IOTHUB_CONNECTION_STRING, IOTHUB_CA_FILE.');
    return;
  }
  const fleet = values.fleet === undefined ? 0 : Number(values.fleet);
  if (!Number.isInteger(fleet) || fleet < 0) throw new Error(`--fleet must be a whole number, got '${values.fleet}'`);
  const plant = fleet > 0 ? fleetPlant(fleet) : DEFAULT_PLANT;
  const result = await postProvision(readSettings(process.env), { plant, logger: jsonLogger('post-provision') });
  console.log(`post-provision: ${result.modelsCreated} models, ${result.twinsCreated} twins, ${result.relationshipsCreated} relationships, ${result.devicesCreated} devices created (the rest already existed)`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: Error & { statusCode?: number; code?: string }) => {
    const status = error.statusCode ? ` (HTTP ${error.statusCode}${error.code ? ` ${error.code}` : ''})` : '';
    console.error(`post-provision failed${status}: ${error.message}`);
    process.exitCode = 1;
  });
}
