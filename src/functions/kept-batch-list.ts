// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { services } from '../lib/composition.ts';

const { app } = azureFunctions;

export async function keptBatchList(request: HttpRequest): Promise<HttpResponseInit> {
  return (await services()).plantApi.keptBatches(request);
}

app.http('keptBatchList', { methods: ['GET'], route: 'telemetry/kept', authLevel: 'function', handler: keptBatchList });
