// Secrets the app reads through Key Vault references: the Teams webhook URL and the ML endpoint key.
param location string
param tags object
param name string
@secure()
param teamsWebhookUrl string
@description('Whether teamsWebhookUrl is set: decided by the caller, so no output is derived from the secret.')
param hasTeamsWebhook bool

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
  }
}

resource teamsWebhook 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (hasTeamsWebhook) {
  parent: vault
  name: 'teams-webhook-url'
  properties: { value: teamsWebhookUrl }
}

output id string = vault.id
output name string = vault.name
output teamsWebhookSecretUri string = teamsWebhook.?properties.secretUri ?? ''
