// Azure Machine Learning: the workspace and the online endpoint the pipeline scores with. Its key
// goes to Key Vault; the model deployment behind the endpoint is published by
// scripts/deploy-ml-model.sh (until then the pipeline scores with the streaming detector alone).
param location string
param tags object
param workspaceName string
param endpointName string
param storageAccountName string
param keyVaultId string
param keyVaultName string
param applicationInsightsId string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource workspace 'Microsoft.MachineLearningServices/workspaces@2025-06-01' = {
  name: workspaceName
  location: location
  tags: tags
  identity: { type: 'SystemAssigned' }
  properties: {
    friendlyName: 'manufacturing-twins'
    storageAccount: storage.id
    keyVault: keyVaultId
    applicationInsights: applicationInsightsId
    // The storage account allows no shared keys: the workspace reaches its datastores with its identity.
    systemDatastoresAuthMode: 'identity'
  }
}

resource endpoint 'Microsoft.MachineLearningServices/workspaces/onlineEndpoints@2025-06-01' = {
  parent: workspace
  name: endpointName
  location: location
  tags: tags
  identity: { type: 'SystemAssigned' }
  properties: {
    authMode: 'Key'
    description: 'Equipment anomaly score and failure probability (MLflow input_data contract)'
  }
}

// Identity-based datastores: the workspace's identity needs data access to blobs and file shares.
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
var storageFileDataPrivilegedContributor = '69566ab7-960f-475b-8e7c-b3118f30c6bd'
resource workspaceBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, workspace.id, storageBlobDataContributor)
  scope: storage
  properties: { roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor), principalId: workspace.identity.principalId, principalType: 'ServicePrincipal' }
}
resource workspaceFiles 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, workspace.id, storageFileDataPrivilegedContributor)
  scope: storage
  properties: { roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageFileDataPrivilegedContributor), principalId: workspace.identity.principalId, principalType: 'ServicePrincipal' }
  dependsOn: [ workspaceBlobs ]
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource endpointKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'ml-endpoint-key'
  properties: { value: endpoint.listKeys().primaryKey }
}

output workspaceName string = workspace.name
output endpointName string = endpoint.name
output scoringUri string = endpoint.properties.scoringUri
output keySecretUri string = endpointKey.properties.secretUri
