/**
 * Running a service of the local stack in a Node process of its own (npm start, bench:e2e), and
 * being one: started with exit-with-parent preloaded (it goes when its starter goes, even killed)
 * in its own process group (Ctrl-C reaches the starter alone, which stops services in order).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { projectRoot } from '../lib/paths.ts';

const EXIT_WITH_PARENT = pathToFileURL(fileURLToPath(new URL('./exit-with-parent.ts', import.meta.url))).href;

/** Starts a TypeScript entry point (`script`, a path) as a service; its stdout is piped unless `inherit`. */
export function spawnService(script: string, args: readonly string[], options: { stdout?: 'pipe' | 'inherit'; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  const child = spawn(process.execPath, [...process.execArgv, '--import', EXIT_WITH_PARENT, script, ...args], {
    cwd: projectRoot(),
    env: options.env ?? process.env,
    stdio: ['pipe', options.stdout ?? 'pipe', 'inherit'],
    detached: true,
  });
  child.stdin!.on('error', () => {}); // it may be gone first
  return child;
}

/**
 * The JSON line a service prints on stdout once it is ready; fails if it exits before. Later lines
 * go to `later` (else they are read and dropped, so the service never blocks on a full pipe).
 */
export function readyLine(child: ChildProcess, name: string, later?: (line: string) => void): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let ready = false;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (ready) return later?.(line);
      ready = true;
      try {
        resolve(JSON.parse(line) as Record<string, unknown>);
      } catch {
        reject(new Error(`${name} printed '${line}' where its ready line (JSON) was due`));
      }
    });
    child.once('exit', (code, signal) => {
      if (!ready) reject(new Error(`${name} exited (${signal ?? code}) before it was ready`));
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
export async function stopService(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** For a service's own entry point: on SIGINT or SIGTERM, run `close` once, then exit. */
export function exitOnSignal(close: () => Promise<unknown>): void {
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void close().finally(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
