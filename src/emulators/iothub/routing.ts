/**
 * IoT Hub message routing, the part the local stack needs: routes on device telemetry
 * (`DeviceMessages`) and on devices' connection state events (`DeviceConnectionStateEvents`) with a
 * condition over message properties — `true`, `false`, comparisons (= != <> < > <= >=) of an
 * application property or a system property ($connectionDeviceId, $contentType,
 * $contentEncoding, $messageId) with a string, number or boolean, joined by AND / OR / NOT and
 * parentheses. Body queries ($body.x) are not supported and are refused when a route is made.
 */
import { ownValue } from '../../lib/own-properties.ts';

export interface Route {
  name: string;
  /** The endpoint the route writes to (the event log the trigger runner reads). */
  endpoint: string;
  condition: string;
  enabled?: boolean;
  /** What the route carries (IoT Hub's routing sources); default `DeviceMessages`. */
  source?: RouteSource;
}

export type RouteSource = 'DeviceMessages' | 'DeviceConnectionStateEvents';

export interface RoutedMessage {
  deviceId: string;
  properties: Record<string, string>;
  systemProperties: Record<string, unknown>;
}

type Cond = (m: RoutedMessage) => boolean | undefined;

const SYSTEM: Record<string, (m: RoutedMessage) => unknown> = {
  $connectiondeviceid: (m) => m.deviceId,
  $contenttype: (m) => m.systemProperties['content-type'],
  $contentencoding: (m) => m.systemProperties['content-encoding'],
  $messageid: (m) => m.systemProperties['message-id'],
};

export class RouteConditionError extends Error {}

export function compileCondition(text: string): Cond {
  const tokens = text.match(/'(?:[^']|'')*'|"(?:[^"])*"|<>|!=|<=|>=|[=<>()]|[^\s=<>()!']+/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const upper = () => peek()?.toUpperCase();
  const fail = (what: string): never => {
    throw new RouteConditionError(`route condition '${text}': ${what}`);
  };
  const literal = (t: string): unknown => {
    if (/^'.*'$|^".*"$/.test(t)) return t.slice(1, -1).replace(/''/g, "'");
    if (/^(true|false)$/i.test(t)) return t.toLowerCase() === 'true';
    if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
    return fail(`'${t}' is not a string, number or boolean`);
  };
  const primary = (): Cond => {
    const t = peek();
    if (t === undefined) return fail('unexpected end');
    if (t === '(') {
      i++;
      const inner = or();
      if (peek() !== ')') fail("missing ')'");
      i++;
      return inner;
    }
    if (upper() === 'NOT') {
      i++;
      const inner = primary();
      return (m) => {
        const v = inner(m);
        return v === undefined ? undefined : !v;
      };
    }
    if (/^(true|false)$/i.test(t) && !['=', '!=', '<>', '<', '>', '<=', '>='].includes(tokens[i + 1] ?? '')) {
      i++;
      const v = t.toLowerCase() === 'true';
      return () => v;
    }
    i++;
    if (t.toLowerCase().startsWith('$body')) fail('body queries are not supported by the local hub');
    const read = t.startsWith('$') ? ownValue(SYSTEM, t.toLowerCase()) ?? fail(`unknown system property ${t}`) : (m: RoutedMessage) => ownValue(m.properties, t);
    const op = peek();
    if (!op || !['=', '!=', '<>', '<', '>', '<=', '>='].includes(op)) return fail(`expected a comparison after ${t}`);
    i++;
    const right = tokens[i++];
    if (right === undefined) return fail('unexpected end');
    const value = literal(right);
    return (m) => {
      let v = read(m);
      if (v === undefined) return undefined;
      if (typeof value === 'number') v = Number(v);
      if (typeof value === 'boolean') v = String(v).toLowerCase() === 'true';
      switch (op) {
        case '=': return v === value;
        case '!=': case '<>': return v !== value;
        case '<': return (v as number) < (value as number);
        case '>': return (v as number) > (value as number);
        case '<=': return (v as number) <= (value as number);
        default: return (v as number) >= (value as number);
      }
    };
  };
  const and = (): Cond => {
    let left = primary();
    while (upper() === 'AND') {
      i++;
      const l = left;
      const r = primary();
      left = (m) => {
        const a = l(m);
        if (a === false) return false;
        const b = r(m);
        return b === false ? false : a && b;
      };
    }
    return left;
  };
  const or = (): Cond => {
    let left = and();
    while (upper() === 'OR') {
      i++;
      const l = left;
      const r = and();
      left = (m) => l(m) === true || r(m) === true || (l(m) === undefined || r(m) === undefined ? undefined : false);
    }
    return left;
  };
  const cond = or();
  if (i < tokens.length) fail(`unexpected '${tokens[i]}'`);
  return cond;
}

export interface CompiledRoute extends Route {
  source: RouteSource;
  matches: (m: RoutedMessage) => boolean;
}

const SOURCES: readonly RouteSource[] = ['DeviceMessages', 'DeviceConnectionStateEvents'];

export function compileRoutes(routes: readonly Route[]): CompiledRoute[] {
  return routes.map((r) => {
    const source = r.source ?? 'DeviceMessages';
    if (!SOURCES.includes(source)) throw new RouteConditionError(`route ${r.name}: source '${String(source)}' is not one the local hub routes (${SOURCES.join(', ')})`);
    const cond = compileCondition(r.condition);
    return { ...r, source, matches: (m) => r.enabled !== false && cond(m) === true };
  });
}
