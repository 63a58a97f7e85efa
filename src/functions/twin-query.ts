import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { services } from '../lib/composition.ts';

export async function twinQuery(request: HttpRequest): Promise<HttpResponseInit> {
  return services().twinApi.queryTwins(request);
}

app.http('twinQuery', { methods: ['POST'], route: 'twins/query', authLevel: 'function', handler: twinQuery });
