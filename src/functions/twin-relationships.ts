// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { services } from '../lib/composition.ts';

const { app } = azureFunctions;

export async function twinRelationships(request: HttpRequest): Promise<HttpResponseInit> {
  return (await services()).twinApi.getRelationships(request);
}

app.http('twinRelationships', { methods: ['GET'], route: 'twins/{id}/relationships', authLevel: 'function', handler: twinRelationships });
