// The Function App on Flex Consumption (Node 20) with a system-assigned identity. Every
// connection is identity-based; the two secrets are Key Vault references. The app settings are
// the names src/lib/config.ts reads.
param location string
param tags object
param name string
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
param mlKeySecretUri string
param teamsWebhookSecretUri string
param iotHubHostName string

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
  tags: tags
  kind: 'functionapp,linux'
  identity: { type: 'SystemAssigned' }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: { minTlsVersion: '1.2' }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: { type: 'SystemAssignedIdentity' }
        }
      }
      scaleAndConcurrency: { maximumInstanceCount: 100, instanceMemoryMB: 2048 }
      runtime: { name: 'node', version: '20' }
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
    AzureWebJobsStorage__accountName: storageAccountName
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
    languageWorkers__node__arguments: '--max-semi-space-size=64'
    EventHubConnection__fullyQualifiedNamespace: '${eventHubsNamespaceName}.servicebus.windows.net'
    EVENTHUB_NAME: eventHubName
    EVENTHUB_CONSUMER_GROUP: consumerGroupName
    DIGITAL_TWINS_URL: digitalTwinsUrl
    ADX_CLUSTER_URL: dataExplorerUrl
    ADX_DATABASE: dataExplorerDatabase
    ML_ENDPOINT_URL: mlScoringUrl
    ML_ENDPOINT_KEY: mlKeyReference
    ML_DEPLOYMENT: ''
    ML_TIMEOUT_MS: '2000'
    TEAMS_WEBHOOK_URL: teamsWebhookReference
    DASHBOARD_URL: 'https://${app.properties.defaultHostName}'
    IOTHUB_HOSTNAME: iotHubHostName
    ANOMALY_WARNING_THRESHOLD: '0.5'
    ANOMALY_CRITICAL_THRESHOLD: '0.8'
    ALARM_ON_DELAY_READINGS: '5'
    ALARM_OFF_DELAY_MS: '60000'
    ALARM_FLOOD_LIMIT: '3'
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
output principalId string = app.identity.principalId
output url string = 'https://${app.properties.defaultHostName}'
