/**
 * Telemetry validators derived from the DTDL models, never written by hand: for every twin model
 * that has a device model, a zod schema of the telemetry that device may send.
 */
import { z } from 'zod';
import { deviceModelIdFor, zodFor, type ModelSet, type Schema, type InterfaceDef, type TelemetryDef } from '../dtdl/index.ts';
import { ENVELOPE_FIELDS } from './reading.ts';

export interface EquipmentKind {
  twinModelId: string;
  deviceModelId: string;
  /** The twin model's display name, e.g. "Robotic arm". */
  displayName: string;
  telemetryNames: readonly string[];
  /** Names of numeric telemetry, in a fixed order: the scoring request's feature columns. */
  numericTelemetry: readonly string[];
  /** Measurements (double/float telemetry) the streaming detector watches; counters are left out. */
  measuredTelemetry: readonly string[];
  units: Readonly<Record<string, string | undefined>>;
  /**
   * Whether the values are what the device model allows. A `null` for a declared telemetry is "not
   * measured" (a gateway's bad-quality tag, a sensor that did not answer): allowed, and said
   * (`notMeasured`), so that one dead sensor does not refuse the machine's other readings.
   */
  validate(values: Record<string, unknown>): Validity;
}

export type Validity = { ok: true; notMeasured?: true } | { ok: false; message: string };
const VALID: Validity = { ok: true };
const VALID_NOT_MEASURED: Validity = { ok: true, notMeasured: true };

/** The names of a reading's values sent as `null`: not measured. */
export function notMeasuredIn(values: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const k in values) if (Object.hasOwn(values, k) && values[k] === null) out.push(k);
  return out;
}

type Check = (v: unknown) => boolean;
const between = (min: number, max: number): Check => (v) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

/**
 * A fast yes for the common case (flat numbers, strings, booleans, enums), derived from the same
 * schema as zodFor. It only ever says yes where zod would; anything else goes to zod, which
 * decides and explains. Undefined: no fast check for this schema.
 */
function fastCheck(schema: Schema): Check | undefined {
  if (schema.kind === 'enum') {
    const allowed = new Set<unknown>(schema.values.map((v) => v.value));
    return (v) => allowed.has(v);
  }
  if (schema.kind !== 'primitive') return undefined;
  switch (schema.name) {
    case 'double': case 'float': case 'decimal': return (v) => typeof v === 'number' && Number.isFinite(v);
    case 'integer': return between(-(2 ** 31), 2 ** 31 - 1);
    case 'long': case 'unsignedLong': return (v) => Number.isSafeInteger(v) && (schema.name === 'long' || (v as number) >= 0);
    case 'short': return between(-32768, 32767);
    case 'byte': return between(-128, 127);
    case 'unsignedByte': return between(0, 255);
    case 'unsignedShort': return between(0, 65535);
    case 'unsignedInteger': return between(0, 2 ** 32 - 1);
    case 'boolean': return (v) => typeof v === 'boolean';
    case 'string': return (v) => typeof v === 'string';
    default: return undefined;
  }
}

const NUMERIC_PRIMITIVES = new Set(['double', 'float', 'decimal', 'integer', 'long', 'short', 'byte', 'unsignedByte', 'unsignedShort', 'unsignedInteger', 'unsignedLong']);

/**
 * The slips devices make most, named in a refusal: a .NET device serialises its properties
 * PascalCase by default (Temperature, Timestamp), a controller writes its states capitalised
 * (Running), and some gateways send every value as text ("71.2").
 */
