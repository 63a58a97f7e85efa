/**
 * Command-line options for the project's entry points: node:util's parseArgs, except that an
 * option mistyped or missing its value ends the process with the reason and the usage (exit 2),
 * not a stack trace.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export function parseCommandLine<T extends ParseArgsConfig>(usage: string, config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    if (!String((error as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS')) throw error;
    refuse(usage, (error as Error).message);
  }
}

/**
 * A number option's value within its bounds (`above` excludes its bound, `min` and `max` include
 * theirs), or the same exit 2 with the reason and usage.
 */
export function numberOption(usage: string, name: string, text: string, { above = -Infinity, min = -Infinity, max = Infinity, integer = false } = {}): number {
  const value = text.trim() === '' ? Number.NaN : Number(text);
  if (value > above && value >= min && value <= max && (!integer || Number.isInteger(value))) return value;
  const bounds = min > -Infinity && max < Infinity ? `from ${min} to ${max}` : [above > -Infinity && `above ${above}`, min > -Infinity && `at least ${min}`, max < Infinity && `at most ${max}`].filter(Boolean).join(' and ');
  refuse(usage, `--${name} must be ${integer ? 'a whole number' : 'a number'}${bounds ? ` ${bounds}` : ''}, not '${text}'`);
}

/** A `RUN/REST` option (seconds, each above 0): how long equipment runs, then rests, in turn. */
export function shiftOption(usage: string, name: string, text: string): { runSeconds: number; restSeconds: number } {
  const parts = text.split('/');
  const [runSeconds, restSeconds] = parts.map((p) => (p.trim() === '' ? Number.NaN : Number(p)));
  if (parts.length === 2 && runSeconds! > 0 && restSeconds! > 0 && Number.isFinite(runSeconds) && Number.isFinite(restSeconds)) return { runSeconds: runSeconds!, restSeconds: restSeconds! };
  refuse(usage, `--${name} must be RUN/REST, two numbers of seconds above 0 (e.g. 240/120), not '${text}'`);
}

/**
 * A `DEVICE:SENSOR@FROM` or `DEVICE:SENSOR@FROM-TO` option (seconds after the start): a probe that
 * stops answering. `problemOf` says why the plant cannot have it (no such device or sensor), if so.
 */
export function probeFailureOption(usage: string, name: string, text: string, problemOf: (deviceId: string, sensor: string) => string | undefined): { deviceId: string; sensor: string; fromSeconds: number; toSeconds?: number } {
  const m = /^([\w.-]+):(\w+)@(.+)$/.exec(text.trim());
  const span = m && secondsSpan(m[3]!);
  if (!m || !span) refuse(usage, `--${name} must be DEVICE:SENSOR@FROM or DEVICE:SENSOR@FROM-TO, seconds after the start, TO after FROM (e.g. conveyor-002:motorTemperature@60-600), not '${text}'`);
  const problem = problemOf(m[1]!, m[2]!);
  if (problem) refuse(usage, `--${name} ${text}: ${problem}`);
  return { deviceId: m[1]!, sensor: m[2]!, ...span };
}

/**
 * A `DEVICE@FROM` or `DEVICE@FROM-TO` option (seconds after the start): a device that sends
 * nothing then. `problemOf` says why the plant cannot have it (no such device), if so.
 */
export function silenceOption(usage: string, name: string, text: string, problemOf: (deviceId: string) => string | undefined): { deviceId: string; fromSeconds: number; toSeconds?: number } {
  const m = /^([\w.-]+)@(.+)$/.exec(text.trim());
  const span = m && secondsSpan(m[2]!);
  if (!m || !span) refuse(usage, `--${name} must be DEVICE@FROM or DEVICE@FROM-TO, seconds after the start, TO after FROM (e.g. conveyor-002@60-900), not '${text}'`);
  const problem = problemOf(m[1]!);
  if (problem) refuse(usage, `--${name} ${text}: ${problem}`);
  return { deviceId: m[1]!, ...span };
}

/** `FROM` or `FROM-TO`, seconds after the start, TO after FROM; undefined when the text is neither. */
function secondsSpan(text: string): { fromSeconds: number; toSeconds?: number } | undefined {
  const m = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(text);
  if (!m || (m[2] !== undefined && Number(m[2]) <= Number(m[1]))) return undefined;
  return { fromSeconds: Number(m[1]), ...(m[2] !== undefined ? { toSeconds: Number(m[2]) } : {}) };
}

/** A TCP port option's value (0 for a free one). */
export const portOption = (usage: string, name: string, text: string): number => numberOption(usage, name, text, { min: 0, max: 65_535, integer: true });

function refuse(usage: string, reason: string): never {
  process.stderr.write(`${reason}\n${usage}\n`);
  process.exit(2);
}
