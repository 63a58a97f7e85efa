// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { services } from '../lib/composition.ts';

const { app } = azureFunctions;

export async function lineStatus(request: HttpRequest): Promise<HttpResponseInit> {
  return (await services()).plantApi.lineStatus(request);
}

app.http('lineStatus', { methods: ['POST'], route: 'lines/{id}/status', authLevel: 'function', handler: lineStatus });
