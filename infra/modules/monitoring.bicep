// Log Analytics and Application Insights (Entra ID auth only: the app publishes with its identity),
// and the alerts that tell operators when the telemetry function keeps a batch it cannot handle, is
// held up, refuses readings, takes in readings with a sensor not measured, or hears from no machine at all.
param location string
param tags object
param logAnalyticsName string
param applicationInsightsName string
param actionGroupName string
param keptBatchAlertName string
param heldUpAlertName string
param refusedAlertName string
param notMeasuredAlertName string
param plantSilentAlertName string
param teamsAlertName string
@description('Emailed when a telemetry batch is kept after its retries. Empty: the alert still fires in Azure Monitor, nobody is emailed.')
param opsEmail string

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true
  }
}

// What telemetryIngest logs (as an error) when it keeps a batch after its retries
// (src/lib/telemetry-ingest.ts, DEAD_LETTERED_LOG): its readings are not in Data Explorer until
// the redelivery gets them through, so someone must look at why.
var keptBatchMessage = 'batch dead-lettered after its retries'
// The redelivery timer (src/lib/batch-redelivery.ts, BATCH_REDELIVERY_FUNCTION) fails its
// invocation while kept batches still fail. Requests are never sampled (host.json), where the
// line above may be: with both, a kept batch that stays kept is reported even then.
var redeliveryFunction = 'batchRedelivery'
// The telemetry function (src/lib/telemetry-ingest.ts, TELEMETRY_INGEST_FUNCTION): a batch that
// fails is retried for as long as it fails and holds its partition up meanwhile.
var ingestFunction = 'telemetryIngest'
// What the pipeline logs (as a warning) when a batch refuses readings (src/lib/pipeline.ts,
// REFUSED_LOG): no twin for the device, a reading its model does not allow, a body that is not
// JSON. They are kept whole, not taken in, until someone mends the cause and takes them in again.
var refusedMessage = 'telemetry readings refused'
// The timer that takes in readings refused for a model the build now describes (src/lib/refused-readings.ts,
// REFUSED_READMISSION_FUNCTION) fails its invocation when kept batches could not be taken through.
var readmissionFunction = 'refusedReadmission'
// What the pipeline logs (as a warning) when readings carry a value sent as null (src/lib/pipeline.ts,
// NOT_MEASURED_LOG): taken in with their other values, the sensors named by device.
var notMeasuredMessage = 'telemetry values not measured'
// What the communication watch logs (as an error) when no machine in service has been heard from
// lately and some have been silent past the alarm's delay (src/lib/alerts/communication-watch.ts,
// PLANT_SILENT_LOG): a common cause, so no machine is raised on its own in Teams.
var plantSilentMessage = 'no telemetry from any equipment'
// The timer that sends alert cards kept while Teams did not take them (src/lib/alerts/alert-delivery.ts,
// ALERT_DELIVERY_FUNCTION) fails its invocation, every minute, while any card still waits.
var alertDeliveryFunction = 'alertDelivery'

resource opsGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(opsEmail)) {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'plant-ops'
    enabled: true
    emailReceivers: [ { name: 'operations', emailAddress: opsEmail, useCommonAlertSchema: true } ]
  }
}

// Who every alert notifies (here and in iothub.bicep): the group, when there is an address to email.
var opsActionGroups = empty(opsEmail) ? [] : [ opsGroup.id ]

resource keptBatchAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: keptBatchAlertName
  location: location
  tags: tags
  properties: {
    displayName: 'Telemetry batch kept after its retries'
    description: 'telemetryIngest kept a batch it could not handle in the storage account (telemetry-dead-letters), or batchRedelivery, which hands kept batches back every 5 minutes, left some still failing. Their log lines say why; GET /api/telemetry/kept lists them.'
    severity: 1
    enabled: true
    scopes: [ applicationInsights.id ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: 'union (traces | where severityLevel >= 3 and message startswith "${keptBatchMessage}"), (requests | where name == "${redeliveryFunction}" and tobool(success) == false)'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    autoMitigate: true
    actions: { actionGroups: opsActionGroups }
  }
}

// A partition held up: telemetryIngest failing in each of three 5-minute windows (retried every
// 2 minutes at most, so a batch that keeps failing fails in every window). Its readings wait in the
// Event Hub, which keeps them 7 days: the bound on how long the cause may take to mend.
resource heldUpAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: heldUpAlertName
  location: location
  tags: tags
  properties: {
    displayName: 'Telemetry held up: telemetryIngest failing for 15 minutes'
    description: 'A telemetry batch has failed for 15 minutes and is retried while it fails (a far end down or refusing: Data Explorer, Digital Twins, storage); its partition waits meanwhile. The Event Hub keeps its events 7 days, so nothing is lost before then. The failed invocations say why.'
    severity: 1
    enabled: true
    scopes: [ applicationInsights.id ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: 'requests | where name == "${ingestFunction}" and tobool(success) == false'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 3, minFailingPeriodsToAlert: 3 }
        }
      ]
    }
    autoMitigate: true
    actions: { actionGroups: opsActionGroups }
  }
}

