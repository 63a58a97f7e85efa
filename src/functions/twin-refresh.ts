// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type InvocationContext, type Timer } from '@azure/functions';
import { services } from '../lib/composition.ts';
import { TIMER_SCHEDULES } from '../lib/timer-schedules.ts';

const { app } = azureFunctions;

export async function twinRefresh(_timer: Timer, context: InvocationContext): Promise<void> {
  const result = await (await services()).refreshTwins();
  context.info('twin refresh', JSON.stringify(result));
}

app.timer('twinRefresh', { schedule: TIMER_SCHEDULES.twinRefresh, handler: twinRefresh });
