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
@description('Names of the two metric alerts: telemetry the hub dropped, and the daily message quota nearly used.')
param droppedAlertName string
param quotaAlertName string
param routeAlertName string
@description('Who the alerts notify (the operations action group, when OPS_EMAIL is set).')
param actionGroupIds array
@description('The Log Analytics workspace the hub sends its routing logs to.')
param logAnalyticsId string

// Device-to-cloud messages a day per unit (of 4 KB): past the quota the hub refuses telemetry until 00:00 UTC.
var quotaPerUnit = { S1: 400000, S2: 6000000, S3: 300000000 }

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
        // Devices' connects and disconnects, for the communication watch: Microsoft's advice is these
        // events, not the registry's connectionState, at run time. The pipeline stores them
        // (DeviceConnections) and reads no reading from them.
        {
          name: 'connection-state-to-eventhub'
          source: 'DeviceConnectionStateEvents'
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

// Telemetry the hub dropped is lost before this app could see it: a route endpoint (the Event
// Hub) that refused messages for over an hour is given up on ("dead") and what it could not take
// is dropped. Any at all is an alert.
resource droppedAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: droppedAlertName
  location: 'global'
  tags: tags
  properties: {
    description: 'IoT Hub dropped device telemetry: its route to the Event Hub is failing (endpoint unhealthy for over an hour, or messages invalid for it). Those messages are lost; check the endpoint health and the Event Hubs namespace.'
    severity: 0
    enabled: true
    scopes: [ hub.id ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'dropped'
          metricNamespace: 'Microsoft.Devices/IotHubs'
          metricName: 'd2c.telemetry.egress.dropped'
          timeAggregation: 'Total'
          operator: 'GreaterThan'
          threshold: 0
        }
      ]
    }
    autoMitigate: true
    actions: [ for id in actionGroupIds: { actionGroupId: id } ]
  }
}

// Past the daily quota the hub refuses devices' telemetry (lost unless they buffer): warned at 80 %,
// while there is time to add units (azd env set IOTHUB_UNITS) before it is reached.
resource quotaAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: quotaAlertName
  location: 'global'
  tags: tags
  properties: {
    description: 'IoT Hub has used 80 % of its daily message quota; past it, devices are refused until 00:00 UTC. Add units or a larger tier (IOTHUB_UNITS, IOTHUB_SKU) and run azd provision.'
    severity: 1
    enabled: true
    scopes: [ hub.id ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'quota'
          metricNamespace: 'Microsoft.Devices/IotHubs'
          metricName: 'dailyMessageQuotaUsed'
          timeAggregation: 'Maximum'
          operator: 'GreaterThan'
          threshold: quotaPerUnit[sku] * units * 8 / 10
        }
      ]
    }
    autoMitigate: true
    actions: [ for id in actionGroupIds: { actionGroupId: id } ]
  }
}

// The route's health as the hub logs it (its resource logs, category Routes, to Log Analytics): an
// endpoint that stops taking messages is "unhealthy" at once and "dead" after an hour, when the hub
// starts dropping what it cannot deliver (the dropped metric above). Alerting on unhealthy leaves
// that hour to mend it. Resource logs are best effort (the hub does not promise every entry), so
// the metric stays the certain signal.
resource routeLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'routes-to-log-analytics'
  scope: hub
  properties: {
    workspaceId: logAnalyticsId
    logs: [ { category: 'Routes', enabled: true } ]
  }
}

var routeQuery = 'AzureDiagnostics | where ResourceProvider == "MICROSOFT.DEVICES" and Category == "Routes" and OperationName in~ ("endpointUnhealthy", "endpointDead")'

resource routeAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: routeAlertName
  location: location
  tags: tags
  properties: {
    displayName: 'IoT Hub route to the Event Hub unhealthy'
    description: 'IoT Hub cannot deliver device telemetry to the Event Hub and is retrying; after an hour it drops what it cannot deliver. Check the endpoint health (az iot hub routing-endpoint) and the Event Hubs namespace.'
    severity: 1
    enabled: true
    scopes: [ logAnalyticsId ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: routeQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    autoMitigate: true
    actions: { actionGroups: actionGroupIds }
  }
  dependsOn: [ routeLogs ]
}
