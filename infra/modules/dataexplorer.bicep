// Data Explorer: the cluster (streaming ingestion on), the telemetry database (365 days kept,
// 7 days hot) and its tables, JSON mappings and dedup views, made by the project's table script.
param location string
param tags object
param clusterName string
param databaseName string
@secure() // not a secret, but the script resource's contract: its content is kept out of deployment logs
param tableScript string

resource cluster 'Microsoft.Kusto/clusters@2023-08-15' = {
  name: clusterName
  location: location
  tags: tags
  sku: { name: 'Dev(No SLA)_Standard_E2a_v4', tier: 'Basic', capacity: 1 }
  identity: { type: 'SystemAssigned' }
  properties: {
    enableStreamingIngest: true
  }
}

resource database 'Microsoft.Kusto/clusters/databases@2023-08-15' = {
  parent: cluster
  name: databaseName
  location: location
  kind: 'ReadWrite'
  properties: {
    softDeletePeriod: 'P365D'
    hotCachePeriod: 'P7D'
  }
}

resource tables 'Microsoft.Kusto/clusters/databases/scripts@2023-08-15' = {
  parent: database
  name: 'tables'
  properties: {
    scriptContent: tableScript
    continueOnErrors: false
  }
}

output clusterName string = cluster.name
output clusterUri string = cluster.properties.uri
output databaseName string = database.name
