// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type InvocationContext, type Timer } from '@azure/functions';
import { services } from '../lib/composition.ts';
import { contextLogger } from '../lib/log.ts';
import { TIMER_SCHEDULES } from '../lib/timer-schedules.ts';

const { app } = azureFunctions;

export const COMMUNICATION_WATCH_FUNCTION = 'communicationWatch';

/** Equipment in service that has gone silent raises a communication-loss alarm (see src/lib/alerts/communication-watch.ts). */
export async function communicationWatch(_timer: Timer, context: InvocationContext): Promise<void> {
  const result = await (await services()).watchCommunication(contextLogger(context));
  context.info('communication watch', JSON.stringify(result));
}

app.timer(COMMUNICATION_WATCH_FUNCTION, { schedule: TIMER_SCHEDULES.communicationWatch, handler: communicationWatch });
