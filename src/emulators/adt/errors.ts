/** An error the emulator answers with, in ADT's shape: {"error": {"code", "message"}}. */
export class AdtError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'AdtError';
  }
}

export const notFound = (what: string, id: string, code: string) => new AdtError(404, code, `There is no ${what} with the id ${id}.`);
export const badRequest = (code: string, message: string) => new AdtError(400, code, message);
