/**
 * The local scoring endpoint keeps Azure ML's online endpoint contract, driven through the
 * product's own client (MlEndpointClient), serving the failure model `npm run train` produced.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { startMlEndpoint, type MlEndpoint } from '../../src/emulators/ml/server.ts';
import { MlEndpointClient } from '../../src/lib/anomaly/ml-endpoint-client.ts';
import { FailureModel, latestModelFile, samplesOf, trainFailureModel } from '../../src/lib/anomaly/failure-model.ts';
import { FAILURE_FEATURES } from '../../src/lib/anomaly/streaming-detector.ts';
import { degradationFleet, runReadings } from '../../src/simulator/degradation.ts';
import { projectRoot } from '../../src/lib/paths.ts';
import type { ScoreInput } from '../../src/lib/ports.ts';

const modelPath = latestModelFile(join(projectRoot(), 'models'))!;
const model = FailureModel.load(modelPath);
let ml: MlEndpoint;
const client = (key = 'k3y', extra: Partial<ConstructorParameters<typeof MlEndpointClient>[0]> = {}) =>
  new MlEndpointClient({ scoringUrl: ml.scoringUri, key, featureColumns: ['temperature', 'vibration'], derivedColumns: FAILURE_FEATURES, timeoutMs: 2_000, retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 }, ...extra });
const input = (derived: Record<string, number>): ScoreInput => ({ deviceId: 'robotic-arm-001', modelId: 'dtmi:manufacturing:RoboticArm;1', time: Date.UTC(2026, 10, 25), status: 'running', features: { temperature: 70, vibration: 0.5 }, derived });
const healthy = { drift: 0, driftRss: 0, slope: 0, proximity: -0.5, envelope: 0 };
const failing = { drift: 4, driftRss: 5, slope: 1.5, proximity: 0.6, envelope: 0.7 };

beforeAll(async () => {
  ml = await startMlEndpoint({ model, key: 'k3y', maxBodyBytes: 64 * 1024, deploymentName: 'blue' });
});
afterAll(async () => ml?.close());

describe('the local Azure ML scoring endpoint', () => {
  it('answers one prediction per row, in order, with the model version and the deployment', async () => {
    const results = await client().score([input(healthy), input(failing), input(healthy)]);
    expect(results).toHaveLength(3);
    expect(results[0]!.failureProbability!).toBeLessThan(0.05);
    expect(results[1]!.failureProbability!).toBeGreaterThan(0.9);
    expect(results[2]!.failureProbability).toBe(results[0]!.failureProbability);
    expect(results[0]!.modelVersion).toBe(model.version);
    expect(results[0]!.anomalyScore).toBe(0);
  });

  it('refuses a wrong key, a body without the model columns, broken JSON and oversized bodies', async () => {
    await expect(client('wrong').score([input(healthy)])).rejects.toMatchObject({ code: 'scoring.http401' });
    await expect(client('k3y', { derivedColumns: [] }).score([input(healthy)])).rejects.toThrow(/none of the model's feature columns \(drift, driftRss/);
    const raw = (body: string) => fetch(ml.scoringUri, { method: 'POST', headers: { authorization: 'Bearer k3y', 'content-type': 'application/json' }, body });
    expect((await raw('{')).status).toBe(400);
    const ragged = await raw(JSON.stringify({ input_data: { columns: ['drift', 'slope'], data: [[1]] } }));
    expect(ragged.status).toBe(400);
    expect(((await ragged.json()) as { error: string }).error).toContain('row 0 has 1 values for 2 columns');
    const many = Array.from({ length: 2_000 }, () => input(failing));
    await expect(client().score(many)).rejects.toMatchObject({ code: 'scoring.http413' });
    expect(ml.stats.refused).toBeGreaterThanOrEqual(4);
  });

  it('answers any request without going down: a key of the right length but other bytes, and a path of slashes', async () => {
    // 'k3é' has the key's three characters but four bytes: refused, not a crash.
    await expect(client('k3é').score([input(healthy)])).rejects.toMatchObject({ code: 'scoring.http401' });
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(ml.scoringUri);
      request({ host: url.hostname, port: url.port, path: '//', method: 'GET' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject).end();
    });
    expect(status).toBe(404);
    expect(await client().score([input(healthy)])).toHaveLength(1);
  });
});

describe('the failure model', () => {
  it('is what `npm run train` makes from the simulated fleet: retraining reproduces the committed file', () => {
    const file = JSON.parse(readFileSync(modelPath, 'utf8')) as { trainedOn: { seed: number; devices: number; days: number }; horizonHours: number; version: string; trainedAt: string; weights: number[]; bias: number };
    const runs = (seed: number) =>
      degradationFleet({ seed, devices: file.trainedOn.devices, failingShare: 2 / 3, days: file.trainedOn.days, periodMs: 60_000 }).map((plan) => ({
        ...(plan.failure ? { failureTime: plan.failure.failureTime } : {}),
        readings: { [Symbol.iterator]: () => runReadings(plan) },
      }));
    const again = trainFailureModel(samplesOf(runs(file.trainedOn.seed), { horizonHours: file.horizonHours, every: 5 }), { version: file.version, horizonHours: file.horizonHours, trainedOn: file.trainedOn, trainedAt: file.trainedAt });
    expect(again.weights.map((w) => w.toFixed(6))).toEqual(file.weights.map((w) => w.toFixed(6)));
    expect(again.bias.toFixed(6)).toBe(file.bias.toFixed(6));
  }, 60_000);

  it('separates readings near failure from healthy ones on machines it was not trained on', () => {
    expect(model.file.metrics.validationAuc).toBeGreaterThan(0.95);
  });

  it('refuses a file that is not a failure model, naming the field', () => {
    expect(() => FailureModel.parse({ format: 'manufacturing-twins/failure-model@1', version: 'x' }, 'bad.json')).toThrow(/bad.json is not a failure model file: horizonHours/);
    expect(() => FailureModel.load('/nonexistent/model.json')).toThrow(/cannot read model/);
  });
});

describe('the Azure ML scoring script (ml/score.py)', () => {
  const python = spawnSync('python3', ['--version']).status === 0;
  it.skipIf(!python)('answers exactly what the local endpoint answers for the same request', async () => {
    const request = client().requestBody([input(healthy), input(failing), input({ drift: 1.2, slope: 0.4 })]);
    const py = spawnSync('python3', [join(projectRoot(), 'ml/score.py'), modelPath], { input: JSON.stringify(request), encoding: 'utf8' });
    expect(py.stderr).toBe('');
    const local = await fetch(ml.scoringUri, { method: 'POST', headers: { authorization: 'Bearer k3y' }, body: JSON.stringify(request) });
    expect(JSON.parse(py.stdout)).toEqual(await local.json());
  });
});
