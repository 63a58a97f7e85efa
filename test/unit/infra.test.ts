/**
 * infra/ as Azure will see it: compiled by the real Bicep CLI (0 errors, 0 linter warnings), then
 * the ARM JSON it emits read for what the code and azd rely on: every setting the code reads, no
 * secret in app settings, identity-based connections, the azd service tag on the app only, and
 * the ordering that lets role assignments apply before they are used. Where no Bicep CLI can be
 * found or restored the suite is skipped, except in CI (CI=true), where that is a failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { BicepCompiler, moduleDeployment, moduleResources, resourcesOfType, type ArmResource, type ArmTemplate } from '../../scripts/infra-check.ts';
import { configSchema } from '../../src/lib/config.ts';
import { DEAD_LETTERED_LOG, TELEMETRY_INGEST_FUNCTION, TELEMETRY_INGEST_TRIGGER } from '../../src/lib/telemetry-ingest.ts';
import { BATCH_REDELIVERY_FUNCTION } from '../../src/lib/batch-redelivery.ts';
import { REFUSED_READMISSION_FUNCTION } from '../../src/lib/refused-readings.ts';
import { ALERT_DELIVERY_FUNCTION } from '../../src/lib/alerts/alert-delivery.ts';
import { REFUSED_CONTAINER } from '../../src/lib/refused-readings.ts';
import { NOT_MEASURED_LOG, REFUSED_LOG } from '../../src/lib/pipeline.ts';
import { PLANT_SILENT_LOG } from '../../src/lib/alerts/communication-watch.ts';
import { DEFAULT_ROUTES } from '../../src/emulators/iothub/server.ts';
import { DEFAULT_PLANT, DEFAULT_READINGS_PER_SECOND } from '../../src/lib/plant/plant.ts';

const root = new URL('../../', import.meta.url).pathname;
const infra = join(root, 'infra');
/** What azd passes main.bicep: each parameter's value, `${VAR=default}` where azd fills it in. */
const azdParameters = (JSON.parse(readFileSync(join(infra, 'main.parameters.json'), 'utf8')) as { parameters: Record<string, { value: string }> }).parameters;
const compiler = await BicepCompiler.start();
if (!compiler && process.env.CI === 'true') throw new Error('no Bicep CLI: CI must check infra/ with the real compiler (scripts/bicep-cli.ts restores it from NuGet with dotnet)');

