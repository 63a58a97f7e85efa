/**
 * The strongest check of infra/ that runs without the Bicep CLI (which cannot be downloaded
 * here): every .bicep file parsed with the Bicep tree-sitter grammar, module wiring (paths,
 * parameters, outputs), resource API versions against a list taken from the Azure template
 * reference, the app settings the code reads, and no secret as a plain app setting.
 *
 *   npm run infra:check        (also run by npm test)
 *   az bicep build --file infra/main.bicep   where the Bicep CLI exists: the authoritative check
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import { Language, Parser, type Node } from 'web-tree-sitter';

export interface BicepFile {
  path: string;
  /** name → has a default value */
  params: Map<string, { hasDefault: boolean; secure: boolean }>;
  outputs: Set<string>;
  modules: { symbol: string; path: string; params: Map<string, string> }[];
  /** Every 'Namespace/type@version' string used in a resource declaration. */
  resourceTypes: { type: string; version: string; line: number }[];
  /** Dotted references: symbol.outputs.name */
  outputRefs: { symbol: string; output: string; line: number }[];
  syntaxErrors: string[];
  /** Object properties by path, e.g. resource symbol → property → value text (for app settings). */
  root: Node;
  text: string;
}

let parser: Parser | undefined;
async function bicepParser(): Promise<Parser> {
  if (parser) return parser;
  await Parser.init();
  const require = createRequire(import.meta.url);
  const language = await Language.load(require.resolve('tree-sitter-bicep/tree-sitter-bicep.wasm'));
  parser = new Parser();
  parser.setLanguage(language);
  return parser;
}

const unquote = (s: string) => s.replace(/^'|'$/g, '');
const childrenOf = (n: Node) => n.children.filter((c): c is Node => c !== null);
/** Named children only: keywords and punctuation left out. */
const named = (n: Node) => n.namedChildren.filter((c): c is Node => c !== null);

function objectProperties(obj: Node | undefined): Map<string, Node> {
  const out = new Map<string, Node>();
  if (!obj || obj.type !== 'object') return out;
  for (const prop of named(obj)) {
    if (prop.type !== 'object_property') continue;
    const [key, value] = named(prop);
    if (key && value) out.set(unquote(key.text), value);
  }
  return out;
}

export async function parseBicep(path: string): Promise<BicepFile> {
  const text = readFileSync(path, 'utf8');
  const tree = (await bicepParser()).parse(text)!;
  const file: BicepFile = { path, params: new Map(), outputs: new Set(), modules: [], resourceTypes: [], outputRefs: [], syntaxErrors: [], root: tree.rootNode, text };
  let secureNext = false;
  const visit = (n: Node) => {
    if (n.type === 'ERROR' || n.isMissing) file.syntaxErrors.push(`${relative(process.cwd(), path)}:${n.startPosition.row + 1}:${n.startPosition.column + 1}: cannot parse '${n.text.slice(0, 40)}'`);
    if (n.type === 'member_expression') {
      const m = /^(\w+)\.outputs\.(\w+)/.exec(n.text);
      if (m && n.parent?.type !== 'member_expression') file.outputRefs.push({ symbol: m[1]!, output: m[2]!, line: n.startPosition.row + 1 });
    }
    for (const c of childrenOf(n)) visit(c);
  };
  visit(tree.rootNode);
  for (const decl of named(tree.rootNode)) {
    const parts = named(decl);
    if (decl.type === 'comment') continue;
    if (decl.type === 'decorators') {
      secureNext = /@secure\(\)/.test(decl.text);
      continue;
    }
    if (decl.type === 'parameter_declaration') {
      file.params.set(parts[0]!.text, { hasDefault: parts.length > 2 && parts[parts.length - 1]!.type !== 'type', secure: secureNext });
    } else if (decl.type === 'output_declaration') {
      file.outputs.add(parts[0]!.text);
    } else if (decl.type === 'module_declaration') {
      const body = parts.find((p) => p.type === 'object') ?? (() => { const cond = parts.find((p) => p.type === 'if_statement'); return cond ? named(cond).find((c) => c.type === 'object') : undefined; })();
      const params = new Map<string, string>();
      for (const [k, v] of objectProperties(objectProperties(body ?? undefined).get('params'))) params.set(k, v.text);
      file.modules.push({ symbol: parts[0]!.text, path: unquote(parts[1]!.text), params });
    }
    secureNext = false;
  }
  const resources = (n: Node) => {
    if (n.type === 'resource_declaration') {
      const typeText = unquote(named(n)[1]!.text);
      const [type, version] = typeText.split('@');
      file.resourceTypes.push({ type: type!, version: version ?? '', line: n.startPosition.row + 1 });
    }
    for (const c of childrenOf(n)) resources(c);
  };
  resources(tree.rootNode);
  return file;
}

