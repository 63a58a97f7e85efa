/**
 * npx twins <command> …  (or npm run twins -- <command> …)   the everyday tasks, against the local stack or Azure.
 *
 * Digital Twins: DIGITAL_TWINS_URL (default: the local emulator https://localhost:7443 with its CA
 * from <data>/adt/tls/ca.pem and a dev token; in Azure, your az/azd sign-in). IoT Hub:
 * IOTHUB_CONNECTION_STRING, or IOTHUB_HOSTNAME with your sign-in, or the local hub's registry.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ParseArgsConfig } from 'node:util';
import { parseCommandLine } from '../lib/command-line.ts';
import { ownValue } from '../lib/own-properties.ts';
import { DefaultAzureCredential } from '@azure/identity';
import type { DigitalTwinsClient } from '@azure/digital-twins-core';
import { digitalTwinsClient, StaticTokenCredential } from '../lib/twins/adt-twins.ts';
import { iotHubRegistry } from '../lib/commands/iothub-service.ts';
import { DeviceRegistry } from '../emulators/iothub/registry.ts';
import { parseModels } from '../lib/dtdl/parse.ts';
import { readModelDocuments, readModelFiles } from '../lib/dtdl/load.ts';

type Handler = (args: string[]) => Promise<number>;
interface Command {
  summary: string;
  usage: string;
  run: Handler;
}

const out = (line = '') => process.stdout.write(`${line}\n`);
const GLOBAL = `
Settings come from the environment: DIGITAL_TWINS_URL (default https://localhost:7443, the local
emulator), DIGITAL_TWINS_TOKEN, DIGITAL_TWINS_CA_FILE; IOTHUB_CONNECTION_STRING or IOTHUB_HOSTNAME;
--data DIR (default .data) is where the local stack keeps its state.`;

/** Parses a command's options; --help prints its usage. Returns undefined when help was shown. */
function options<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], usage: string, spec: T) {
  const parsed = parseCommandLine(usage + GLOBAL, { args, allowPositionals: true, options: { ...spec, help: { type: 'boolean', short: 'h' }, data: { type: 'string', default: '.data' } } as T & { help: { type: 'boolean'; short: string }; data: { type: 'string'; default: string } } });
  if ((parsed.values as { help?: boolean }).help) {
    out(usage + GLOBAL);
    return undefined;
  }
  return parsed;
}

function twinsClient(dataDir: string): DigitalTwinsClient {
  const endpoint = process.env.DIGITAL_TWINS_URL ?? 'https://localhost:7443';
  const local = /^https:\/\/(localhost|127\.0\.0\.1)/.test(endpoint);
  const caFile = process.env.DIGITAL_TWINS_CA_FILE ?? (local ? join(dataDir, 'adt', 'tls', 'ca.pem') : undefined);
  const token = process.env.DIGITAL_TWINS_TOKEN ?? (local ? 'local-development' : undefined);
  return digitalTwinsClient({ endpoint, credential: token ? new StaticTokenCredential(token) : new DefaultAzureCredential(), caPem: caFile && existsSync(caFile) ? readFileSync(caFile, 'utf8') : undefined });
}

function hubRegistry(dataDir: string) {
  if (process.env.IOTHUB_CONNECTION_STRING) return iotHubRegistry({ connectionString: process.env.IOTHUB_CONNECTION_STRING, caPem: process.env.IOTHUB_CA_FILE ? readFileSync(process.env.IOTHUB_CA_FILE, 'utf8') : undefined });
  if (process.env.IOTHUB_HOSTNAME) return iotHubRegistry({ hostName: process.env.IOTHUB_HOSTNAME, credential: new DefaultAzureCredential() });
  const file = join(dataDir, 'iothub', 'registry.json');
  if (!existsSync(file)) throw new Error(`no IoT Hub: set IOTHUB_CONNECTION_STRING or IOTHUB_HOSTNAME, or start the local stack (npm start) so ${file} exists`);
  const host = process.env.IOTHUB_LOCAL_HOST ?? 'localhost:8883';
  return iotHubRegistry({ connectionString: new DeviceRegistry(file).serviceConnectionString(host), caPem: readFileSync(join(dataDir, 'iothub', 'tls', 'ca.pem'), 'utf8') });
}

