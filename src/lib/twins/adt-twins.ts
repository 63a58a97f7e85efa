/**
 * Azure Digital Twins through @azure/digital-twins-core. The SDK's own retry is turned off so one
 * policy (src/lib/retry.ts: backoff, jitter, Retry-After) governs every far end; its errors are
 * translated once into AppError.
 */
import { readFileSync } from 'node:fs';
import { adtString } from './query-text.ts';
import { Agent } from 'node:https';
import { DefaultHttpClient } from '@azure/core-http';
import { DigitalTwinsClient } from '@azure/digital-twins-core';
import type { AccessToken, TokenCredential } from '@azure/identity';
import { AppError, isTransientStatus, parseRetryAfter } from '../errors.ts';
import { withRetry, defaultRetryPolicy, type RetryPolicy } from '../retry.ts';
import type { JsonPatchOp, QueryPage, TwinState, TwinsPort, ModelSummary } from '../ports.ts';

/** ADT caps IN lists; stay well under it. */
const IN_CHUNK = 50;

export interface AdtTwinsOptions {
  endpoint: string;
  credential: TokenCredential;
  /** PEM of an extra CA to trust (the local emulator's). */
  caPem?: string;
  retry?: RetryPolicy;
}

/** A credential that hands out one fixed token: for the local emulator only. */
export class StaticTokenCredential implements TokenCredential {
  constructor(private readonly token: string) {}
  async getToken(): Promise<AccessToken> {
    return { token: this.token, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

export function readCa(file: string | undefined): string | undefined {
  return file ? readFileSync(file, 'utf8') : undefined;
}

const toTime = (v: unknown) => (typeof v === 'string' ? Date.parse(v) : undefined);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

export function toTwinState(row: Record<string, unknown>): TwinState {
  const meta = (row.$metadata ?? {}) as Record<string, unknown>;
  return {
    id: String(row.$dtId),
    modelId: String(meta.$model ?? row.$model ?? ''),
    etag: str(row.$etag),
    lastTelemetryTime: toTime(row.lastTelemetryTime),
    status: str(row.status),
    healthStatus: str(row.healthStatus),
    lastAlertTime: toTime(row.lastAlertTime),
    lastEmergencyStopTime: toTime(row.lastEmergencyStopTime),
    detectorState: str(row.detectorState),
    alarmState: str(row.alarmState),
    shelvedUntil: toTime(row.shelvedUntil),
    remainingUsefulLifeHours: typeof row.remainingUsefulLifeHours === 'number' ? row.remainingUsefulLifeHours : undefined,
  };
}

/** A DigitalTwinsClient that does not retry on its own (callers retry) and trusts `caPem` when given. */
export function digitalTwinsClient(options: { endpoint: string; credential: TokenCredential; caPem?: string | undefined }): DigitalTwinsClient {
  const clientOptions: Record<string, unknown> = { retryOptions: { maxRetries: 0 } };
  if (options.caPem) {
    // The client has no TLS option of its own: its HTTP client picks the agent, so hand it one
    // that trusts the emulator's CA (NODE_EXTRA_CA_CERTS would need a process restart).
    const agent = new Agent({ ca: options.caPem, keepAlive: true });
    const httpClient = new DefaultHttpClient();
    (httpClient as unknown as { getOrCreateAgent: () => Agent }).getOrCreateAgent = () => agent;
    clientOptions.httpClient = httpClient;
  }
  return new DigitalTwinsClient(options.endpoint, options.credential, clientOptions);
}

export class AdtTwins implements TwinsPort {
  private readonly client: DigitalTwinsClient;
  private readonly retry: RetryPolicy;

  constructor(options: AdtTwinsOptions) {
    this.client = digitalTwinsClient(options);
    this.retry = options.retry ?? defaultRetryPolicy;
  }

  private call<T>(op: () => Promise<T>): Promise<T> {
    return withRetry(async () => {
      try {
        return await op();
      } catch (error) {
        throw translateAdtError(error);
      }
    }, this.retry);
  }

  async getStates(ids: readonly string[]): Promise<Map<string, TwinState>> {
    const states = new Map<string, TwinState>();
    for (let i = 0; i < ids.length; i += IN_CHUNK) {
      const chunk = ids.slice(i, i + IN_CHUNK);
      const query =
        'SELECT T.$dtId, T.$etag, T.$metadata.$model, T.lastTelemetryTime, T.status, T.healthStatus, T.lastAlertTime, T.lastEmergencyStopTime, T.detectorState, T.alarmState, T.shelvedUntil, T.remainingUsefulLifeHours ' +
        `FROM DIGITALTWINS T WHERE T.$dtId IN [${chunk.map(adtString).join(', ')}]`;
      let token: string | undefined;
      do {
        const page = await this.query(query, token);
        for (const row of page.items) {
          // Projections of nested paths come back flattened under the last segment.
          const state = toTwinState({ ...row, $metadata: { $model: row.$model ?? (row.$metadata as Record<string, unknown> | undefined)?.$model } });
          states.set(state.id, state);
        }
        token = page.continuationToken;
      } while (token);
    }
    return states;
  }

  async getState(id: string): Promise<TwinState | undefined> {
    try {
      return toTwinState(await this.getTwin(id));
    } catch (error) {
      if (error instanceof AppError && error.code === 'twin.notFound') return undefined;
      throw error;
    }
  }

  async patch(id: string, ops: readonly JsonPatchOp[], ifMatch?: string): Promise<string | undefined> {
    const response = await this.call(() => this.client.updateDigitalTwin(id, ops as JsonPatchOp[], ifMatch ? { ifMatch } : {}));
    return response.etag;
  }

  async getTwin(id: string): Promise<Record<string, unknown>> {
    const response = await this.call(() => this.client.getDigitalTwin(id));
    const { _response, ...twin } = response as unknown as Record<string, unknown>;
    void _response;
    return (response as { body?: Record<string, unknown> }).body ?? twin;
  }

  async query(query: string, continuationToken?: string): Promise<QueryPage> {
    return this.call(async () => {
      const pages = this.client.queryTwins(query).byPage(continuationToken ? { continuationToken } : {});
      const first = await pages.next();
      const page = first.value as { value?: Record<string, unknown>[]; continuationToken?: string } | undefined;
      return { items: page?.value ?? [], continuationToken: page?.continuationToken ?? undefined };
    });
  }

  async listRelationships(id: string): Promise<Record<string, unknown>[]> {
    return this.call(async () => {
      const out: Record<string, unknown>[] = [];
      for await (const r of this.client.listRelationships(id)) out.push(r as Record<string, unknown>);
      return out;
    });
  }

  async listModels(): Promise<ModelSummary[]> {
    return this.call(async () => {
      const out: ModelSummary[] = [];
      for await (const m of this.client.listModels(undefined, false)) {
        const name = m.displayName as Record<string, string> | undefined;
        out.push({ id: m.id, displayName: name?.en ?? (name ? Object.values(name)[0] : undefined), uploadTime: m.uploadTime?.toISOString(), decommissioned: m.decommissioned ?? false });
      }
      return out;
    });
  }

  async listIncomingRelationships(id: string): Promise<Record<string, unknown>[]> {
    return this.call(async () => {
      const out: Record<string, unknown>[] = [];
      // The SDK camel-cases incoming relationships; give API callers ADT's wire names, like outgoing ones.
      for await (const r of this.client.listIncomingRelationships(id)) {
        out.push({ $relationshipId: r.relationshipId, $sourceId: r.sourceId, $relationshipName: r.relationshipName, $relationshipLink: r.relationshipLink });
      }
      return out;
    });
  }
}

interface RestErrorLike {
  name?: string;
  statusCode?: number;
  code?: string;
  message?: string;
  response?: { headers?: { get(name: string): string | undefined } };
}

/** ADT's error codes, and transport failures, as stable AppError codes. */
export function translateAdtError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const e = (error ?? {}) as RestErrorLike;
  const status = e.statusCode;
  const message = `Digital Twins: ${e.message ?? String(error)}`.slice(0, 500);
  if (status === undefined) {
    const aborted = e.name === 'AbortError' || e.code === 'ETIMEDOUT' || e.code === 'REQUEST_SEND_ERROR' || e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET';
    return new AppError('twins.unreachable', message, { status: 503, retryable: aborted || e.name === 'RestError', cause: error });
  }
  if (status === 404) return new AppError('twin.notFound', message, { status: 404, cause: error });
  if (status === 412) return new AppError('twin.etagMismatch', message, { status: 412, cause: error });
  if (status === 400) {
    const code = e.code === 'BadRequest' || e.code === undefined ? 'twins.badRequest' : `twins.${e.code.charAt(0).toLowerCase()}${e.code.slice(1)}`;
    return new AppError(code, message, { status: 400, cause: error });
  }
  if (status === 401 || status === 403) return new AppError('twins.forbidden', message, { status: 502, cause: error });
  const retryable = isTransientStatus(status);
  return new AppError(retryable ? 'twins.unavailable' : `twins.http${status}`, message, {
    status: retryable ? 503 : 502,
    retryable,
    retryAfterMs: parseRetryAfter(e.response?.headers?.get('retry-after')),
    cause: error,
  });
}
