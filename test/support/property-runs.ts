/**
 * A property test's fast-check parameters: its own fixed seed and runs, so that a failure
 * reproduces; or, for a hunting run, the seed in PROPERTY_SEED and PROPERTY_RUNS times as many runs
 * (`PROPERTY_SEED=7 PROPERTY_RUNS=3 npx vitest run --testTimeout=600000 test/unit/*-properties.test.ts`).
 * Hunting runs with other seeds found most of what the fixed seeds had not.
 */
export function propertyRuns(seed: number, numRuns: number): { seed: number; numRuns: number } {
  const hunt = process.env.PROPERTY_SEED;
  if (hunt === undefined || hunt === '') return { seed, numRuns };
  return { seed: Number(hunt), numRuns: Math.max(1, Math.round(numRuns * Number(process.env.PROPERTY_RUNS ?? 1))) };
}
