// The Function App on Flex Consumption (Node 22) with the user-assigned identity of
// identity.bicep, whose roles are granted before the app exists. Every connection is
// identity-based; the two secrets are Key Vault references. The app settings are the names
// src/lib/config.ts reads.
param location string
param tags object
@description('azd finds the app to deploy by this tag (azure.yaml service name); only the site carries it.')
param serviceName string
param name string
param identityId string
param identityClientId string
param planName string
param storageAccountName string
param deploymentContainerUrl string
param applicationInsightsConnectionString string
param eventHubsNamespaceName string
param eventHubName string
param consumerGroupName string
param digitalTwinsUrl string
param dataExplorerUrl string
param dataExplorerDatabase string
param mlScoringUrl string
@description('True once scripts/deploy-ml-model.sh has a model deployment serving behind the endpoint.')
param mlModelDeployed bool
param mlKeySecretUri string
param teamsWebhookSecretUri string
param iotHubHostName string
@description('The plant\'s working hours (PLANT_WORKING_HOURS; empty: always working), the IANA time zone they are read in, and the days it is closed.')
param plantWorkingHours string
param plantTimeZone string
param plantHolidays string
@description('Lines that keep their own working hours (LINE_WORKING_HOURS; empty: none).')
param lineWorkingHours string

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2023-12-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identityId}': {} } }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    siteConfig: { minTlsVersion: '1.2' }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      scaleAndConcurrency: { maximumInstanceCount: 100, instanceMemoryMB: 2048 }
      runtime: { name: 'node', version: '22' }
    }
  }
}

// Secrets are Key Vault references, never values.
var mlKeyReference = empty(mlKeySecretUri) ? '' : '@Microsoft.KeyVault(SecretUri=${mlKeySecretUri})'
var teamsWebhookReference = empty(teamsWebhookSecretUri) ? '' : '@Microsoft.KeyVault(SecretUri=${teamsWebhookSecretUri})'

resource settings 'Microsoft.Web/sites/config@2023-12-01' = {
  parent: app
  name: 'appsettings'
  properties: {
    // The host and the trigger connect with the user-assigned identity (credential + clientId);
    // the SDKs' DefaultAzureCredential picks it by AZURE_CLIENT_ID.
    AZURE_CLIENT_ID: identityClientId
    AzureWebJobsStorage__accountName: storageAccountName
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${identityClientId}'
    languageWorkers__node__arguments: '--max-semi-space-size=64'
    EventHubConnection__fullyQualifiedNamespace: '${eventHubsNamespaceName}.servicebus.windows.net'
    EventHubConnection__credential: 'managedidentity'
    EventHubConnection__clientId: identityClientId
    EVENTHUB_NAME: eventHubName
    EVENTHUB_CONSUMER_GROUP: consumerGroupName
    DIGITAL_TWINS_URL: digitalTwinsUrl
    ADX_CLUSTER_URL: dataExplorerUrl
    ADX_DATABASE: dataExplorerDatabase
    // Empty until scripts/deploy-ml-model.sh has a deployment serving behind the endpoint (it sets
    // ML_MODEL_DEPLOYED in the azd environment): an endpoint with no deployment fails every call.
    // Meanwhile the streaming detector scores alone.
    ML_ENDPOINT_URL: mlModelDeployed ? mlScoringUrl : ''
    ML_ENDPOINT_KEY: mlKeyReference
    ML_DEPLOYMENT: mlModelDeployed ? 'blue' : ''
    ML_TIMEOUT_MS: '2000'
    TEAMS_WEBHOOK_URL: teamsWebhookReference
    DASHBOARD_URL: 'https://${app.properties.defaultHostName}'
    IOTHUB_HOSTNAME: iotHubHostName
    ANOMALY_WARNING_THRESHOLD: '0.5'
    ANOMALY_CRITICAL_THRESHOLD: '0.8'
    ALARM_ON_DELAY_READINGS: '5'
    ALARM_OFF_DELAY_MS: '60000'
    ALARM_FLOOD_LIMIT: '3'
    ALARM_LATE_MS: '600000'
    ALARM_BLIND_AFTER_MS: '300000'
    ALARM_SILENT_AFTER_MS: '600000'
    PLANT_WORKING_HOURS: plantWorkingHours
    PLANT_TIME_ZONE: plantTimeZone
    PLANT_HOLIDAYS: plantHolidays
    LINE_WORKING_HOURS: lineWorkingHours
    // Automated emergencyStop starts as a dry run: decisions are recorded, nothing is sent.
    AUTO_STOP_MODE: 'dry-run'
    AUTO_STOP_MIN_PROBABILITY: '0.9'
    AUTO_STOP_CONFIRM_READINGS: '3'
    AUTO_STOP_MAX_PER_HOUR: '3'
    AUTO_STOP_INCIDENT_MS: '14400000'
    AUTO_STOP_MAX_AGE_MS: '120000'
    TWIN_PATCH_INTERVAL_MS: '15000'
    TWIN_PATCH_CONCURRENCY: '16'
    MAX_CLOCK_SKEW_MS: '300000'
    API_MAX_BODY_BYTES: '32768'
    API_MAX_PAGE_SIZE: '100'
    LOG_LEVEL: 'info'
  }
}

output name string = app.name
output url string = 'https://${app.properties.defaultHostName}'
