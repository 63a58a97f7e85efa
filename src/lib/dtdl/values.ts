/**
 * What a JSON value of a DTDL schema looks like, as zod: the one definition behind telemetry
 * validation in the pipeline and property validation in the Digital Twins emulator.
 */
import { z } from 'zod';
import type { Schema } from './model.ts';

const isoDate = /^\d{4}-\d{2}-\d{2}$/;
const isoTime = /^\d{2}:\d{2}:\d{2}(?:\.\d+)?$/;
const isoDuration = /^P(?!$)(?:\d+(?:\.\d+)?Y)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?W)?(?:\d+(?:\.\d+)?D)?(?:T(?=\d)(?:\d+(?:\.\d+)?H)?(?:\d+(?:\.\d+)?M)?(?:\d+(?:\.\d+)?S)?)?$/;
const uuid = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const intRange = (min: number, max: number) => z.number().int().min(min).max(max);

export function zodFor(schema: Schema): z.ZodType {
  switch (schema.kind) {
    case 'primitive':
      switch (schema.name) {
        case 'double': case 'float': case 'decimal': return z.number();
        case 'integer': return intRange(-(2 ** 31), 2 ** 31 - 1);
        case 'long': return z.number().int();
        case 'short': return intRange(-32768, 32767);
        case 'byte': return intRange(-128, 127);
        case 'unsignedByte': return intRange(0, 255);
        case 'unsignedShort': return intRange(0, 65535);
        case 'unsignedInteger': return intRange(0, 2 ** 32 - 1);
        case 'unsignedLong': return z.number().int().min(0);
        case 'boolean': return z.boolean();
        case 'string': case 'bytes': return z.string();
        case 'dateTime': return z.iso.datetime({ offset: true });
        case 'date': return z.string().regex(isoDate, 'expected a date like 2024-05-31');
        case 'time': return z.string().regex(isoTime, 'expected a time like 13:45:00');
        case 'duration': return z.string().regex(isoDuration, 'expected an ISO 8601 duration like PT5M');
        case 'uuid': return z.string().regex(uuid, 'expected a UUID');
        default: return z.unknown(); // geospatial: GeoJSON, not used by the plant's telemetry
      }
    case 'enum': {
      const values = schema.values.map((v) => v.value);
      return schema.valueSchema === 'string'
        ? z.enum(values as [string, ...string[]])
        : z.union(values.map((v) => z.literal(v as number)) as unknown as [z.ZodLiteral<number>, z.ZodLiteral<number>]);
    }
    case 'object':
      return z.strictObject(Object.fromEntries(schema.fields.map((f) => [f.name, zodFor(f.schema).optional()])));
    case 'map':
      return z.record(z.string(), zodFor(schema.value));
    case 'array':
      return z.array(zodFor(schema.element));
  }
}

