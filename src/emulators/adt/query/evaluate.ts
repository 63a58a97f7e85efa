/**
 * Runs a parsed query against the twin graph. Rows bind collection names to twins or
 * relationships; WHERE uses three-valued logic (a comparison with a missing property is neither
 * true nor false, and only true rows are kept), as ADT does. $dtId conditions and IS_OF_MODEL on
 * the root collection use the graph's indexes instead of a scan.
 */
import { QueryError, type Expr, type From, type MatchEdge, type Operand, type PathExpr, type Query } from './parse.ts';

export type Doc = Record<string, unknown>;

export interface QueryGraph {
  twin(id: string): Doc | undefined;
  twins(): Iterable<Doc>;
  /** Twins whose model is `modelId` (or, unless exact, extends it). */
  twinsOfModel(modelId: string, exact: boolean): Iterable<Doc>;
  relationships(): Iterable<Doc>;
  outgoing(twinId: string): Iterable<Doc>;
  incoming(twinId: string): Iterable<Doc>;
  isA(modelId: string, baseId: string): boolean;
}

type Row = Record<string, Doc>;
type Tri = boolean | undefined;

const DEFAULT = '\u0000default';

interface Scope {
  /** Collection names in binding order. */
  names: string[];
  /** The collection a path without a collection prefix refers to, when there is only one. */
  implicit: string | undefined;
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

function readPath(doc: unknown, segments: readonly string[], start: number): unknown {
  let v = doc;
  for (let i = start; i < segments.length; i++) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Doc)[segments[i]!];
  }
  return v;
}

