// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { services } from '../lib/composition.ts';

const { app } = azureFunctions;

export async function alertList(request: HttpRequest): Promise<HttpResponseInit> {
  return (await services()).plantApi.alerts(request);
}

app.http('alertList', { methods: ['GET'], route: 'alerts', authLevel: 'function', handler: alertList });
