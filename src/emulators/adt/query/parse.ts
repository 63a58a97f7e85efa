/**
 * The Azure Digital Twins query language: tokens and a recursive-descent parser producing the AST
 * the evaluator runs. Keywords are case-insensitive; property names are not. Syntax errors and
 * ADT's documented limits are reported as QueryError with the position and the reason.
 */

export class QueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryError';
  }
}

export const QUERY_LIMITS = {
  maxChars: 8000,
  maxJoins: 5,
  maxHops: 10,
  maxBooleanTerms: 50,
  maxInItems: 50,
} as const;

type TokenType = 'ident' | 'string' | 'number' | 'punct' | 'eof';
interface Token {
  type: TokenType;
  value: string;
  pos: number;
  /** Written as [[...]]: never a keyword. */
  escaped?: boolean;
}

const MAX_NESTING = 64;
const PUNCT = ['<=', '>=', '!=', '<>', '..', '(', ')', '[', ']', ',', '.', '*', '=', '<', '>', '-', ':', '|', '@'];

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '-' && text[i + 1] === '-') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      let value = '';
      while (j < text.length && text[j] !== c) {
        if (text[j] === '\\' && j + 1 < text.length) {
          value += text[j + 1];
          j += 2;
        } else value += text[j++];
      }
      if (j >= text.length) throw new QueryError(`unterminated string starting at position ${i}`);
      tokens.push({ type: 'string', value, pos: i });
      i = j + 1;
      continue;
    }
    if (c === '[' && text[i + 1] === '[') {
      const end = text.indexOf(']]', i + 2);
      if (end < 0) throw new QueryError(`unterminated [[escaped name]] at position ${i}`);
      tokens.push({ type: 'ident', value: text.slice(i + 2, end), pos: i, escaped: true });
      i = end + 2;
      continue;
    }
    const num = /^(?:\d+\.\d+|\d+)(?:[eE][+-]?\d+)?/.exec(text.slice(i));
    if (num && !/[A-Za-z_$]/.test(text[i + num[0].length] ?? '')) {
      tokens.push({ type: 'number', value: num[0], pos: i });
      i += num[0].length;
      continue;
    }
    const ident = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(text.slice(i));
    if (ident) {
      tokens.push({ type: 'ident', value: ident[0], pos: i });
      i += ident[0].length;
      continue;
    }
    const p = PUNCT.find((q) => text.startsWith(q, i));
    if (!p) throw new QueryError(`unexpected character '${c}' at position ${i}`);
    tokens.push({ type: 'punct', value: p, pos: i });
    i += p.length;
  }
  tokens.push({ type: 'eof', value: '', pos: text.length });
  return tokens;
}

// ---- AST ----------------------------------------------------------------------------------

export interface PathExpr {
  kind: 'path';
  /** The collection alias, when the first segment names one; resolved by the evaluator. */
  segments: string[];
}
export type Literal = { kind: 'literal'; value: string | number | boolean | null };
export type Operand = PathExpr | Literal;
export type Expr =
  | { kind: 'and' | 'or'; left: Expr; right: Expr }
  | { kind: 'not'; expr: Expr }
  | { kind: 'compare'; op: '=' | '!=' | '<' | '<=' | '>' | '>='; left: Operand; right: Operand }
  | { kind: 'in'; negate: boolean; left: Operand; values: Literal['value'][] }
  | { kind: 'call'; name: string; args: (Operand | { kind: 'keyword'; value: 'exact' })[] }
  | Operand;

export interface SelectItem {
  path: PathExpr;
  alias?: string;
}
export type Select =
  | { kind: 'star'; top?: number }
  | { kind: 'count' }
  | { kind: 'items'; items: SelectItem[]; top?: number };

export interface Join {
  target: string;
  source: string;
  relationship: string;
  relationshipAlias?: string;
}

export interface MatchEdge {
  direction: 'right' | 'left' | 'both';
  names: string[];
  variable?: string;
  minHops: number;
  maxHops: number;
}
export interface MatchPattern {
  nodes: string[];
  edges: MatchEdge[];
}

export type From =
  | { kind: 'twins'; alias?: string; joins: Join[]; match?: MatchPattern }
  | { kind: 'relationships'; alias?: string };

export interface Query {
  select: Select;
  from: From;
  where?: Expr;
}

