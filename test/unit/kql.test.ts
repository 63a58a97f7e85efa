/**
 * The KQL this project sends to Data Explorer, checked by Microsoft's own Kusto language service
 * (@kusto/language-service-next, the parser and analyzer behind Kusto's editors) against the
 * database the table script makes: the tables of src/lib/store/tables.ts and their deduplicating
 * materialized views. Zero errors, for every command of infra/kusto/tables.kql and every query the
 * adapter runs.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { KQL } from '../../src/lib/store/kusto-telemetry-store.ts';
import { TABLES } from '../../src/lib/store/tables.ts';

/* eslint-disable @typescript-eslint/no-explicit-any -- the language service is Bridge.NET output with global namespaces */
let K: any;
let globals: any;

beforeAll(() => {
  const require = createRequire(import.meta.url);
  require('@kusto/language-service-next/bridge.js');
  require('@kusto/language-service-next/Kusto.Language.Bridge.js');
  K = (globalThis as any).Kusto.Language;
  const S = K.Symbols;
  const schema = (columns: readonly (readonly [string, string])[]) => `(${columns.map(([n, t]) => `${n}:${t}`).join(', ')})`;
  const members: any[] = [];
  for (const t of TABLES) {
    members.push(new S.TableSymbol.$ctor7(t.name, schema(t.columns), null));
    members.push(new S.MaterializedViewSymbol.$ctor3(`${t.name}Deduped`, schema(t.columns), `${t.name} | summarize take_any(*) by ${t.key.join(', ')}`, null));
  }
  globals = K.GlobalState.Default.WithDatabase(new S.DatabaseSymbol.ctor('telemetry', members));
});

/** Every error the language service finds in `text` (warnings and suggestions left out). */
function errorsIn(text: string): string[] {
  const diagnostics = K.KustoCode.ParseAndAnalyze(text, globals).GetDiagnostics();
  const out: string[] = [];
  for (let i = 0; i < diagnostics.Count; i++) {
    const d = diagnostics.getItem(i);
    if (d.Severity === 'Error') out.push(`${d.Code} at ${d.Start}: ${d.Message} in: ${text.slice(Math.max(0, d.Start - 30), d.Start + 30)}`);
  }
  return out;
}

const script = readFileSync(new URL('../../infra/kusto/tables.kql', import.meta.url), 'utf8');
const commands = script.split(/\n\s*\n/).map((c) => c.trim()).filter((c) => c.startsWith('.'));

describe('KQL checked by the Kusto language service', () => {
  it('finds a wrong column, so a clean result means something', () => {
    expect(errorsIn('EquipmentTelemetry | where Temprature > 80').join()).toMatch(/KS142.*Temprature/);
    expect(errorsIn(".create ifnotexists materialized-view V on table EquipmentTelemetry { EquipmentTelemetry | summarize take_any(*) by Bogus }").join()).toMatch(/Bogus/);
  });

  it('every command of infra/kusto/tables.kql', () => {
    expect(commands.length).toBe(TABLES.length * 4);
    expect(commands.flatMap(errorsIn)).toEqual([]);
  });

  it.each(Object.entries(KQL))('the adapter\'s %s query', (_name, text) => {
    expect(errorsIn(text)).toEqual([]);
  });

  it("the alert rules' queries (infra/modules) against Azure Monitor's tables, whichever type `success` has", () => {
    const queries: string[] = [];
    for (const file of ['monitoring.bicep', 'iothub.bicep']) {
      const bicep = readFileSync(new URL(`../../infra/modules/${file}`, import.meta.url), 'utf8');
      const vars = new Map([...bicep.matchAll(/^var (\w+) = '([^']*)'$/gm)].map((m) => [m[1]!, m[2]!]));
      const resolve = (text: string) => text.replace(/\$\{(\w+)\}/g, (_, name: string) => vars.get(name)!);
      // A query written in place, or named by a variable.
      for (const m of bicep.matchAll(/^\s*query: (?:'(.*)'|(\w+))$/gm)) queries.push(resolve(m[1] ?? vars.get(m[2]!)!));
    }
    expect(queries).toHaveLength(7);
    const S = K.Symbols;
    for (const [success, query] of ['string', 'bool'].flatMap((type) => queries.map((q) => [type, q] as const))) {
      const tables = K.GlobalState.Default.WithDatabase(new S.DatabaseSymbol.ctor('monitor', [
        // Application Insights' (the three rules scoped to it) and Log Analytics' resource logs (the IoT Hub's route).
        new S.TableSymbol.$ctor7('traces', '(timestamp:datetime, message:string, severityLevel:int, operation_Name:string)', null),
        new S.TableSymbol.$ctor7('requests', `(timestamp:datetime, name:string, success:${success}, resultCode:string)`, null),
        new S.TableSymbol.$ctor7('AzureDiagnostics', '(TimeGenerated:datetime, ResourceProvider:string, Category:string, OperationName:string, Level:string, ResultDescription:string)', null),
      ]));
      const diagnostics = K.KustoCode.ParseAndAnalyze(query, tables).GetDiagnostics();
      const errors: string[] = [];
      for (let i = 0; i < diagnostics.Count; i++) if (diagnostics.getItem(i).Severity === 'Error') errors.push(diagnostics.getItem(i).Message);
      expect(errors, `${success}: ${query}`).toEqual([]);
    }
  });

  it('creates every backfilled materialized view asynchronously (a synchronous backfill fails the database script)', () => {
    const views = commands.filter((c) => /materialized-view/.test(c));
    expect(views).toHaveLength(TABLES.length);
    for (const v of views) if (/backfill\s*=\s*true/.test(v)) expect(v).toMatch(/^\.create async /);
  });
});
