/**
 * Structured logging through one small interface. In Azure the sink is the InvocationContext (so
 * lines land in Application Insights with the invocation id); elsewhere it is JSON lines on stderr.
 * Log ids and counts, never whole payloads.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | undefined | null>;

export interface Logger {
  log(level: LogLevel, message: string, fields?: LogFields): void;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function jsonLogger(name: string, minLevel: LogLevel = 'info', write = (line: string) => process.stderr.write(line)): Logger {
  return {
    log(level, message, fields) {
      if (order[level] < order[minLevel]) return;
      write(JSON.stringify({ t: new Date().toISOString(), level, logger: name, msg: message, ...fields }) + '\n');
    },
  };
}

export const silentLogger: Logger = { log() {} };

/** The shape of InvocationContext we log through; kept structural so src/lib never imports the host. */
export interface InvocationLogTarget {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

export function contextLogger(context: InvocationLogTarget): Logger {
  return {
    log(level, message, fields) {
      context[level](fields ? `${message} ${JSON.stringify(fields)}` : message);
    },
  };
}
