// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { services } from '../lib/composition.ts';

const { app } = azureFunctions;

export async function modelList(request: HttpRequest): Promise<HttpResponseInit> {
  return (await services()).plantApi.models(request);
}

app.http('modelList', { methods: ['GET'], route: 'models', authLevel: 'function', handler: modelList });
