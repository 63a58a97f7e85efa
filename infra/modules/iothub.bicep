// IoT Hub (its tier and units, i.e. its daily message quota, from main.bicep) and its route: all
// device telemetry (condition true) to the Event Hub, sent with a user-assigned identity that holds
// Event Hubs Data Sender (given before the hub validates its route).
param location string
param tags object
param name string
param identityName string
@allowed([ 'S1', 'S2', 'S3' ])
param sku string
@minValue(1)
@maxValue(200)
param units int
param partitionCount int
param eventHubsNamespaceName string
param eventHubName string

var eventHubsDataSender = '2b629674-e913-4c01-ae53-ef4638d8f975'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: identityName
  location: location
  tags: tags
}

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' existing = {
  name: eventHubsNamespaceName
}

resource sender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace.id, identity.id, eventHubsDataSender)
  scope: namespace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', eventHubsDataSender)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource hub 'Microsoft.Devices/IotHubs@2023-06-30' = {
  name: name
  location: location
  tags: tags
  sku: { name: sku, capacity: units }
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    // Devices keep their SAS keys; service calls (registry, direct methods) use Entra ID only.
    disableLocalAuth: true
    eventHubEndpoints: {
      events: { partitionCount: partitionCount, retentionTimeInDays: 1 }
    }
    routing: {
      endpoints: {
        eventHubs: [
          {
            name: 'telemetry-eventhub'
            authenticationType: 'identityBased'
            identity: { userAssignedIdentity: identity.id }
            endpointUri: 'sb://${eventHubsNamespaceName}.servicebus.windows.net'
            entityPath: eventHubName
          }
        ]
      }
      routes: [
        {
          name: 'telemetry-to-eventhub'
          source: 'DeviceMessages'
          condition: 'true'
          endpointNames: [ 'telemetry-eventhub' ]
          isEnabled: true
        }
      ]
      fallbackRoute: {
        name: '$fallback'
        source: 'DeviceMessages'
        condition: 'true'
        endpointNames: [ 'events' ]
        isEnabled: true
      }
    }
  }
  dependsOn: [ sender ]
}

output name string = hub.name
output hostName string = hub.properties.hostName