// Readings refused: a warning, not a page. Stateful (autoMitigate), so a device that keeps sending
// what is refused is one alert while it lasts, resolved once 15 minutes pass without a refusal.
resource refusedAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: refusedAlertName
  location: location
  tags: tags
  properties: {
    displayName: 'Telemetry readings refused'
    description: 'telemetryIngest refused readings (no digital twin for the device, a reading its model does not allow, a body that is not JSON, a timestamp far ahead). They are in Data Explorer\'s DeadLetters with why, and kept whole in the storage account (telemetry-refused); the log line names the devices. Mend the cause (register the twin, correct the device), then take them in again: the dashboard\'s Readings refused, or POST /api/telemetry/dead-letters/readmit. Those refused for a model version deployed since are taken in by the refusedReadmission timer; its failed rounds fire this rule too.'
    severity: 2
    enabled: true
    scopes: [ applicationInsights.id ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'union (traces | where severityLevel >= 2 and message startswith "${refusedMessage}"), (requests | where name == "${readmissionFunction}" and tobool(success) == false)'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    autoMitigate: true
    actions: { actionGroups: opsActionGroups }
  }
}

// Sensors not measured: an instrument to mend (a probe, its wiring, the gateway's tag), its machine
// watched meanwhile on its other sensors only. A warning, stateful like the refused readings' rule.
resource notMeasuredAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: notMeasuredAlertName
  location: location
  tags: tags
  properties: {
    displayName: 'Sensors not measured'
    description: 'Devices send readings with a sensor\'s value as null (not measured: a probe that does not answer, a gateway tag of bad quality). The readings are taken in with their other values, so the machine is still watched, but not on that sensor: its envelope and its share of the detector are blind until it is mended. The log line names each device and sensor; the dashboard shows since when the sensor was last measured.'
    severity: 2
    enabled: true
    scopes: [ applicationInsights.id ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'traces | where severityLevel >= 2 and message startswith "${notMeasuredMessage}"'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    autoMitigate: true
    actions: { actionGroups: opsActionGroups }
  }
}

// The whole plant silent: nothing watches any machine (the plant's uplink, IoT Hub's route, or
// telemetryIngest held up). A page, stateful: one alert while it lasts.
resource plantSilentAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: plantSilentAlertName
  location: location
  tags: tags
  properties: {
    displayName: 'No telemetry from any equipment'
    description: 'No machine in service has been heard from for minutes, and some have been silent past the communication-loss delay (ALARM_SILENT_AFTER_MS): a common cause, so no machine is raised in Teams on its own and nothing watches the plant meanwhile. Check the plant\'s uplink, the IoT Hub route to the Event Hub (its own alert), and whether telemetryIngest is held up (its own alert). Readings a device buffered are taken in once it sends again. Outside the plant\'s working hours (PLANT_WORKING_HOURS, when set) the plant is expected to be quiet and this is not raised.'
    severity: 1
    enabled: true
    scopes: [ applicationInsights.id ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: 'traces | where severityLevel >= 3 and message startswith "${plantSilentMessage}"'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    autoMitigate: true
    actions: { actionGroups: opsActionGroups }
  }
}

// Alert cards not reaching Teams: the people on the channel are not being told of incidents. A
// page (severity 1), stateful, so an outage is one alert, resolved once the kept cards went out.
resource teamsAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: teamsAlertName
  location: location
  tags: tags
  properties: {
    displayName: 'Alert cards not reaching Teams'
    description: 'Teams does not take the incident cards the pipeline sends (down, throttling, or the Workflows webhook gone or refusing them). The cards are kept in the storage account (alerts-outbox) and sent, oldest first, once it does; meanwhile nobody on the channel hears of incidents. Check TEAMS_WEBHOOK_URL (Key Vault secret teams-webhook-url); the dashboard shows the incidents and how many cards wait.'
    severity: 1
    enabled: true
    scopes: [ applicationInsights.id ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: 'requests | where name == "${alertDeliveryFunction}" and tobool(success) == false'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    autoMitigate: true
    actions: { actionGroups: opsActionGroups }
  }
}

output applicationInsightsId string = applicationInsights.id
output applicationInsightsName string = applicationInsights.name
output applicationInsightsConnectionString string = applicationInsights.properties.ConnectionString
output logAnalyticsId string = logAnalytics.id
output actionGroupIds array = opsActionGroups