/** Compiles a path into a function of a row, resolving its collection once. */
function compilePath(scope: Scope, path: PathExpr): (row: Row) => unknown {
  const first = resolveName(scope, path.segments[0]!);
  if (first !== undefined) return (row) => readPath(row[first], path.segments, 1);
  if (scope.implicit === undefined) {
    throw new QueryError(`'${path.segments[0]}' is not a collection of this query (${scope.names.filter((n) => n !== DEFAULT).join(', ')}); prefix properties with their collection name`);
  }
  const implicit = scope.implicit;
  return (row) => readPath(row[implicit], path.segments, 0);
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
      return (row) => {
        const model = modelOf(row[spec.collection]);
        if (model === undefined) return false;
        return spec.exact ? model === spec.modelId : graph.isA(model, spec.modelId);
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

function* rootTwins(graph: QueryGraph, scope: Scope, where: Expr | undefined, collection: string): Iterable<Doc> {
  const ids = anchoredIds(scope, where, collection);
  if (ids) {
    for (const id of new Set(ids)) {
      const t = graph.twin(id);
      if (t) yield t;
    }
    return;
  }
  const model = modelFilter(scope, where, collection);
  yield* model ? graph.twinsOfModel(model.modelId, model.exact) : graph.twins();
}

/** Twins reachable from `start` in `min..max` hops over edges that fit `edge`, walking `forward` from the pattern's left. */
function* hops(graph: QueryGraph, start: Doc, edge: MatchEdge, forward: boolean): Iterable<{ twin: Doc; rel: Doc | undefined }> {
  const names = edge.names.length ? new Set(edge.names) : undefined;
  // Which way relationships point, seen from the node we walk from.
  const out = edge.direction === 'both' ? undefined : (edge.direction === 'right') === forward;
  const step = function* (from: Doc): Iterable<{ twin: Doc; rel: Doc }> {
    const id = from.$dtId as string;
    if (out !== false) {
      for (const r of graph.outgoing(id)) {
        if (names && !names.has(r.$relationshipName as string)) continue;
        const t = graph.twin(r.$targetId as string);
        if (t) yield { twin: t, rel: r };
      }
    }
    if (out !== true) {
      for (const r of graph.incoming(id)) {
        if (names && !names.has(r.$relationshipName as string)) continue;
        const t = graph.twin(r.$sourceId as string);
        if (t) yield { twin: t, rel: r };
      }
    }
  };
  // Depth-first over simple paths: a path never visits a twin twice (checked along its parent chain,
  // so no per-step copy of a visited set).
  interface Step {
    twin: Doc;
    depth: number;
    parent: Step | undefined;
    rel: Doc | undefined;
  }
  const onPath = (s: Step, id: string) => {
    for (let p: Step | undefined = s; p; p = p.parent) if (p.twin.$dtId === id) return true;
    return false;
  };
  const seen = new Set<string>();
  const stack: Step[] = [{ twin: start, depth: 0, parent: undefined, rel: undefined }];
  while (stack.length) {
    const current = stack.pop()!;
    const { twin, depth, rel } = current;
    if (depth >= edge.minHops && depth > 0) {
      const key = edge.variable ? `${twin.$dtId as string}|${rel?.$sourceId as string}|${rel?.$relationshipId as string}` : (twin.$dtId as string);
      if (!seen.has(key)) {
        seen.add(key);
        yield { twin, rel };
      }
    }
    if (depth === edge.maxHops) continue;
    for (const next of step(twin)) {
      if (onPath(current, next.twin.$dtId as string)) continue;
      stack.push({ twin: next.twin, depth: depth + 1, parent: current, rel: next.rel });
    }
  }
}

function matchRows(graph: QueryGraph, scope: Scope, from: Extract<From, { kind: 'twins' }>, where: Expr | undefined): Row[] {
  const pattern = from.match!;
  const anchorIndex = pattern.nodes.findIndex((n) => anchoredIds(scope, where, n) !== undefined);
  if (anchorIndex < 0) throw new QueryError("a MATCH query must pin at least one twin by id in WHERE, e.g. WHERE Building.$dtId = 'Building21'");
  let rows: Row[] = [];
  for (const t of rootTwins(graph, scope, where, pattern.nodes[anchorIndex]!)) rows.push({ [pattern.nodes[anchorIndex]!]: t });
  const extend = (nodeIndex: number, edgeIndex: number, newNode: number, forward: boolean) => {
    const edge = pattern.edges[edgeIndex]!;
    const next: Row[] = [];
    for (const row of rows) {
      for (const { twin, rel } of hops(graph, row[pattern.nodes[nodeIndex]!]!, edge, forward)) {
        const bound = row[pattern.nodes[newNode]!];
        if (bound && bound.$dtId !== twin.$dtId) continue; // a name used twice must be the same twin
        const r: Row = { ...row, [pattern.nodes[newNode]!]: twin };
        if (edge.variable && rel) r[edge.variable] = rel;
        next.push(r);
      }
    }
    rows = next;
  };
  for (let i = anchorIndex; i < pattern.edges.length; i++) extend(i, i, i + 1, true);
  for (let i = anchorIndex - 1; i >= 0; i--) extend(i + 1, i, i, false);
  return rows;
}

function* joinRows(graph: QueryGraph, scope: Scope, from: Extract<From, { kind: 'twins' }>, where: Expr | undefined, rootFilter: Compiled | undefined): Iterable<Row> {
  const root = from.alias ?? DEFAULT;
  const expand = function* (row: Row, index: number): Iterable<Row> {
    if (index === from.joins.length) {
      yield row;
      return;
    }
    const j = from.joins[index]!;
    const source = row[resolveName(scope, j.source)!]!;
    for (const rel of graph.outgoing(source.$dtId as string)) {
      if (rel.$relationshipName !== j.relationship) continue;
      const target = graph.twin(rel.$targetId as string);
      if (!target) continue;
      const next: Row = { ...row, [j.target]: target };
      if (j.relationshipAlias) next[j.relationshipAlias] = rel;
      yield* expand(next, index + 1);
    }
  };
  for (const twin of rootTwins(graph, scope, where, root)) {
    const row: Row = { [root]: twin };
    if (rootFilter && rootFilter(row) === false) continue;
    yield* expand(row, 0);
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
  const keep = (row: Row) => !filter || filter(row) === true;
  const top = query.select.kind === 'count' ? undefined : query.select.top;

  let scanned = 0;
  const rows: Row[] = [];
  const consider = (row: Row) => {
    scanned++;
    if (keep(row)) rows.push(row);
    return top !== undefined && rows.length >= top;
  };

  const from = query.from;
  if (from.kind === 'relationships') {
    const name = from.alias ?? DEFAULT;
    for (const r of graph.relationships()) if (consider({ [name]: r })) break;
  } else if (from.match) {
    for (const row of matchRows(graph, scope, from, query.where)) if (consider(row)) break;
  } else {
    // Terms that only concern the root collection prune it before the joins multiply rows.
    const root = from.alias ?? DEFAULT;
    const rootOnly = from.joins.length ? conjuncts(query.where).filter((c) => onlyReferences(scope, c, root)) : [];
    const rootFilter = rootOnly.length ? rootOnly.map((c) => compileExpr(scope, graph, c)).reduce((f, g) => (row) => (f(row) === false ? false : g(row))) : undefined;
    for (const row of joinRows(graph, scope, from, query.where, rootFilter)) if (consider(row)) break;
  }

  const select = query.select;
  if (select.kind === 'count') return { items: [{ COUNT: rows.length }], scanned };
  const multi = scope.names.length > 1 || scope.names[0] !== DEFAULT && from.kind === 'twins' && (from.joins.length > 0 || from.match !== undefined);
  if (select.kind === 'star') {
    const items = rows.map((row) => (multi ? Object.fromEntries(scope.names.filter((n) => row[n]).map((n) => [n, row[n]])) : row[scope.names[0]!]!));
    return { items, scanned };
  }
  const projections = select.items.map((item) => {
    const segments = item.path.segments;
    const collection = resolveName(scope, segments[0]!);
    const key = item.alias ?? (collection !== undefined && segments.length === 1 ? collection : segments[segments.length - 1]!);
    return { key, read: compilePath(scope, item.path) };
  });
  const items = rows.map((row) => {
    const out: Doc = {};
    for (const p of projections) {
      const v = p.read(row);
      if (v !== undefined) out[p.key] = v;
    }
    return out;
  });
  return { items, scanned };
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
