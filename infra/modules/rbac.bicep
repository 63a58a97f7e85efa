// Least-privilege role assignments: what the Function App's identity needs, and data access for
// the person running azd (to seed the plant after provisioning). Each role is named by its GUID.
// Digital Twins and Data Explorer reject concurrent updates to one instance's access (Conflict), so
// assignments on each are chained with dependsOn instead of running in parallel.
param functionPrincipalId string
@description('The Function App identity\'s client (application) id: Data Explorer names app principals by it.')
param functionClientId string
param deployerPrincipalId string
param storageAccountName string
param eventHubsNamespaceName string
param digitalTwinsName string
param keyVaultName string
param iotHubName string
param applicationInsightsName string
param dataExplorerClusterName string
param dataExplorerDatabaseName string
param tenantId string

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  eventHubsDataReceiver: 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde'
  digitalTwinsDataOwner: 'bcd981a7-7f74-457b-83e1-cceb9e632ffe'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  iotHubDataContributor: '4fc6c259-987e-4a07-842e-c321cc9d413f'
  iotHubRegistryContributor: '4ea46cd5-c1b2-4a8e-910b-273211f9ce47'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = { name: storageAccountName }
resource eventHubs 'Microsoft.EventHub/namespaces@2024-01-01' existing = { name: eventHubsNamespaceName }
resource digitalTwins 'Microsoft.DigitalTwins/digitalTwinsInstances@2023-01-31' existing = { name: digitalTwinsName }
resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = { name: keyVaultName }
resource iotHub 'Microsoft.Devices/IotHubs@2023-06-30' existing = { name: iotHubName }
resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = { name: applicationInsightsName }
resource cluster 'Microsoft.Kusto/clusters@2023-08-15' existing = { name: dataExplorerClusterName }
resource database 'Microsoft.Kusto/clusters/databases@2023-08-15' existing = {
  parent: cluster
  name: dataExplorerDatabaseName
}

// Host state, checkpoints and the deployment package.
resource fnBlob 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: { roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner), principalId: functionPrincipalId, principalType: 'ServicePrincipal' }
}
resource fnQueue 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionPrincipalId, roles.storageQueueDataContributor)
  scope: storage
  properties: { roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor), principalId: functionPrincipalId, principalType: 'ServicePrincipal' }
}
resource fnTable 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionPrincipalId, roles.storageTableDataContributor)
  scope: storage
  properties: { roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor), principalId: functionPrincipalId, principalType: 'ServicePrincipal' }
}
// The trigger reads the telemetry Event Hub.
resource fnEventHubs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(eventHubs.id, functionPrincipalId, roles.eventHubsDataReceiver)
  scope: eventHubs
  properties: { roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.eventHubsDataReceiver), principalId: functionPrincipalId, principalType: 'ServicePrincipal' }
}
// Twins are read, queried and patched.
resource fnTwins 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(digitalTwins.id, functionPrincipalId, roles.digitalTwinsDataOwner)
  scope: digitalTwins
  properties: { roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.digitalTwinsDataOwner), principalId: functionPrincipalId, principalType: 'ServicePrincipal' }
}
// Key Vault references: the Teams URL and the ML key.
resource fnSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, functionPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: { roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser), principalId: functionPrincipalId, principalType: 'ServicePrincipal' }
}
// emergencyStop: direct methods on devices.
resource fnIotHub 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(iotHub.id, functionPrincipalId, roles.iotHubDataContributor)
  scope: iotHub
  properties: { roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.iotHubDataContributor), principalId: functionPrincipalId, principalType: 'ServicePrincipal' }
}
// Telemetry to Application Insights with Entra ID.
resource fnMetrics 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, functionPrincipalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: { roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher), principalId: functionPrincipalId, principalType: 'ServicePrincipal' }
}
// Data Explorer database roles: ingest rows, read them back (no admin).
resource fnIngestor 'Microsoft.Kusto/clusters/databases/principalAssignments@2023-08-15' = {
  parent: database
  name: guid(database.id, functionPrincipalId, 'Ingestor')
  properties: { principalId: functionClientId, principalType: 'App', role: 'Ingestor', tenantId: tenantId }
}
resource fnViewer 'Microsoft.Kusto/clusters/databases/principalAssignments@2023-08-15' = {
  parent: database
  name: guid(database.id, functionPrincipalId, 'Viewer')
  properties: { principalId: functionClientId, principalType: 'App', role: 'Viewer', tenantId: tenantId }
  dependsOn: [ fnIngestor ]
}

// The deployer seeds the plant: twins and device identities.
resource deployerTwins 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(digitalTwins.id, deployerPrincipalId, roles.digitalTwinsDataOwner)
  scope: digitalTwins
  properties: { roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.digitalTwinsDataOwner), principalId: deployerPrincipalId }
  dependsOn: [ fnTwins ]
}
resource deployerRegistry 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(iotHub.id, deployerPrincipalId, roles.iotHubRegistryContributor)
  scope: iotHub
  properties: { roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.iotHubRegistryContributor), principalId: deployerPrincipalId }
  dependsOn: [ fnIotHub ]
}
