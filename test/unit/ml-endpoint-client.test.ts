import { afterEach, describe, expect, it } from 'vitest';
import { MlEndpointClient } from '../../src/lib/anomaly/ml-endpoint-client.ts';
import type { ScoreInput } from '../../src/lib/ports.ts';
import { reply, startServer } from '../support/http-server.ts';

const inputs: ScoreInput[] = [
  { deviceId: 'robotic-arm-001', modelId: 'dtmi:manufacturing:RoboticArm;1', time: Date.parse('2026-11-25T10:00:00Z'), status: 'running', features: { temperature: 71, speed: null } },
  { deviceId: 'conveyor-belt-001', modelId: 'dtmi:manufacturing:Conveyor;1', time: Date.parse('2026-11-25T10:00:01Z'), status: undefined, features: { temperature: null, speed: 1.4 } },
];
const servers: { close(): Promise<void> }[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

async function endpoint(responder: Parameters<typeof startServer>[0]) {
  const s = await startServer(responder);
  servers.push(s);
  const client = new MlEndpointClient({ scoringUrl: `${s.url}/score`, key: 'secret-key', deployment: 'blue', featureColumns: ['speed', 'temperature'], timeoutMs: 300, retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 50 } });
  return { s, client };
}

describe('the Azure ML online endpoint contract', () => {
  it('posts one MLflow-style input_data frame per batch with the key and deployment headers', async () => {
    const { s, client } = await endpoint((_req, res) => reply(res, 200, [
      { anomalyScore: 0.1, failureProbability: 0.03, modelVersion: 'fp-3' },
      { anomaly_score: 0.7, failure_probability: 0.4, contributions: { speed: 1 } },
    ], { 'azureml-model-deployment': 'blue' }));
    const results = await client.score(inputs);
    expect(s.requests).toHaveLength(1);
    const req = s.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/score');
    expect(req.headers.authorization).toBe('Bearer secret-key');
    expect(req.headers['azureml-model-deployment']).toBe('blue');
    expect(JSON.parse(req.body)).toEqual({
      input_data: {
        columns: ['deviceId', 'modelId', 'timestamp', 'status', 'speed', 'temperature'],
        index: [0, 1],
        data: [
          ['robotic-arm-001', 'dtmi:manufacturing:RoboticArm;1', '2026-11-25T10:00:00.000Z', 'running', null, 71],
          ['conveyor-belt-001', 'dtmi:manufacturing:Conveyor;1', '2026-11-25T10:00:01.000Z', null, 1.4, null],
        ],
      },
    });
    expect(results).toEqual([
      { anomalyScore: 0.1, failureProbability: 0.03, contributions: {}, modelVersion: 'fp-3' },
      { anomalyScore: 0.7, failureProbability: 0.4, contributions: { speed: 1 }, modelVersion: 'blue' },
    ]);
  });

  it('retries once after a 429, waiting the Retry-After it was given', async () => {
    let n = 0;
    const { s, client } = await endpoint((_req, res) => (n++ === 0 ? reply(res, 429, 'slow down', { 'retry-after': '0' }) : reply(res, 200, { predictions: [{ anomalyScore: 0 }, { anomalyScore: 0 }] })));
    await expect(client.score(inputs)).resolves.toHaveLength(2);
    expect(s.requests).toHaveLength(2);
  });

  const failures: { name: string; respond: Parameters<typeof startServer>[0]; code: RegExp }[] = [
    { name: 'a timeout', respond: () => {}, code: /did not answer within 300 ms/ },
    { name: 'a 401 (wrong key)', respond: (_q, r) => reply(r, 401, 'unauthorized'), code: /scoring answered 401/ },
    { name: 'a non-JSON answer', respond: (_q, r) => reply(r, 200, '<html>'), code: /non-JSON/ },
    { name: 'an answer off the contract', respond: (_q, r) => reply(r, 200, [{ score: 1 }, { score: 2 }]), code: /does not match the contract/ },
    { name: 'the wrong number of predictions', respond: (_q, r) => reply(r, 200, [{ anomalyScore: 0.1 }]), code: /1 predictions for 2 rows/ },
    { name: 'a score outside [0, 1]', respond: (_q, r) => reply(r, 200, [{ anomalyScore: 7 }, { anomalyScore: 0 }]), code: /does not match the contract/ },
  ];
  it.each(failures)('fails clearly on $name', async ({ respond, code }) => {
    const { client } = await endpoint(respond);
    await expect(client.score(inputs)).rejects.toThrow(code);
  });
});
