// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type InvocationContext } from '@azure/functions';
import { services } from '../lib/composition.ts';
import { TELEMETRY_INGEST_FUNCTION, TELEMETRY_INGEST_TRIGGER } from '../lib/telemetry-ingest.ts';

const { app } = azureFunctions;

export async function telemetryIngest(messages: unknown, context: InvocationContext): Promise<void> {
  await (await services()).telemetryIngest(messages, context);
}

app.eventHub(TELEMETRY_INGEST_FUNCTION, { ...TELEMETRY_INGEST_TRIGGER, retry: { ...TELEMETRY_INGEST_TRIGGER.retry }, handler: telemetryIngest });
