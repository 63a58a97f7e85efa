/**
 * Reads the DTDL parser's object model (every element by id, references by id, `extends` already
 * resolved and inherited contents already merged) into the ModelSet the product uses. Nothing is
 * re-derived here: names, schemas, units and semantic types are the parser's.
 */
import {
  ModelSet,
  type CommandDef,
  type ComponentDef,
  type ContentDef,
  type DtdlVersion,
  type Field,
  type InterfaceDef,
  type PropertyDef,
  type RelationshipDef,
  type Schema,
  type TelemetryDef,
} from './model.ts';

/** One element of the object model, as far as this file reads it. */
interface Entity {
  EntityKind: string;
  Id: string;
  DefinedIn?: string | null;
  languageMajorVersion?: number;
  SupplementalTypes?: string[];
  SupplementalProperties?: Record<string, unknown>;
  displayName?: Record<string, string>;
  description?: Record<string, string>;
  name?: string;
  schema?: string;
  writable?: boolean;
  target?: string | null;
  maxMultiplicity?: number | null;
  properties?: string[] | Record<string, string>;
  request?: string | null;
  response?: string | null;
  contents?: Record<string, string>;
  extends?: string[];
  valueSchema?: string;
  enumValues?: string[];
  enumValue?: string | number;
  fields?: string[];
  mapKey?: string;
  mapValue?: string;
  elementSchema?: string;
}

export type ObjectModel = Record<string, Entity>;

/** The last segment of a standard term's id: dtmi:standard:unit:degreeCelsius;2 → degreeCelsius. */
export const termOf = (id: string) => id.slice(id.lastIndexOf(':') + 1).replace(/;\d+$/, '');

/** The one entry of a localised string map to show: English when there is one. */
function localised(map: Record<string, string> | undefined): string | undefined {
  if (!map) return undefined;
  return map.en ?? Object.values(map)[0];
}

class Reader {
  constructor(private readonly om: ObjectModel) {}

  entity(id: string | null | undefined): Entity | undefined {
    return id && Object.hasOwn(this.om, id) ? this.om[id] : undefined;
  }

  private must(id: string | null | undefined, what: string): Entity {
    const e = this.entity(id);
    if (!e) throw new Error(`the DTDL parser's object model has no ${what} ${id ?? '(none)'}`);
    return e;
  }

  /** Unit and semantic type: the QuantitativeTypes (v3) or built-in (v2) supplements. */
  quantity(e: Entity): { unit?: string; semanticType?: string } {
    const out: { unit?: string; semanticType?: string } = {};
    for (const [key, value] of Object.entries(e.SupplementalProperties ?? {})) {
      if (termOf(key) === 'unit' && typeof value === 'string') out.unit = termOf(value);
    }
    const semantic = e.SupplementalTypes?.[0];
    if (semantic) out.semanticType = termOf(semantic);
    return out;
  }

  schema(id: string | undefined, depth = 0): Schema {
    const e = this.must(id, 'schema');
    if (depth > 16) throw new Error(`schema ${e.Id} nests too deeply`);
    switch (e.EntityKind) {
      case 'Enum':
        return {
          kind: 'enum',
          valueSchema: this.must(e.valueSchema, 'schema').EntityKind === 'Integer' ? 'integer' : 'string',
          values: (e.enumValues ?? []).map((v) => {
            const value = this.must(v, 'enum value');
            return { name: value.name ?? '', value: value.enumValue ?? '' };
          }),
        };
      case 'Object':
        return { kind: 'object', fields: (e.fields ?? []).map((f) => this.field(f, depth)) };
      case 'Map': {
        const key = this.must(e.mapKey, 'map key');
        const value = this.must(e.mapValue, 'map value');
        return { kind: 'map', keyName: key.name ?? 'key', valueName: value.name ?? 'value', value: this.schema(value.schema, depth + 1) };
      }
      case 'Array':
        return { kind: 'array', element: this.schema(e.elementSchema, depth + 1) };
      default:
        // Primitives: DateTime → dateTime, UnsignedInteger → unsignedInteger, …
        return { kind: 'primitive', name: e.EntityKind.charAt(0).toLowerCase() + e.EntityKind.slice(1) };
    }
  }

