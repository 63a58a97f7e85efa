/**
 * DTDL v3 (and v2) validation and resolution. Precise, path-qualified messages matter more than
 * leniency: a user uploading a model wants to know exactly which element is wrong and why.
 * Covers what this product and ADT rely on: identifiers, contexts, element classes and their
 * properties, schemas (primitive, Enum, Object, Map, Array, reusable `schemas`), semantic types
 * and units, extends (existence, cycles, depth), name uniqueness across inheritance,
 * relationship targets and component schemas.
 */
import { AppError } from '../errors.ts';
import { MAX_DTMI_LENGTH, hasVersion, isDtmi, isReservedDtmi } from './dtmi.ts';
import {
  ModelSet,
  type ContentDef,
  type DtdlVersion,
  type Field,
  type InterfaceDef,
  type PropertyDef,
  type Schema,
} from './model.ts';
import { isSemanticType, unitsFor } from './units.ts';

export interface DtdlProblem {
  /** The Interface the problem is in (or the document's index when it has no usable @id). */
  model: string;
  /** JSON path inside that document, e.g. `contents[2].schema`. */
  path: string;
  message: string;
}

export class DtdlError extends AppError {
  readonly problems: DtdlProblem[];
  constructor(problems: DtdlProblem[]) {
    const shown = problems.slice(0, 5).map(formatProblem).join('; ');
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
    super('dtdl.invalid', `Invalid DTDL: ${shown}${more}`, { status: 400, detail: { problems } });
    this.name = 'DtdlError';
    this.problems = problems;
  }
}

export function formatProblem(p: DtdlProblem): string {
  return `${p.model}${p.path ? ` ${p.path}` : ''}: ${p.message}`;
}

const CONTEXT = { 2: 'dtmi:dtdl:context;2', 3: 'dtmi:dtdl:context;3' } as const;
const EXTENSIONS_V3 = new Set([
  'dtmi:dtdl:extension:quantitativeTypes;1',
  'dtmi:dtdl:extension:historization;1',
  'dtmi:dtdl:extension:annotation;1',
  'dtmi:dtdl:extension:overriding;1',
]);
const QUANTITATIVE = 'dtmi:dtdl:extension:quantitativeTypes;1';
const HISTORIZATION = 'dtmi:dtdl:extension:historization;1';

const PRIMITIVES = {
  2: new Set(['boolean', 'date', 'dateTime', 'double', 'duration', 'float', 'integer', 'long', 'string', 'time']),
  3: new Set([
    'boolean', 'byte', 'bytes', 'date', 'dateTime', 'decimal', 'double', 'duration', 'float', 'integer', 'long',
    'short', 'string', 'time', 'unsignedByte', 'unsignedInteger', 'unsignedLong', 'unsignedShort', 'uuid',
  ]),
} as const;
const GEOSPATIAL = new Set(['point', 'multiPoint', 'lineString', 'multiLineString', 'polygon', 'multiPolygon']);
export const NUMERIC = new Set([
  'double', 'float', 'integer', 'long', 'byte', 'short', 'decimal',
  'unsignedByte', 'unsignedShort', 'unsignedInteger', 'unsignedLong',
]);

const LIMITS = {
  2: { nameLength: 64, descriptionLength: 512, displayNameLength: 64, extendsItems: 2, extendsDepth: 10, contents: 300, schemaDepth: 5, fields: 30 },
  3: { nameLength: 512, descriptionLength: 512, displayNameLength: 512, extendsItems: 12, extendsDepth: 10, contents: 100_000, schemaDepth: 8, fields: 100_000 },
} as const;