// ---- Parser --------------------------------------------------------------------------------

const KEYWORDS = new Set(['SELECT', 'FROM', 'WHERE', 'AND', 'OR', 'NOT', 'IN', 'NIN', 'TOP', 'COUNT', 'AS', 'JOIN', 'RELATED', 'MATCH', 'DIGITALTWINS', 'RELATIONSHIPS', 'TRUE', 'FALSE', 'NULL']);

class Parser {
  private i = 0;
  private terms = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)]!;
  }
  private next(): Token {
    return this.tokens[this.i++]!;
  }
  private isKeyword(word: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.type === 'ident' && !t.escaped && t.value.toUpperCase() === word;
  }
  private isPunct(p: string, offset = 0): boolean {
    const t = this.peek(offset);
    return t.type === 'punct' && t.value === p;
  }
  private fail(expected: string): never {
    const t = this.peek();
    const got = t.type === 'eof' ? 'end of query' : `'${t.value}'`;
    throw new QueryError(`expected ${expected} at position ${t.pos}, found ${got}`);
  }
  private keyword(word: string): void {
    if (!this.isKeyword(word)) this.fail(word);
    this.i++;
  }
  private punct(p: string): void {
    if (!this.isPunct(p)) this.fail(`'${p}'`);
    this.i++;
  }
  private name(what: string): string {
    const t = this.peek();
    if (t.type !== 'ident' || (!t.escaped && KEYWORDS.has(t.value.toUpperCase()))) this.fail(what);
    this.i++;
    return t.value;
  }
  private integer(what: string): number {
    const t = this.peek();
    if (t.type !== 'number' || !/^\d+$/.test(t.value)) this.fail(what);
    this.i++;
    return Number(t.value);
  }

  parse(): Query {
    this.keyword('SELECT');
    const select = this.select();
    if (!this.isKeyword('FROM')) this.fail('FROM');
    this.i++;
    const from = this.from();
    let where: Expr | undefined;
    if (this.isKeyword('WHERE')) {
      this.i++;
      where = this.or();
    }
    if (this.peek().type !== 'eof') this.fail('end of query');
    if (this.terms > QUERY_LIMITS.maxBooleanTerms) {
      throw new QueryError(`the WHERE clause has ${this.terms} AND/OR terms; at most ${QUERY_LIMITS.maxBooleanTerms} are allowed`);
    }
    const query: Query = { select, from };
    if (where) query.where = where;
    return query;
  }

  private select(): Select {
    let top: number | undefined;
    if (this.isKeyword('TOP')) {
      this.i++;
      this.punct('(');
      top = this.integer('a number of items for TOP');
      this.punct(')');
      if (top < 1) throw new QueryError('TOP needs a positive number of items');
      // "SELECT TOP(5) FROM ..." selects whole items.
      if (this.isKeyword('FROM')) return { kind: 'star', top };
    }
    if (this.isPunct('*')) {
      this.i++;
      return top === undefined ? { kind: 'star' } : { kind: 'star', top };
    }
    if (this.isKeyword('COUNT') && this.isPunct('(', 1)) {
      if (top !== undefined) throw new QueryError('TOP and COUNT() cannot be combined');
      this.i += 2;
      this.punct(')');
      return { kind: 'count' };
    }
    const items: SelectItem[] = [];
    do {
      if (items.length) this.i++;
      const path = this.path();
      const item: SelectItem = { path };
      if (this.isKeyword('AS')) {
        this.i++;
        item.alias = this.name('an alias after AS');
      }
      items.push(item);
    } while (this.isPunct(','));
    return top === undefined ? { kind: 'items', items } : { kind: 'items', items, top };
  }

  private from(): From {
    if (this.isKeyword('RELATIONSHIPS')) {
      this.i++;
      const alias = this.optionalAlias();
      if (this.isKeyword('JOIN') || this.isKeyword('MATCH')) throw new QueryError('JOIN and MATCH are not supported with FROM RELATIONSHIPS');
      return alias ? { kind: 'relationships', alias } : { kind: 'relationships' };
    }
    if (!this.isKeyword('DIGITALTWINS')) {
      if (this.isPunct('(')) throw new QueryError('nested queries are not supported in FROM');
      this.fail('DIGITALTWINS or RELATIONSHIPS');
    }
    this.i++;
    const from: From & { kind: 'twins' } = { kind: 'twins', joins: [] };
    const alias = this.optionalAlias();
    if (alias) from.alias = alias;
    if (this.isKeyword('MATCH')) {
      this.i++;
      from.match = this.match();
    }
    while (this.isKeyword('JOIN')) {
      if (from.match) throw new QueryError('JOIN cannot be combined with MATCH');
      this.i++;
      const target = this.name('a collection name after JOIN');
      this.keyword('RELATED');
      const source = this.name('a collection name after RELATED');
      this.punct('.');
      const relationship = this.name('a relationship name');
      const join: Join = { target, source, relationship };
      const relAlias = this.optionalAlias();
      if (relAlias) join.relationshipAlias = relAlias;
      from.joins.push(join);
    }
    if (from.joins.length > QUERY_LIMITS.maxJoins) throw new QueryError(`the query has ${from.joins.length} JOINs; at most ${QUERY_LIMITS.maxJoins} are allowed`);
    if (this.isKeyword('MATCH')) throw new QueryError('a query can have only one MATCH clause');
    return from;
  }

  private optionalAlias(): string | undefined {
    const t = this.peek();
    if (t.type === 'ident' && (t.escaped || !KEYWORDS.has(t.value.toUpperCase()))) {
      this.i++;
      return t.value;
    }
    return undefined;
  }

  private match(): MatchPattern {
    const nodes = [this.matchNode()];
    const edges: MatchEdge[] = [];
    let hops = 0;
    while (this.isPunct('-') || this.isPunct('<')) {
      const edge = this.matchEdge();
      hops += edge.maxHops;
      edges.push(edge);
      nodes.push(this.matchNode());
    }
    if (hops > QUERY_LIMITS.maxHops) throw new QueryError(`the MATCH pattern can span ${hops} hops; at most ${QUERY_LIMITS.maxHops} are allowed`);
    return { nodes, edges };
  }

  private matchNode(): string {
    this.punct('(');
    const name = this.name('a twin collection name in MATCH');
    this.punct(')');
    return name;
  }

  private matchEdge(): MatchEdge {
    let left = false;
    if (this.isPunct('<')) {
      left = true;
      this.i++;
    }
    this.punct('-');
    this.punct('[');
    const edge: MatchEdge = { direction: 'both', names: [], minHops: 1, maxHops: 1 };
    if (this.peek().type === 'ident') edge.variable = this.name('a relationship variable');
    if (this.isPunct(':')) {
      this.i++;
      edge.names.push(this.name('a relationship name'));
      while (this.isPunct('|')) {
        this.i++;
        edge.names.push(this.name('a relationship name'));
      }
    }
    if (this.isPunct('*')) {
      this.i++;
      if (this.isPunct('..')) {
        this.i++;
        edge.maxHops = this.integer('a maximum number of hops');
      } else {
        edge.minHops = this.integer('a number of hops');
        edge.maxHops = edge.minHops;
        if (this.isPunct('..')) {
          this.i++;
          edge.maxHops = this.integer('a maximum number of hops');
        }
      }
      if (edge.minHops < 1 || edge.maxHops < edge.minHops) throw new QueryError(`invalid hop range *${edge.minHops}..${edge.maxHops}`);
      if (edge.variable && edge.maxHops > 1) throw new QueryError('a relationship variable cannot be combined with multiple hops');
    }
    this.punct(']');
    this.punct('-');
    let right = false;
    if (this.isPunct('>')) {
      right = true;
      this.i++;
    }
    if (left && right) throw new QueryError('a MATCH edge cannot point both ways; use -[]- for either direction');
    edge.direction = right ? 'right' : left ? 'left' : 'both';
    return edge;
  }

  private or(): Expr {
    let left = this.and();
    while (this.isKeyword('OR')) {
      this.i++;
      this.terms++;
      left = { kind: 'or', left, right: this.and() };
    }
    return left;
  }

  private and(): Expr {
    let left = this.not();
    while (this.isKeyword('AND')) {
      this.i++;
      this.terms++;
      left = { kind: 'and', left, right: this.not() };
    }
    return left;
  }

  private not(): Expr {
    if (this.isKeyword('NOT')) {
      this.i++;
      this.enter();
      const expr = this.not();
      this.depth--;
      return { kind: 'not', expr };
    }
    return this.comparison();
  }

  /** Nesting is bounded: a query nested thousands deep is a client's error (400), not a stack overflow. */
  private depth = 0;
  private enter(): void {
    if (++this.depth > MAX_NESTING) throw new QueryError(`the condition is nested more than ${MAX_NESTING} deep`);
  }

  private comparison(): Expr {
    if (this.isPunct('(')) {
      this.i++;
      this.enter();
      const inner = this.or();
      this.punct(')');
      this.depth--;
      return inner;
    }
    const t = this.peek();
    if (t.type === 'ident' && !t.escaped && this.isPunct('(', 1) && !KEYWORDS.has(t.value.toUpperCase())) return this.call();
    const left = this.operand();
    if (this.isKeyword('IN') || this.isKeyword('NIN')) {
      const negate = this.isKeyword('NIN');
      this.i++;
      return { kind: 'in', negate, left, values: this.list() };
    }
    if (this.isKeyword('NOT') && this.isKeyword('IN', 1)) {
      this.i += 2;
      return { kind: 'in', negate: true, left, values: this.list() };
    }
    const op = this.peek();
    if (op.type === 'punct' && ['=', '!=', '<>', '<', '<=', '>', '>='].includes(op.value)) {
      this.i++;
      const right = this.operand();
      return { kind: 'compare', op: (op.value === '<>' ? '!=' : op.value) as '=', left, right };
    }
    return left;
  }

  private list(): Literal['value'][] {
    this.punct('[');
    const values: Literal['value'][] = [];
    if (!this.isPunct(']')) {
      do {
        if (values.length) this.i++;
        const v = this.operand();
        if (v.kind !== 'literal') throw new QueryError('IN lists may hold only literal values');
        values.push(v.value);
      } while (this.isPunct(','));
    }
    this.punct(']');
    if (values.length > QUERY_LIMITS.maxInItems) throw new QueryError(`an IN list has ${values.length} items; at most ${QUERY_LIMITS.maxInItems} are allowed`);
    return values;
  }

  private call(): Expr {
    const name = this.next().value.toUpperCase();
    this.punct('(');
    const args: (Operand | { kind: 'keyword'; value: 'exact' })[] = [];
    if (!this.isPunct(')')) {
      do {
        if (args.length) this.i++;
        if (this.peek().type === 'ident' && this.peek().value.toLowerCase() === 'exact' && !this.isPunct('.', 1)) {
          this.i++;
          args.push({ kind: 'keyword', value: 'exact' });
        } else args.push(this.operand());
      } while (this.isPunct(','));
    }
    this.punct(')');
    return { kind: 'call', name, args };
  }

  private operand(): Operand {
    const t = this.peek();
    if (t.type === 'string') {
      this.i++;
      return { kind: 'literal', value: t.value };
    }
    if (t.type === 'number') {
      this.i++;
      return { kind: 'literal', value: Number(t.value) };
    }
    if (t.type === 'punct' && t.value === '-' && this.peek(1).type === 'number') {
      this.i += 2;
      return { kind: 'literal', value: -Number(this.tokens[this.i - 1]!.value) };
    }
    if (t.type === 'punct' && t.value === '@') throw new QueryError(`query parameters (@name) are not supported at position ${t.pos}`);
    if (t.type === 'ident' && !t.escaped) {
      const upper = t.value.toUpperCase();
      if (upper === 'TRUE' || upper === 'FALSE') {
        this.i++;
        return { kind: 'literal', value: upper === 'TRUE' };
      }
      if (upper === 'NULL') {
        this.i++;
        return { kind: 'literal', value: null };
      }
    }
    return this.path();
  }

  private path(): PathExpr {
    const segments = [this.name('a property or collection name')];
    while (this.isPunct('.')) {
      this.i++;
      segments.push(this.name('a property name after "."'));
    }
    return { kind: 'path', segments };
  }
}

export function parseQuery(text: string): Query {
  if (text.length > QUERY_LIMITS.maxChars) throw new QueryError(`the query is ${text.length} characters long; at most ${QUERY_LIMITS.maxChars} are allowed`);
  if (!text.trim()) throw new QueryError('the query is empty');
  return new Parser(tokenize(text)).parse();
}