  private field(id: string, depth: number): Field {
    const f = this.must(id, 'field');
    return { name: f.name ?? '', schema: this.schema(f.schema, depth + 1), ...this.quantity(f) };
  }

  private property(e: Entity): PropertyDef {
    return { kind: 'Property', name: e.name!, definedIn: e.DefinedIn ?? '', schema: this.schema(e.schema), writable: e.writable === true, ...this.quantity(e) };
  }

  content(e: Entity): ContentDef | undefined {
    const base = { name: e.name!, definedIn: e.DefinedIn ?? '' };
    switch (e.EntityKind) {
      case 'Property':
        return this.property(e);
      case 'Telemetry':
        return { kind: 'Telemetry', ...base, schema: this.schema(e.schema), ...this.quantity(e) } satisfies TelemetryDef;
      case 'Relationship': {
        const ids = Array.isArray(e.properties) ? e.properties : Object.values(e.properties ?? {});
        const properties = new Map<string, PropertyDef>();
        for (const id of ids) {
          const p = this.property(this.must(id, 'relationship property'));
          properties.set(p.name, p);
        }
        return {
          kind: 'Relationship',
          ...base,
          ...(e.target ? { target: e.target } : {}),
          ...(typeof e.maxMultiplicity === 'number' ? { maxMultiplicity: e.maxMultiplicity } : {}),
          properties,
        } satisfies RelationshipDef;
      }
      case 'Command': {
        const payload = (id: string | null | undefined) => {
          const p = this.entity(id);
          return p ? { name: p.name ?? '', schema: this.schema(p.schema) } : undefined;
        };
        const request = payload(e.request);
        const response = payload(e.response);
        return { kind: 'Command', ...base, ...(request ? { request } : {}), ...(response ? { response } : {}) } satisfies CommandDef;
      }
      case 'Component':
        return { kind: 'Component', ...base, schema: e.schema! } satisfies ComponentDef;
      default:
        return undefined;
    }
  }

  /** Every base, transitively, nearest first. */
  ancestors(e: Entity): string[] {
    const out: string[] = [];
    const queue = [...(e.extends ?? [])];
    while (queue.length) {
      const id = queue.shift()!;
      if (out.includes(id)) continue;
      out.push(id);
      queue.push(...(this.entity(id)?.extends ?? []));
    }
    return out;
  }
}

/** The ModelSet of a parsed upload: every Interface, including those defined inline. */
export function modelSetOf(om: ObjectModel): ModelSet {
  const reader = new Reader(om);
  const interfaces = new Map<string, InterfaceDef>();
  for (const e of Object.values(om)) {
    if (e.EntityKind !== 'Interface') continue;
    const def: InterfaceDef = {
      id: e.Id,
      dtdlVersion: (e.languageMajorVersion === 2 ? 2 : 3) as DtdlVersion,
      displayNames: { ...e.displayName },
      descriptions: { ...e.description },
      extends: [...(e.extends ?? [])],
      ancestors: reader.ancestors(e),
      contents: new Map(),
      properties: new Map(),
      telemetry: new Map(),
      relationships: new Map(),
      commands: new Map(),
      components: new Map(),
    };
    const displayName = localised(e.displayName);
    const description = localised(e.description);
    if (displayName !== undefined) def.displayName = displayName;
    if (description !== undefined) def.description = description;
    for (const [name, id] of Object.entries(e.contents ?? {})) {
      const entity = reader.entity(id);
      const c = entity && reader.content(entity);
      if (!c) continue;
      def.contents.set(name, c);
      if (c.kind === 'Property') def.properties.set(name, c);
      else if (c.kind === 'Telemetry') def.telemetry.set(name, c);
      else if (c.kind === 'Relationship') def.relationships.set(name, c);
      else if (c.kind === 'Command') def.commands.set(name, c);
      else def.components.set(name, c);
    }
    interfaces.set(def.id, def);
  }
  return new ModelSet(interfaces);
}
