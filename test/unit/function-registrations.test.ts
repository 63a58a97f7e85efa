/**
 * What the Functions host will index: each file in src/functions registers its function with the
 * right trigger, binding expressions and retry policy. A stand-in for the worker's
 * @azure/functions-core module receives the registrations the host would.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { HTTP_ROUTES } from '../../src/lib/http/routes.ts';
import { sourceRegistrations, triggerOf as trigger, type Registration } from '../support/function-registrations.ts';

let registrations: Registration[] = [];
let hooks: string[] = [];

beforeAll(async () => {
  ({ registrations, hooks } = await sourceRegistrations());
});

const byName = (name: string) => registrations.find((r) => r.name === name);

describe('the Function App the host indexes', () => {
  it('reads telemetry from the Event Hub in batches of bytes (the host binds a batch as JSON otherwise, and one body that is not fails it all), with app-setting names and a retry policy that never runs out (the host checkpoints past a batch whose policy has)', () => {
    const ingest = byName('telemetryIngest');
    expect(trigger(ingest)).toMatchObject({
      type: 'eventHubTrigger',
      direction: 'in',
      connection: 'EventHubConnection',
      eventHubName: '%EVENTHUB_NAME%',
      consumerGroup: '%EVENTHUB_CONSUMER_GROUP%',
      cardinality: 'many',
      dataType: 'binary',
    });
    expect(ingest?.retryOptions).toMatchObject({ strategy: 'exponentialBackoff', maxRetryCount: -1 });
  });

  it('serves the twin API on its routes, behind function keys except health', () => {
    const routes = Object.fromEntries(
      ['twinQuery', 'twinGet', 'twinRelationships', 'health'].map((n) => {
        const t = trigger(byName(n));
        return [n, `${(t?.methods as string[]).join(',')} ${t?.route} ${t?.authLevel}`];
      }),
    );
    expect(routes).toEqual({
      twinQuery: 'POST twins/query function',
      twinGet: 'GET twins/{id} function',
      twinRelationships: 'GET twins/{id}/relationships function',
      health: 'GET health anonymous',
    });
  });

  it('registers every route the local stack serves, and no other HTTP function', () => {
    const http = registrations.filter((r) => trigger(r)?.type === 'httpTrigger');
    const registered = http.map((r) => `${r.name} ${(trigger(r)?.methods as string[]).join(',')} ${trigger(r)?.route} ${trigger(r)?.authLevel}`).sort();
    expect(registered).toEqual(HTTP_ROUTES.map((r) => `${r.name} ${r.methods.join(',')} ${r.route} ${r.authLevel}`).sort());
  });

  it('refreshes held-back twins, watches for equipment gone silent, redelivers dead-lettered batches, takes in readings refused for a model this build now describes and sends alert cards kept while Teams did not take them on timers, and validates settings when the app starts', () => {
    expect(trigger(byName('twinRefresh'))).toMatchObject({ type: 'timerTrigger', schedule: '0 */1 * * * *' });
    expect(trigger(byName('communicationWatch'))).toMatchObject({ type: 'timerTrigger', schedule: '30 */1 * * * *' });
    expect(trigger(byName('batchRedelivery'))).toMatchObject({ type: 'timerTrigger', schedule: '0 */5 * * * *' });
    expect(trigger(byName('alertDelivery'))).toMatchObject({ type: 'timerTrigger', schedule: '0 */1 * * * *' });
    expect(trigger(byName('refusedReadmission'))).toMatchObject({ type: 'timerTrigger', schedule: '30 */5 * * * *' });
    expect(hooks).toContain('appStart');
  });
});
