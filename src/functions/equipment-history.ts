// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { services } from '../lib/composition.ts';

const { app } = azureFunctions;

export async function equipmentHistory(request: HttpRequest): Promise<HttpResponseInit> {
  return (await services()).plantApi.history(request);
}

app.http('equipmentHistory', { methods: ['GET'], route: 'equipment/{id}/history', authLevel: 'function', handler: equipmentHistory });
