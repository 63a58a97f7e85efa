/**
 * Client of an Azure Machine Learning managed online endpoint (and of the local scoring server,
 * which keeps the same contract): POST <scoring URI> with `Authorization: Bearer <key>` and an
 * MLflow-style `{"input_data": {"columns", "index", "data"}}` body; one row per reading.
 */
import { z } from 'zod';
import { AppError, httpError } from '../errors.ts';
import { withRetry, type RetryPolicy } from '../retry.ts';
import type { ScoreInput, ScoreResult, ScorerPort } from '../ports.ts';

export interface MlEndpointOptions {
  scoringUrl: string;
  key?: string;
  /** Pins a deployment (the `azureml-model-deployment` header); otherwise traffic rules pick one. */
  deployment?: string;
  featureColumns: readonly string[];
  /** Columns taken from each input's `derived` values (the detector's failure features). */
  derivedColumns?: readonly string[];
  timeoutMs: number;
  retry?: RetryPolicy;
  fetch?: typeof fetch;
}

const prediction = z
  .object({
    anomalyScore: z.number().min(0).max(1).optional(),
    anomaly_score: z.number().min(0).max(1).optional(),
    failureProbability: z.number().min(0).max(1).nullable().optional(),
    failure_probability: z.number().min(0).max(1).nullable().optional(),
    rulHours: z.number().min(0).nullable().optional(),
    contributions: z.record(z.string(), z.number()).optional(),
    modelVersion: z.string().optional(),
    model_version: z.string().optional(),
  })
  .refine((p) => [p.anomalyScore, p.anomaly_score, p.failureProbability, p.failure_probability].some((v) => v !== undefined && v !== null), 'each prediction needs anomalyScore or failureProbability');
const responseSchema = z.union([
  z.array(prediction),
  z.object({ predictions: z.array(prediction) }).transform((r) => r.predictions),
  z.object({ outputs: z.array(prediction) }).transform((r) => r.outputs),
]);

/** A short retry: scoring sits on the ingestion path, and the fallback detector is always there. */
const SCORING_RETRY: RetryPolicy = { retries: 1, baseDelayMs: 100, maxDelayMs: 1_000 };

export class MlEndpointClient implements ScorerPort {
  private readonly fetch: typeof fetch;
  constructor(private readonly options: MlEndpointOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  /** The request body for a batch: exposed so the local scoring server and tests share it. */
  requestBody(inputs: readonly ScoreInput[]): { input_data: { columns: string[]; index: number[]; data: (string | number | null)[][] } } {
    const features = this.options.featureColumns;
    const derived = this.options.derivedColumns ?? [];
    return {
      input_data: {
        columns: ['deviceId', 'modelId', 'timestamp', 'status', ...features, ...derived],
        index: inputs.map((_, i) => i),
        data: inputs.map((r) => [r.deviceId, r.modelId, new Date(r.time).toISOString(), r.status ?? null, ...features.map((f) => r.features[f] ?? null), ...derived.map((d) => r.derived?.[d] ?? null)]),
      },
    };
  }

  async score(inputs: readonly ScoreInput[]): Promise<ScoreResult[]> {
    if (inputs.length === 0) return [];
    const body = JSON.stringify(this.requestBody(inputs));
    return withRetry(() => this.post(body, inputs.length), this.options.retry ?? SCORING_RETRY);
  }

  private async post(body: string, expected: number): Promise<ScoreResult[]> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.options.key) headers.authorization = `Bearer ${this.options.key}`;
    if (this.options.deployment) headers['azureml-model-deployment'] = this.options.deployment;
    let response: Response;
    try {
      response = await this.fetch(this.options.scoringUrl, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.options.timeoutMs) });
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError';
      throw new AppError(timedOut ? 'scoring.timeout' : 'scoring.unreachable', `scoring endpoint ${timedOut ? `did not answer within ${this.options.timeoutMs} ms` : `unreachable: ${(error as Error).message}`}`, { status: 503, retryable: true, cause: error });
    }
    const text = await response.text();
    if (!response.ok) throw httpError('scoring', response.status, text, response.headers.get('retry-after'));
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new AppError('scoring.badResponse', `scoring endpoint answered non-JSON: ${text.slice(0, 200)}`, { status: 502 });
    }
    const parsed = responseSchema.safeParse(json);
    if (!parsed.success) throw new AppError('scoring.badResponse', `scoring response does not match the contract: ${parsed.error.issues[0]?.message}`, { status: 502 });
    if (parsed.data.length !== expected) throw new AppError('scoring.badResponse', `scoring endpoint returned ${parsed.data.length} predictions for ${expected} rows`, { status: 502 });
    const deployment = response.headers.get('azureml-model-deployment') ?? this.options.deployment;
    return parsed.data.map((p) => ({
      // An endpoint that only predicts failure says nothing about anomaly: 0 leaves the detector's score.
      anomalyScore: p.anomalyScore ?? p.anomaly_score ?? 0,
      rulHours: p.rulHours ?? undefined,
      failureProbability: p.failureProbability ?? p.failure_probability ?? undefined,
      contributions: p.contributions ?? {},
      modelVersion: p.modelVersion ?? p.model_version ?? deployment ?? 'unknown',
    }));
  }
}
