/**
 * infra/ checked without the Bicep CLI (it cannot be downloaded here): every .bicep file parses
 * with the Bicep grammar, modules are wired to parameters and outputs that exist, every resource
 * uses a published API version, the Function App gets every setting the code reads, and no
 * secret is an app setting. `az bicep build --file infra/main.bicep` is the authoritative check
 * where the Bicep CLI exists.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { appSettings, checkInfra, parseBicep, type BicepFile } from '../../scripts/infra-check.ts';
import { configSchema } from '../../src/lib/config.ts';
import { TELEMETRY_INGEST_TRIGGER } from '../../src/lib/telemetry-ingest.ts';

const root = new URL('../../', import.meta.url).pathname;
const infra = join(root, 'infra');
const apiVersions = JSON.parse(readFileSync(join(root, 'scripts/azure-api-versions.json'), 'utf8')) as Record<string, string[]>;
let functionApp: BicepFile;
let main: BicepFile;
let settings: Map<string, string>;

beforeAll(async () => {
  functionApp = await parseBicep(join(infra, 'modules/functionapp.bicep'));
  main = await parseBicep(join(infra, 'main.bicep'));
  settings = appSettings(functionApp, 'settings');
});

describe('infra/ as the Bicep CLI would see it', () => {
  it('parses, wires modules to real parameters and outputs, and uses published API versions', async () => {
    expect(await checkInfra(infra, apiVersions)).toEqual([]);
  });

  describe('the check itself fails on broken Bicep', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'infra-check-'));
      mkdirSync(join(dir, 'modules'));
      writeFileSync(join(dir, 'modules/store.bicep'), "param name string\nparam location string = 'westeurope'\nresource s 'Microsoft.Storage/storageAccounts@2019-01-01' = {\n  name: name\n}\noutput id string = s.id\n");
      writeFileSync(join(dir, 'modules/ghost.bicep'), "resource x 'Microsoft.Made/up@2024-01-01' = {\n  name: 'x'\n}\n");
      writeFileSync(join(dir, 'main.bicep'), [
        "module store 'modules/store.bicep' = {",
        "  name: 'store'",
        '  params: { sku: \'LRS\' }',
        '}',
        "module gone 'modules/missing.bicep' = { name: 'gone' }",
        'output storeId string = store.outputs.identifier',
        'var broken = {',
      ].join('\n'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('names each problem with its file', async () => {
      const problems = (await checkInfra(dir, apiVersions)).join('\n');
      expect(problems).toMatch(/main\.bicep.*cannot parse/);
      expect(problems).toContain("module store passes 'sku', which modules/store.bicep does not declare");
      expect(problems).toContain("module store does not pass required parameter 'name'");
      expect(problems).toContain('module gone points at modules/missing.bicep, which does not exist');
      expect(problems).toContain('store.outputs.identifier does not exist in modules/store.bicep');
      expect(problems).toContain('Microsoft.Storage/storageAccounts@2019-01-01 is not a published API version');
      expect(problems).toContain('resource type Microsoft.Made/up is not in the list of known types');
    });
  });
});

describe('the Function App settings', () => {
  // Only meaningful on the developer's machine: the emulator's token and CA, the DuckDB file.
  const localOnly = new Set(['DIGITAL_TWINS_TOKEN', 'DIGITAL_TWINS_CA_FILE', 'DUCKDB_PATH', 'IOTHUB_CONNECTION_STRING', 'IOTHUB_CA_FILE']);

  it('set every setting the code reads', () => {
    const read = Object.keys(configSchema.shape).filter((k) => !localOnly.has(k));
    expect(read.filter((k) => !settings.has(k))).toEqual([]);
    expect([...localOnly].filter((k) => settings.has(k))).toEqual([]);
  });

  it('connect the trigger and the host by identity, not by connection string', () => {
    expect(settings.has(`${TELEMETRY_INGEST_TRIGGER.connection}__fullyQualifiedNamespace`)).toBe(true);
    expect(settings.has('AzureWebJobsStorage__accountName')).toBe(true);
    for (const [name] of settings) expect(name).not.toMatch(/ConnectionString$|^AzureWebJobsStorage$/);
    expect(settings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toBe("'Authorization=AAD'");
  });

  it('hold no secret: secrets are Key Vault references, and nothing lists keys', () => {
    const secretLike = [...settings.keys()].filter((k) => /KEY|SECRET|PASSWORD|TOKEN|WEBHOOK/.test(k));
    expect(secretLike.sort()).toEqual(['ML_ENDPOINT_KEY', 'TEAMS_WEBHOOK_URL']);
    for (const k of secretLike) expect(settings.get(k)).toMatch(/^\w+Reference$/);
    expect(functionApp.text).toMatch(/var mlKeyReference = .*'@Microsoft\.KeyVault\(SecretUri=\$\{mlKeySecretUri\}\)'/);
    expect(functionApp.text).toMatch(/var teamsWebhookReference = .*'@Microsoft\.KeyVault\(SecretUri=\$\{teamsWebhookSecretUri\}\)'/);
    for (const value of settings.values()) expect(value).not.toMatch(/listKeys|listConnectionStrings|SharedAccessKey/);
    expect([...functionApp.params.values()].some((p) => p.secure)).toBe(false);
  });
});

describe('azd', () => {
  const azureYaml = parseYaml(readFileSync(join(root, 'azure.yaml'), 'utf8')) as {
    infra: { path: string; module: string };
    services: Record<string, { host: string; language: string }>;
    hooks: { postprovision: { posix: { run: string } } };
  };

  it('deploys the Function App tagged with the service name azure.yaml uses', () => {
    const services = Object.entries(azureYaml.services);
    expect(services).toHaveLength(1);
    const [service, def] = services[0]!;
    expect(def.host).toBe('function');
    expect(main.text).toContain(`'azd-service-name': '${service}'`);
    expect(azureYaml.infra.module).toBe('main');
  });

  it('fills every required main.bicep parameter from main.parameters.json', () => {
    const parameters = Object.keys((JSON.parse(readFileSync(join(infra, 'main.parameters.json'), 'utf8')) as { parameters: object }).parameters);
    expect(parameters.filter((p) => !main.params.has(p))).toEqual([]);
    expect([...main.params].filter(([p, d]) => !d.hasDefault && !parameters.includes(p)).map(([p]) => p)).toEqual([]);
  });

  it('runs the post-provision script after provisioning, with the outputs it reads', () => {
    expect(azureYaml.hooks.postprovision.posix.run).toBe('npx tsx scripts/post-provision.ts');
    for (const output of ['DIGITAL_TWINS_URL', 'IOTHUB_HOSTNAME']) expect(main.outputs.has(output)).toBe(true);
  });
});
