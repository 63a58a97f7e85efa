#!/usr/bin/env node
// `npx twins …`: npm runs the project's own bin; the CLI is TypeScript, so tsx loads it in-process.
import { register } from 'tsx/esm/api';

register();
const { twinsCli } = await import('../src/cli/twins.ts');
process.exitCode = await twinsCli(process.argv.slice(2));
