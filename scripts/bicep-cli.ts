/**
 * Finds the Bicep CLI for `npm run infra:check`, in this order:
 *   1. BICEP_PATH;
 *   2. the copy `az bicep install` keeps (~/.azure/bin/bicep), or `bicep` on PATH;
 *   3. the copy restored from NuGet into .tools/nuget (Azure.Bicep.CommandLine.<rid>), restoring it
 *      with `dotnet restore tools/bicep/bicep-cli.csproj` when dotnet is there and it is not yet;
 *   4. bicep-node's installer (downloads from GitHub releases: works where GitHub is reachable).
 * Undefined when none works; the caller decides whether that is an error (it is when CI=true).
 *
 *   npx tsx scripts/bicep-cli.ts      prints the path, restoring or installing as needed
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Bicep } from 'bicep-node';
import { projectRoot } from '../src/lib/paths.ts';

export const BICEP_VERSION = '0.49.2';

const exe = process.platform === 'win32' ? 'bicep.exe' : 'bicep';
const runs = (path: string) => {
  try {
    return /Bicep CLI version/.test(execFileSync(path, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 }));
  } catch {
    return false;
  }
};

function onPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, exe);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** NuGet's runtime id for this machine, as the CLI packages are named. */
function rid(): string | undefined {
  const os = process.platform === 'linux' ? 'linux' : process.platform === 'darwin' ? 'osx' : process.platform === 'win32' ? 'win' : undefined;
  const arch = process.arch === 'x64' ? 'x64' : process.arch === 'arm64' ? 'arm64' : undefined;
  return os && arch ? `${os}-${arch}` : undefined;
}

function fromNuGet(log: (line: string) => void): string | undefined {
  const id = rid();
  if (!id) return undefined;
  const root = projectRoot();
  const cli = join(root, '.tools', 'nuget', `azure.bicep.commandline.${id}`, BICEP_VERSION, 'tools', exe);
  if (!existsSync(cli)) {
    try {
      execFileSync('dotnet', ['--version'], { stdio: 'ignore' });
    } catch {
      return undefined;
    }
    log(`restoring the Bicep CLI ${BICEP_VERSION} from NuGet (Azure.Bicep.CommandLine.${id})`);
    try {
      execFileSync('dotnet', ['restore', join(root, 'tools', 'bicep', 'bicep-cli.csproj'), '--packages', join(root, '.tools', 'nuget'), `-p:BicepRid=${id}`, '--nologo', '-v', 'q'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
    } catch (error) {
      log(`dotnet restore failed: ${String((error as { stderr?: Buffer }).stderr ?? error).trim().split('\n').slice(-3).join(' ')}`);
      return undefined;
    }
  }
  if (!existsSync(cli)) return undefined;
  chmodSync(cli, 0o755); // NuGet does not keep the executable bit
  return cli;
}

export async function locateBicep(log: (line: string) => void = () => {}): Promise<string | undefined> {
  const candidates = [process.env.BICEP_PATH, join(homedir(), '.azure', 'bin', exe), onPath()];
  for (const c of candidates) if (c && existsSync(c) && runs(c)) return c;
  const restored = fromNuGet(log);
  if (restored && runs(restored)) return restored;
  try {
    const dir = join(projectRoot(), '.tools', 'bicep-install');
    mkdirSync(dir, { recursive: true });
    log(`installing the Bicep CLI ${BICEP_VERSION} with bicep-node`);
    const installed = await Bicep.install(dir, BICEP_VERSION);
    if (runs(installed)) return installed;
  } catch (error) {
    log(`bicep-node could not install the CLI: ${(error as Error).message}`);
  }
  return undefined;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const path = await locateBicep((line) => process.stderr.write(`${line}\n`));
  if (!path) {
    process.stderr.write('no Bicep CLI: set BICEP_PATH, run `az bicep install`, or install the .NET SDK so it can be restored from NuGet\n');
    process.exitCode = 1;
  } else process.stdout.write(`${path}\n`);
}
