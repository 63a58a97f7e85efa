// The Event Hub IoT Hub routes telemetry to, and the consumer group the pipeline reads with.
param location string
param tags object
param namespaceName string
param eventHubName string
param consumerGroupName string
param partitionCount int

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  sku: { name: 'Standard', tier: 'Standard', capacity: 1 }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
  }
}

resource hub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: eventHubName
  properties: {
    partitionCount: partitionCount
    // Standard's longest: telemetryIngest retries a failing batch for as long as it fails, so a
    // store outage holds its partition up and this is how long one may last before events are lost.
    messageRetentionInDays: 7
  }
}

resource consumerGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: hub
  name: consumerGroupName
}

output namespaceName string = namespace.name
output eventHubName string = hub.name
output consumerGroupName string = consumerGroup.name
