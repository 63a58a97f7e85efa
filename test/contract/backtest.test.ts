/**
 * The backtest replays what the local stack stored (the DuckDB telemetry store) through the
 * detector and scores it against a simulator run's ground truth.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbTelemetryStore } from '../../src/lib/store/duckdb-telemetry-store.ts';
import { backtest, readGroundTruth } from '../../src/lib/anomaly/backtest.ts';
import { degradationFleet, runReadings } from '../../src/simulator/degradation.ts';
import type { TelemetryRow } from '../../src/lib/store/rows.ts';

let dir: string;
let store: DuckDbTelemetryStore;
const START = Date.UTC(2026, 2, 2);
const plans = degradationFleet({ seed: 3, devices: 6, failingShare: 0.5, days: 8, periodMs: 60_000, startTime: START });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'backtest-'));
  store = await DuckDbTelemetryStore.open(join(dir, 'telemetry.duckdb'));
  for (const plan of plans) {
    const telemetry: TelemetryRow[] = [];
    for (const r of runReadings(plan)) {
      const iso = new Date(r.time).toISOString();
      telemetry.push({ Timestamp: iso, DeviceId: plan.deviceId, ModelId: `dtmi:manufacturing:${plan.kind};1`, MessageId: `${plan.deviceId}-${r.time}`, EnqueuedTime: iso, Readings: { ...r.features, status: r.status }, AnomalyScore: 0, FailureProbability: null, ModelVersion: 'test' });
    }
    await store.write({ telemetry, anomalies: [], deadLetters: [] });
  }
  writeFileSync(
    join(dir, 'ground-truth.json'),
    JSON.stringify({
      startedAt: new Date(START).toISOString(),
      degradation: [
        ...plans.filter((p) => p.failure).map((p) => ({ deviceId: p.deviceId, onset: new Date(p.failure!.onsetTime).toISOString(), failure: new Date(p.failure!.failureTime).toISOString() })),
        { deviceId: 'never-connected', onset: new Date(START).toISOString(), failure: new Date(START + 1).toISOString() },
      ],
    }),
  );
});

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('backtesting stored telemetry against ground truth', () => {
  it('finds the failing machines ahead of failure, without alarms on the healthy ones', async () => {
    const r = await backtest(store, readGroundTruth(join(dir, 'ground-truth.json')), { pageSize: 2_000 });
    expect(r.devices).toBe(6);
    expect(r.readings).toBe(await store.count('EquipmentTelemetry'));
    expect(r.failing).toBe(3);
    expect(r.recall).toBe(1);
    expect(r.falseAlarms).toBe(0);
    expect(r.medianLeadTimePct).toBeGreaterThan(30);
    expect(r.missingDevices).toEqual(['never-connected']);
  });

  it('refuses a ground-truth file it cannot use, saying why', () => {
    writeFileSync(join(dir, 'bad.json'), '{"startedAt": "yesterday"}');
    writeFileSync(join(dir, 'broken.json'), '{');
    expect(() => readGroundTruth(join(dir, 'bad.json'))).toThrow(/not a simulator ground-truth.json: startedAt/);
    expect(() => readGroundTruth(join(dir, 'broken.json'))).toThrow(/cannot read ground truth/);
    expect(() => readGroundTruth(join(dir, 'missing.json'))).toThrow(/cannot read ground truth/);
  });
});
