// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { services } from '../lib/composition.ts';

const { app } = azureFunctions;

export async function health(request: HttpRequest): Promise<HttpResponseInit> {
  return (await services()).twinApi.health(request);
}

app.http('health', { methods: ['GET'], route: 'health', authLevel: 'anonymous', handler: health });
