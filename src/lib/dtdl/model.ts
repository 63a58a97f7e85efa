/** The parsed, resolved shape of a DTDL model set: what the rest of the product reads. */
export type DtdlVersion = 2 | 3;

export type Schema =
  | { kind: 'primitive'; name: string }
  | { kind: 'enum'; valueSchema: 'integer' | 'string'; values: { name: string; value: string | number }[] }
  | { kind: 'object'; fields: Field[] }
  | { kind: 'map'; keyName: string; valueName: string; value: Schema }
  | { kind: 'array'; element: Schema };

export interface Field {
  name: string;
  schema: Schema;
  unit?: string;
  semanticType?: string;
}

interface ContentBase {
  name: string;
  /** The Interface that declares it (an ancestor for inherited contents). */
  definedIn: string;
}

export interface PropertyDef extends ContentBase {
  kind: 'Property';
  schema: Schema;
  writable: boolean;
  unit?: string;
  semanticType?: string;
}

export interface TelemetryDef extends ContentBase {
  kind: 'Telemetry';
  schema: Schema;
  unit?: string;
  semanticType?: string;
}

export interface RelationshipDef extends ContentBase {
  kind: 'Relationship';
  target?: string;
  maxMultiplicity?: number;
  properties: Map<string, PropertyDef>;
}

export interface CommandDef extends ContentBase {
  kind: 'Command';
  request?: { name: string; schema: Schema };
  response?: { name: string; schema: Schema };
}

export interface ComponentDef extends ContentBase {
  kind: 'Component';
  schema: string;
}

export type ContentDef = PropertyDef | TelemetryDef | RelationshipDef | CommandDef | ComponentDef;

export interface InterfaceDef {
  id: string;
  dtdlVersion: DtdlVersion;
  /** In English where the model has it. */
  displayName?: string;
  description?: string;
  /** Every language the model gives, e.g. { en: 'Pump', de: 'Pumpe' }. */
  displayNames: Record<string, string>;
  descriptions: Record<string, string>;
  /** Direct bases. */
  extends: string[];
  /** Every base, transitively, nearest first (not including itself). */
  ancestors: string[];
  /** Own and inherited contents by name. */
  contents: Map<string, ContentDef>;
  properties: Map<string, PropertyDef>;
  telemetry: Map<string, TelemetryDef>;
  relationships: Map<string, RelationshipDef>;
  commands: Map<string, CommandDef>;
  components: Map<string, ComponentDef>;
}

export class ModelSet {
  readonly interfaces: ReadonlyMap<string, InterfaceDef>;

  constructor(interfaces: Map<string, InterfaceDef>) {
    this.interfaces = interfaces;
  }

  get(id: string): InterfaceDef | undefined {
    return this.interfaces.get(id);
  }

  /** True when `id` is `baseId` or extends it, directly or not. */
  isA(id: string, baseId: string): boolean {
    if (id === baseId) return true;
    return this.interfaces.get(id)?.ancestors.includes(baseId) ?? false;
  }
}

/** Two schemas describe the same values (ids and display text aside). */
export function sameSchema(a: Schema, b: Schema): boolean {
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'primitive':
      return a.name === (b as typeof a).name;
    case 'enum': {
      const o = b as typeof a;
      return a.valueSchema === o.valueSchema && a.values.length === o.values.length &&
        a.values.every((v) => o.values.some((w) => w.name === v.name && w.value === v.value));
    }
    case 'object': {
      const o = b as typeof a;
      return a.fields.length === o.fields.length &&
        a.fields.every((f) => o.fields.some((g) => g.name === f.name && g.unit === f.unit && sameSchema(f.schema, g.schema)));
    }
    case 'map':
      return sameSchema(a.value, (b as typeof a).value);
    case 'array':
      return sameSchema(a.element, (b as typeof a).element);
  }
}

export function describeSchema(s: Schema): string {
  switch (s.kind) {
    case 'primitive': return s.name;
    case 'enum': return `Enum<${s.valueSchema}>(${s.values.map((v) => v.value).join('|')})`;
    case 'object': return `Object{${s.fields.map((f) => `${f.name}: ${describeSchema(f.schema)}`).join(', ')}}`;
    case 'map': return `Map<string, ${describeSchema(s.value)}>`;
    case 'array': return `Array<${describeSchema(s.element)}>`;
  }
}