/** The app settings a resource's `properties` object sets: name → value expression. */
export function appSettings(file: BicepFile, resourceSymbol: string): Map<string, string> {
  for (const decl of named(file.root)) {
    if (decl.type !== 'resource_declaration' || named(decl)[0]!.text !== resourceSymbol) continue;
    const body = named(decl).find((c) => c.type === 'object');
    const props = objectProperties(objectProperties(body).get('properties'));
    return new Map([...props].map(([k, v]) => [k, v.text]));
  }
  return new Map();
}

export function bicepFiles(infraDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.bicep')) out.push(join(dir, e.name));
    }
  };
  walk(infraDir);
  return out.sort();
}

/** All problems found in infra/: an empty list means the check passed. */
export async function checkInfra(infraDir: string, knownApiVersions: Record<string, string[]>): Promise<string[]> {
  const problems: string[] = [];
  const files = new Map<string, BicepFile>();
  for (const path of bicepFiles(infraDir)) files.set(path, await parseBicep(path));
  for (const f of files.values()) {
    problems.push(...f.syntaxErrors);
    const where = relative(infraDir, f.path);
    for (const r of f.resourceTypes) {
      const known = knownApiVersions[r.type];
      if (!known) problems.push(`${where}:${r.line}: resource type ${r.type} is not in the list of known types`);
      else if (!known.includes(r.version)) problems.push(`${where}:${r.line}: ${r.type}@${r.version} is not a published API version (known: ${known.join(', ')})`);
    }
    const modules = new Map(f.modules.map((m) => [m.symbol, m]));
    for (const m of f.modules) {
      const target = join(dirname(f.path), m.path);
      const t = files.get(target);
      if (!existsSync(target) || !t) {
        problems.push(`${where}: module ${m.symbol} points at ${m.path}, which does not exist`);
        continue;
      }
      for (const p of m.params.keys()) if (!t.params.has(p)) problems.push(`${where}: module ${m.symbol} passes '${p}', which ${m.path} does not declare`);
      for (const [p, d] of t.params) if (!d.hasDefault && !m.params.has(p)) problems.push(`${where}: module ${m.symbol} does not pass required parameter '${p}' of ${m.path}`);
    }
    for (const ref of f.outputRefs) {
      const m = modules.get(ref.symbol);
      if (!m) continue;
      const t = files.get(join(dirname(f.path), m.path));
      if (t && !t.outputs.has(ref.output)) problems.push(`${where}:${ref.line}: ${ref.symbol}.outputs.${ref.output} does not exist in ${m.path}`);
    }
  }
  return problems;
}

async function main(): Promise<void> {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const known = JSON.parse(readFileSync(join(root, 'scripts', 'azure-api-versions.json'), 'utf8')) as Record<string, string[]>;
  const infraDir = join(root, 'infra');
  const problems = await checkInfra(infraDir, known);
  for (const p of problems) console.error(p);
  console.log(`infra:check ${bicepFiles(infraDir).length} files, ${problems.length} problem(s)`);
  if (problems.length) process.exitCode = 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void main();