function refusalHints(telemetry: readonly TelemetryDef[], numericNames: readonly string[]) {
  const sameButCase = (given: string, known: readonly string[]) => known.find((n) => n !== given && n.toLowerCase() === given.toLowerCase());
  const known = [...telemetry.map((t) => t.name), ...ENVELOPE_FIELDS];
  const numeric = new Set(numericNames);
  const enumValues = new Map(telemetry.flatMap((t) => (t.schema.kind === 'enum' ? [[t.name, t.schema.values.map((v) => String(v.value))] as const] : [])));
  return {
    /** An unknown name as the refusal quotes it, with the name it was likely meant to be. */
    unknownName(k: string): string {
      const meant = sameButCase(k, known);
      return meant === undefined ? `'${k}'` : `'${k}' (names are case-sensitive: '${meant}'?)`;
    },
    /** What to add to a refused value's reason, when the slip is one of those. */
    hintFor(path: readonly PropertyKey[], values: Record<string, unknown>): string {
      const name = path.length === 1 ? String(path[0]) : undefined;
      const v = name !== undefined && Object.hasOwn(values, name) ? values[name] : undefined;
      if (typeof v !== 'string') return '';
      if (numeric.has(name!) && v.trim() !== '' && Number.isFinite(Number(v))) return ` (a number sent as text: send ${Number(v)}, not ${JSON.stringify(v)})`;
      const meant = sameButCase(v, enumValues.get(name!) ?? []);
      return meant === undefined ? '' : ` (values are case-sensitive: '${meant}'?)`;
    },
  };
}

function compileKind(twin: InterfaceDef, device: InterfaceDef): EquipmentKind {
  const telemetry = [...device.telemetry.values()];
  const shape = z.strictObject(Object.fromEntries(telemetry.map((t) => [t.name, zodFor(t.schema).nullable().optional()])));
  const names = telemetry.map((t) => t.name);
  const checks = new Map<string, Check>();
  let allFast = true;
  for (const t of telemetry) {
    const check = fastCheck(t.schema);
    if (check) checks.set(t.name, check);
    else allFast = false;
  }
  const numericNames = telemetry.filter((t) => t.schema.kind === 'primitive' && NUMERIC_PRIMITIVES.has(t.schema.name)).map((t) => t.name);
  const { unknownName, hintFor } = refusalHints(telemetry, numericNames);
  /** The validity when every value passes its fast check (or is null), else undefined: zod decides. */
  const fastAccept = (values: Record<string, unknown>): Validity | undefined => {
    if (!allFast) return undefined;
    let unmeasured = false;
    for (const k in values) {
      // Own keys only: what a polluted prototype adds is not a reading's (and is not fast-accepted).
      if (!Object.hasOwn(values, k)) return undefined;
      const check = checks.get(k);
      if (!check) return undefined;
      const v = values[k];
      if (v === null) unmeasured = true;
      else if (!check(v)) return undefined;
    }
    return unmeasured ? VALID_NOT_MEASURED : VALID;
  };
  return {
    twinModelId: twin.id,
    deviceModelId: device.id,
    displayName: twin.displayName ?? twin.id,
    telemetryNames: names,
    numericTelemetry: numericNames,
    measuredTelemetry: telemetry.filter((t) => t.schema.kind === 'primitive' && (t.schema.name === 'double' || t.schema.name === 'float')).map((t) => t.name),
    units: Object.fromEntries(telemetry.map((t) => [t.name, t.unit])),
    validate(values) {
      const fast = fastAccept(values);
      if (fast) return fast;
      const result = shape.safeParse(values);
      if (result.success) return notMeasuredIn(values).length ? VALID_NOT_MEASURED : VALID;
      const message = result.error.issues
        .slice(0, 5)
        .map((i) => (i.code === 'unrecognized_keys' ? `unknown telemetry ${i.keys.map(unknownName).join(', ')} for ${device.id} (known: ${names.join(', ')})` : `${i.path.join('.') || '(reading)'}: ${i.message}${hintFor(i.path, values)}`))
        .join('; ');
      return { ok: false, message };
    },
  };
}

/** Every equipment kind the plant's models describe, by twin model id. */
export class TelemetryCatalog {
  private readonly kinds = new Map<string, EquipmentKind>();

  constructor(readonly models: ModelSet) {
    for (const twin of models.interfaces.values()) {
      const device = models.get(deviceModelIdFor(twin.id));
      if (device && device.telemetry.size > 0) this.kinds.set(twin.id, compileKind(twin, device));
    }
  }

  forTwinModel(twinModelId: string): EquipmentKind | undefined {
    return this.kinds.get(twinModelId);
  }

  all(): EquipmentKind[] {
    return [...this.kinds.values()];
  }

  /** The union of numeric telemetry across kinds, in a stable order: the scoring contract's columns. */
  featureColumns(): string[] {
    const set = new Set<string>();
    for (const k of this.kinds.values()) for (const n of k.numericTelemetry) set.add(n);
    return [...set].sort();
  }
}
