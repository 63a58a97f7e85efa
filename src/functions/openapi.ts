// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type HttpResponseInit } from '@azure/functions';
import { openApiDocument } from '../lib/http/openapi.ts';

const { app } = azureFunctions;

export async function openapi(): Promise<HttpResponseInit> {
  return { status: 200, headers: { 'content-type': 'application/json' }, jsonBody: openApiDocument() };
}

app.http('openapi', { methods: ['GET'], route: 'openapi.json', authLevel: 'anonymous', handler: openapi });
