/**
 * The HTTP API's routes, once: src/functions registers each with the Functions host (a test
 * checks they agree), and the local stack's server dispatches the same table.
 */
import type { Services } from '../composition.ts';
import type { ApiRequest } from './twin-api.ts';
import type { ApiResponse } from './problem.ts';

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
];

/** Matches a path under /api against a route template; returns its parameters. */
export function matchRoute(template: string, path: string): Record<string, string> | undefined {
  const t = template.split('/');
  const p = path.split('/');
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
