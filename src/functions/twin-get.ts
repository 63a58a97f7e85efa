// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { services } from '../lib/composition.ts';

const { app } = azureFunctions;

export async function twinGet(request: HttpRequest): Promise<HttpResponseInit> {
  return (await services()).twinApi.getTwin(request);
}

app.http('twinGet', { methods: ['GET'], route: 'twins/{id}', authLevel: 'function', handler: twinGet });
