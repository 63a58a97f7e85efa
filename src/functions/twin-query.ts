// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { services } from '../lib/composition.ts';

const { app } = azureFunctions;

export async function twinQuery(request: HttpRequest): Promise<HttpResponseInit> {
  return (await services()).twinApi.queryTwins(request);
}

app.http('twinQuery', { methods: ['POST'], route: 'twins/query', authLevel: 'function', handler: twinQuery });
