// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { services } from '../lib/composition.ts';

const { app } = azureFunctions;

export async function alarmPerformance(request: HttpRequest): Promise<HttpResponseInit> {
  return (await services()).plantApi.alarmPerformance(request);
}

app.http('alarmPerformance', { methods: ['GET'], route: 'alarms/performance', authLevel: 'function', handler: alarmPerformance });
