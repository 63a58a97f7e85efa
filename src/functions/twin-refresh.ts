import { app, type InvocationContext, type Timer } from '@azure/functions';
import { services } from '../lib/composition.ts';

export async function twinRefresh(_timer: Timer, context: InvocationContext): Promise<void> {
  const result = await services().refreshTwins();
  context.info('twin refresh', JSON.stringify(result));
}

app.timer('twinRefresh', { schedule: '0 */1 * * * *', handler: twinRefresh });
