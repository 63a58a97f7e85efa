/**
 * What the Functions host indexes from src/functions: each module is imported in this process with
 * a stand-in for the worker's @azure/functions-core, which receives the registrations and hooks.
 */
import Module, { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';

export interface Registration {
  name: string;
  bindings: Record<string, Record<string, unknown>>;
  retryOptions?: Record<string, unknown>;
}

export async function sourceRegistrations(): Promise<{ registrations: Registration[]; hooks: string[] }> {
  const registrations: Registration[] = [];
  const hooks: string[] = [];
  const require = createRequire(import.meta.url);
  const core = {
    setProgrammingModel() {},
    registerFunction(metadata: Registration) {
      registrations.push(metadata);
      return { dispose() {} };
    },
    registerHook(name: string) {
      hooks.push(name);
      return { dispose() {} };
    },
  };
  const id = '@azure/functions-core';
  const m = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const resolve = m._resolveFilename;
  m._resolveFilename = function (request: string, ...rest: unknown[]) {
    return request === id ? id : resolve.call(this, request, ...rest);
  };
  require.cache[id] = { id, filename: id, loaded: true, exports: core } as unknown as NodeJS.Module;
  const dir = new URL('../../src/functions/', import.meta.url);
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) await import(new URL(file, dir).href);
  return { registrations, hooks };
}

export const triggerOf = (r: Registration | undefined) => Object.values(r?.bindings ?? {}).find((b) => String(b.type).endsWith('Trigger'));

/** One line per function: name, trigger and what addresses it (route, methods, auth, schedule, hub). */
export function describeRegistration(r: Registration): string {
  const t = triggerOf(r) ?? {};
  return [r.name, t.type, (t.methods as string[] | undefined)?.join(','), t.route, t.authLevel, t.schedule, t.eventHubName, t.consumerGroup, t.cardinality].filter((x) => x !== undefined).join(' ');
}
