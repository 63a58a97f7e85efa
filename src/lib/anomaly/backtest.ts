/**
 * Replays stored telemetry through the streaming detector and the alarm lifecycle the pipeline
 * runs, device by device in time order, and scores the incidents that would have notified
 * against a simulator run's ground truth (onset and failure per degrading device): precision,
 * recall, lead time and false incidents, counted as in bench:detect.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { StreamingDetector } from './streaming-detector.ts';
import { emptyDetectorState } from './detector-state.ts';
import { evaluateAlarms, type DetectionReport, type GroundTruth } from './evaluate.ts';
import { AlarmLifecycle, alarmEvidence, bearsOnAlarms, type AlarmSettings, type AlarmState } from '../alerts/alarm-lifecycle.ts';

export interface TelemetryHistory {
  devices(): Promise<string[]>;
  readingsAfter(deviceId: string, after: number, limit: number): Promise<{ time: number; readings: Record<string, unknown> }[]>;
}

const truthFileSchema = z.object({
  startedAt: z.iso.datetime({ offset: true }),
  degradation: z.array(z.object({ deviceId: z.string().min(1), onset: z.iso.datetime({ offset: true }), failure: z.iso.datetime({ offset: true }) })).default([]),
});
export type GroundTruthFile = z.infer<typeof truthFileSchema>;

export function readGroundTruth(path: string): GroundTruthFile {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new AppError('backtest.badTruth', `cannot read ground truth ${path}: ${(error as Error).message}`, { status: 400 });
  }
  const parsed = truthFileSchema.safeParse(json);
  if (!parsed.success) throw new AppError('backtest.badTruth', `ground truth ${path} is not a simulator ground-truth.json: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { status: 400 });
  return parsed.data;
}

export interface BacktestResult extends DetectionReport {
  devices: number;
  readings: number;
  /** Degrading devices named in the ground truth that have no stored telemetry. */
  missingDevices: string[];
}

export async function backtest(history: TelemetryHistory, truthFile: GroundTruthFile, options: { alarms?: Partial<AlarmSettings>; pageSize?: number; detector?: StreamingDetector } = {}): Promise<BacktestResult> {
  const detector = options.detector ?? new StreamingDetector();
  const lifecycle = new AlarmLifecycle({ thresholds: { warning: 0.5, critical: 0.8 }, ...options.alarms });
  const pageSize = options.pageSize ?? 10_000;
  const startedAt = Date.parse(truthFile.startedAt);
  const failures = new Map(truthFile.degradation.map((d) => [d.deviceId, { onset: Date.parse(d.onset), failure: Date.parse(d.failure) }]));
  const devices = await history.devices();
  const truth: GroundTruth[] = [];
  const starts = new Map<string, number[]>();
  let readings = 0;
  for (const deviceId of devices) {
    const state = emptyDetectorState();
    const alarms: AlarmState = {};
    const raised: number[] = [];
    let after = startedAt - 1;
    let first: number | undefined;
    let last = 0;
    for (;;) {
      const page = await history.readingsAfter(deviceId, after, pageSize);
      for (const r of page) {
        const features: Record<string, number> = {};
        for (const [k, v] of Object.entries(r.readings)) if (typeof v === 'number') features[k] = v;
        const status = typeof r.readings.status === 'string' ? r.readings.status : undefined;
        const d = detector.step(state, r.time, features, status);
        // As the pipeline watches them: a status alone neither raises nor clears.
        const evidence = alarmEvidence(d, undefined);
        if (bearsOnAlarms(evidence, Object.keys(features).length > 0, status)) {
          for (const e of lifecycle.evaluate(alarms, [evidence], { line: deviceId, idOf: () => `${deviceId}|${r.time}` })) if (e.kind === 'raised' && e.notify) raised.push(e.time);
        }
        first ??= r.time;
        last = r.time;
        readings++;
      }
      if (page.length < pageSize) break;
      after = page[page.length - 1]!.time;
    }
    if (first === undefined) continue;
    const f = failures.get(deviceId);
    truth.push({ deviceId, startTime: first, endTime: last, ...(f ? { onsetTime: f.onset, failureTime: f.failure } : {}) });
    starts.set(deviceId, raised);
  }
  const seen = new Set(truth.map((t) => t.deviceId));
  return { ...evaluateAlarms(truth, starts), devices: truth.length, readings, missingDevices: [...failures.keys()].filter((d) => !seen.has(d)) };
}
