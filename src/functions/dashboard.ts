// @azure/functions is CommonJS without named ESM exports: take `app` from its default export.
import azureFunctions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { dashboardFile } from '../lib/http/dashboard.ts';

const { app } = azureFunctions;

/** The dashboard page and its files at /api/dashboard/ (public: its data comes from keyed routes). */
export async function dashboard(request: HttpRequest): Promise<HttpResponseInit> {
  return dashboardFile(request.params.path, request.headers.get('if-none-match'));
}

app.http('dashboard', { methods: ['GET'], route: 'dashboard/{*path}', authLevel: 'anonymous', handler: dashboard });