describe.skipIf(!compiler)('infra/ compiled by the Bicep CLI', () => {
  let main: ArmTemplate;
  let problems: string[];
  let settings: Record<string, unknown>;
  let site: ArmResource;
  let fnVariables: Record<string, string>;

  beforeAll(async () => {
    const compiled = await compiler!.compile(join(infra, 'main.bicep'));
    problems = compiled.problems;
    main = compiled.template!;
    const fn = moduleResources(main, 'functionapp');
    settings = resourcesOfType(fn, 'Microsoft.Web/sites/config')[0]!.properties!;
    site = resourcesOfType(fn, 'Microsoft.Web/sites')[0]!;
    fnVariables = (moduleDeployment(main, 'functionapp')!.properties!.template as unknown as { variables: Record<string, string> }).variables;
  }, 120_000);
  afterAll(() => compiler?.dispose());

  it('compiles with zero errors and zero warnings under the default linter rules', () => {
    expect(problems).toEqual([]);
    expect(main).toBeDefined();
  });

  describe('the check fails on broken Bicep, naming each fault', () => {
    let dir: string;
    let broken: string[];
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'infra-check-'));
      mkdirSync(join(dir, 'modules'));
      writeFileSync(join(dir, 'modules/store.bicep'), "param name string\nparam location string = 'westeurope'\nresource s 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: name\n  location: location\n  kind: 'StorageV2'\n  sku: { name: 'Standard_LRS' }\n  properties: { systemDatastoresAuthMode: 'identity' }\n}\noutput id string = s.id\n");
      writeFileSync(join(dir, 'main.bicep'), [
        "module store 'modules/store.bicep' = {",
        "  name: 'store'",
        "  params: { sku: 'LRS' }",
        '}',
        "module gone 'modules/missing.bicep' = { name: 'gone' }",
        'output storeId string = store.outputs.identifier',
        'param unused string',
      ].join('\n'));
      broken = (await compiler!.compile(join(dir, 'main.bicep'))).problems;
    }, 120_000);
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it.each([
      ['a parameter the module does not declare', /^main\.bicep:3:\d+: Error BCP037 .*"sku"/m],
      ['a required module parameter not passed', /^main\.bicep:3:\d+: Error BCP035 .*"name"/m],
      ['a module file that does not exist', /^main\.bicep:5:\d+: Error BCP091 /m],
      ['an output the module does not have', /^main\.bicep:6:\d+: Error BCP053 .*"identifier"/m],
      ['a property the resource schema does not have (warning)', /^modules\/store\.bicep:8:\d+: Warning BCP037 .*"systemDatastoresAuthMode"/m],
      ['a linter rule (unused parameter)', /^main\.bicep:7:\d+: Warning no-unused-params /m],
    ])('%s', (_what, expected) => {
      expect(broken.join('\n')).toMatch(expected);
    });
  });

  describe('the Function App settings', () => {
    // Only meaningful on the developer's machine: the emulator's token and CA, the DuckDB file,
    // Azurite's connection string (Azure's host storage is reached by its account name and identity).
    const localOnly = new Set(['DIGITAL_TWINS_TOKEN', 'DIGITAL_TWINS_CA_FILE', 'DUCKDB_PATH', 'IOTHUB_CONNECTION_STRING', 'IOTHUB_CA_FILE', 'AzureWebJobsStorage']);

    it('set every setting the code reads, and nothing local-only', () => {
      const read = Object.keys(configSchema.shape).filter((k) => !localOnly.has(k));
      expect(read.filter((k) => !(k in settings))).toEqual([]);
      expect([...localOnly].filter((k) => k in settings)).toEqual([]);
    });

    it('connect the trigger, the host and the SDKs with the app\'s user-assigned identity, never a connection string', () => {
      const clientId = "[parameters('identityClientId')]";
      expect(settings[`${TELEMETRY_INGEST_TRIGGER.connection}__fullyQualifiedNamespace`]).toBeDefined();
      expect(settings).toMatchObject({
        [`${TELEMETRY_INGEST_TRIGGER.connection}__credential`]: 'managedidentity',
        [`${TELEMETRY_INGEST_TRIGGER.connection}__clientId`]: clientId,
        AzureWebJobsStorage__credential: 'managedidentity',
        AzureWebJobsStorage__clientId: clientId,
        AZURE_CLIENT_ID: clientId,
      });
      expect(String(settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING)).toContain('Authorization=AAD;ClientId=');
      for (const name of Object.keys(settings)) expect(name).not.toMatch(/ConnectionString$|^AzureWebJobsStorage$/);
      expect(site.identity).toMatchObject({ type: 'UserAssigned' });
      expect((site.properties as Record<string, unknown>).keyVaultReferenceIdentity).toBe("[parameters('identityId')]");
    });

    it('hold no secret: the two secrets are Key Vault references, and nothing lists keys', () => {
      const secretLike = Object.keys(settings).filter((k) => /KEY|SECRET|PASSWORD|TOKEN|WEBHOOK/.test(k));
      expect(secretLike.sort()).toEqual(['ML_ENDPOINT_KEY', 'TEAMS_WEBHOOK_URL']);
      expect(settings.ML_ENDPOINT_KEY).toBe("[variables('mlKeyReference')]");
      expect(settings.TEAMS_WEBHOOK_URL).toBe("[variables('teamsWebhookReference')]");
      expect(fnVariables.mlKeyReference).toContain('@Microsoft.KeyVault(SecretUri={0})');
      expect(fnVariables.teamsWebhookReference).toContain('@Microsoft.KeyVault(SecretUri={0})');
      expect(JSON.stringify(settings)).not.toMatch(/listKeys|listConnectionStrings|SharedAccessKey/);
      const params = moduleDeployment(main, 'functionapp')!.properties!.template!.parameters ?? {};
      expect(Object.values(params).filter((p) => /^secure/i.test(p.type))).toEqual([]);
    });

    it('runs Node 22 and calls the ML endpoint only once a model is deployed behind it', () => {
      expect(JSON.stringify((site.properties as Record<string, unknown>).functionAppConfig)).toContain('"runtime":{"name":"node","version":"22"}');
      expect(settings.ML_ENDPOINT_URL).toBe("[if(parameters('mlModelDeployed'), parameters('mlScoringUrl'), '')]");
    });
  });

  const iotHubVariables = () => (moduleDeployment(main, 'iothub')!.properties!.template as unknown as { variables: Record<string, unknown> }).variables;

  it('keeps telemetry in the Event Hub for as long as Standard allows, because a failing batch holds its partition up until it goes through', () => {
    // The ingest never gives a failing batch up (the host would checkpoint past it): an outage of
    // the store lasts at most as long as the hub keeps what arrives meanwhile.
    expect(TELEMETRY_INGEST_TRIGGER.retry.maxRetryCount).toBe(-1);
    const namespace = resourcesOfType(moduleResources(main, 'eventhubs'), 'Microsoft.EventHub/namespaces')[0]!;
    expect((namespace as { sku?: { name?: string } }).sku?.name).toBe('Standard');
    const hub = resourcesOfType(moduleResources(main, 'eventhubs'), 'Microsoft.EventHub/namespaces/eventhubs')[0]!;
    expect(hub.properties!.messageRetentionInDays).toBe(7);
  });

  it('sizes the IoT Hub for the seeded plant: its machines at the simulator\'s rate stay within the daily message quota', () => {
    // Device messages a day per unit (4 KB each), as the template has them (its quota alert reads them too).
    const QUOTA = iotHubVariables().quotaPerUnit as Record<string, number>;
    expect(QUOTA).toEqual({ S1: 400_000, S2: 6_000_000, S3: 300_000_000 });
    const declared = main.parameters!;
    const azdDefault = (p: string) => /^\$\{[A-Z_]+=(.*)\}$/.exec(azdParameters[p]!.value)![1];
    // azd's default and the template's agree, so `azd up` and a bare deployment size the hub alike.
    expect(azdDefault('iotHubSku')).toBe(declared.iotHubSku!.defaultValue);
    expect(azdDefault('iotHubUnits')).toBe(declared.iotHubUnits!.defaultValue);
    const sku = String(declared.iotHubSku!.defaultValue);
    const units = Number(declared.iotHubUnits!.defaultValue);
    const perDay = DEFAULT_PLANT.equipment.length * DEFAULT_READINGS_PER_SECOND * 86_400;
    expect(perDay).toBeLessThanOrEqual(QUOTA[sku]! * units);
    const hub = resourcesOfType(moduleResources(main, 'iothub'), 'Microsoft.Devices/IotHubs')[0]!;
    expect((hub as { sku?: unknown }).sku).toEqual({ name: "[parameters('sku')]", capacity: "[parameters('units')]" });
    expect(moduleDeployment(main, 'iothub')!.properties!.parameters!.units!.value).toBe("[int(parameters('iotHubUnits'))]");
  });

  it('alerts operators when telemetry is held up: telemetryIngest failing in each of three 5-minute windows, by the name it is registered under', () => {
    const monitoring = moduleResources(main, 'monitoring');
    const rules = resourcesOfType(monitoring, 'Microsoft.Insights/scheduledQueryRules') as unknown as { name: string; properties: { windowSize: string; criteria: { allOf: { query: string; failingPeriods: unknown }[] }; actions: { actionGroups: string } } }[];
    const heldUp = rules.find((r) => r.name === "[parameters('heldUpAlertName')]")!;
    expect(heldUp.properties.criteria.allOf[0]!.query).toContain("variables('ingestFunction')");
    expect(heldUp.properties.criteria.allOf[0]!.failingPeriods).toEqual({ numberOfEvaluationPeriods: 3, minFailingPeriodsToAlert: 3 });
    expect(heldUp.properties.windowSize).toBe('PT5M');
    expect(heldUp.properties.actions.actionGroups).toBe("[variables('opsActionGroups')]");
    const variables = (moduleDeployment(main, 'monitoring')!.properties!.template as unknown as { variables: Record<string, string> }).variables;
    expect(variables.ingestFunction).toBe(TELEMETRY_INGEST_FUNCTION);
  });

  it("routes the devices' telemetry and their connection state events to the Event Hub the pipeline reads, as the local hub does", () => {
    const hub = resourcesOfType(moduleResources(main, 'iothub'), 'Microsoft.Devices/IotHubs')[0] as unknown as { properties: { routing: { routes: { name: string; source: string; condition: string; endpointNames: string[]; isEnabled: boolean }[] } } };
    const routes = hub.properties.routing.routes;
    expect(routes.map((r) => [r.name, r.source])).toEqual(DEFAULT_ROUTES.map((r) => [r.name, r.source ?? 'DeviceMessages']));
    for (const r of routes) expect(r).toMatchObject({ condition: 'true', endpointNames: ['telemetry-eventhub'], isEnabled: true });
  });

  it('alerts operators before telemetry is refused at the IoT Hub (80 % of its daily quota), when its route turns unhealthy, and when the hub drops any', () => {
    const alerts = resourcesOfType(moduleResources(main, 'iothub'), 'Microsoft.Insights/metricAlerts') as unknown as { properties: { scopes: string[]; severity: number; criteria: { allOf: { metricName: string; metricNamespace: string; timeAggregation: string; operator: string; threshold: unknown }[] }; copy?: { name: string; input: unknown }[] } }[];
    const byMetric = new Map(alerts.map((a) => [a.properties.criteria.allOf[0]!.metricName, a.properties]));
    expect([...byMetric.keys()].sort()).toEqual(['d2c.telemetry.egress.dropped', 'dailyMessageQuotaUsed']);
    for (const alert of byMetric.values()) {
      expect(alert.scopes).toEqual(["[resourceId('Microsoft.Devices/IotHubs', parameters('name'))]"]);
      expect(alert.criteria.allOf[0]).toMatchObject({ metricNamespace: 'Microsoft.Devices/IotHubs', operator: 'GreaterThan' });
      // The operations action group (when OPS_EMAIL is set), as for the kept-batch rule.
      expect(alert.copy?.[0]).toMatchObject({ name: 'actions', input: { actionGroupId: "[parameters('actionGroupIds')[copyIndex('actions')]]" } });
    }
    expect(byMetric.get('d2c.telemetry.egress.dropped')!.criteria.allOf[0]).toMatchObject({ timeAggregation: 'Total', threshold: 0 });
    expect(byMetric.get('dailyMessageQuotaUsed')!.criteria.allOf[0]).toMatchObject({ timeAggregation: 'Maximum', threshold: "[div(mul(mul(variables('quotaPerUnit')[parameters('sku')], parameters('units')), 8), 10)]" });
    expect(moduleDeployment(main, 'iothub')!.properties!.parameters!.actionGroupIds!.value).toContain("'monitoring'), '2025-04-01').outputs.actionGroupIds.value");
    // And as soon as the route is unhealthy (an hour before the hub drops anything): the hub's Routes
    // logs go to the workspace, where a rule looks for the unhealthy and dead entries.
    const iothub = moduleResources(main, 'iothub');
    const logs = resourcesOfType(iothub, 'Microsoft.Insights/diagnosticSettings')[0] as unknown as { properties: { workspaceId: string; logs: { category: string; enabled: boolean }[] } };
    expect(logs.properties).toEqual({ workspaceId: "[parameters('logAnalyticsId')]", logs: [{ category: 'Routes', enabled: true }] });
    expect(moduleDeployment(main, 'iothub')!.properties!.parameters!.logAnalyticsId!.value).toContain('outputs.logAnalyticsId.value');
    const route = resourcesOfType(iothub, 'Microsoft.Insights/scheduledQueryRules')[0] as unknown as { properties: { scopes: string[]; criteria: { allOf: { query: string }[] } } };
    expect(route.properties.scopes).toEqual(["[parameters('logAnalyticsId')]"]);
    expect(route.properties.criteria.allOf[0]!.query).toBe("[variables('routeQuery')]");
    expect(iotHubVariables().routeQuery).toContain('"endpointUnhealthy", "endpointDead"');
  });

  it('keeps the refused readings kept whole as long as their DeadLetters rows (365 days), in the container the code writes them to', () => {
    const storage = moduleResources(main, 'storage');
    const policy = resourcesOfType(storage, 'Microsoft.Storage/storageAccounts/managementPolicies')[0]!;
    const [rule] = (policy.properties as { policy: { rules: { enabled: boolean; definition: { filters: { prefixMatch: string[] }; actions: { baseBlob: { delete: { daysAfterModificationGreaterThan: number } } } } }[] } }).policy.rules;
    expect(rule!.enabled).toBe(true);
    expect(rule!.definition.filters.prefixMatch).toEqual(["[format('{0}/', variables('refusedReadingsContainer'))]"]);
    const variables = (moduleDeployment(main, 'storage')!.properties!.template as unknown as { variables: Record<string, string> }).variables;
    expect(variables.refusedReadingsContainer).toBe(REFUSED_CONTAINER);
    const adx = resourcesOfType(moduleResources(main, 'dataexplorer'), 'Microsoft.Kusto/clusters/databases')[0]!;
    expect(`P${rule!.definition.actions.baseBlob.delete.daysAfterModificationGreaterThan}D`).toBe((adx.properties as { softDeletePeriod: string }).softDeletePeriod);
  });

  /** A log search rule of monitoring.bicep, scoped to Application Insights and counting rows (any at all fires it), with the module's variables. */
  function appInsightsRule(nameParameter: string) {
    const monitoring = moduleResources(main, 'monitoring');
    const rule = resourcesOfType(monitoring, 'Microsoft.Insights/scheduledQueryRules').find((r) => r.name === `[parameters('${nameParameter}')]`)!;
    const props = rule.properties as { severity: number; autoMitigate: boolean; scopes: string[]; evaluationFrequency: string; criteria: { allOf: { query: string; operator: string; threshold: number }[] }; actions: { actionGroups: string } };
    expect(props.scopes).toEqual(["[resourceId('Microsoft.Insights/components', parameters('applicationInsightsName'))]"]);
    const [criterion] = props.criteria.allOf;
    expect(criterion).toMatchObject({ operator: 'GreaterThan', threshold: 0 });
    const variables = (moduleDeployment(main, 'monitoring')!.properties!.template as unknown as { variables: Record<string, string> }).variables;
    return { monitoring, props, criterion, variables };
  }

  it('alerts operators when the telemetry function keeps a batch or a redelivery round leaves one failing: a rule on the very error line it logs and on the timer\'s failed rounds, emailed to OPS_EMAIL when set', () => {
    const { monitoring, props, criterion, variables } = appInsightsRule('keptBatchAlertName');
    expect(props.evaluationFrequency).toBe('PT5M');
    // The query finds errors beginning with the template's message, which is what the code logs.
    expect(criterion!.query).toContain('severityLevel >= 3');
    expect(criterion!.query).toContain("variables('keptBatchMessage')");
    expect(variables.keptBatchMessage).toBe(DEAD_LETTERED_LOG);
    // And on the failed rounds of the redelivery timer (requests, never sampled), by the name it is registered under.
    expect(criterion!.query).toContain("variables('redeliveryFunction')");
    expect(criterion!.query).toContain('tobool(success) == false');
    expect(variables.redeliveryFunction).toBe(BATCH_REDELIVERY_FUNCTION);
    // Emailed only when an address is given; the rule fires in Azure Monitor either way.
    expect(props.actions.actionGroups).toBe("[variables('opsActionGroups')]");
    expect(variables.opsActionGroups).toContain("empty(parameters('opsEmail'))");
    const group = resourcesOfType(monitoring, 'Microsoft.Insights/actionGroups')[0]!;
    expect((group as { condition?: string }).condition).toBe("[not(empty(parameters('opsEmail')))]");
    expect(azdParameters.opsEmail!.value).toBe('${OPS_EMAIL=}');
  });

  // Warnings, not pages (the readings are kept, or taken in without one value: nothing is lost meanwhile), and stateful.
  it.each([
    { when: 'readings are refused', rule: 'refusedAlertName', variable: 'refusedMessage', logged: REFUSED_LOG },
    { when: 'sensors stop being measured (values sent as null)', rule: 'notMeasuredAlertName', variable: 'notMeasuredMessage', logged: NOT_MEASURED_LOG },
  ])('warns operators when $when: a rule on the very warning the pipeline logs, one alert while it lasts', ({ rule, variable, logged }) => {
    const { props, criterion, variables } = appInsightsRule(rule);
    expect(props).toMatchObject({ severity: 2, autoMitigate: true });
    expect(criterion!.query).toContain('severityLevel >= 2');
    expect(criterion!.query).toContain(`variables('${variable}')`);
    expect(variables[variable]).toBe(logged);
    expect(props.actions.actionGroups).toBe("[variables('opsActionGroups')]");
  });

  it('warns operators, with the refused readings, when the timer that takes in those of a model deployed since leaves some it could not take through', () => {
    const { criterion, variables } = appInsightsRule('refusedAlertName');
    expect(criterion!.query).toContain("variables('readmissionFunction')");
    expect(criterion!.query).toContain('tobool(success) == false');
    expect(variables.readmissionFunction).toBe(REFUSED_READMISSION_FUNCTION);
  });

  it('pages operators when no machine is heard from at all: a rule on the very error the communication watch logs, one alert while it lasts', () => {
    const { props, criterion, variables } = appInsightsRule('plantSilentAlertName');
    expect(props).toMatchObject({ severity: 1, autoMitigate: true, evaluationFrequency: 'PT5M' });
    expect(criterion!.query).toContain('severityLevel >= 3');
    expect(criterion!.query).toContain("variables('plantSilentMessage')");
    expect(variables.plantSilentMessage).toBe(PLANT_SILENT_LOG);
    expect(props.actions.actionGroups).toBe("[variables('opsActionGroups')]");
  });

  it('pages operators when alert cards do not reach Teams: a rule on the failed rounds of the timer that sends the kept cards, one alert while it lasts', () => {
    const { props, criterion, variables } = appInsightsRule('teamsAlertName');
    expect(props).toMatchObject({ severity: 1, autoMitigate: true, evaluationFrequency: 'PT5M' });
    expect(criterion!.query).toContain("variables('alertDeliveryFunction')");
    expect(criterion!.query).toContain('tobool(success) == false');
    expect(variables.alertDeliveryFunction).toBe(ALERT_DELIVERY_FUNCTION);
    expect(props.actions.actionGroups).toBe("[variables('opsActionGroups')]");
  });

  describe('azd', () => {
    const azureYaml = parseYaml(readFileSync(join(root, 'azure.yaml'), 'utf8')) as {
      infra: { path: string; module: string };
      services: Record<string, { host: string; language: string; dist?: string; remoteBuild?: boolean }>;
      hooks: { postprovision: { posix: { run: string } } };
    };

    it('finds the Function App by the service tag azure.yaml names, and only the app carries it', () => {
      const services = Object.entries(azureYaml.services);
      expect(services).toHaveLength(1);
      const [service, def] = services[0]!;
      expect(def.host).toBe('function');
      expect(azureYaml.infra.module).toBe('main');
      expect(moduleDeployment(main, 'functionapp')!.properties!.parameters!.serviceName!.value).toBe(service);
      expect(site.tags).toBe("[union(parameters('tags'), createObject('azd-service-name', parameters('serviceName')))]");
      const plan = resourcesOfType(moduleResources(main, 'functionapp'), 'Microsoft.Web/serverfarms')[0]!;
      expect(JSON.stringify(plan.tags)).not.toContain('azd-service-name');
      for (const m of ['monitoring', 'storage', 'keyvault', 'eventhubs', 'iothub', 'digitaltwins', 'dataexplorer', 'ml', 'app-identity']) {
        expect(JSON.stringify(moduleDeployment(main, m)!.properties!.parameters!.tags), m).not.toContain('azd-service-name');
      }
    });

    it('fills every required main.bicep parameter from main.parameters.json, and offers only regions with every service', () => {
      const parameters = Object.keys(azdParameters);
      const declared = main.parameters ?? {};
      expect(parameters.filter((p) => !(p in declared))).toEqual([]);
      expect(Object.entries(declared).filter(([p, d]) => d.defaultValue === undefined && !parameters.includes(p)).map(([p]) => p)).toEqual([]);
      expect(declared.location!.allowedValues).toEqual(expect.arrayContaining(['eastus', 'northeurope', 'swedencentral']));
    });

    it('uploads the folder `npm run package` stages (a production package.json), built remotely', () => {
      // azd runs `npm run build`, then `npm run package`, then zips the service's `dist`.
      const [, def] = Object.entries(azureYaml.services)[0]!;
      const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
      expect(def).toMatchObject({ language: 'ts', remoteBuild: true });
      expect(scripts.package).toBe(`npm run -s build && tsx scripts/function-package.ts ${def.dist}`);
    });

    it('runs the post-provision script after provisioning, with the outputs it reads', () => {
      expect(azureYaml.hooks.postprovision.posix.run).toBe('npx tsx scripts/post-provision.ts');
      for (const output of ['DIGITAL_TWINS_URL', 'IOTHUB_HOSTNAME', 'ADX_CLUSTER_URL', 'ADX_DATABASE']) expect(main.outputs, output).toHaveProperty(output);
    });
  });

  describe('ordering', () => {
    const dependsOnModule = (name: string, other: string) => (moduleDeployment(main, name)!.dependsOn ?? []).some((d) => d.includes(`'Microsoft.Resources/deployments', '${other}')`));

    it('grants the app\'s roles before the app exists, so its first start can read Key Vault, storage and the Event Hub', () => {
      expect(dependsOnModule('functionapp', 'rbac')).toBe(true);
      expect(dependsOnModule('rbac', 'functionapp')).toBe(false);
      expect(moduleDeployment(main, 'rbac')!.properties!.parameters!.functionPrincipalId!.value).toContain("'app-identity'");
    });

    it('chains the assignments on one Digital Twins instance and on one Data Explorer database (both reject concurrent updates)', () => {
      const rbac = moduleResources(main, 'rbac');
      const twins = rbac.filter((r) => String(r.scope ?? '').includes("'Microsoft.DigitalTwins/digitalTwinsInstances'"));
      const kusto = resourcesOfType(rbac, 'Microsoft.Kusto/clusters/databases/principalAssignments');
      for (const group of [twins, kusto]) {
        expect(group.length).toBeGreaterThan(1);
        // All but the first wait for another of the same group.
        const waiting = group.filter((r) => (r.dependsOn ?? []).some((d) => d.includes(group === kusto ? 'principalAssignments' : 'digitalTwinsInstances')));
        expect(waiting).toHaveLength(group.length - 1);
      }
    });

    it('names the app to Data Explorer by its client id, as an App principal', () => {
      for (const a of resourcesOfType(moduleResources(main, 'rbac'), 'Microsoft.Kusto/clusters/databases/principalAssignments')) {
        expect(a.properties).toMatchObject({ principalType: 'App', principalId: "[parameters('functionClientId')]" });
      }
    });

    it('creates the IoT Hub (whose route is checked with its new role) after the slow Data Explorer cluster', () => {
      expect(dependsOnModule('iothub', 'dataexplorer')).toBe(true);
    });
  });
});
