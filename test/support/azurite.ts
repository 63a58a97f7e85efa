/** One Azurite for a test file, in a folder of its own, started before its tests and gone after them. */
import { afterAll, beforeAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAzurite, type Azurite } from '../../src/local/azurite.ts';

/** Call at the top of a test file; the returned function gives the running Azurite inside tests. */
export function azuriteForFile(name: string): () => Azurite {
  let azurite: Azurite | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `azurite-${name}-`));
    azurite = await startAzurite({ location: dir, port: 0 });
  }, 60_000);
  afterAll(async () => {
    await azurite?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return () => azurite!;
}
