/**
 * The HTTP API's routes, once: src/functions registers each with the Functions host (a test
 * checks they agree), and the local stack's server dispatches the same table.
 */
import type { Services } from '../composition.ts';
import type { ApiRequest } from './twin-api.ts';
import type { ApiResponse } from './problem.ts';
import { dashboardFile } from './dashboard.ts';
import { openApiDocument } from './openapi.ts';

export interface HttpRoute {
  name: string;
  methods: ('GET' | 'POST')[];
  /** Functions route template, under /api. */
  route: string;
  authLevel: 'anonymous' | 'function';
  handle(services: Services, request: ApiRequest): Promise<ApiResponse>;
}

export const HTTP_ROUTES: readonly HttpRoute[] = [
  { name: 'twinQuery', methods: ['POST'], route: 'twins/query', authLevel: 'function', handle: (s, r) => s.twinApi.queryTwins(r) },
  { name: 'twinGet', methods: ['GET'], route: 'twins/{id}', authLevel: 'function', handle: (s, r) => s.twinApi.getTwin(r) },
  { name: 'twinRelationships', methods: ['GET'], route: 'twins/{id}/relationships', authLevel: 'function', handle: (s, r) => s.twinApi.getRelationships(r) },
  { name: 'health', methods: ['GET'], route: 'health', authLevel: 'anonymous', handle: (s, r) => s.twinApi.health(r) },
  { name: 'plant', methods: ['GET'], route: 'plant', authLevel: 'function', handle: (s, r) => s.plantApi.plant(r) },
  { name: 'equipmentHistory', methods: ['GET'], route: 'equipment/{id}/history', authLevel: 'function', handle: (s, r) => s.plantApi.history(r) },
  { name: 'alertList', methods: ['GET'], route: 'alerts', authLevel: 'function', handle: (s, r) => s.plantApi.alerts(r) },
  { name: 'alarmPerformance', methods: ['GET'], route: 'alarms/performance', authLevel: 'function', handle: (s, r) => s.plantApi.alarmPerformance(r) },
  { name: 'alertAck', methods: ['POST'], route: 'alerts/{id}/ack', authLevel: 'function', handle: (s, r) => s.plantApi.acknowledge(r) },
  { name: 'equipmentShelve', methods: ['POST'], route: 'equipment/{id}/shelve', authLevel: 'function', handle: (s, r) => s.plantApi.shelve(r) },
  { name: 'lineStatus', methods: ['POST'], route: 'lines/{id}/status', authLevel: 'function', handle: (s, r) => s.plantApi.lineStatus(r) },
  { name: 'deadLetterList', methods: ['GET'], route: 'telemetry/dead-letters', authLevel: 'function', handle: (s, r) => s.plantApi.deadLetters(r) },
  { name: 'deadLetterReadmit', methods: ['POST'], route: 'telemetry/dead-letters/readmit', authLevel: 'function', handle: (s, r) => s.plantApi.readmitRefused(r) },
  { name: 'keptBatchList', methods: ['GET'], route: 'telemetry/kept', authLevel: 'function', handle: (s, r) => s.plantApi.keptBatches(r) },
  { name: 'keptBatchRedeliver', methods: ['POST'], route: 'telemetry/kept/redeliver', authLevel: 'function', handle: (s, r) => s.plantApi.redeliverKept(r) },
  { name: 'modelList', methods: ['GET'], route: 'models', authLevel: 'function', handle: (s, r) => s.plantApi.models(r) },
  { name: 'openapi', methods: ['GET'], route: 'openapi.json', authLevel: 'anonymous', handle: async () => ({ status: 200, headers: { 'content-type': 'application/json' }, jsonBody: openApiDocument() }) },
  // The page is public; everything it shows comes from the keyed routes above.
  { name: 'dashboard', methods: ['GET'], route: 'dashboard/{*path}', authLevel: 'anonymous', handle: async (_s, r) => dashboardFile(r.params.path, r.headers.get('if-none-match')) },
];

/** Matches a path under /api against a route template ({name}, and a last {*rest}); returns its parameters. */
export function matchRoute(template: string, path: string): Record<string, string> | undefined {
  const t = template.split('/');
  const p = path.split('/');
  const rest = /^\{\*(\w+)\}$/.exec(t[t.length - 1]!);
  if (rest) {
    // The Functions host matches 'dashboard/{*path}' for /dashboard, /dashboard/ and anything below.
    const head = t.slice(0, -1);
    if (p.length < head.length || head.some((seg, i) => seg !== p[i])) return undefined;
    try {
      return { [rest[1]!]: decodeURIComponent(p.slice(head.length).join('/')) };
    } catch {
      return undefined;
    }
  }
  if (t.length !== p.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < t.length; i++) {
    const m = /^\{(\w+)\}$/.exec(t[i]!);
    if (m) {
      try {
        params[m[1]!] = decodeURIComponent(p[i]!);
      } catch {
        return undefined;
      }
    } else if (t[i] !== p[i]) return undefined;
  }
  return params;
}
