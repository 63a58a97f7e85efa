// manufacturing-twins on Azure: IoT Hub → Event Hub → Function App → Digital Twins, Data Explorer,
// Azure ML and Teams. `azd up` provisions this and deploys the Function App; the post-provision
// hook (scripts/post-provision.ts) uploads dtdl/, creates the plant and registers its devices.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name: names and tags every resource.')
param environmentName string

// Regions that offer all of Azure Digital Twins, Flex Consumption Functions and the Data Explorer
// dev SKU; elsewhere provisioning would fail part-way.
@allowed([
  'australiaeast'
  'eastus'
  'eastus2'
  'francecentral'
  'japaneast'
  'koreacentral'
  'northeurope'
  'southcentralus'
  'southeastasia'
  'swedencentral'
  'uksouth'
  'westus2'
  'westus3'
])
@description('Azure region for every resource.')
param location string

@description('Object id of the user or service principal running azd: gets data access to seed the plant.')
param principalId string = ''

@secure()
@description('Teams Workflows webhook URL for alerts (kept in Key Vault). Empty: alerts are not posted.')
param teamsWebhookUrl string = ''

@description('Operator email told when the telemetry function keeps a batch it cannot handle (empty: the alert fires in Azure Monitor only).')
param opsEmail string = ''

@description('Event Hub and IoT Hub partitions.')
param partitionCount int = 4

// IoT Hub meters device messages against a daily quota per unit (4 KB each); past it the hub
// refuses telemetry until 00:00 UTC, and what a device could not send is lost unless it buffers.
@description('IoT Hub tier: a unit of S1 carries 400,000 device messages a day, S2 6,000,000, S3 300,000,000 (README: sizing the IoT Hub).')
@allowed([ 'S1', 'S2', 'S3' ])
param iotHubSku string = 'S1'

@description('IoT Hub units, as text (azd passes environment values as text): 1-200 for S1 and S2, 1-10 for S3. Two S1 units hold the seeded plant, 7 machines at one reading a second (604,800 messages a day).')
param iotHubUnits string = '2'

@description('Set to true by scripts/deploy-ml-model.sh (azd env ML_MODEL_DEPLOYED) once a model serves behind the ML endpoint.')
@allowed([ 'true', 'false' ])
param mlModelDeployed string = 'false'

@description('The plant\'s working hours on its wall clock, e.g. "Mon-Fri 06:00-22:00; Sat 06:00-14:00" (azd env PLANT_WORKING_HOURS): outside them a machine that sends nothing is not a communication-loss alarm, and the plant gone quiet pages nobody. Empty: always working.')
param plantWorkingHours string = ''

@description('IANA time zone of the plant\'s wall clock for plantWorkingHours, e.g. Europe/Berlin (azd env PLANT_TIME_ZONE).')
param plantTimeZone string = 'UTC'

@description('Days the plant is closed on its calendar, e.g. "2026-12-24..2027-01-01; 2027-04-02" (azd env PLANT_HOLIDAYS): no shift begins on them. Empty: none.')
param plantHolidays string = ''

@description('Lines that keep other hours than the plant\'s, e.g. "production-line-b=Mon-Fri 06:00-14:00 | production-line-c=Mon-Sun 00:00-24:00" (azd env LINE_WORKING_HOURS): a line named works its own hours, on the plant\'s clock and calendar. Empty: every line works the plant\'s.')
param lineWorkingHours string = ''

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName, purpose: 'predictive-maintenance-digital-twins', workload: 'manufacturing-twins' }

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourceGroup}${environmentName}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: '${abbrs.logAnalytics}${resourceToken}'
    applicationInsightsName: '${abbrs.applicationInsights}${resourceToken}'
    actionGroupName: '${abbrs.actionGroup}${resourceToken}'
    keptBatchAlertName: '${abbrs.scheduledQueryRule}kept-batches-${resourceToken}'
    heldUpAlertName: '${abbrs.scheduledQueryRule}ingest-held-up-${resourceToken}'
    refusedAlertName: '${abbrs.scheduledQueryRule}readings-refused-${resourceToken}'
    notMeasuredAlertName: '${abbrs.scheduledQueryRule}sensors-not-measured-${resourceToken}'
    plantSilentAlertName: '${abbrs.scheduledQueryRule}plant-silent-${resourceToken}'
    teamsAlertName: '${abbrs.scheduledQueryRule}teams-undelivered-${resourceToken}'
    opsEmail: opsEmail
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: union(tags, { purpose: 'function-runtime-and-checkpoints' })
    name: '${abbrs.storageAccount}${resourceToken}'
    deploymentContainerName: 'app-package-${take(resourceToken, 7)}'
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    location: location
    tags: union(tags, { purpose: 'secrets' })
    name: '${abbrs.keyVault}${resourceToken}'
    teamsWebhookUrl: teamsWebhookUrl
    hasTeamsWebhook: !empty(teamsWebhookUrl)
  }
}

module eventHubs 'modules/eventhubs.bicep' = {
  name: 'eventhubs'
  scope: rg
  params: {
    location: location
    tags: union(tags, { purpose: 'telemetry-stream' })
    namespaceName: '${abbrs.eventHubsNamespace}${resourceToken}'
    eventHubName: 'telemetry'
    consumerGroupName: 'twin-pipeline'
    partitionCount: partitionCount
  }
}

