// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { services } from '../lib/composition.ts';

const { app } = azureFunctions;

export async function alertAck(request: HttpRequest): Promise<HttpResponseInit> {
  return (await services()).plantApi.acknowledge(request);
}

app.http('alertAck', { methods: ['POST'], route: 'alerts/{id}/ack', authLevel: 'function', handler: alertAck });
