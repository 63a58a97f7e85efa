// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { services } from '../lib/composition.ts';

const { app } = azureFunctions;

export async function deadLetterReadmit(request: HttpRequest): Promise<HttpResponseInit> {
  return (await services()).plantApi.readmitRefused(request);
}

app.http('deadLetterReadmit', { methods: ['POST'], route: 'telemetry/dead-letters/readmit', authLevel: 'function', handler: deadLetterReadmit });
