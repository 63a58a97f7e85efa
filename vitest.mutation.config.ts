/**
 * The tests Stryker runs against each mutant (npm run bench:mutation): the unit and contract
 * suites, which cover the promise-keeping modules directly. The end-to-end and browser suites
 * start whole stacks and would make every mutant cost seconds; they still run in npm test.
 */
import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

export default defineConfig({ test: { ...base.test, include: ['test/unit/**/*.test.ts', 'test/contract/**/*.test.ts'] } });
