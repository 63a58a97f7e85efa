// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { services } from '../lib/composition.ts';

const { app } = azureFunctions;

export async function deadLetterList(request: HttpRequest): Promise<HttpResponseInit> {
  return (await services()).plantApi.deadLetters(request);
}

app.http('deadLetterList', { methods: ['GET'], route: 'telemetry/dead-letters', authLevel: 'function', handler: deadLetterList });
