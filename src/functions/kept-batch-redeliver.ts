// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { services } from '../lib/composition.ts';

const { app } = azureFunctions;

export async function keptBatchRedeliver(request: HttpRequest): Promise<HttpResponseInit> {
  return (await services()).plantApi.redeliverKept(request);
}

app.http('keptBatchRedeliver', { methods: ['POST'], route: 'telemetry/kept/redeliver', authLevel: 'function', handler: keptBatchRedeliver });
