/**
 * Every command a user (or the local supervisor) runs answers a mistyped option with the reason
 * and its usage, exit code 2, never a stack trace, and starts nothing.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

  it('that is a number out of bounds or no number at all is refused the same way, before anything starts', { timeout: 120_000 }, async () => {
    const run = promisify(execFile);
    const cases: Array<[string, string[], string]> = [
      ['src/local/main.ts', ['--api-port', 'abc'], "--api-port must be a whole number from 0 to 65535, not 'abc'"],
      ['src/local/main.ts', ['--rate', '0'], "--rate must be a number above 0, not '0'"],
      ['src/emulators/adt/main.ts', ['--port', '70000'], "--port must be a whole number from 0 to 65535, not '70000'"],
      ['src/emulators/ml/main.ts', ['--port', '1.5'], "--port must be a whole number from 0 to 65535, not '1.5'"],
      ['src/emulators/iothub/main.ts', ['serve', '--port', ''], "--port must be a whole number from 0 to 65535, not ''"],
      ['src/local/hub-process.ts', ['--partitions', '0'], "--partitions must be a whole number from 1 to 32, not '0'"],
      ['src/local/function-host-main.ts', ['--eventhubs', 'x', '--api-port=-1'], "--api-port must be a whole number from 0 to 65535, not '-1'"],
      ['src/simulator/main.ts', ['--data', join(tmpdir(), 'no-such-stack'), '--anomaly-rate', '2'], "--anomaly-rate must be a number from 0 to 1, not '2'"],
      ['src/local/main.ts', ['--shift', '240'], "--shift must be RUN/REST, two numbers of seconds above 0 (e.g. 240/120), not '240'"],
      ['src/simulator/main.ts', ['--data', join(tmpdir(), 'no-such-stack'), '--shift', '240/0'], "--shift must be RUN/REST, two numbers of seconds above 0 (e.g. 240/120), not '240/0'"],
      ['src/local/main.ts', ['--probe-failure', 'conveyor-002:motorTemperature@600-60'], "--probe-failure must be DEVICE:SENSOR@FROM or DEVICE:SENSOR@FROM-TO, seconds after the start, TO after FROM (e.g. conveyor-002:motorTemperature@60-600), not 'conveyor-002:motorTemperature@600-60'"],
      ['src/local/main.ts', ['--probe-failure', 'conveyor-002:temperature@60'], "--probe-failure conveyor-002:temperature@60: conveyor-002 sends speed, load, motorTemperature, vibration, not 'temperature'"],
      ['src/simulator/main.ts', ['--data', join(tmpdir(), 'no-such-stack'), '--probe-failure', 'press-9:temperature@60'], '--probe-failure press-9:temperature@60: no device \'press-9\' in the plant'],
      ['src/local/main.ts', ['--silence', 'conveyor-002:60-900'], "--silence must be DEVICE@FROM or DEVICE@FROM-TO, seconds after the start, TO after FROM (e.g. conveyor-002@60-900), not 'conveyor-002:60-900'"],
      ['src/simulator/main.ts', ['--data', join(tmpdir(), 'no-such-stack'), '--silence', 'press-9@60'], '--silence press-9@60: no device \'press-9\' in the plant'],
    ];
    const outcomes = await Promise.all(
      cases.map(([entry, args]) => run(process.execPath, ['--import', 'tsx', entry, ...args], { timeout: 60_000 }).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e)),
    );
    outcomes.forEach(({ code, stderr }, i) => {
      const [entry, , reason] = cases[i]!;
      expect({ entry, code }).toEqual({ entry, code: 2 });
      expect(stderr.split('\n')[0], entry).toBe(reason);
      expect(stderr, entry).toMatch(/usage: /);
    });
  });
});