/** A table for a terminal: columns padded to their widest value. */
export function table(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '(no rows)';
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const widths = cols.map((c) => Math.min(60, Math.max(c.length, ...rows.map((r) => cell(r[c]).length))));
  const line = (vals: string[]) => vals.map((v, i) => (v.length > widths[i]! ? `${v.slice(0, widths[i]! - 1)}…` : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join('\n');
}

/**
 * Runs another of the project's entry points, passing its arguments through. Under `npm run twins` the
 * Node flags already load tsx; under `npx twins` tsx was registered in-process, so the child asks for it.
 */
function delegate(script: string): Handler {
  const nodeFlags = process.execArgv.length > 0 ? process.execArgv : ['--import', import.meta.resolve('tsx')];
  return (args) =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [...nodeFlags, fileURLToPath(new URL(script, import.meta.url)), ...args], { stdio: 'inherit' });
      child.on('exit', (code) => resolve(code ?? 1));
    });
}

const COMMANDS: Record<string, Command> = {
  devices: {
    summary: 'list, add, show or remove device identities in IoT Hub',
    usage: 'usage: twins devices list | add <id> | show <id> | remove <id>\n\nThrough azure-iothub against the hub (local or Azure). `add` and `show` print the device\'s connection string when the hub can give one.',
    run: async (args) => {
      const o = options(args, COMMANDS.devices!.usage, {});
      if (!o) return 0;
      const [sub, id] = o.positionals;
      const registry = hubRegistry(o.values.data as string);
      const need = () => {
        if (!id) throw new Error(`usage: twins devices ${sub} <device id>`);
        return id;
      };
      switch (sub) {
        case 'list': {
          const devices = (await registry.list()).responseBody;
          out(table(devices.map((d) => ({ deviceId: d.deviceId, status: d.status, connectionState: d.connectionState, lastActivityTime: d.lastActivityTime }))));
          return 0;
        }
        case 'add': {
          const created = (await registry.create({ deviceId: need(), status: 'enabled' })).responseBody;
          out(`added ${created.deviceId}`);
          return 0;
        }
        case 'show': {
          const d = (await registry.get(need())).responseBody;
          out(table([{ deviceId: d.deviceId, status: d.status, connectionState: d.connectionState, primaryKey: d.authentication?.symmetricKey?.primaryKey }]));
          return 0;
        }
        case 'remove':
          await registry.delete(need());
          out(`removed ${id}`);
          return 0;
        default:
          throw new Error(COMMANDS.devices!.usage);
      }
    },
  },
  models: {
    summary: 'list the models in Digital Twins, validate a DTDL folder, upload it',
    usage: 'usage: twins models list | validate [DIR] | upload [DIR]\n\nDIR defaults to dtdl/. upload sends only the models Digital Twins does not have yet, all or nothing.',
    run: async (args) => {
      const o = options(args, COMMANDS.models!.usage, {});
      if (!o) return 0;
      const [sub, dir] = o.positionals;
      if (sub === 'validate') {
        const set = await parseModels(readModelFiles(dir).flatMap((f) => f.documents));
        out(`${set.interfaces.size} interfaces valid${dir ? ` in ${dir}` : ''}`);
        return 0;
      }
      const client = twinsClient(o.values.data as string);
      if (sub === 'list') {
        const rows: Record<string, unknown>[] = [];
        for await (const m of client.listModels()) rows.push({ id: m.id, uploaded: m.uploadTime?.toISOString(), decommissioned: m.decommissioned ?? false });
        out(table(rows.sort((a, b) => String(a.id).localeCompare(String(b.id)))));
        return 0;
      }
      if (sub === 'upload') {
        const docs = readModelDocuments(dir) as { '@id': string }[];
        await parseModels(docs);
        const existing = new Set<string>();
        for await (const m of client.listModels()) existing.add(m.id);
        const missing = docs.filter((d) => !existing.has(d['@id']));
        if (missing.length) await client.createModels(missing);
        out(`uploaded ${missing.length} model(s); ${docs.length - missing.length} already there`);
        return 0;
      }
      throw new Error(COMMANDS.models!.usage);
    },
  },
  twins: {
    summary: 'get one twin, or list twins (optionally of one model)',
    usage: 'usage: twins twins get <id> | list [--model dtmi:…]',
    run: async (args) => {
      const o = options(args, COMMANDS.twins!.usage, { model: { type: 'string' } });
      if (!o) return 0;
      const [sub, id] = o.positionals;
      const client = twinsClient(o.values.data as string);
      if (sub === 'get' && id) {
        out(JSON.stringify((await client.getDigitalTwin(id)).body, null, 2));
        return 0;
      }
      if (sub === 'list') {
        const model = o.values.model as string | undefined;
        const q = `SELECT T.$dtId, T.$metadata.$model, T.status, T.healthStatus FROM DIGITALTWINS T${model ? ` WHERE IS_OF_MODEL(T, '${model.replace(/'/g, "\\'")}')` : ''}`;
        const rows: Record<string, unknown>[] = [];
        for await (const r of client.queryTwins(q)) rows.push(r as Record<string, unknown>);
        out(table(rows));
        return 0;
      }
      throw new Error(COMMANDS.twins!.usage);
    },
  },
  query: {
    summary: 'run a query in the ADT query language and print the rows',
    usage: 'usage: twins query "<query>" [--json] [--max N]\n\nPrints a table (or JSON lines); pages through the results, at most --max rows (default 1000).',
    run: async (args) => {
      const o = options(args, COMMANDS.query!.usage, { json: { type: 'boolean' }, max: { type: 'string', default: '1000' } });
      if (!o) return 0;
      const q = o.positionals.join(' ').trim();
      if (!q) throw new Error(COMMANDS.query!.usage);
      const max = Number(o.values.max);
      const rows: Record<string, unknown>[] = [];
      for await (const r of twinsClient(o.values.data as string).queryTwins(q)) {
        rows.push(r as Record<string, unknown>);
        if (rows.length >= max) break;
      }
      if (o.values.json) for (const r of rows) out(JSON.stringify(r));
      else out(table(rows));
      return 0;
    },
  },
  simulate: { summary: 'run simulated equipment against the local hub (see --help)', usage: '', run: delegate('../simulator/main.ts') },
  train: { summary: 'train the failure model into models/ (see --help)', usage: '', run: delegate('./train.ts') },
  score: { summary: 'add an anomaly_score column to a CSV (see --help)', usage: '', run: delegate('./score.ts') },
  backtest: { summary: 'replay stored telemetry against a ground-truth file (see --help)', usage: '', run: delegate('./backtest.ts') },
};

function help(): void {
  out('usage: npx twins <command> [options]   (or npm run twins -- …; each command takes --help)\n');
  for (const [name, c] of Object.entries(COMMANDS)) out(`  ${name.padEnd(10)} ${c.summary}`);
  out(GLOBAL);
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    help();
    return name ? 0 : 2;
  }
  // Own commands only: `toString` or `constructor` is a name like any other, not what every object inherits.
  const command = ownValue(COMMANDS, name);
  if (!command) {
    process.stderr.write(`twins: no command '${name}'\n\n`);
    help();
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    const e = error as Error & { statusCode?: number; code?: string };
    process.stderr.write(`twins ${name}: ${e.statusCode ? `(${e.statusCode}${e.code ? ` ${e.code}` : ''}) ` : ''}${e.message}\n`);
    return e.message.startsWith('usage:') ? 2 : 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main(process.argv.slice(2));
export { main as twinsCli, COMMANDS };
