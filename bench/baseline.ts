/**
 * The one-patch-per-event baseline: how the recipe's function handles telemetry. Every event is
 * parsed, validated against the same models, scored by the plant's envelope rule (the recipe's
 * scoring; not the streaming detector, whose cost is what the pipeline must earn back), written
 * to the store and patched onto its twin on its own, in arrival order.
 */
import type { TelemetryCatalog } from '../src/lib/telemetry/catalog.ts';
import type { TelemetryStorePort, TwinsPort } from '../src/lib/ports.ts';
import { scoreReading } from '../src/lib/anomaly/envelope-detector.ts';
import type { Batch } from './stream.ts';

export async function baselineBatch(batch: Batch, catalog: TelemetryCatalog, twins: TwinsPort, store: TelemetryStorePort, models: Map<string, string>): Promise<void> {
  const sys = batch.meta.systemPropertiesArray!;
  for (let i = 0; i < batch.bodies.length; i++) {
    const deviceId = sys[i]!['iothub-connection-device-id'] as string;
    const { timestamp, seq, ...values } = JSON.parse(batch.bodies[i]!.toString('utf8')) as Record<string, unknown>;
    const modelId = models.get(deviceId)!;
    const kind = catalog.forTwinModel(modelId)!;
    if (!kind.validate(values).ok) continue;
    const features = Object.fromEntries(kind.numericTelemetry.map((n) => [n, typeof values[n] === 'number' ? (values[n] as number) : null]));
    const score = scoreReading({ deviceId, modelId, time: Date.parse(timestamp as string), status: values.status as string, features });
    await store.write({
      telemetry: [{ Timestamp: timestamp as string, DeviceId: deviceId, ModelId: modelId, MessageId: `${deviceId}|s:${seq}`, EnqueuedTime: timestamp as string, Readings: values, AnomalyScore: score.anomalyScore, FailureProbability: null, ModelVersion: score.modelVersion }],
      anomalies: [],
      deadLetters: [],
    });
    await twins.patch(deviceId, [
      ...Object.entries(values).map(([k, v]) => ({ op: 'add' as const, path: `/${k}`, value: v })),
      { op: 'add', path: '/lastTelemetryTime', value: timestamp },
      { op: 'add', path: '/anomalyScore', value: score.anomalyScore },
    ]);
  }
}
