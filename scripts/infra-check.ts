/**
 * infra/ checked by the real Bicep compiler and its linter (through bicep-node; the CLI is found
 * or restored by scripts/bicep-cli.ts): zero errors and zero warnings with the default rules. The
 * ARM JSON it emits is what the other checks (test/unit/infra.test.ts) read.
 *
 *   npm run infra:check        (also run by npm test; required when CI=true)
 */
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Bicep } from 'bicep-node';
import { locateBicep } from './bicep-cli.ts';

/** The parts of an ARM template the checks read. */
export interface ArmTemplate {
  parameters?: Record<string, { type: string; defaultValue?: unknown; allowedValues?: unknown[] }>;
  outputs?: Record<string, { type: string; value: unknown }>;
  resources: ArmResource[] | Record<string, ArmResource>;
}
export interface ArmResource {
  type: string;
  apiVersion?: string;
  name: string;
  tags?: unknown;
  dependsOn?: string[];
  properties?: Record<string, unknown> & { template?: ArmTemplate; parameters?: Record<string, { value: unknown }> };
  [key: string]: unknown;
}

export interface Compiled {
  /** `file:line:column: Level CODE message`, relative to the infra folder; empty when clean. */
  problems: string[];
  template: ArmTemplate | undefined;
}

/** A compiler session: starting the CLI takes seconds, so one is shared by every compile. */
export class BicepCompiler {
  private constructor(private readonly bicep: Bicep, readonly version: string) {}

  static async start(log: (line: string) => void = () => {}): Promise<BicepCompiler | undefined> {
    const path = await locateBicep(log);
    if (!path) return undefined;
    const bicep = await Bicep.initialize(path);
    return new BicepCompiler(bicep, await bicep.version());
  }

  /** Compiles `file` (and every module it reaches); warnings count as problems. */
  async compile(file: string): Promise<Compiled> {
    const result = await this.bicep.compile({ path: file });
    const base = dirname(file);
    const problems = result.diagnostics
      .filter((d) => d.level === 'Error' || d.level === 'Warning')
      .map((d) => `${relative(base, d.source)}:${d.range.start.line + 1}:${d.range.start.char + 1}: ${d.level} ${d.code} ${d.message}`);
    return { problems, template: result.success && result.contents ? (JSON.parse(result.contents) as ArmTemplate) : undefined };
  }

  dispose(): void {
    this.bicep.dispose();
  }
}

const resourcesOf = (t: ArmTemplate): ArmResource[] => (Array.isArray(t.resources) ? t.resources : Object.values(t.resources));

/** A module's deployment in the main template, by its deployment name. */
export function moduleDeployment(main: ArmTemplate, name: string): ArmResource | undefined {
  return resourcesOf(main).find((r) => r.type === 'Microsoft.Resources/deployments' && r.name === name);
}

/** The resources of a module's nested template. */
export function moduleResources(main: ArmTemplate, name: string): ArmResource[] {
  const template = moduleDeployment(main, name)?.properties?.template;
  return template ? resourcesOf(template) : [];
}

export function resourcesOfType(resources: ArmResource[], type: string): ArmResource[] {
  return resources.filter((r) => r.type.toLowerCase() === type.toLowerCase());
}

async function main(): Promise<void> {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const compiler = await BicepCompiler.start((line) => console.error(line));
  if (!compiler) {
    console.error('infra:check: no Bicep CLI (set BICEP_PATH, run `az bicep install`, or install the .NET SDK to restore it from NuGet)');
    process.exitCode = 1;
    return;
  }
  try {
    const { problems } = await compiler.compile(join(root, 'infra', 'main.bicep'));
    for (const p of problems) console.error(p);
    console.log(`infra:check Bicep ${compiler.version}: infra/main.bicep and its modules, ${problems.length} problem(s)`);
    if (problems.length) process.exitCode = 1;
  } finally {
    compiler.dispose();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
