// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type InvocationContext, type Timer } from '@azure/functions';
import { services } from '../lib/composition.ts';
import { readmissionFailure, REFUSED_READMISSION_FUNCTION } from '../lib/refused-readings.ts';
import { TIMER_SCHEDULES } from '../lib/timer-schedules.ts';

const { app } = azureFunctions;

export async function refusedReadmission(_timer: Timer, context: InvocationContext): Promise<void> {
  const result = await (await services()).readmitNowDescribed();
  if (result.tried || result.failed) context.info('refused readings of models this build describes taken in', JSON.stringify(result));
  const failure = readmissionFailure(result);
  if (failure) throw failure;
}

// Offset from batchRedelivery's minute mark: both read the app's storage account.
app.timer(REFUSED_READMISSION_FUNCTION, { schedule: TIMER_SCHEDULES.refusedReadmission, handler: refusedReadmission });