const NAME = /^[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?$/;
const CONTENT_CLASSES = ['Telemetry', 'Property', 'Command', 'Relationship', 'Component'] as const;
type ContentClass = (typeof CONTENT_CLASSES)[number];

const COMMON_KEYS = ['@type', '@id', 'name', 'comment', 'description', 'displayName'];
const ALLOWED_KEYS: Record<ContentClass | 'Interface', Set<string>> = {
  Interface: new Set(['@context', '@id', '@type', 'comment', 'contents', 'description', 'displayName', 'extends', 'schemas']),
  Telemetry: new Set([...COMMON_KEYS, 'schema', 'unit']),
  Property: new Set([...COMMON_KEYS, 'schema', 'unit', 'writable']),
  Command: new Set([...COMMON_KEYS, 'request', 'response', 'commandType']),
  Relationship: new Set([...COMMON_KEYS, 'target', 'maxMultiplicity', 'minMultiplicity', 'properties', 'writable']),
  Component: new Set([...COMMON_KEYS, 'schema']),
};

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** What one document contributes before cross-document resolution. */
interface Draft {
  id: string;
  version: DtdlVersion;
  document: Json;
  contexts: Set<string>;
  extends: string[];
  displayName?: string;
  description?: string;
  /** Own contents; schemas are resolved in phase two. */
  contents: Json[];
}

class Collector {
  readonly problems: DtdlProblem[] = [];
  add(model: string, path: string, message: string): void {
    this.problems.push({ model, path, message });
  }
}

/**
 * Validates and resolves a set of Interface documents (a file may hold one Interface or an array).
 * Throws DtdlError listing every problem found; returns the resolved ModelSet otherwise.
 */
export function parseModels(documents: readonly unknown[]): ModelSet {
  const out = new Collector();
  const drafts = new Map<string, Draft>();
  const namedSchemas = new Map<string, { raw: Json; owner: Draft }>();

  documents.forEach((doc, index) => {
    const draft = readInterface(doc, `document[${index}]`, out);
    if (!draft) return;
    if (drafts.has(draft.id)) {
      out.add(draft.id, '@id', `duplicate model id: ${draft.id} is defined more than once in this upload`);
      return;
    }
    drafts.set(draft.id, draft);
    list(draft.document.schemas).forEach((s, i) => {
      const path = `schemas[${i}]`;
      if (!isObject(s)) return out.add(draft.id, path, 'a reusable schema must be an object with @id and @type');
      const sid = s['@id'];
      if (!isDtmi(sid)) return out.add(draft.id, `${path}.@id`, `reusable schemas need a valid DTMI @id, got ${JSON.stringify(sid)}`);
      if (namedSchemas.has(sid) || drafts.has(sid)) return out.add(draft.id, `${path}.@id`, `duplicate id ${sid}`);
      namedSchemas.set(sid, { raw: s, owner: draft });
    });
  });

  const resolved = new Map<string, InterfaceDef>();
  const schemaReader = new SchemaReader(namedSchemas, drafts, out);

  // Extends: existence, cycles and depth, before contents are merged.
  const ancestorsOf = new Map<string, string[]>();
  const visiting: string[] = [];
  const walk = (id: string): string[] | undefined => {
    const cached = ancestorsOf.get(id);
    if (cached) return cached;
    const draft = drafts.get(id);
    if (!draft) return undefined;
    if (visiting.includes(id)) {
      const cycle = [...visiting.slice(visiting.indexOf(id)), id].join(' → ');
      out.add(id, 'extends', `extends cycle: ${cycle}`);
      return undefined;
    }
    visiting.push(id);
    const all: string[] = [];
    let depth = 0;
    for (const [i, base] of draft.extends.entries()) {
      if (!drafts.has(base)) {
        out.add(id, `extends[${i}]`, `extends ${base}, which is not defined in this model set`);
        continue;
      }
      const baseAncestors = walk(base);
      if (!baseAncestors) continue;
      for (const a of [base, ...baseAncestors]) if (!all.includes(a)) all.push(a);
      depth = Math.max(depth, (extendsDepth.get(base) ?? 0) + 1);
    }
    visiting.pop();
    extendsDepth.set(id, depth);
    if (depth > LIMITS[draft.version].extendsDepth) {
      out.add(id, 'extends', `extends hierarchy is ${depth} levels deep; DTDL allows at most ${LIMITS[draft.version].extendsDepth}`);
    }
    ancestorsOf.set(id, all);
    return all;
  };
  const extendsDepth = new Map<string, number>();
  for (const id of drafts.keys()) walk(id);

  // Own contents of every interface, then merged along the ancestry.
  const own = new Map<string, ContentDef[]>();
  for (const draft of drafts.values()) own.set(draft.id, readContents(draft, schemaReader, out));

  for (const draft of drafts.values()) {
    const ancestors = ancestorsOf.get(draft.id);
    if (!ancestors) continue; // cycle already reported
    const contents = new Map<string, ContentDef>();
    for (const source of [draft.id, ...ancestors]) {
      for (const c of own.get(source) ?? []) {
        const existing = contents.get(c.name);
        if (existing) {
          // The same element reached through two paths of a diamond is fine; two elements are not.
          if (existing !== c) out.add(draft.id, 'contents', `duplicate name '${c.name}': declared in ${existing.definedIn} and in ${c.definedIn}`);
          continue;
        }
        contents.set(c.name, c);
      }
    }
    resolved.set(draft.id, buildInterface(draft, ancestors, contents));
  }

  // Cross-references that need the whole set.
  for (const def of resolved.values()) {
    for (const rel of def.relationships.values()) {
      if (rel.definedIn !== def.id || rel.target === undefined) continue;
      if (!drafts.has(rel.target)) {
        out.add(def.id, `contents.${rel.name}.target`, `relationship '${rel.name}' targets ${rel.target}, which is not an Interface in this model set`);
      }
    }
    for (const comp of def.components.values()) {
      if (comp.definedIn !== def.id) continue;
      const target = resolved.get(comp.schema);
      if (!drafts.has(comp.schema)) {
        out.add(def.id, `contents.${comp.name}.schema`, `component '${comp.name}' has schema ${comp.schema}, which is not an Interface in this model set`);
      } else if (target && target.components.size > 0) {
        out.add(def.id, `contents.${comp.name}.schema`, `component '${comp.name}' uses ${comp.schema}, which itself has components; components cannot nest`);
      }
    }
  }

  if (out.problems.length > 0) throw new DtdlError(out.problems);
  return new ModelSet(resolved);
}

function buildInterface(draft: Draft, ancestors: string[], contents: Map<string, ContentDef>): InterfaceDef {
  const def: InterfaceDef = {
    id: draft.id,
    dtdlVersion: draft.version,
    extends: draft.extends,
    ancestors,
    contents,
    properties: new Map(),
    telemetry: new Map(),
    relationships: new Map(),
    commands: new Map(),
    components: new Map(),
    document: draft.document,
  };
  if (draft.displayName !== undefined) def.displayName = draft.displayName;
  if (draft.description !== undefined) def.description = draft.description;
  for (const c of contents.values()) {
    switch (c.kind) {
      case 'Property': def.properties.set(c.name, c); break;
      case 'Telemetry': def.telemetry.set(c.name, c); break;
      case 'Relationship': def.relationships.set(c.name, c); break;
      case 'Command': def.commands.set(c.name, c); break;
      case 'Component': def.components.set(c.name, c); break;
    }
  }
  return def;
}

function localized(value: unknown, max: number, model: string, path: string, out: Collector): string | undefined {
  if (value === undefined) return undefined;
  const texts = typeof value === 'string' ? [value] : isObject(value) ? Object.values(value) : null;
  if (!texts || texts.some((t) => typeof t !== 'string')) {
    out.add(model, path, 'must be a string or an object of language code to string');
    return undefined;
  }
  if ((texts as string[]).some((t) => t.length > max)) out.add(model, path, `is longer than ${max} characters`);
  return typeof value === 'string' ? value : (texts[0] as string | undefined);
}

function readInterface(doc: unknown, where: string, out: Collector): Draft | undefined {
  if (!isObject(doc)) {
    out.add(where, '', 'a model must be a JSON object with "@type": "Interface"');
    return undefined;
  }
  const rawId = doc['@id'];
  const id = typeof rawId === 'string' ? rawId : where;
  const contexts = list(doc['@context']);
  const dtdlContext = contexts.find((c) => c === CONTEXT[2] || c === CONTEXT[3]);
  if (dtdlContext === undefined) {
    out.add(id, '@context', `must include ${CONTEXT[3]} (or ${CONTEXT[2]}); got ${JSON.stringify(doc['@context'] ?? null)}`);
    return undefined;
  }
  const version: DtdlVersion = dtdlContext === CONTEXT[3] ? 3 : 2;
  for (const [i, c] of contexts.entries()) {
    if (c === dtdlContext) continue;
    if (typeof c !== 'string' || !(version === 3 && EXTENSIONS_V3.has(c))) {
      out.add(id, `@context[${i}]`, `unsupported context ${JSON.stringify(c)} for DTDL v${version}`);
    }
  }
  if (doc['@type'] !== 'Interface') out.add(id, '@type', `must be "Interface", got ${JSON.stringify(doc['@type'] ?? null)}`);
  if (!isDtmi(rawId)) {
    out.add(id, '@id', `not a valid DTMI: ${JSON.stringify(rawId ?? null)} (expected e.g. dtmi:com:example:Thermostat;1)`);
    return undefined;
  }
  if (!hasVersion(rawId)) out.add(id, '@id', 'an Interface @id must carry a version, e.g. ;1');
  if (rawId.length > MAX_DTMI_LENGTH[version]) out.add(id, '@id', `is longer than ${MAX_DTMI_LENGTH[version]} characters`);
  if (isReservedDtmi(rawId)) out.add(id, '@id', 'dtmi:dtdl: and dtmi:standard: are reserved prefixes');
  for (const key of Object.keys(doc)) {
    if (!ALLOWED_KEYS.Interface.has(key)) out.add(id, key, `unknown property '${key}' on Interface`);
  }
  const limits = LIMITS[version];
  const ext: string[] = [];
  list(doc.extends).forEach((e, i) => {
    if (isObject(e)) out.add(id, `extends[${i}]`, 'inline Interface definitions in extends are not supported; define the base as its own model and refer to its @id');
    else if (!isDtmi(e)) out.add(id, `extends[${i}]`, `not a valid DTMI: ${JSON.stringify(e)}`);
    else ext.push(e);
  });
  if (ext.length > limits.extendsItems) out.add(id, 'extends', `lists ${ext.length} interfaces; DTDL v${version} allows at most ${limits.extendsItems}`);
  if (doc.contents !== undefined && !Array.isArray(doc.contents)) out.add(id, 'contents', 'must be an array');
  const contents = Array.isArray(doc.contents) ? doc.contents : [];
  if (contents.length > limits.contents) out.add(id, 'contents', `has ${contents.length} elements; DTDL v${version} allows at most ${limits.contents}`);
  if (doc.schemas !== undefined && !Array.isArray(doc.schemas)) out.add(id, 'schemas', 'must be an array');

  const draft: Draft = { id: rawId, version, document: doc, contexts: new Set(contexts.filter((c): c is string => typeof c === 'string')), extends: ext, contents: [] };
  const displayName = localized(doc.displayName, limits.displayNameLength, id, 'displayName', out);
  const description = localized(doc.description, limits.descriptionLength, id, 'description', out);
  if (displayName !== undefined) draft.displayName = displayName;
  if (description !== undefined) draft.description = description;
  contents.forEach((c, i) => {
    if (isObject(c)) draft.contents.push(c);
    else out.add(rawId, `contents[${i}]`, 'each content element must be an object');
  });
  return draft;
}

/** Splits an element's @type into its class and its co-types, checking both. */
function readTypes(el: Json, allowed: readonly string[], draft: Draft, path: string, out: Collector): { cls?: string; semantic?: string } {
  const types = list(el['@type']);
  if (types.length === 0) {
    out.add(draft.id, `${path}.@type`, `is required (one of ${allowed.join(', ')})`);
    return {};
  }
  const classes = types.filter((t): t is string => typeof t === 'string' && allowed.includes(t));
  if (classes.length !== 1) {
    out.add(draft.id, `${path}.@type`, `must name exactly one of ${allowed.join(', ')}; got ${JSON.stringify(el['@type'])}`);
    return {};
  }
  let semantic: string | undefined;
  for (const t of types) {
    if (t === classes[0]) continue;
    if (typeof t !== 'string') {
      out.add(draft.id, `${path}.@type`, `co-types must be strings, got ${JSON.stringify(t)}`);
    } else if (isSemanticType(t)) {
      if (draft.version === 3 && !draft.contexts.has(QUANTITATIVE)) {
        out.add(draft.id, `${path}.@type`, `semantic type '${t}' needs the QuantitativeTypes extension: add "${QUANTITATIVE}" to @context`);
      }
      if (semantic) out.add(draft.id, `${path}.@type`, `has two semantic types ('${semantic}' and '${t}')`);
      semantic = t;
    } else if (t === 'Historized' && draft.contexts.has(HISTORIZATION)) {
      // adjunct type with no constraints of its own
    } else {
      out.add(draft.id, `${path}.@type`, `unknown co-type '${t}'`);
    }
  }
  return semantic ? { cls: classes[0] as string, semantic } : { cls: classes[0] as string };
}

function readName(el: Json, draft: Draft, path: string, out: Collector): string | undefined {
  const name = el.name;
  if (typeof name !== 'string' || !NAME.test(name)) {
    out.add(draft.id, `${path}.name`, `invalid name ${JSON.stringify(name ?? null)}: must start with a letter, contain only letters, digits and _, and not end with _`);
    return undefined;
  }
  if (name.length > LIMITS[draft.version].nameLength) out.add(draft.id, `${path}.name`, `is longer than ${LIMITS[draft.version].nameLength} characters`);
  return name;
}

function checkUnit(el: Json, semantic: string | undefined, schema: Schema | undefined, draft: Draft, path: string, out: Collector): string | undefined {
  const unit = el.unit;
  if (semantic === undefined) {
    if (unit !== undefined) out.add(draft.id, `${path}.unit`, `a unit needs a semantic type co-type (e.g. "@type": ["Telemetry", "Temperature"])`);
    return undefined;
  }
  const units = unitsFor(semantic)!;
  if (typeof unit !== 'string') {
    out.add(draft.id, `${path}.unit`, `semantic type '${semantic}' requires a unit, one of: ${[...units].join(', ')}`);
    return undefined;
  }
  if (!units.has(unit)) out.add(draft.id, `${path}.unit`, `'${unit}' is not a unit of ${semantic}; use one of: ${[...units].join(', ')}`);
  if (schema && !(schema.kind === 'primitive' && NUMERIC.has(schema.name))) {
    out.add(draft.id, `${path}.schema`, `semantic type '${semantic}' requires a numeric schema`);
  }
  return unit;
}

function checkKeys(el: Json, cls: ContentClass, draft: Draft, path: string, out: Collector): void {
  for (const key of Object.keys(el)) {
    if (!ALLOWED_KEYS[cls].has(key)) out.add(draft.id, `${path}.${key}`, `unknown property '${key}' on ${cls}`);
  }
  if (el['@id'] !== undefined && !isDtmi(el['@id'])) out.add(draft.id, `${path}.@id`, `not a valid DTMI: ${JSON.stringify(el['@id'])}`);
}

function readContents(draft: Draft, schemas: SchemaReader, out: Collector): ContentDef[] {
  const result: ContentDef[] = [];
  const seen = new Set<string>();
  draft.contents.forEach((el, i) => {
    const path = `contents[${i}]`;
    const { cls, semantic } = readTypes(el, CONTENT_CLASSES, draft, path, out);
    const name = readName(el, draft, path, out);
    if (!cls || !name) return;
    if (seen.has(name)) {
      out.add(draft.id, `${path}.name`, `duplicate name '${name}' in contents`);
      return;
    }
    seen.add(name);
    checkKeys(el, cls as ContentClass, draft, path, out);
    const def = readContent(el, cls as ContentClass, name, semantic, draft, path, schemas, out);
    if (def) result.push(def);
  });
  return result;
}

function readContent(el: Json, cls: ContentClass, name: string, semantic: string | undefined, draft: Draft, path: string, schemas: SchemaReader, out: Collector): ContentDef | undefined {
  const definedIn = draft.id;
  switch (cls) {
    case 'Telemetry':
    case 'Property': {
      const schema = schemas.read(el.schema, draft, `${path}.schema`, 1);
      const unit = checkUnit(el, semantic, schema, draft, path, out);
      if (!schema) return undefined;
      const base = { name, definedIn, schema, ...(unit ? { unit } : {}), ...(semantic ? { semanticType: semantic } : {}) };
      if (cls === 'Telemetry') return { kind: 'Telemetry', ...base };
      if (el.writable !== undefined && typeof el.writable !== 'boolean') out.add(draft.id, `${path}.writable`, 'must be true or false');
      return { kind: 'Property', ...base, writable: el.writable === true };
    }
    case 'Relationship': {
      if (semantic) out.add(draft.id, `${path}.@type`, 'a Relationship cannot carry a semantic type');
      const rel: ContentDef = { kind: 'Relationship', name, definedIn, properties: new Map() };
      if (el.target !== undefined) {
        if (isObject(el.target)) out.add(draft.id, `${path}.target`, 'inline Interface targets are not supported; refer to the target Interface by @id');
        else if (!isDtmi(el.target)) out.add(draft.id, `${path}.target`, `not a valid DTMI: ${JSON.stringify(el.target)}`);
        else rel.target = el.target;
      }
      if (el.maxMultiplicity !== undefined) {
        if (!Number.isInteger(el.maxMultiplicity) || (el.maxMultiplicity as number) < 1) out.add(draft.id, `${path}.maxMultiplicity`, 'must be an integer of at least 1');
        else rel.maxMultiplicity = el.maxMultiplicity as number;
      }
      if (el.minMultiplicity !== undefined && el.minMultiplicity !== 0) out.add(draft.id, `${path}.minMultiplicity`, 'must be 0 if given');
      if (el.writable !== undefined && typeof el.writable !== 'boolean') out.add(draft.id, `${path}.writable`, 'must be true or false');
      list(el.properties).forEach((p, j) => {
        const ppath = `${path}.properties[${j}]`;
        if (!isObject(p)) return out.add(draft.id, ppath, 'must be a Property object');
        const t = readTypes(p, ['Property'], draft, ppath, out);
        const pname = readName(p, draft, ppath, out);
        if (!t.cls || !pname) return;
        checkKeys(p, 'Property', draft, ppath, out);
        if (rel.properties.has(pname)) return out.add(draft.id, `${ppath}.name`, `duplicate relationship property '${pname}'`);
        const prop = readContent(p, 'Property', pname, t.semantic, draft, ppath, schemas, out) as PropertyDef | undefined;
        if (prop) rel.properties.set(pname, prop);
      });
      return rel;
    }
    case 'Command': {
      if (semantic) out.add(draft.id, `${path}.@type`, 'a Command cannot carry a semantic type');
      const cmd: ContentDef = { kind: 'Command', name, definedIn };
      for (const part of ['request', 'response'] as const) {
        const raw = el[part];
        if (raw === undefined) continue;
        const ppath = `${path}.${part}`;
        if (!isObject(raw)) {
          out.add(draft.id, ppath, `must be an object with name and schema`);
          continue;
        }
        const pname = readName(raw, draft, ppath, out);
        const schema = schemas.read(raw.schema, draft, `${ppath}.schema`, 1);
        if (pname && schema) cmd[part] = { name: pname, schema };
      }
      return cmd;
    }
    case 'Component': {
      if (semantic) out.add(draft.id, `${path}.@type`, 'a Component cannot carry a semantic type');
      if (isObject(el.schema)) {
        out.add(draft.id, `${path}.schema`, 'inline Interface schemas for components are not supported; refer to an Interface by @id');
        return undefined;
      }
      if (!isDtmi(el.schema)) {
        out.add(draft.id, `${path}.schema`, `a component's schema must be the DTMI of an Interface, got ${JSON.stringify(el.schema ?? null)}`);
        return undefined;
      }
      return { kind: 'Component', name, definedIn, schema: el.schema };
    }
  }
}

/** Reads schema values: primitive names, inline complex schemas and references to reusable ones. */
class SchemaReader {
  private readonly resolving = new Set<string>();
  constructor(
    private readonly named: Map<string, { raw: Json; owner: Draft }>,
    private readonly interfaces: Map<string, Draft>,
    private readonly out: Collector,
  ) {}

  read(value: unknown, draft: Draft, path: string, depth: number): Schema | undefined {
    const out = this.out;
    if (value === undefined) {
      out.add(draft.id, path, 'schema is required');
      return undefined;
    }
    if (typeof value === 'string') {
      if (PRIMITIVES[draft.version].has(value)) return { kind: 'primitive', name: value };
      if (GEOSPATIAL.has(value)) return { kind: 'primitive', name: value };
      if (isDtmi(value)) {
        const named = this.named.get(value);
        if (!named) {
          const what = this.interfaces.has(value) ? 'is an Interface, not a schema' : 'is not defined in any model\'s schemas';
          out.add(draft.id, path, `schema ${value} ${what}`);
          return undefined;
        }
        if (this.resolving.has(value)) {
          out.add(draft.id, path, `schema ${value} refers to itself`);
          return undefined;
        }
        this.resolving.add(value);
        try {
          return this.readComplex(named.raw, named.owner, path, depth);
        } finally {
          this.resolving.delete(value);
        }
      }
      const hint = [...PRIMITIVES[draft.version]].join(', ');
      out.add(draft.id, path, `unknown schema '${value}': expected a primitive schema (${hint}), an inline Array, Enum, Map or Object, or the @id of a reusable schema`);
      return undefined;
    }
    if (isObject(value)) return this.readComplex(value, draft, path, depth);
    out.add(draft.id, path, `unknown schema ${JSON.stringify(value)}`);
    return undefined;
  }

  private readComplex(s: Json, draft: Draft, path: string, depth: number): Schema | undefined {
    const out = this.out;
    const limits = LIMITS[draft.version];
    if (depth > limits.schemaDepth) {
      out.add(draft.id, path, `complex schemas nest more than ${limits.schemaDepth} levels deep`);
      return undefined;
    }
    const type = s['@type'];
    switch (type) {
      case 'Array': {
        const element = this.read(s.elementSchema, draft, `${path}.elementSchema`, depth + 1);
        return element && { kind: 'array', element };
      }
      case 'Map': {
        if (!isObject(s.mapKey) || !isObject(s.mapValue)) {
          out.add(draft.id, path, 'a Map needs mapKey and mapValue objects');
          return undefined;
        }
        const keyName = readName(s.mapKey, draft, `${path}.mapKey`, out);
        if (s.mapKey.schema !== 'string') out.add(draft.id, `${path}.mapKey.schema`, 'a Map key schema must be "string"');
        const valueName = readName(s.mapValue, draft, `${path}.mapValue`, out);
        const value = this.read(s.mapValue.schema, draft, `${path}.mapValue.schema`, depth + 1);
        return keyName && valueName && value ? { kind: 'map', keyName, valueName, value } : undefined;
      }
      case 'Object': {
        if (!Array.isArray(s.fields)) {
          out.add(draft.id, `${path}.fields`, 'an Object needs a fields array');
          return undefined;
        }
        if (s.fields.length > limits.fields) out.add(draft.id, `${path}.fields`, `has more than ${limits.fields} fields`);
        const fields: Field[] = [];
        const names = new Set<string>();
        s.fields.forEach((f, i) => {
          const fpath = `${path}.fields[${i}]`;
          if (!isObject(f)) return out.add(draft.id, fpath, 'a field must be an object with name and schema');
          const name = readName(f, draft, fpath, out);
          let semantic: string | undefined;
          if (f['@type'] !== undefined) semantic = readTypes(f, ['Field'], draft, fpath, out).semantic;
          const schema = this.read(f.schema, draft, `${fpath}.schema`, depth + 1);
          const unit = checkUnit(f, semantic, schema, draft, fpath, out);
          if (!name || !schema) return;
          if (names.has(name)) return out.add(draft.id, `${fpath}.name`, `duplicate field name '${name}'`);
          names.add(name);
          fields.push({ name, schema, ...(unit ? { unit } : {}), ...(semantic ? { semanticType: semantic } : {}) });
        });
        return { kind: 'object', fields };
      }
      case 'Enum': {
        const valueSchema = s.valueSchema;
        if (valueSchema !== 'integer' && valueSchema !== 'string') {
          out.add(draft.id, `${path}.valueSchema`, `an Enum's valueSchema must be "integer" or "string", got ${JSON.stringify(valueSchema ?? null)}`);
          return undefined;
        }
        if (!Array.isArray(s.enumValues) || s.enumValues.length === 0) {
          out.add(draft.id, `${path}.enumValues`, 'an Enum needs a non-empty enumValues array');
          return undefined;
        }
        const values: { name: string; value: string | number }[] = [];
        s.enumValues.forEach((v, i) => {
          const vpath = `${path}.enumValues[${i}]`;
          if (!isObject(v)) return out.add(draft.id, vpath, 'must be an object with name and enumValue');
          const name = readName(v, draft, vpath, out);
          const value = v.enumValue;
          const ok = valueSchema === 'integer' ? Number.isInteger(value) : typeof value === 'string';
          if (!ok) return out.add(draft.id, `${vpath}.enumValue`, `must be ${valueSchema === 'integer' ? 'an integer' : 'a string'} to match valueSchema, got ${JSON.stringify(value ?? null)}`);
          if (!name) return;
          if (values.some((w) => w.name === name)) return out.add(draft.id, `${vpath}.name`, `duplicate enum value name '${name}'`);
          if (values.some((w) => w.value === value)) return out.add(draft.id, `${vpath}.enumValue`, `duplicate enumValue ${JSON.stringify(value)}`);
          values.push({ name, value: value as string | number });
        });
        return { kind: 'enum', valueSchema, values };
      }
      default:
        out.add(draft.id, `${path}.@type`, `unknown schema type ${JSON.stringify(type ?? null)}: expected Array, Enum, Map or Object`);
        return undefined;
    }
  }
}