module iotHub 'modules/iothub.bicep' = {
  name: 'iothub'
  scope: rg
  // The hub validates its identity-based route to Event Hubs when it is created, which fails until
  // its Data Sender role has propagated (minutes). Creating the hub after the Data Explorer cluster
  // (10 minutes or more) gives the role that time; see iothub.bicep.
  dependsOn: [ dataExplorer ]
  params: {
    location: location
    tags: union(tags, { purpose: 'device-connectivity' })
    name: '${abbrs.iotHub}${resourceToken}'
    identityName: '${abbrs.managedIdentity}iot-${resourceToken}'
    sku: iotHubSku
    units: int(iotHubUnits)
    partitionCount: partitionCount
    eventHubsNamespaceName: eventHubs.outputs.namespaceName
    eventHubName: eventHubs.outputs.eventHubName
    droppedAlertName: '${abbrs.metricAlert}iot-dropped-${resourceToken}'
    quotaAlertName: '${abbrs.metricAlert}iot-quota-${resourceToken}'
    routeAlertName: '${abbrs.scheduledQueryRule}iot-route-${resourceToken}'
    actionGroupIds: monitoring.outputs.actionGroupIds
    logAnalyticsId: monitoring.outputs.logAnalyticsId
  }
}

module digitalTwins 'modules/digitaltwins.bicep' = {
  name: 'digitaltwins'
  scope: rg
  params: {
    location: location
    tags: union(tags, { purpose: 'digital-twins' })
    name: '${abbrs.digitalTwins}${resourceToken}'
  }
}

module dataExplorer 'modules/dataexplorer.bicep' = {
  name: 'dataexplorer'
  scope: rg
  params: {
    location: location
    tags: union(tags, { purpose: 'telemetry-history' })
    clusterName: '${abbrs.dataExplorerCluster}${resourceToken}'
    databaseName: 'telemetry'
    tableScript: loadTextContent('kusto/tables.kql')
  }
}

module machineLearning 'modules/ml.bicep' = {
  name: 'ml'
  scope: rg
  params: {
    location: location
    tags: union(tags, { purpose: 'failure-prediction' })
    workspaceName: '${abbrs.machineLearningWorkspace}${resourceToken}'
    endpointName: 'equipment-health-${take(resourceToken, 6)}'
    storageAccountName: storage.outputs.name
    keyVaultId: keyVault.outputs.id
    keyVaultName: keyVault.outputs.name
    applicationInsightsId: monitoring.outputs.applicationInsightsId
  }
}

module appIdentity 'modules/identity.bicep' = {
  name: 'app-identity'
  scope: rg
  params: {
    location: location
    tags: union(tags, { purpose: 'telemetry-pipeline-and-api' })
    name: '${abbrs.managedIdentity}func-${resourceToken}'
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  // Created once its identity's roles exist, so its first start can read Key Vault, storage and the Event Hub.
  dependsOn: [ rbac ]
  params: {
    location: location
    tags: union(tags, { purpose: 'telemetry-pipeline-and-api' })
    serviceName: 'api'
    name: '${abbrs.functionApp}${resourceToken}'
    identityId: appIdentity.outputs.id
    identityClientId: appIdentity.outputs.clientId
    planName: '${abbrs.appServicePlan}${resourceToken}'
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    eventHubsNamespaceName: eventHubs.outputs.namespaceName
    eventHubName: eventHubs.outputs.eventHubName
    consumerGroupName: eventHubs.outputs.consumerGroupName
    digitalTwinsUrl: digitalTwins.outputs.endpoint
    dataExplorerUrl: dataExplorer.outputs.clusterUri
    dataExplorerDatabase: dataExplorer.outputs.databaseName
    mlScoringUrl: machineLearning.outputs.scoringUri
    mlModelDeployed: mlModelDeployed == 'true'
    mlKeySecretUri: machineLearning.outputs.keySecretUri
    teamsWebhookSecretUri: keyVault.outputs.teamsWebhookSecretUri
    iotHubHostName: iotHub.outputs.hostName
    plantWorkingHours: plantWorkingHours
    plantTimeZone: plantTimeZone
    plantHolidays: plantHolidays
    lineWorkingHours: lineWorkingHours
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    functionPrincipalId: appIdentity.outputs.principalId
    functionClientId: appIdentity.outputs.clientId
    deployerPrincipalId: principalId
    storageAccountName: storage.outputs.name
    eventHubsNamespaceName: eventHubs.outputs.namespaceName
    digitalTwinsName: digitalTwins.outputs.name
    keyVaultName: keyVault.outputs.name
    iotHubName: iotHub.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    dataExplorerClusterName: dataExplorer.outputs.clusterName
    dataExplorerDatabaseName: dataExplorer.outputs.databaseName
    tenantId: tenant().tenantId
  }
}

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output API_URL string = functionApp.outputs.url
output DIGITAL_TWINS_URL string = digitalTwins.outputs.endpoint
output IOTHUB_HOSTNAME string = iotHub.outputs.hostName
output IOTHUB_NAME string = iotHub.outputs.name
output ADX_CLUSTER_URL string = dataExplorer.outputs.clusterUri
output ADX_DATABASE string = dataExplorer.outputs.databaseName
output ML_ENDPOINT_URL string = machineLearning.outputs.scoringUri
output ML_ENDPOINT_NAME string = machineLearning.outputs.endpointName
output AZURE_ML_WORKSPACE string = machineLearning.outputs.workspaceName
output EVENTHUB_NAMESPACE string = eventHubs.outputs.namespaceName
