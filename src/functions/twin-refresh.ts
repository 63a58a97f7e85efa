// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type InvocationContext, type Timer } from '@azure/functions';
import { services } from '../lib/composition.ts';

const { app } = azureFunctions;

export async function twinRefresh(_timer: Timer, context: InvocationContext): Promise<void> {
  const result = await (await services()).refreshTwins();
  context.info('twin refresh', JSON.stringify(result));
}

app.timer('twinRefresh', { schedule: '0 */1 * * * *', handler: twinRefresh });
