// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type InvocationContext, type Timer } from '@azure/functions';
import { services } from '../lib/composition.ts';
import { BATCH_REDELIVERY_FUNCTION, roundFailure } from '../lib/batch-redelivery.ts';
import { TIMER_SCHEDULES } from '../lib/timer-schedules.ts';

const { app } = azureFunctions;

export async function batchRedelivery(_timer: Timer, context: InvocationContext): Promise<void> {
  const result = await (await services()).redeliverBatches();
  context.info('dead-lettered batch redelivery', JSON.stringify(result));
  const failure = roundFailure(result);
  if (failure) throw failure;
}

app.timer(BATCH_REDELIVERY_FUNCTION, { schedule: TIMER_SCHEDULES.batchRedelivery, handler: batchRedelivery });
