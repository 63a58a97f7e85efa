/** Rows as they are written to Data Explorer (and to its local stand-in): column names are the tables'. */
export interface TelemetryRow {
  Timestamp: string;
  DeviceId: string;
  ModelId: string;
  /** Dedupe key: the same reading always gets the same key. */
  MessageId: string;
  EnqueuedTime: string;
  Readings: Record<string, unknown>;
  AnomalyScore: number;
  FailureProbability: number | null;
  ModelVersion: string;
}

export interface AnomalyFlagRow {
  Timestamp: string;
  DeviceId: string;
  MessageId: string;
  Severity: 'warning' | 'critical';
  AnomalyScore: number;
  FailureProbability: number | null;
  Contributions: Record<string, number>;
  ModelVersion: string;
  AlertId: string | null;
}

/** An automated response to a failure prediction, whatever became of it. */
export interface MaintenanceActionRow {
  Timestamp: string;
  DeviceId: string;
  /** The reading that triggered it: one action per incident and reading, replays add nothing. */
  IncidentId: string;
  Action: 'emergencyStop';
  /** executed | failed | dry-run | blocked */
  Outcome: string;
  Detail: string;
  FailureProbability: number | null;
  AnomalyScore: number;
  ModelVersion: string;
}

/** One step of an incident's lifecycle (src/lib/alerts/alarm-lifecycle.ts). */
export interface AlarmEventRow {
  Timestamp: string;
  IncidentId: string;
  DeviceId: string;
  /** raised | escalated | cleared */
  Event: string;
  /** low | warning | critical */
  Priority: string;
  /** 'yes', or why nobody was told: shelved, flood, low */
  Notified: string;
  Detail: string;
}

/** One of IoT Hub's connection state events for a device. */
export interface DeviceConnectionRow {
  /** When IoT Hub saw the device connect or disconnect (its `operationTimestamp`). */
  Timestamp: string;
  DeviceId: string;
  State: 'connected' | 'disconnected';
  /** IoT Hub's order of the device's connection events: hexadecimal digits of a fixed width. */
  SequenceNumber: string;
  EnqueuedTime: string | null;
}

export interface AlertAckRow {
  AlertId: string;
  AckedAt: string;
  AckedBy: string;
  Note: string;
}

export interface DeadLetterRow {
  ReceivedAt: string;
  Reason: string;
  Detail: string;
  DeviceId: string | null;
  MessageId: string | null;
  PartitionId: string | null;
  SequenceNumber: number | null;
  EnqueuedTime: string | null;
  Body: string;
}
