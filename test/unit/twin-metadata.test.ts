import { describe, expect, it } from 'vitest';
import { HELD_BACK_MS, heardAt, propertyUpdatedAt } from '../../src/lib/twins/twin-metadata.ts';

const t0 = Date.parse('2026-12-07T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
/** An equipment twin as Digital Twins returns it: lastTelemetryTime written at `written`, with the sourceTime given. */
const twin = (written: number, sourceTime?: unknown) => ({
  $dtId: 'robotic-arm-001',
  lastTelemetryTime: iso(written - 5_000),
  $metadata: { $model: 'dtmi:manufacturing:RoboticArm;1', lastTelemetryTime: { lastUpdateTime: iso(written), ...(sourceTime === undefined ? {} : { sourceTime }) } },
});

describe('when the service last heard from a machine', () => {
  it('is when IoT Hub took its newest reading in, when the refresh wrote it a minute later (a reading held back by the patch interval)', () => {
    expect(heardAt(twin(t0 + 70_000, iso(t0)))).toBe(t0);
    expect(heardAt(twin(t0 + HELD_BACK_MS, iso(t0)))).toBe(t0);
  });

  it('is when the reading reached the twin, for one that came late (a backlog worked off): not a silence of all that time', () => {
    expect(heardAt(twin(t0 + HELD_BACK_MS + 1, iso(t0)))).toBe(t0 + HELD_BACK_MS + 1);
    expect(heardAt(twin(t0 + 30 * 60_000, iso(t0)))).toBe(t0 + 30 * 60_000);
  });

  it('is when Digital Twins wrote it, for a twin written without a sourceTime, or with one that is no time or lies after the write', () => {
    expect(heardAt(twin(t0))).toBe(t0);
    expect(heardAt(twin(t0, 'yesterday'))).toBe(t0);
    expect(heardAt(twin(t0, 17))).toBe(t0);
    expect(heardAt(twin(t0, iso(t0 + 1)))).toBe(t0);
  });

  it('is unknown for a twin never written to, and reads own keys only', () => {
    expect(heardAt({ $dtId: 'x' })).toBeUndefined();
    expect(heardAt({ $metadata: null })).toBeUndefined();
    expect(heardAt({ $metadata: { lastTelemetryTime: 'now' } })).toBeUndefined();
    const inherited = { $metadata: Object.create({ lastTelemetryTime: { lastUpdateTime: iso(t0) } }) as Record<string, unknown> };
    expect(heardAt(inherited)).toBeUndefined();
    const sourceInherited = { $metadata: { lastTelemetryTime: Object.assign(Object.create({ sourceTime: iso(t0 - 1_000) }) as object, { lastUpdateTime: iso(t0) }) } };
    expect(heardAt(sourceInherited)).toBe(t0);
    expect(propertyUpdatedAt(sourceInherited, 'lastTelemetryTime')).toBe(t0);
  });
});
