// Azure Machine Learning: the workspace and the online endpoint the pipeline scores with. Its key
// goes to Key Vault; the model deployment behind the endpoint is published by
// scripts/deploy-ml-model.sh (until then the pipeline scores with the streaming detector alone).
param location string
param tags object
param workspaceName string
param endpointName string
param storageAccountId string
param keyVaultId string
param keyVaultName string
param applicationInsightsId string

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-04-01' = {
  name: workspaceName
  location: location
  tags: tags
  identity: { type: 'SystemAssigned' }
  properties: {
    friendlyName: 'manufacturing-twins'
    storageAccount: storageAccountId
    keyVault: keyVaultId
    applicationInsights: applicationInsightsId
    // The storage account allows no shared keys.
    systemDatastoresAuthMode: 'identity'
  }
}

resource endpoint 'Microsoft.MachineLearningServices/workspaces/onlineEndpoints@2024-04-01' = {
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
