/**
 * Runs a parsed query against the twin graph. A row is an array with one slot per collection
 * name, in binding order (cheaper than an object per row on 10,000-twin scans); WHERE uses
 * three-valued logic (a comparison with a missing property is neither
 * true nor false, and only true rows are kept), as ADT does. $dtId conditions and IS_OF_MODEL on
 * the root collection use the graph's indexes instead of a scan.
 */
import { ownValue } from '../../../lib/own-properties.ts';
import { QueryError, type Expr, type From, type MatchEdge, type Operand, type PathExpr, type Query } from './parse.ts';

export type Doc = Record<string, unknown>;

export interface QueryGraph {
  twin(id: string): Doc | undefined;
  twins(): Iterable<Doc>;
  /** Twins whose model is `modelId` (or, unless exact, extends it), one iterable per model. */
  twinsOfModel(modelId: string, exact: boolean): Iterable<Doc>[];
  relationships(): Iterable<Doc>;
  outgoing(twinId: string): Iterable<Doc>;
  incoming(twinId: string): Iterable<Doc>;
  isA(modelId: string, baseId: string): boolean;
}

type Row = (Doc | undefined)[];
type Tri = boolean | undefined;

const DEFAULT = '\u0000default';

interface Scope {
  /** Collection names in binding order. */
  names: string[];
  /** The collection a path without a collection prefix refers to, when there is only one. */
  implicit: string | undefined;
}

/** A collection's slot in a row. */
function slot(scope: Scope, name: string): number {
  return scope.names.indexOf(name);
}

function scopeOf(from: From): Scope {
  if (from.kind === 'relationships') return { names: [from.alias ?? DEFAULT], implicit: from.alias ?? DEFAULT };
  const names = [from.alias ?? DEFAULT];
  if (from.match) {
    names.length = 0;
    for (const n of from.match.nodes) if (!names.includes(n)) names.push(n);
    for (const e of from.match.edges) if (e.variable) names.push(e.variable);
  }
  for (const j of from.joins) {
    if (!names.includes(j.source)) throw new QueryError(`JOIN refers to collection '${j.source}', which is not defined before it`);
    if (names.includes(j.target)) throw new QueryError(`collection name '${j.target}' is used twice`);
    names.push(j.target);
    if (j.relationshipAlias) names.push(j.relationshipAlias);
  }
  return { names, implicit: names.length === 1 ? names[0] : undefined };
}

function resolveName(scope: Scope, name: string): string | undefined {
  if (scope.names.includes(name)) return name;
  const lower = name.toLowerCase();
  return scope.names.find((n) => n !== DEFAULT && n.toLowerCase() === lower);
}

/**
 * A property the twin (or an object in it) has itself: a twin without `constructor` or `valueOf`
 * has no such property, whatever every JavaScript object inherits.
 */
function own(v: unknown, key: string): unknown {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? ownValue(v as Doc, key) : undefined;
}

function readPath(doc: unknown, segments: readonly string[], start: number): unknown {
  let v = doc;
  for (let i = start; i < segments.length && v !== undefined; i++) v = own(v, segments[i]!);
  return v;
}

/** Compiles a path into a function of a row, resolving its collection once. */
function compilePath(scope: Scope, path: PathExpr): (row: Row) => unknown {
  const first = resolveName(scope, path.segments[0]!);
  if (first !== undefined) {
    const i = slot(scope, first);
    const segments = path.segments;
    if (segments.length === 2) {
      const key = segments[1]!;
      return (row) => own(row[i], key);
    }
    return (row) => readPath(row[i], segments, 1);
  }
  if (scope.implicit === undefined) {
    throw new QueryError(`'${path.segments[0]}' is not a collection of this query (${scope.names.filter((n) => n !== DEFAULT).join(', ')}); prefix properties with their collection name`);
  }
  const i = slot(scope, scope.implicit);
  const segments = path.segments;
  if (segments.length === 1) {
    const key = segments[0]!;
    return (row) => own(row[i], key);
  }
  return (row) => readPath(row[i], segments, 0);
}

type Compiled = (row: Row) => Tri;

function compileOperand(scope: Scope, op: Operand): (row: Row) => unknown {
  return op.kind === 'literal' ? () => op.value : compilePath(scope, op);
}

