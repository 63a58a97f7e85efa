import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { services } from '../lib/composition.ts';

export async function health(request: HttpRequest): Promise<HttpResponseInit> {
  return services().twinApi.health(request);
}

app.http('health', { methods: ['GET'], route: 'health', authLevel: 'anonymous', handler: health });
