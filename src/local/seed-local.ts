/**
 * Seeds the plant (models, twins, relationships, device identities) into the local emulators,
 * through the same SDK adapters the post-provision step uses against Azure. Idempotent.
 */
import { readModelDocuments } from '../lib/dtdl/index.ts';
import { digitalTwinsClient, StaticTokenCredential } from '../lib/twins/adt-twins.ts';
import { iotHubRegistry } from '../lib/commands/iothub-service.ts';
import type { Logger } from '../lib/log.ts';
import type { PlantDescription } from '../lib/plant/plant.ts';
import { seedPlant, type SeedResult } from '../lib/plant/seed-plant.ts';

export function seedLocalPlant(endpoints: { adt: { url: string; caPem: string }; iotHub: { serviceConnectionString: string; caPem: string } }, plant: PlantDescription, logger: Logger): Promise<SeedResult> {
  return seedPlant({
    client: digitalTwinsClient({ endpoint: endpoints.adt.url, credential: new StaticTokenCredential('local-development'), caPem: endpoints.adt.caPem }),
    models: readModelDocuments(),
    plant,
    registry: iotHubRegistry({ connectionString: endpoints.iotHub.serviceConnectionString, caPem: endpoints.iotHub.caPem }),
    logger,
  });
}
