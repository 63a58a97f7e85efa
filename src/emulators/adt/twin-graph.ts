/**
 * The emulator's state: models, twins and relationships, validated against DTDL the way Azure
 * Digital Twins validates them, indexed for queries, written through to storage before an
 * operation is acknowledged, and announced to change subscribers (ADT's event routes).
 */
import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { DtdlError, ModelSet, formatProblem, zodFor, type DtdlParser, type InterfaceDef, type Schema } from '../../lib/dtdl/index.ts';
import { AdtError, badRequest, notFound } from './errors.ts';
import { applyPatch, pointer, type PatchOp } from './json-patch.ts';
import { ADT_STRING_BYTES, oversizedString } from '../../lib/twins/adt-limits.ts';
import type { AdtStorage, StoredModel } from './storage.ts';
import type { Doc, QueryGraph } from './query/evaluate.ts';

export const LIMITS = {
  twinBytes: 32 * 1024,
  /** A string property value, in UTF-8 (the service's own limit; not adjustable). */
  stringBytes: ADT_STRING_BYTES,
  modelsPerUpload: 250,
};

export type ChangeType =
  | 'Microsoft.DigitalTwins.Twin.Create'
  | 'Microsoft.DigitalTwins.Twin.Update'
  | 'Microsoft.DigitalTwins.Twin.Delete'
  | 'Microsoft.DigitalTwins.Relationship.Create'
  | 'Microsoft.DigitalTwins.Relationship.Update'
  | 'Microsoft.DigitalTwins.Relationship.Delete'
  | 'Microsoft.DigitalTwins.Telemetry';

/** A change notification, shaped like the events ADT sends to its event routes. */
export interface ChangeEvent {
  id: string;
  type: ChangeType;
  /** The twin id, or `<source>/relationships/<id>` for relationships. */
  subject: string;
  time: string;
  data: Record<string, unknown>;
}

/** A relationship is kept as its document: $sourceId, $relationshipId, $targetId and the rest. */
type Relationship = Doc;
const relIdOf = (r: Relationship) => r.$relationshipId as string;
const sourceOf = (r: Relationship) => r.$sourceId as string;

const NONE: readonly Doc[] = [];
const etag = () => `W/"${randomUUID()}"`;
const now = () => new Date().toISOString();
const isObject = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v);

export function checkIfMatch(ifMatch: string | undefined, current: string, what: string): void {
  if (ifMatch && ifMatch !== '*' && ifMatch !== current) {
    throw new AdtError(412, 'PreconditionFailed', `The ${what} was changed since the given ETag ${ifMatch}; its ETag is now ${current}.`);
  }
}

export class TwinGraph implements QueryGraph {
  private models = new ModelSet(new Map());
  private readonly modelEntries = new Map<string, StoredModel>();
  private readonly twinDocs = new Map<string, Doc>();
  private readonly byModel = new Map<string, Map<string, Doc>>();
  private readonly out = new Map<string, Map<string, Relationship>>();
  private readonly in = new Map<string, Map<string, Relationship>>();
  private readonly validators = new WeakMap<Schema, z.ZodType>();
  private readonly listeners = new Set<(e: ChangeEvent) => void>();

  /** `parser` is Microsoft's DTDL parser, loaded: it validates synchronously, so an upload is checked and stored in one step. */
  constructor(private readonly storage: AdtStorage, private readonly parser: DtdlParser) {
    const saved = storage.load();
    for (const m of saved.models) this.modelEntries.set(m.id, m);
    if (saved.models.length) this.models = parser.parse(saved.models.map((m) => m.document));
    for (const doc of saved.twins) this.indexTwin(doc);
    for (const r of saved.relationships) this.indexRelationship(r.doc);
  }

