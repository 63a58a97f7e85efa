/** Reading and checking HTTP requests, shared by the API modules. */
import { z } from 'zod';
import { AppError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { problem, type ApiResponse } from './problem.ts';
import type { ApiRequest } from './twin-api.ts';

export const twinId = z.string().min(1).max(256).regex(/^[^\u0000-\u001f]+$/, 'twin ids cannot contain control characters');

/** Wraps a handler so whatever it throws leaves as problem+json. */
export const guardedBy =
  (logger: Logger) =>
  (op: (req: ApiRequest) => Promise<ApiResponse>) =>
  async (req: ApiRequest): Promise<ApiResponse> => {
    try {
      return await op(req);
    } catch (error) {
      return problem(error, new URL(req.url).pathname, logger);
    }
  };

export const json = (status: number, body: unknown): ApiResponse => ({ status, headers: { 'content-type': 'application/json' }, jsonBody: body });

export async function readJson(request: ApiRequest, maxBytes: number): Promise<unknown> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > maxBytes) throw new AppError('request.tooLarge', `body is ${declared} bytes; the limit is ${maxBytes}`, { status: 413 });
  const type = request.headers.get('content-type') ?? 'application/json';
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) throw new AppError('request.unsupportedMediaType', `send application/json, not ${type}`, { status: 415 });
  const text = await request.text();
  if (Buffer.byteLength(text) > maxBytes) throw new AppError('request.tooLarge', `body is over the ${maxBytes}-byte limit`, { status: 413 });
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new AppError('request.invalidJson', `body is not valid JSON: ${(error as Error).message}`, { status: 400 });
  }
}

export function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${i.path.join('.') || what}: ${i.message}`);
  throw new AppError('request.invalid', issues.join('; '), { status: 400, detail: { issues } });
}

