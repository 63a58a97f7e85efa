/**
 * How device models and twin models meet. A device model (IoT Plug and Play: what the equipment
 * controller sends) lives beside its twin model (what Azure Digital Twins stores) with one extra
 * `device` segment before the name: dtmi:manufacturing:device:RoboticArm;1 feeds
 * dtmi:manufacturing:RoboticArm;1. Every Telemetry must have a twin Property of the same name,
 * schema and unit, so the latest reading can be patched onto the twin without translation.
 */
import { DtdlError, type DtdlProblem } from './parse.ts';
import { describeSchema, sameSchema, type ModelSet } from './model.ts';

const DEVICE_SEGMENT = 'device';

export function deviceModelIdFor(twinModelId: string): string {
  const [path, version] = twinModelId.split(';');
  const segments = (path ?? '').split(':');
  segments.splice(segments.length - 1, 0, DEVICE_SEGMENT);
  return version === undefined ? segments.join(':') : `${segments.join(':')};${version}`;
}

export function twinModelIdFor(deviceModelId: string): string | undefined {
  const [path, version] = deviceModelId.split(';');
  const segments = (path ?? '').split(':');
  if (segments.length < 3 || segments[segments.length - 2] !== DEVICE_SEGMENT) return undefined;
  segments.splice(segments.length - 2, 1);
  return version === undefined ? segments.join(':') : `${segments.join(':')};${version}`;
}

/** Throws DtdlError when a device model's telemetry does not line up with its twin model. */
export function checkBindings(models: ModelSet): void {
  const problems: DtdlProblem[] = [];
  for (const device of models.interfaces.values()) {
    if (device.telemetry.size === 0) continue;
    const twinId = twinModelIdFor(device.id);
    if (twinId === undefined) continue; // a model with telemetry that feeds no twin is allowed
    const twin = models.get(twinId);
    if (!twin) {
      problems.push({ model: device.id, path: '@id', message: `device model has no twin model ${twinId}` });
      continue;
    }
    for (const t of device.telemetry.values()) {
      const p = twin.properties.get(t.name);
      const where = `telemetry '${t.name}'`;
      if (!p) problems.push({ model: device.id, path: t.name, message: `${where} has no Property '${t.name}' on ${twinId} to hold its latest reading` });
      else if (!sameSchema(p.schema, t.schema)) problems.push({ model: device.id, path: t.name, message: `${where} is ${describeSchema(t.schema)} but ${twinId} declares ${describeSchema(p.schema)}` });
      else if (p.unit !== t.unit) problems.push({ model: device.id, path: t.name, message: `${where} is in ${t.unit ?? 'no unit'} but ${twinId} holds it in ${p.unit ?? 'no unit'}` });
    }
  }
  if (problems.length > 0) throw new DtdlError(problems);
}
