// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type InvocationContext } from '@azure/functions';
import { services } from '../lib/composition.ts';

const { app } = azureFunctions;

export async function telemetryIngest(messages: unknown, context: InvocationContext): Promise<void> {
  await services().telemetryIngest(messages, context);
}

app.eventHub('telemetryIngest', {
  connection: 'EventHubConnection',
  eventHubName: '%EVENTHUB_NAME%',
  consumerGroup: '%EVENTHUB_CONSUMER_GROUP%',
  cardinality: 'many',
  // Event Hubs checkpoints even when a batch throws: the retry policy is what replays it.
  retry: { strategy: 'exponentialBackoff', maxRetryCount: 8, minimumInterval: { seconds: 2 }, maximumInterval: { minutes: 2 } },
  handler: telemetryIngest,
});
