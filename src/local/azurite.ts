/**
 * Azurite, Microsoft's storage emulator (the `azurite` npm package), as the local stack's
 * AzureWebJobsStorage: its blob service in a child process of its own, state in a folder. The
 * Event Hubs checkpoints and partition ownership live there, as they do in a storage account.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { createInterface } from 'node:readline';

/** Azurite's well-known development account (published by Microsoft; local only). */
export const DEVSTORE_ACCOUNT = 'devstoreaccount1';
export const DEVSTORE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  blobPort: number;
  pid: number | undefined;
  /** `UseDevelopmentStorage=true` on the default port; the explicit form on any other. */
  connectionString: string;
  close(): Promise<void>;
}

export function storageConnectionString(blobPort: number): string {
  return blobPort === 10000
    ? 'UseDevelopmentStorage=true'
    : `DefaultEndpointsProtocol=http;AccountName=${DEVSTORE_ACCOUNT};AccountKey=${DEVSTORE_KEY};BlobEndpoint=http://127.0.0.1:${blobPort}/${DEVSTORE_ACCOUNT};`;
}

/** Starts Azurite's blob service on `port` (0: a free one) with its state in `location`. */
export async function startAzurite(options: { location: string; port?: number }): Promise<Azurite> {
  mkdirSync(options.location, { recursive: true });
  const main = createRequire(import.meta.url).resolve('azurite/dist/src/blob/main.js');
  // --skipApiVersionCheck: the storage SDK may be newer than this Azurite (AZURE-SDK-NOTES).
  const args = ['--blobHost', '127.0.0.1', '--blobPort', String(options.port ?? 10000), '--location', options.location, '--skipApiVersionCheck', '--disableTelemetry', '--loose'];
  // Azurite goes when its parent goes, even when the parent is killed (its stdin pipe closes):
  // a crashed stack must not leave the port taken for the next start.
  const boot = `process.argv = [process.argv[0], ${JSON.stringify(main)}, ...${JSON.stringify(args)}]; process.stdin.on('end', () => process.exit(0)).resume(); require(${JSON.stringify(main)});`;
  let child!: ChildProcess;
  let blobPort = 0;
  // A killed predecessor may hold the port for a moment: try again briefly.
  for (let attempt = 0; ; attempt++) {
    // Its own process group: a Ctrl-C meant for the stack does not stop it before what uses it.
    child = spawn(process.execPath, ['-e', boot], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const stderr: string[] = [];
    child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
    const c = child;
    try {
      blobPort = await new Promise<number>((resolve, reject) => {
        const lines = createInterface({ input: c.stdout! });
        lines.on('line', (line) => {
          const m = /successfully listens on https?:\/\/[^:]+:(\d+)/.exec(line);
          if (m) resolve(Number(m[1]));
        });
        c.once('exit', (code) => reject(new Error(`Azurite exited (${code}) before it listened: ${stderr.join('').trim()}`)));
      });
      break;
    } catch (error) {
      if (attempt >= 10 || !/EADDRINUSE/.test((error as Error).message)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  }
  child.stdout!.resume();
  child.stdin!.on('error', () => {}); // it may be gone first
  return {
    blobPort,
    pid: child.pid,
    connectionString: storageConnectionString(blobPort),
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin!.end();
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
