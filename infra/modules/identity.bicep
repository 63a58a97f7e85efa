// The Function App's user-assigned identity. It exists before the app, so its roles (rbac.bicep)
// are granted, and have time to propagate, before the app first starts and resolves its Key Vault
// references; and it has a client id, which Data Explorer's principal assignments need.
param location string
param tags object
param name string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
