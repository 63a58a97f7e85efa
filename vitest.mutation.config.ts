/**
 * The tests Stryker runs against each mutant (npm run bench:mutation): the unit and contract
 * suites (less the .NET client's), which cover the promise-keeping modules directly. The end-to-end and browser suites
 * start whole stacks and would make every mutant cost seconds; they still run in npm test.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

export default defineConfig({
  test: {
    ...base.test,
    include: ['test/unit/**/*.test.ts', 'test/contract/**/*.test.ts'],
    // The .NET client's test builds a .NET program first (seconds per rerun); the Node contract
    // suite covers the same modules.
    exclude: [...(base.test?.exclude ?? ['**/node_modules/**']), 'test/contract/event-hubs-dotnet.test.ts'],
    // Each mutant reruns its covering test files; the plant's parsed models are read back rather
    // than parsed again every time (see test/support/plant.ts).
    env: { ...base.test?.env, PLANT_OBJECT_MODEL_CACHE: join(tmpdir(), 'manufacturing-twins-mutation') },
  },
});
