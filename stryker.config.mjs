// Mutation testing of the modules that keep the product's promises (npm run bench:mutation).
// Incremental: a rerun only tries mutants whose code or covering tests changed.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'vitest.mutation.config.ts', related: false },
  coverageAnalysis: 'perTest',
  // Module-level constants run at import, so every test covers them: trying each would take half
  // the run. They are reported as ignored.
  ignoreStatic: true,
  mutate: [
    'src/lib/pipeline.ts', // no duplicates, no twin moving backwards, effects after the store
    'src/lib/twins/twin-update.ts', // never backwards, If-Match re-plans
    'src/lib/telemetry/recent-keys.ts', // replays dropped
    'src/lib/telemetry/decode.ts:205-235', // store keys (device time in the message key)
    'src/lib/store/rows.ts', // store rows and their keys
    'src/emulators/event-log/event-log.ts', // nothing acknowledged before it is durable; torn tails
    'src/local/trigger-runner.ts', // checkpoints only after success
    'src/emulators/sas.ts', // SAS tokens
    'src/emulators/iothub/server.ts:149-215', // who may connect, publish and answer what, and how much
    'src/lib/secrets.ts', // API keys and secrets compared whole
    'src/local/http-host.ts:117-131', // routing, 405 and the API key check
    // Query limits only (length, JOINs, hops and hop ranges, AND/OR terms, nesting, IN items):
    // the rest of the parser is the query language's grammar, tested by the conformance suite.
    'src/emulators/adt/query/parse.ts:205-207',
    'src/emulators/adt/query/parse.ts:280-280',
    'src/emulators/adt/query/parse.ts:293-305',
    'src/emulators/adt/query/parse.ts:331-348',
    'src/emulators/adt/query/parse.ts:360-405',
    'src/emulators/adt/query/parse.ts:440-440',
    'src/emulators/adt/query/parse.ts:500-503',
    'src/emulators/adt/json-patch.ts',
    'src/lib/alerts/alarm-lifecycle.ts', // one card per incident, no chattering, shelving
    'src/lib/commands/stop-policy.ts', // stop interlocks
    'src/lib/alerts/alarm-performance.ts', // the alarm load as ISA-18.2 and EEMUA 191 measure it
  ],
  incremental: true,
  incrementalFile: '.stryker/incremental.json',
  concurrency: 2,
  // A mutant that makes a test hang is caught as a timeout; waiting longer finds nothing more.
  timeoutMS: 5_000,
  reporters: ['progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  ignorePatterns: ['.stryker-tmp*', '.data', '.bench-build', 'dist', '.scratch', 'test-results', 'reports', '.stryker'],
  cleanTempDir: 'always',
};
