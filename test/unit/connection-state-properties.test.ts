/**
 * IoT Hub's connection state events, whatever a route hands the trigger: the decoder never throws
 * on them and stores only well-formed rows; and however they arrive (out of order, in any cuts,
 * replayed), a device's latest is the one IoT Hub numbered last, in the local store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { connectionRowOf } from '../../src/lib/telemetry/connection-state.ts';
import { DuckDbTelemetryStore } from '../../src/lib/store/duckdb-telemetry-store.ts';
import { propertyRuns } from '../support/property-runs.ts';

const key = fc.oneof(fc.constantFrom('opType', 'operationTimestamp', 'deviceId', 'iothub-connection-device-id', 'iothub-enqueuedtime', 'sequenceNumber', '__proto__', 'constructor', 'toString'), fc.string({ maxLength: 12 }));
const value = fc.oneof(
  fc.constantFrom('deviceConnected', 'DEVICEDISCONNECTED', 'deviceDisconnected ', 'hasOwnProperty', '2026-12-07T09:00:00Z', 'FF', '0'.repeat(65)),
  fc.string({ maxLength: 140 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.date({ noInvalidDate: false }),
  fc.array(fc.integer(), { maxLength: 3 }),
);
const record = fc.dictionary(key, value, { maxKeys: 6 });
const body = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: 1, maxLength: 70 }).map((h) => Buffer.from(JSON.stringify({ sequenceNumber: h }))),
  record.map((r) => Buffer.from(JSON.stringify(r))),
  fc.uint8Array({ maxLength: 40 }),
  fc.string({ maxLength: 40 }),
  fc.anything(),
);

/** Each field as IoT Hub sends it, or anything else in its place: about half the events are whole. */
const either = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) => fc.oneof({ arbitrary: good, weight: 3 }, { arbitrary: bad, weight: 1 });
const event = fc.record({
  sys: fc.tuple(either(fc.string({ minLength: 1, maxLength: 128 }), value), record).map(([id, extra]) => ({ ...extra, 'iothub-connection-device-id': id })),
  props: fc.tuple(either(fc.constantFrom('deviceConnected', 'deviceDisconnected', 'DeviceConnected'), value), either(fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString()), value), record).map(([op, at, extra]) => Object.assign(extra, { opType: op, operationTimestamp: at })),
  body: either(fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: 1, maxLength: 64 }).map((h) => Buffer.from(JSON.stringify({ sequenceNumber: h }))), body),
  enqueued: fc.option(value, { nil: undefined }),
});

describe("IoT Hub's connection state events as the decoder reads them", () => {
  it('never throw, and what is kept is a whole row: a device id of 1 to 128 characters, a state, 64 hexadecimal digits, a real time', () => {
    let kept = 0;
    fc.assert(
      fc.property(fc.oneof(event, fc.record({ sys: fc.option(record, { nil: undefined }), props: fc.option(record, { nil: undefined }), body, enqueued: fc.option(value, { nil: undefined }) })), ({ sys, props, body: b, enqueued }) => {
        const row = connectionRowOf(sys, props, b, enqueued);
        if (!row) return;
        kept++;
        expect(row.DeviceId.length).toBeGreaterThan(0);
        expect(row.DeviceId.length).toBeLessThanOrEqual(128);
        expect(['connected', 'disconnected']).toContain(row.State);
        expect(row.SequenceNumber).toMatch(/^[0-9A-F]{64}$/);
        expect(new Date(row.Timestamp).toISOString()).toBe(row.Timestamp);
        // The kind came from the event's own opType, never from what every object inherits.
        expect(Object.hasOwn(props ?? {}, 'opType')).toBe(true);
      }),
      propertyRuns(6101, 2_000),
    );
    // Not a property of nothing: many of them were whole.
    expect(kept).toBeGreaterThan(100);
  });
});

describe("a device's latest connection, however its events arrive", () => {
  let store: DuckDbTelemetryStore;
  beforeAll(async () => {
    store = await DuckDbTelemetryStore.open(':memory:');
  });
  afterAll(async () => store?.close());

  it('is the event IoT Hub numbered last, whatever the order, the cuts, the replays and the events’ own times', async () => {
    let round = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ state: fc.constantFrom('connected' as const, 'disconnected' as const), at: fc.integer({ min: 0, max: 86_400_000 }), sequence: fc.bigInt({ min: 1n, max: (1n << 256n) - 1n }) }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat({ max: 11 }), { maxLength: 4 }),
        async (events, cuts, replays) => {
          const device = `arm-${round++}`;
          // IoT Hub numbers each event once: sequence numbers are distinct.
          const unique = [...new Map(events.map((e) => [e.sequence, e])).values()];
          const rows = unique.map((e) => {
            const sys = { 'iothub-connection-device-id': device };
            const props = { opType: e.state === 'connected' ? 'deviceConnected' : 'deviceDisconnected', operationTimestamp: new Date(Date.UTC(2026, 11, 7) + e.at).toISOString() };
            return connectionRowOf(sys, props, Buffer.from(JSON.stringify({ sequenceNumber: e.sequence.toString(16) })), undefined)!;
          });
          // Shuffled by the cuts, written in several batches, some rows twice.
          const order = rows.map((r, i) => ({ r, k: cuts[i % cuts.length]! })).sort((a, b) => a.k - b.k).map((x) => x.r);
          const writes = [...order, ...replays.filter((i) => i < order.length).map((i) => order[i]!)];
          for (let i = 0; i < writes.length; i += 3) await store.write({ telemetry: [], anomalies: [], deadLetters: [], connections: writes.slice(i, i + 3) });
          const last = unique.reduce((a, b) => (b.sequence > a.sequence ? b : a));
          const latest = (await store.latestConnections([device])).get(device);
          expect(latest).toEqual({ connected: last.state === 'connected', at: Date.UTC(2026, 11, 7) + last.at });
        },
      ),
      propertyRuns(6102, 60),
    );
  });
});
