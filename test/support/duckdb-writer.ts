/**
 * A process that writes telemetry rows to a DuckDB store one batch at a time, and says how many
 * were acknowledged so far on stdout ("acked <n>"); a test kills it mid-write.
 *   tsx test/support/duckdb-writer.ts <file>
 */
import { DuckDbTelemetryStore } from '../../src/lib/store/duckdb-telemetry-store.ts';

const store = await DuckDbTelemetryStore.open(process.argv[2]!);
for (let i = 0; ; i++) {
  const now = new Date().toISOString();
  await store.write({ telemetry: [{ Timestamp: now, DeviceId: 'arm-1', ModelId: 'dtmi:manufacturing:RoboticArm;1', MessageId: `arm-1|m:${i}`, EnqueuedTime: now, Readings: { temperature: 60 + (i % 10) }, AnomalyScore: 0.1, FailureProbability: null, ModelVersion: 'streaming-2' }], anomalies: [], deadLetters: [] });
  process.stdout.write(`acked ${i + 1}\n`);
}
