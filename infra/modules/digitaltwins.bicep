// The Azure Digital Twins instance that holds the plant's twin graph.
param location string
param tags object
param name string

resource instance 'Microsoft.DigitalTwins/digitalTwinsInstances@2023-01-31' = {
  name: name
  location: location
  tags: tags
  identity: { type: 'SystemAssigned' }
  properties: {
    publicNetworkAccess: 'Enabled'
  }
}

output name string = instance.name
output endpoint string = 'https://${instance.properties.hostName}'
