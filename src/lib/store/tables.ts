/**
 * The Data Explorer tables, one definition for the Kusto adapter's JSON mappings, the table
 * script in infra/ and the local DuckDB store. Column order is the ingestion order.
 */
export type KustoType = 'datetime' | 'string' | 'real' | 'long' | 'dynamic';

export interface TableDef {
  name: 'EquipmentTelemetry' | 'AnomalyFlags' | 'DeadLetters' | 'MaintenanceActions' | 'AlertAcks' | 'AlarmEvents' | 'DeviceConnections';
  mapping: string;
  columns: readonly (readonly [name: string, type: KustoType])[];
  /** Columns that identify a row: a replayed row with the same key is the same row. */
  key: readonly string[];
  /** Some key columns may be null (a dead letter may lack a message id or a partition). */
  keyNullable?: true;
}

export const TABLES: readonly TableDef[] = [
  {
    name: 'EquipmentTelemetry',
    mapping: 'EquipmentTelemetry_json',
    columns: [
      ['Timestamp', 'datetime'], ['DeviceId', 'string'], ['ModelId', 'string'], ['MessageId', 'string'],
      ['EnqueuedTime', 'datetime'], ['Readings', 'dynamic'], ['AnomalyScore', 'real'],
      ['FailureProbability', 'real'], ['ModelVersion', 'string'],
    ],
    key: ['DeviceId', 'MessageId'],
  },
  {
    name: 'AnomalyFlags',
    mapping: 'AnomalyFlags_json',
    columns: [
      ['Timestamp', 'datetime'], ['DeviceId', 'string'], ['MessageId', 'string'], ['Severity', 'string'],
      ['AnomalyScore', 'real'], ['FailureProbability', 'real'], ['Contributions', 'dynamic'],
      ['ModelVersion', 'string'], ['AlertId', 'string'],
    ],
    key: ['DeviceId', 'MessageId'],
  },
  {
    name: 'DeadLetters',
    mapping: 'DeadLetters_json',
    columns: [
      ['ReceivedAt', 'datetime'], ['Reason', 'string'], ['Detail', 'string'], ['DeviceId', 'string'],
      ['MessageId', 'string'], ['PartitionId', 'string'], ['SequenceNumber', 'long'],
      ['EnqueuedTime', 'datetime'], ['Body', 'string'],
    ],
    key: ['PartitionId', 'SequenceNumber', 'Reason', 'MessageId'],
    keyNullable: true,
  },
  {
    name: 'MaintenanceActions',
    mapping: 'MaintenanceActions_json',
    columns: [
      ['Timestamp', 'datetime'], ['DeviceId', 'string'], ['IncidentId', 'string'], ['Action', 'string'],
      ['Outcome', 'string'], ['Detail', 'string'], ['FailureProbability', 'real'], ['AnomalyScore', 'real'],
      ['ModelVersion', 'string'],
    ],
    key: ['DeviceId', 'IncidentId', 'Action'],
  },
  {
    name: 'AlertAcks',
    mapping: 'AlertAcks_json',
    columns: [['AlertId', 'string'], ['AckedAt', 'datetime'], ['AckedBy', 'string'], ['Note', 'string']],
    // The first acknowledgement of an alert is the one that counts.
    key: ['AlertId'],
  },
  {
    name: 'AlarmEvents',
    mapping: 'AlarmEvents_json',
    // An incident's lifecycle: raised, escalated, cleared (IncidentId is the alert's AlertId).
    columns: [
      ['Timestamp', 'datetime'], ['IncidentId', 'string'], ['DeviceId', 'string'], ['Event', 'string'],
      ['Priority', 'string'], ['Notified', 'string'], ['Detail', 'string'],
    ],
    key: ['IncidentId', 'Event', 'Timestamp'],
  },
  {
    name: 'DeviceConnections',
    mapping: 'DeviceConnections_json',
    // IoT Hub's own connection state events (connected, disconnected), ordered per device by IoT Hub's
    // sequence number (hexadecimal digits of a fixed width), not by their times.
    columns: [['Timestamp', 'datetime'], ['DeviceId', 'string'], ['State', 'string'], ['SequenceNumber', 'string'], ['EnqueuedTime', 'datetime']],
    key: ['DeviceId', 'SequenceNumber'],
  },
];

export function table(name: TableDef['name']): TableDef {
  return TABLES.find((t) => t.name === name)!;
}

/**
 * The control commands that create the tables, their JSON mappings, deduplicating views (Data
 * Explorer has no unique keys: replays are removed at read time by materialized views) and the
 * streaming ingestion policy. infra/ runs the same script.
 */
export function kustoTableScript(): string {
  const lines: string[] = [];
  for (const t of TABLES) {
    const cols = t.columns.map(([n, ty]) => `${n}:${ty}`).join(', ');
    lines.push(`.create-merge table ${t.name} (${cols})`);
    const mapping = JSON.stringify(t.columns.map(([n]) => ({ column: n, Properties: { Path: `$.${n}` } })));
    lines.push(`.create-or-alter table ${t.name} ingestion json mapping '${t.mapping}' '${mapping}'`);
    lines.push(`.alter table ${t.name} policy streamingingestion enable`);
    lines.push(
      `.create async ifnotexists materialized-view with (backfill=true) ${t.name}Deduped on table ${t.name} { ${t.name} | summarize take_any(*) by ${t.key.join(', ')} }`,
    );
  }
  return lines.join('\n\n') + '\n';
}
