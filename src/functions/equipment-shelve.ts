// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { services } from '../lib/composition.ts';

const { app } = azureFunctions;

export async function equipmentShelve(request: HttpRequest): Promise<HttpResponseInit> {
  return (await services()).plantApi.shelve(request);
}

app.http('equipmentShelve', { methods: ['POST'], route: 'equipment/{id}/shelve', authLevel: 'function', handler: equipmentShelve });
