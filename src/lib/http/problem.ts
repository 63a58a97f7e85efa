/**
 * Every HTTP error leaves as RFC 9457 problem+json, from one mapping. AppError carries its own
 * status and stable code; anything else is a 500 whose details stay in the log.
 */
import { AppError, isAppError } from '../errors.ts';
import type { Logger } from '../log.ts';

export interface ApiResponse {
  status: number;
  headers?: Record<string, string>;
  jsonBody?: unknown;
  /** A non-JSON body (the dashboard's files). */
  body?: string | Buffer;
}

const titles: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  404: 'Not found',
  405: 'Method not allowed',
  412: 'Precondition failed',
  413: 'Payload too large',
  415: 'Unsupported media type',
  429: 'Too many requests',
  409: 'Conflict',
  500: 'Internal error',
  501: 'Not implemented',
  502: 'Bad gateway',
  503: 'Service unavailable',
};

export function problem(error: unknown, instance: string, logger: Logger): ApiResponse {
  const e = isAppError(error) ? error : new AppError('internal', 'An unexpected error occurred.', { status: 500, cause: error });
  if (!isAppError(error) || e.httpStatus >= 500) {
    logger.log('error', 'request failed', { instance, code: e.code, error: error instanceof Error ? error.message : String(error) });
  }
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  if (e.retryAfterMs !== undefined) headers['retry-after'] = String(Math.ceil(e.retryAfterMs / 1000));
  return {
    status: e.httpStatus,
    headers,
    jsonBody: {
      type: `urn:manufacturing-twins:problem:${e.code}`,
      title: titles[e.httpStatus] ?? 'Error',
      status: e.httpStatus,
      detail: e.message,
      code: e.code,
      instance,
      ...(e.detail ?? {}),
    },
  };
}
