/**
 * One error type for the whole product. Adapters translate SDK and transport failures into it,
 * the pipeline reads `retryable` to decide between "dead-letter and go on" and "fail the batch so
 * the host retries it", and the HTTP layer renders it once as problem+json (RFC 9457).
 */
export interface AppErrorOptions {
  status?: number;
  retryable?: boolean;
  /** Milliseconds the far end asked us to wait (Retry-After), when it said so. */
  retryAfterMs?: number;
  detail?: Record<string, unknown>;
  cause?: unknown;
}

export class AppError extends Error {
  readonly code: string;
  readonly httpStatus: number;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly detail: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.httpStatus = options.status ?? 500;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.detail = options.detail;
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

/** Statuses a far end uses for "try again later". */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Parses a Retry-After header (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** An HTTP failure from a far end, classified once for every fetch-based adapter. */
export function httpError(service: string, status: number, body: string, retryAfter?: string | null): AppError {
  const retryable = isTransientStatus(status);
  return new AppError(`${service}.http${status}`, `${service} answered ${status}: ${body.slice(0, 300)}`, {
    status: retryable ? 503 : 502,
    retryable,
    retryAfterMs: parseRetryAfter(retryAfter),
  });
}