  onChange(listener: (e: ChangeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(type: ChangeType, subject: string, data: Record<string, unknown>): void {
    if (this.listeners.size === 0) return;
    const event: ChangeEvent = { id: randomUUID(), type, subject, time: now(), data };
    for (const l of this.listeners) l(event);
  }

  get counts() {
    let rels = 0;
    for (const m of this.out.values()) rels += m.size;
    return { models: this.modelEntries.size, twins: this.twinDocs.size, relationships: rels };
  }

  // ---- models ---------------------------------------------------------------------------------

  modelData(id: string, includeDefinition: boolean): Doc {
    const m = this.modelEntries.get(id);
    if (!m) throw notFound('model', id, 'ModelNotFound');
    const data: Doc = { id: m.id, uploadTime: m.uploadTime, decommissioned: m.decommissioned };
    // As ADT gives them: language → text, however the document wrote them (a string, a map, JSON-LD values).
    const def = this.models.get(id);
    if (def && Object.keys(def.displayNames).length) data.displayName = def.displayNames;
    if (def && Object.keys(def.descriptions).length) data.description = def.descriptions;
    if (includeDefinition) data.model = m.document;
    return data;
  }

  /** Every model, or those named and what they depend on (bases and component schemas). */
  listModels(dependenciesFor: readonly string[]): string[] {
    if (dependenciesFor.length === 0) return [...this.modelEntries.keys()];
    const result = new Set<string>();
    const visit = (id: string) => {
      if (result.has(id)) return;
      const def = this.models.get(id);
      if (!def) throw notFound('model', id, 'ModelNotFound');
      result.add(id);
      for (const base of def.extends) visit(base);
      for (const c of def.components.values()) visit(c.schema);
    };
    for (const id of dependenciesFor) visit(id);
    return [...result];
  }

  createModels(documents: unknown): Doc[] {
    if (!Array.isArray(documents) || documents.length === 0) throw badRequest('InvalidArgument', 'The request body must be a non-empty JSON array of DTDL models.');
    if (documents.length > LIMITS.modelsPerUpload) throw badRequest('InvalidArgument', `An upload holds at most ${LIMITS.modelsPerUpload} models; this one has ${documents.length}.`);
    for (const d of documents) {
      const id = isObject(d) ? d['@id'] : undefined;
      if (typeof id === 'string' && this.modelEntries.has(id)) throw new AdtError(409, 'ModelIdAlreadyExists', `Model with id ${id} already exists.`);
    }
    let models: ModelSet;
    try {
      models = this.parser.parse([...[...this.modelEntries.values()].map((m) => m.document), ...documents]);
    } catch (error) {
      if (error instanceof DtdlError) {
        const more = error.problems.length > 10 ? ` (and ${error.problems.length - 10} more)` : '';
        throw badRequest('DTDLParserError', `Invalid DTDL: ${error.problems.slice(0, 10).map(formatProblem).join('; ')}${more}`);
      }
      throw error;
    }
    const uploadTime = now();
    const entries = documents.map((d) => ({ id: (d as Doc)['@id'] as string, document: d as Doc, uploadTime, decommissioned: false }));
    this.storage.transaction(() => entries.forEach((e) => this.storage.putModel(e)));
    this.models = models;
    for (const e of entries) this.modelEntries.set(e.id, e);
    return entries.map((e) => this.modelData(e.id, true));
  }

  decommissionModel(id: string, ops: readonly PatchOp[]): void {
    const m = this.modelEntries.get(id);
    if (!m) throw notFound('model', id, 'ModelNotFound');
    const valid = ops.length > 0 && ops.every((o) => o.op === 'replace' && o.path === '/decommissioned' && o.value === true);
    if (!valid) throw badRequest('InvalidArgument', 'A model can only be patched with [{"op": "replace", "path": "/decommissioned", "value": true}].');
    const updated = { ...m, decommissioned: true };
    this.storage.putModel(updated);
    this.modelEntries.set(id, updated);
  }

  deleteModel(id: string): void {
    if (!this.modelEntries.has(id)) throw notFound('model', id, 'ModelNotFound');
    const users = this.byModel.get(id)?.size ?? 0;
    if (users > 0) throw new AdtError(409, 'ModelInUse', `Model ${id} is used by ${users} digital twin(s); delete or migrate them first.`);
    const dependents = [...this.models.interfaces.values()].filter(
      (d) => d.id !== id && (d.extends.includes(id) || [...d.components.values()].some((c) => c.schema === id && c.definedIn === d.id)),
    );
    if (dependents.length) throw new AdtError(409, 'ModelReferencesNotDeleted', `Model ${id} is referenced by ${dependents.map((d) => d.id).join(', ')}; delete those first.`);
    const remaining = [...this.modelEntries.values()].filter((m) => m.id !== id);
    const models = this.parser.parse(remaining.map((m) => m.document));
    this.storage.deleteModel(id);
    this.modelEntries.delete(id);
    this.models = models;
  }

  // ---- twins ----------------------------------------------------------------------------------

  twin(id: string): Doc | undefined {
    return this.twinDocs.get(id);
  }

  getTwin(id: string): Doc {
    const t = this.twinDocs.get(id);
    if (!t) throw notFound('digital twin', id, 'DigitalTwinNotFound');
    return t;
  }

  private interfaceOf(modelId: unknown, forNewTwin: boolean): InterfaceDef {
    if (typeof modelId !== 'string') throw badRequest('ValidationFailed', 'The twin needs "$metadata": {"$model": "<model id>"}.');
    const def = this.models.get(modelId);
    if (!def) throw badRequest('ModelNotFound', `Model ${modelId} is not uploaded to this instance.`);
    if (forNewTwin && this.modelEntries.get(modelId)?.decommissioned) throw badRequest('ModelDecommissioned', `Model ${modelId} is decommissioned: no new twins can use it.`);
    return def;
  }

  private validator(schema: Schema): z.ZodType {
    let v = this.validators.get(schema);
    if (!v) this.validators.set(schema, (v = zodFor(schema)));
    return v;
  }

  /** Checks a twin's (or component's) properties against its interface. */
  private validateContent(def: InterfaceDef, content: Doc, where: string, requireComponents: boolean): void {
    for (const [key, value] of Object.entries(content)) {
      if (key.startsWith('$')) continue;
      const c = def.contents.get(key);
      const at = `${where}${key}`;
      if (!c) throw badRequest('ValidationFailed', `Invalid property '${at}': model ${def.id} does not define it.`);
      if (c.kind === 'Property') {
        const result = this.validator(c.schema).safeParse(value);
        if (!result.success) {
          const issue = result.error.issues[0]!;
          const sub = issue.path.length ? `.${issue.path.join('.')}` : '';
          throw badRequest('ValidationFailed', `Invalid value for property '${at}${sub}' of model ${def.id}: ${issue.message}.`);
        }
        const long = oversizedString(value, at);
        if (long) throw badRequest('ValidationFailed', `Invalid value for property '${long.at}' of model ${def.id}: a string is ${long.bytes} bytes of UTF-8; a string property value can be at most ${LIMITS.stringBytes}.`);
      } else if (c.kind === 'Component') {
        if (!isObject(value)) throw badRequest('ValidationFailed', `Component '${at}' must be an object with "$metadata": {}.`);
        if (!isObject(value.$metadata)) throw badRequest('ValidationFailed', `Component '${at}' needs "$metadata": {}.`);
        const compDef = this.models.get(c.schema)!;
        this.validateContent(compDef, value, `${at}.`, false);
      } else {
        throw badRequest('ValidationFailed', `'${at}' is a ${c.kind} of model ${def.id}, not a property: twins cannot hold it.`);
      }
    }
    if (requireComponents) {
      for (const c of def.components.values()) {
        if (!Object.hasOwn(content, c.name)) throw badRequest('ValidationFailed', `Component '${where}${c.name}' of model ${def.id} is missing; give it at least "$metadata": {}.`);
      }
    }
  }

  private checkSize(doc: Doc): void {
    const bytes = Buffer.byteLength(JSON.stringify(doc));
    if (bytes > LIMITS.twinBytes) throw badRequest('TwinSizeLimitExceeded', `The twin is ${bytes} bytes; a digital twin can hold at most ${LIMITS.twinBytes}.`);
  }

  upsertTwin(id: string, body: unknown, options: { ifNoneMatch?: string; ifMatch?: string }): Doc {
    if (!isObject(body)) throw badRequest('InvalidArgument', 'The request body must be a JSON object.');
    if (body.$dtId !== undefined && body.$dtId !== id) throw badRequest('InvalidArgument', `The body's $dtId '${String(body.$dtId)}' does not match the twin id '${id}' in the path.`);
    const existing = this.twinDocs.get(id);
    if (existing && options.ifNoneMatch === '*') throw new AdtError(412, 'PreconditionFailed', `Twin ${id} already exists.`);
    if (existing) checkIfMatch(options.ifMatch, existing.$etag as string, `twin ${id}`);
    const metadataIn = isObject(body.$metadata) ? body.$metadata : {};
    const def = this.interfaceOf(metadataIn.$model, !existing || (existing.$metadata as Doc).$model !== metadataIn.$model);
    const content = contentOf(body);
    this.validateContent(def, content, '', true);

    const time = now();
    const metadata: Doc = { $model: def.id, $lastUpdateTime: time };
    for (const key of Object.keys(content)) {
      const given = isObject(metadataIn[key]) ? (metadataIn[key] as Doc) : {};
      metadata[key] = { lastUpdateTime: time, ...(typeof given.sourceTime === 'string' ? { sourceTime: given.sourceTime } : {}) };
      if (def.components.has(key)) stampComponent(content[key] as Doc, Object.keys(content[key] as Doc), time);
    }
    const doc: Doc = { $dtId: id, $etag: etag(), $metadata: metadata, ...content };
    this.checkSize(doc);
    this.storage.putTwin(id, doc);
    if (existing) this.unindexTwin(existing);
    this.indexTwin(doc);
    this.emit(existing ? 'Microsoft.DigitalTwins.Twin.Update' : 'Microsoft.DigitalTwins.Twin.Create', id, doc);
    return doc;
  }

  updateTwin(id: string, ops: readonly PatchOp[], ifMatch?: string): Doc {
    const existing = this.getTwin(id);
    checkIfMatch(ifMatch, existing.$etag as string, `twin ${id}`);
    for (const op of ops) {
      const segs = pointer(op.path);
      if (segs[0] === '$dtId' || segs[0] === '$etag') throw badRequest('JsonPatchInvalid', `${op.path} cannot be changed.`);
      if (segs[0] === '$metadata') {
        const modelChange = segs.length === 2 && segs[1] === '$model' && op.op !== 'remove';
        const sourceTime = segs.length === 3 && segs[2] === 'sourceTime' && op.op !== 'remove';
        if (!modelChange && !sourceTime) throw badRequest('JsonPatchInvalid', `${op.path}: only /$metadata/$model and /$metadata/<property>/sourceTime can be patched.`);
        if (sourceTime && (typeof op.value !== 'string' || Number.isNaN(Date.parse(op.value)))) throw badRequest('JsonPatchInvalid', `${op.path} must be an ISO 8601 date-time.`);
      }
    }
    // sourceTime may be patched for a property added in the same patch: make room for it first.
    // ADT's own examples set it with `replace` whether or not the property had one: taken as a set.
    const base = structuredClone(existing);
    const meta = base.$metadata as Doc;
    const applied = ops.map((op) => {
      const segs = pointer(op.path);
      if (segs[0] !== '$metadata' || segs[2] !== 'sourceTime') return op;
      if (!isObject(meta[segs[1]!])) meta[segs[1]!] = {};
      return op.op === 'replace' ? { ...op, op: 'add' as const } : op;
    });
    const patched = applyPatch(base, applied);
    const modelId = (patched.$metadata as Doc).$model;
    const def = this.interfaceOf(modelId, modelId !== (existing.$metadata as Doc).$model);
    const content = contentOf(patched);
    this.validateContent(def, content, '', true);

    const time = now();
    const metadata = patched.$metadata as Doc;
    metadata.$lastUpdateTime = time;
    for (const op of ops) {
      const [top, sub] = pointer(op.path);
      if (!top || top.startsWith('$')) continue;
      if (!Object.hasOwn(content, top)) {
        delete metadata[top];
        continue;
      }
      metadata[top] = { ...(isObject(metadata[top]) ? (metadata[top] as Doc) : {}), lastUpdateTime: time };
      if (def.components.has(top)) stampComponent(content[top] as Doc, sub ? [sub] : Object.keys(content[top] as Doc), time);
    }
    for (const key of Object.keys(metadata)) if (!key.startsWith('$') && !Object.hasOwn(content, key)) delete metadata[key];
    patched.$etag = etag();
    this.checkSize(patched);
    this.storage.putTwin(id, patched);
    this.unindexTwin(existing);
    this.indexTwin(patched);
    this.emit('Microsoft.DigitalTwins.Twin.Update', id, { modelId: def.id, patch: ops });
    return patched;
  }

  deleteTwin(id: string, ifMatch?: string): void {
    const existing = this.getTwin(id);
    checkIfMatch(ifMatch, existing.$etag as string, `twin ${id}`);
    const outgoing = this.out.get(id)?.size ?? 0;
    const incoming = this.in.get(id)?.size ?? 0;
    if (outgoing + incoming > 0) {
      throw badRequest('RelationshipsNotDeleted', `Twin ${id} still has ${outgoing} outgoing and ${incoming} incoming relationship(s); delete them before the twin.`);
    }
    this.storage.deleteTwin(id);
    this.unindexTwin(existing);
    this.emit('Microsoft.DigitalTwins.Twin.Delete', id, existing);
  }

  getComponent(id: string, component: string): Doc {
    const twin = this.getTwin(id);
    const def = this.models.get((twin.$metadata as Doc).$model as string)!;
    if (!def.components.has(component)) throw notFound(`component '${component}' on digital twin`, id, 'ComponentNotFound');
    return twin[component] as Doc;
  }

  updateComponent(id: string, component: string, ops: readonly PatchOp[], ifMatch?: string): Doc {
    this.getComponent(id, component);
    return this.updateTwin(id, ops.map((o) => ({ ...o, path: `/${component}${o.path}` })), ifMatch);
  }

  publishTelemetry(id: string, payload: unknown, messageId: string, component?: string): void {
    const twin = this.getTwin(id);
    this.emit('Microsoft.DigitalTwins.Telemetry', component ? `${id}/${component}` : id, { modelId: (twin.$metadata as Doc).$model, messageId, payload });
  }

  // ---- relationships --------------------------------------------------------------------------

  getRelationship(sourceId: string, relId: string): Doc {
    this.getTwin(sourceId);
    const r = this.out.get(sourceId)?.get(relId);
    if (!r) throw notFound(`relationship on digital twin ${sourceId}`, relId, 'RelationshipNotFound');
    return r;
  }

  private validateRelationship(sourceId: string, body: Doc, replacing: Relationship | undefined): void {
    const source = this.getTwin(sourceId);
    const sourceModel = this.models.get((source.$metadata as Doc).$model as string)!;
    const name = body.$relationshipName;
    const targetId = body.$targetId;
    if (typeof name !== 'string' || typeof targetId !== 'string') throw badRequest('InvalidArgument', 'A relationship needs $relationshipName and $targetId.');
    const def = sourceModel.relationships.get(name);
    if (!def) throw badRequest('ValidationFailed', `Model ${sourceModel.id} of twin ${sourceId} has no relationship '${name}' (it has: ${[...sourceModel.relationships.keys()].join(', ') || 'none'}).`);
    const target = this.twinDocs.get(targetId);
    if (!target) throw badRequest('TargetTwinNotFound', `The relationship's target twin ${targetId} does not exist.`);
    const targetModel = (target.$metadata as Doc).$model as string;
    if (def.target && !this.models.isA(targetModel, def.target)) {
      throw badRequest('ValidationFailed', `Relationship '${name}' of ${sourceModel.id} must target ${def.target}, but twin ${targetId} is a ${targetModel}.`);
    }
    for (const [k, v] of Object.entries(body)) {
      if (k.startsWith('$')) continue;
      const p = def.properties.get(k);
      if (!p) throw badRequest('ValidationFailed', `Relationship '${name}' of ${sourceModel.id} has no property '${k}'.`);
      const result = this.validator(p.schema).safeParse(v);
      if (!result.success) throw badRequest('ValidationFailed', `Invalid value for relationship property '${k}': ${result.error.issues[0]!.message}.`);
    }
    if (def.maxMultiplicity !== undefined) {
      let count = 0;
      for (const r of this.out.get(sourceId)?.values() ?? []) if (r.$relationshipName === name && r !== replacing) count++;
      if (count >= def.maxMultiplicity) throw badRequest('ValidationFailed', `Twin ${sourceId} already has ${count} '${name}' relationship(s); the model allows ${def.maxMultiplicity}.`);
    }
  }

  upsertRelationship(sourceId: string, relId: string, body: unknown, options: { ifNoneMatch?: string; ifMatch?: string }): Doc {
    if (!isObject(body)) throw badRequest('InvalidArgument', 'The request body must be a JSON object.');
    const existing = this.out.get(sourceId)?.get(relId);
    if (existing && options.ifNoneMatch === '*') throw new AdtError(412, 'PreconditionFailed', `Relationship ${relId} already exists.`);
    if (existing) checkIfMatch(options.ifMatch, existing.$etag as string, `relationship ${relId}`);
    this.validateRelationship(sourceId, body, existing);
    const content = contentOf(body);
    const doc: Doc = { $relationshipId: relId, $etag: etag(), $sourceId: sourceId, $targetId: body.$targetId, $relationshipName: body.$relationshipName, ...content };
    this.storage.putRelationship(sourceId, relId, doc);
    if (existing) this.unindexRelationship(existing);
    this.indexRelationship(doc);
    this.emit(existing ? 'Microsoft.DigitalTwins.Relationship.Update' : 'Microsoft.DigitalTwins.Relationship.Create', `${sourceId}/relationships/${relId}`, doc);
    return doc;
  }

  updateRelationship(sourceId: string, relId: string, ops: readonly PatchOp[], ifMatch?: string): Doc {
    const existing = this.out.get(sourceId)?.get(relId);
    if (!existing) throw notFound(`relationship on digital twin ${sourceId}`, relId, 'RelationshipNotFound');
    checkIfMatch(ifMatch, existing.$etag as string, `relationship ${relId}`);
    for (const op of ops) if (pointer(op.path)[0]!.startsWith('$')) throw badRequest('JsonPatchInvalid', `${op.path} cannot be patched.`);
    const patched = applyPatch(existing, ops);
    this.validateRelationship(sourceId, patched, existing);
    patched.$etag = etag();
    this.storage.putRelationship(sourceId, relId, patched);
    this.unindexRelationship(existing);
    this.indexRelationship({ sourceId, id: relId, doc: patched });
    this.emit('Microsoft.DigitalTwins.Relationship.Update', `${sourceId}/relationships/${relId}`, { modelId: this.modelIdOf(sourceId), patch: ops });
    return patched;
  }

  deleteRelationship(sourceId: string, relId: string, ifMatch?: string): void {
    this.getTwin(sourceId);
    const existing = this.out.get(sourceId)?.get(relId);
    if (!existing) throw notFound(`relationship on digital twin ${sourceId}`, relId, 'RelationshipNotFound');
    checkIfMatch(ifMatch, existing.$etag as string, `relationship ${relId}`);
    this.storage.deleteRelationship(sourceId, relId);
    this.unindexRelationship(existing);
    this.emit('Microsoft.DigitalTwins.Relationship.Delete', `${sourceId}/relationships/${relId}`, existing);
  }

  listRelationships(sourceId: string, name?: string): Doc[] {
    this.getTwin(sourceId);
    const all = [...(this.out.get(sourceId)?.values() ?? [])];
    return name ? all.filter((d) => d.$relationshipName === name) : all;
  }

  listIncoming(targetId: string): Doc[] {
    this.getTwin(targetId);
    return [...(this.in.get(targetId)?.values() ?? [])].map((r) => ({
      $relationshipId: relIdOf(r),
      $sourceId: sourceOf(r),
      $relationshipName: r.$relationshipName,
      $relationshipLink: `/digitaltwins/${encodeURIComponent(sourceOf(r))}/relationships/${encodeURIComponent(relIdOf(r))}`,
    }));
  }

  private modelIdOf(twinId: string): string {
    return (this.getTwin(twinId).$metadata as Doc).$model as string;
  }

  // ---- indexes and the query graph ------------------------------------------------------------

  private indexTwin(doc: Doc): void {
    const id = doc.$dtId as string;
    const model = (doc.$metadata as Doc).$model as string;
    this.twinDocs.set(id, doc);
    let twins = this.byModel.get(model);
    if (!twins) this.byModel.set(model, (twins = new Map()));
    twins.set(id, doc);
  }

  private unindexTwin(doc: Doc): void {
    const id = doc.$dtId as string;
    this.twinDocs.delete(id);
    this.byModel.get((doc.$metadata as Doc).$model as string)?.delete(id);
  }

  private indexRelationship(r: Relationship): void {
    let out = this.out.get(sourceOf(r));
    if (!out) this.out.set(sourceOf(r), (out = new Map()));
    out.set(relIdOf(r), r);
    const target = r.$targetId as string;
    let inc = this.in.get(target);
    if (!inc) this.in.set(target, (inc = new Map()));
    inc.set(`${sourceOf(r)}\u0000${relIdOf(r)}`, r);
  }

  private unindexRelationship(r: Relationship): void {
    this.out.get(sourceOf(r))?.delete(relIdOf(r));
    this.in.get(r.$targetId as string)?.delete(`${sourceOf(r)}\u0000${relIdOf(r)}`);
  }

  twins(): Iterable<Doc> {
    return this.twinDocs.values();
  }

  twinsOfModel(modelId: string, exact: boolean): Iterable<Doc>[] {
    const models = exact ? [modelId] : [...this.byModel.keys()].filter((m) => this.models.isA(m, modelId));
    return models.map((m) => this.byModel.get(m)?.values() ?? []);
  }

  *relationships(): Iterable<Doc> {
    for (const m of this.out.values()) yield* m.values();
  }

  outgoing(twinId: string): Iterable<Doc> {
    return this.out.get(twinId)?.values() ?? NONE;
  }

  incoming(twinId: string): Iterable<Doc> {
    return this.in.get(twinId)?.values() ?? NONE;
  }

  isA(modelId: string, baseId: string): boolean {
    return this.models.isA(modelId, baseId);
  }
}

/**
 * A body's properties without its $-fields, as its own keys: built from entries, so a key named
 * `__proto__` stays a property (which validation then refuses) instead of becoming the prototype.
 */
function contentOf(body: Doc): Doc {
  return Object.fromEntries(Object.entries(body).filter(([k]) => !k.startsWith('$')));
}

function stampComponent(component: Doc, keys: readonly string[], time: string): void {
  const meta = isObject(component.$metadata) ? component.$metadata : (component.$metadata = {});
  for (const k of keys) {
    if (k.startsWith('$')) continue;
    if (Object.hasOwn(component, k)) meta[k] = { ...(isObject(meta[k]) ? (meta[k] as Doc) : {}), lastUpdateTime: time };
    else delete meta[k];
  }
}
