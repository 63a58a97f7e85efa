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
    process.stderr.write(`${(error as Error).message}\n${usage}\n`);
    process.exit(2);
  }
}
