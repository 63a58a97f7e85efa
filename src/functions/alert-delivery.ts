// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type InvocationContext, type Timer } from '@azure/functions';
import { services } from '../lib/composition.ts';
import { ALERT_DELIVERY_FUNCTION, alertRoundFailure } from '../lib/alerts/alert-delivery.ts';
import { TIMER_SCHEDULES } from '../lib/timer-schedules.ts';

const { app } = azureFunctions;

export async function alertDelivery(_timer: Timer, context: InvocationContext): Promise<void> {
  const round = await (await services()).deliverKeptAlerts();
  if (round.sent || round.folded || round.setAside || round.unreadable || round.waiting) context.info('kept alert card delivery', JSON.stringify(round));
  const failure = alertRoundFailure(round);
  if (failure) throw failure;
}

app.timer(ALERT_DELIVERY_FUNCTION, { schedule: TIMER_SCHEDULES.alertDelivery, handler: alertDelivery });
