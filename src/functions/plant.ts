// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { services } from '../lib/composition.ts';

const { app } = azureFunctions;

export async function plant(request: HttpRequest): Promise<HttpResponseInit> {
  return (await services()).plantApi.plant(request);
}

app.http('plant', { methods: ['GET'], route: 'plant', authLevel: 'function', handler: plant });