function compare(op: string, a: unknown, b: unknown): Tri {
  if (a === undefined || b === undefined) return undefined;
  if (op === '=') return a === b;
  if (op === '!=') return a !== b;
  const comparable = (typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string');
  if (!comparable) return undefined;
  switch (op) {
    case '<': return (a as number) < (b as number);
    case '<=': return (a as number) <= (b as number);
    case '>': return (a as number) > (b as number);
    default: return (a as number) >= (b as number);
  }
}

const modelOf = (doc: unknown): string | undefined => ((doc as Doc | undefined)?.$metadata as Doc | undefined)?.$model as string | undefined;

function compileCall(scope: Scope, graph: QueryGraph, name: string, args: Extract<Expr, { kind: 'call' }>['args']): Compiled {
  const operands = () => args.map((a) => {
    if (a.kind === 'keyword') throw new QueryError(`'exact' is only valid in IS_OF_MODEL`);
    return compileOperand(scope, a);
  });
  const unary = (test: (v: unknown) => boolean): Compiled => {
    if (args.length !== 1) throw new QueryError(`${name} takes one argument`);
    const [f] = operands();
    return (row) => test(f!(row));
  };
  const strings = (test: (s: string, t: string) => boolean): Compiled => {
    if (args.length !== 2) throw new QueryError(`${name} takes two arguments`);
    const [f, g] = operands();
    return (row) => {
      const s = f!(row);
      const t = g!(row);
      return typeof s === 'string' && typeof t === 'string' ? test(s, t) : undefined;
    };
  };
  switch (name) {
    case 'IS_DEFINED': return unary((v) => v !== undefined);
    case 'IS_NULL': return unary((v) => v === null);
    case 'IS_BOOL': return unary((v) => typeof v === 'boolean');
    case 'IS_NUMBER': return unary((v) => typeof v === 'number');
    case 'IS_STRING': return unary((v) => typeof v === 'string');
    case 'IS_PRIMITIVE': return unary((v) => v === null || ['string', 'number', 'boolean'].includes(typeof v));
    case 'IS_OBJECT': return unary((v) => typeof v === 'object' && v !== null && !Array.isArray(v));
    case 'STARTSWITH': return strings((s, t) => s.startsWith(t));
    case 'ENDSWITH': return strings((s, t) => s.endsWith(t));
    case 'CONTAINS': return strings((s, t) => s.includes(t));
    case 'ARRAY_CONTAINS': {
      if (args.length !== 2) throw new QueryError('ARRAY_CONTAINS takes two arguments');
      const [f, g] = operands();
      return (row) => {
        const arr = f!(row);
        return Array.isArray(arr) ? arr.includes(g!(row)) : undefined;
      };
    }
    case 'IS_OF_MODEL': {
      const spec = isOfModelArgs(scope, args);
      const i = slot(scope, spec.collection);
      // A query meets few distinct models: remember each answer.
      const known = new Map<string, boolean>();
      return (row) => {
        const model = modelOf(row[i]);
        if (model === undefined) return false;
        if (spec.exact) return model === spec.modelId;
        let yes = known.get(model);
        if (yes === undefined) known.set(model, (yes = graph.isA(model, spec.modelId)));
        return yes;
      };
    }
    default:
      throw new QueryError(`unknown function ${name}`);
  }
}

function isOfModelArgs(scope: Scope, args: Extract<Expr, { kind: 'call' }>['args']): { collection: string; modelId: string; exact: boolean } {
  let rest = args;
  let collection = scope.implicit;
  const first = rest[0];
  if (first?.kind === 'path') {
    if (first.segments.length !== 1 || resolveName(scope, first.segments[0]!) === undefined) throw new QueryError(`IS_OF_MODEL's first argument must be a twin collection, got '${first.segments.join('.')}'`);
    collection = resolveName(scope, first.segments[0]!);
    rest = rest.slice(1);
  }
  const model = rest[0];
  if (model?.kind !== 'literal' || typeof model.value !== 'string') throw new QueryError("IS_OF_MODEL needs a model id string, e.g. IS_OF_MODEL('dtmi:example:Room;1')");
  const exact = rest[1]?.kind === 'keyword';
  if (rest.length > (exact ? 2 : 1)) throw new QueryError('IS_OF_MODEL takes ([collection,] modelId [, exact])');
  if (collection === undefined) throw new QueryError('IS_OF_MODEL needs a collection name when the query has several');
  return { collection, modelId: model.value, exact };
}

function compileExpr(scope: Scope, graph: QueryGraph, e: Expr): Compiled {
  switch (e.kind) {
    case 'and': {
      const l = compileExpr(scope, graph, e.left);
      const r = compileExpr(scope, graph, e.right);
      return (row) => {
        const a = l(row);
        if (a === false) return false;
        const b = r(row);
        if (b === false) return false;
        return a === true && b === true ? true : undefined;
      };
    }
    case 'or': {
      const l = compileExpr(scope, graph, e.left);
      const r = compileExpr(scope, graph, e.right);
      return (row) => {
        const a = l(row);
        if (a === true) return true;
        const b = r(row);
        if (b === true) return true;
        return a === false && b === false ? false : undefined;
      };
    }
    case 'not': {
      const inner = compileExpr(scope, graph, e.expr);
      return (row) => {
        const v = inner(row);
        return v === undefined ? undefined : !v;
      };
    }
    case 'compare': {
      const l = compileOperand(scope, e.left);
      const r = compileOperand(scope, e.right);
      const op = e.op;
      return (row) => compare(op, l(row), r(row));
    }
    case 'in': {
      const l = compileOperand(scope, e.left);
      const set = new Set(e.values);
      return (row) => {
        const v = l(row);
        if (v === undefined) return undefined;
        return set.has(v as never) !== e.negate;
      };
    }
    case 'call':
      return compileCall(scope, graph, e.name, e.args);
    case 'literal':
      return () => (typeof e.value === 'boolean' ? e.value : undefined);
    case 'path': {
      const f = compilePath(scope, e);
      return (row) => {
        const v = f(row);
        return typeof v === 'boolean' ? v : undefined;
      };
    }
  }
}

/** The top-level AND terms of a WHERE clause. */
function conjuncts(e: Expr | undefined): Expr[] {
  if (!e) return [];
  return e.kind === 'and' ? [...conjuncts(e.left), ...conjuncts(e.right)] : [e];
}

/** Ids a collection is pinned to by `X.$dtId = 'a'` or `X.$dtId IN [...]` in the top-level AND. */
function anchoredIds(scope: Scope, where: Expr | undefined, collection: string): string[] | undefined {
  for (const c of conjuncts(where)) {
    const path = c.kind === 'compare' || c.kind === 'in' ? c.left : undefined;
    if (path?.kind !== 'path') continue;
    const target = resolveName(scope, path.segments[0]!);
    const onCollection = target === collection && path.segments.length === 2 ? path.segments[1] : scope.implicit === collection && path.segments.length === 1 ? path.segments[0] : undefined;
    if (onCollection?.toLowerCase() !== '$dtid') continue;
    if (c.kind === 'compare' && c.op === '=' && c.right.kind === 'literal' && typeof c.right.value === 'string') return [c.right.value];
    if (c.kind === 'in' && !c.negate) return c.values.filter((v): v is string => typeof v === 'string');
  }
  return undefined;
}

function modelFilter(scope: Scope, where: Expr | undefined, collection: string): { modelId: string; exact: boolean } | undefined {
  for (const c of conjuncts(where)) {
    if (c.kind !== 'call' || c.name !== 'IS_OF_MODEL') continue;
    const spec = isOfModelArgs(scope, c.args);
    if (spec.collection === collection) return spec;
  }
  return undefined;
}

/** The twins a collection can hold, narrowed by id or model when WHERE allows: a list of iterables. */
function rootTwins(graph: QueryGraph, scope: Scope, where: Expr | undefined, collection: string): Iterable<Doc>[] {
  const ids = anchoredIds(scope, where, collection);
  if (ids) {
    const found: Doc[] = [];
    for (const id of new Set(ids)) {
      const t = graph.twin(id);
      if (t) found.push(t);
    }
    return [found];
  }
  const model = modelFilter(scope, where, collection);
  return model ? graph.twinsOfModel(model.modelId, model.exact) : [graph.twins()];
}

/**
 * Calls `visit` for each twin reachable from `start` in `min..max` hops over edges that fit
 * `edge`, walking `forward` from the pattern's left. Paths are simple (never revisit a twin);
 * each twin (or, when the edge is named, each twin and relationship) is visited once.
 */
function hops(graph: QueryGraph, start: Doc, edge: MatchEdge, forward: boolean, visit: (twin: Doc, rel: Doc | undefined) => void): void {
  const names = edge.names.length ? new Set(edge.names) : undefined;
  // Which way relationships point, seen from the node we walk from.
  const out = edge.direction === 'both' ? undefined : (edge.direction === 'right') === forward;
  const seen = new Set<string>();
  const path: string[] = [];
  const walk = (twin: Doc, depth: number, rel: Doc | undefined): void => {
    const id = twin.$dtId as string;
    if (depth >= edge.minHops && depth > 0) {
      const key = edge.variable ? `${id}|${rel!.$sourceId as string}|${rel!.$relationshipId as string}` : id;
      if (!seen.has(key)) {
        seen.add(key);
        visit(twin, rel);
      }
    }
    if (depth === edge.maxHops) return;
    path.push(id);
    if (out !== false) {
      for (const r of graph.outgoing(id)) {
        if (names && !names.has(r.$relationshipName as string)) continue;
        const t = graph.twin(r.$targetId as string);
        if (t && !path.includes(t.$dtId as string)) walk(t, depth + 1, r);
      }
    }
    if (out !== true) {
      for (const r of graph.incoming(id)) {
        if (names && !names.has(r.$relationshipName as string)) continue;
        const t = graph.twin(r.$sourceId as string);
        if (t && !path.includes(t.$dtId as string)) walk(t, depth + 1, r);
      }
    }
    path.pop();
  };
  walk(start, 0, undefined);
}

function matchRows(graph: QueryGraph, scope: Scope, from: Extract<From, { kind: 'twins' }>, where: Expr | undefined): Row[] {
  const pattern = from.match!;
  const nodeSlots = pattern.nodes.map((n) => slot(scope, n));
  const anchorIndex = pattern.nodes.findIndex((n) => anchoredIds(scope, where, n) !== undefined);
  if (anchorIndex < 0) throw new QueryError("a MATCH query must pin at least one twin by id in WHERE, e.g. WHERE Building.$dtId = 'Building21'");
  let rows: Row[] = [];
  for (const list of rootTwins(graph, scope, where, pattern.nodes[anchorIndex]!)) {
    for (const t of list) {
      const row: Row = new Array(scope.names.length);
      row[nodeSlots[anchorIndex]!] = t;
      rows.push(row);
    }
  }
  const extend = (nodeIndex: number, edgeIndex: number, newNode: number, forward: boolean) => {
    const edge = pattern.edges[edgeIndex]!;
    const target = nodeSlots[newNode]!;
    const relSlot = edge.variable ? slot(scope, edge.variable) : -1;
    // WHERE terms about the new node alone prune paths before they become rows.
    const nodeFilter = conjunctFilter(scope, graph, where, pattern.nodes[newNode]!);
    const next: Row[] = [];
    for (const row of rows) {
      const bound = row[target];
      hops(graph, row[nodeSlots[nodeIndex]!]!, edge, forward, (twin, rel) => {
        if (bound && bound.$dtId !== twin.$dtId) return; // a name used twice must be the same twin
        if (nodeFilter && !bound) {
          row[target] = twin;
          const keep = nodeFilter(row) !== false;
          row[target] = undefined;
          if (!keep) return;
        }
        const r = row.slice();
        r[target] = twin;
        if (relSlot >= 0 && rel) r[relSlot] = rel;
        next.push(r);
      });
    }
    rows = next;
  };
  for (let i = anchorIndex; i < pattern.edges.length; i++) extend(i, i, i + 1, true);
  for (let i = anchorIndex - 1; i >= 0; i--) extend(i + 1, i, i, false);
  return rows;
}

/**
 * Feeds `consider` each row of the root collection and its JOINs. One row array is reused and
 * refilled, so `consider` must copy a row it keeps; it returns true to stop (TOP reached).
 */
function joinRows(graph: QueryGraph, scope: Scope, from: Extract<From, { kind: 'twins' }>, where: Expr | undefined, rootFilter: Compiled | undefined, consider: (row: Row) => boolean): void {
  const root = from.alias ?? DEFAULT;
  const row: Row = new Array(scope.names.length);
  const joins = from.joins.map((j) => ({
    relationship: j.relationship,
    source: slot(scope, resolveName(scope, j.source)!),
    target: slot(scope, j.target),
    rel: j.relationshipAlias ? slot(scope, j.relationshipAlias) : -1,
  }));
  const expand = (index: number): boolean => {
    if (index === joins.length) return consider(row);
    const j = joins[index]!;
    for (const rel of graph.outgoing(row[j.source]!.$dtId as string)) {
      if (rel.$relationshipName !== j.relationship) continue;
      const target = graph.twin(rel.$targetId as string);
      if (!target) continue;
      row[j.target] = target;
      if (j.rel >= 0) row[j.rel] = rel;
      if (expand(index + 1)) return true;
    }
    return false;
  };
  const rootSlot = slot(scope, root);
  for (const list of rootTwins(graph, scope, where, root)) {
    for (const twin of list) {
      row[rootSlot] = twin;
      if (rootFilter && rootFilter(row) === false) continue;
      if (expand(0)) return;
    }
  }
}

export interface QueryResult {
  items: Doc[];
  /** How many rows were looked at: the basis of the query charge. */
  scanned: number;
}

export function evaluate(query: Query, graph: QueryGraph): QueryResult {
  const scope = scopeOf(query.from);
  const filter = query.where ? compileExpr(scope, graph, query.where) : undefined;
  const top = query.select.kind === 'count' ? undefined : query.select.top;
  const counting = query.select.kind === 'count';

  let scanned = 0;
  let count = 0;
  const rows: Row[] = [];
  // Rows handed in may be reused by the caller: copy the ones kept.
  const consider = (row: Row) => {
    scanned++;
    if (filter && filter(row) !== true) return false;
    if (counting) count++;
    else rows.push(row.slice());
    return top !== undefined && rows.length >= top;
  };

  const from = query.from;
  if (from.kind === 'relationships') {
    const row: Row = [undefined];
    for (const r of graph.relationships()) {
      row[0] = r;
      if (consider(row)) break;
    }
  } else if (from.match) {
    for (const row of matchRows(graph, scope, from, query.where)) if (consider(row)) break;
  } else {
    if (from.joins.length && ![from.alias ?? DEFAULT, ...from.joins.map((j) => j.target)].some((c) => anchoredIds(scope, query.where, c))) {
      throw new QueryError("a JOIN query must pin its source or target twins by id in WHERE, e.g. WHERE T.$dtId = 'ABC'");
    }
    // Terms that only concern the root collection prune it before the joins multiply rows.
    const rootFilter = from.joins.length ? conjunctFilter(scope, graph, query.where, from.alias ?? DEFAULT) : undefined;
    joinRows(graph, scope, from, query.where, rootFilter, consider);
  }

  const select = query.select;
  if (select.kind === 'count') return { items: [{ COUNT: count }], scanned };
  const multi = scope.names.length > 1 || scope.names[0] !== DEFAULT && from.kind === 'twins' && (from.joins.length > 0 || from.match !== undefined);
  if (select.kind === 'star') {
    // Built from entries: a collection or alias named `__proto__` is a key of the item, not its prototype.
    const items = rows.map((row) => (multi ? (Object.fromEntries(scope.names.flatMap((n, i) => (row[i] ? [[n, row[i]]] : []))) as Doc) : row[0]!));
    return { items, scanned };
  }
  const projections = select.items.map((item) => {
    const segments = item.path.segments;
    const collection = resolveName(scope, segments[0]!);
    const key = item.alias ?? (collection !== undefined && segments.length === 1 ? collection : segments[segments.length - 1]!);
    return { key, read: compilePath(scope, item.path) };
  });
  const items = rows.map((row) => {
    const entries: [string, unknown][] = [];
    for (const p of projections) {
      const v = p.read(row);
      if (v !== undefined) entries.push([p.key, v]);
    }
    return Object.fromEntries(entries) as Doc;
  });
  return { items, scanned };
}

/** The top-level AND terms of WHERE that concern `collection` alone, as one filter (false = drop). */
function conjunctFilter(scope: Scope, graph: QueryGraph, where: Expr | undefined, collection: string): Compiled | undefined {
  const terms = conjuncts(where).filter((c) => onlyReferences(scope, c, collection)).map((c) => compileExpr(scope, graph, c));
  return terms.length ? terms.reduce((f, g) => (row) => (f(row) === false ? false : g(row))) : undefined;
}

function onlyReferences(scope: Scope, e: Expr, collection: string): boolean {
  const refs = new Set<string | undefined>();
  const visit = (x: Expr | { kind: 'keyword' }): void => {
    switch (x.kind) {
      case 'and': case 'or': visit(x.left); visit(x.right); break;
      case 'not': visit(x.expr); break;
      case 'compare': visit(x.left); visit(x.right); break;
      case 'in': visit(x.left); break;
      case 'call':
        if (x.name === 'IS_OF_MODEL') refs.add(isOfModelArgs(scope, x.args).collection);
        else x.args.forEach(visit);
        break;
      case 'path': refs.add(resolveName(scope, x.segments[0]!) ?? scope.implicit); break;
      default: break;
    }
  };
  visit(e);
  return refs.size === 1 && refs.has(collection);
}
