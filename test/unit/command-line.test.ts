/**
 * Every command a user (or the local supervisor) runs answers a mistyped option with the reason
 * and its usage, exit code 2, never a stack trace, and starts nothing.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const ENTRY_POINTS = [
  'src/local/main.ts',
  'src/local/function-host-main.ts',
  'src/local/hub-process.ts',
  'src/simulator/main.ts',
  'src/emulators/adt/main.ts',
  'src/emulators/iothub/main.ts',
  'src/emulators/ml/main.ts',
  'src/cli/score.ts',
  'src/cli/train.ts',
  'src/cli/backtest.ts',
];

describe('a mistyped option', () => {
  it('gets the reason and the usage, exit code 2, from every entry point', { timeout: 120_000 }, async () => {
    const run = promisify(execFile);
    const outcomes = await Promise.all(
      ENTRY_POINTS.map(async (entry) => {
        const args = entry.endsWith('iothub/main.ts') ? ['serve', '--colour'] : ['--colour'];
        const failed = await run(process.execPath, ['--import', 'tsx', entry, ...args], { timeout: 60_000 }).then(
          () => ({ code: 0, stderr: '' }),
          (e: { code: number; stderr: string }) => e,
        );
        return { entry, code: failed.code, stderr: failed.stderr };
      }),
    );
    for (const { entry, code, stderr } of outcomes) {
      expect({ entry, code }).toEqual({ entry, code: 2 });
      expect(stderr, entry).toContain("Unknown option '--colour'");
      expect(stderr, entry).toMatch(/usage: /);
      expect(stderr, entry).not.toMatch(/^\s+at /m);
    }
  });

  it('of a twins command gets the same', async () => {
    const failed = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/twins.ts', 'query', '--colour'], { timeout: 60_000 }).catch((e: { code: number; stderr: string }) => e);
    expect((failed as { code: number }).code).toBe(2);
    expect((failed as { stderr: string }).stderr).toContain("Unknown option '--colour'");
  });
});
