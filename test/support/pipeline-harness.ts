/** The ingest handler wired to in-memory far ends, as the Functions host would call it. */
import azureFunctions from '@azure/functions';

const { InvocationContext } = azureFunctions;
import { TelemetryPipeline, type PipelineSettings } from '../../src/lib/pipeline.ts';
import { createTelemetryIngest } from '../../src/lib/telemetry-ingest.ts';
import { ResilientScorer } from '../../src/lib/anomaly/resilient-scorer.ts';
import { silentLogger } from '../../src/lib/log.ts';
import type { Alert, AlertSink, CommandsPort, ClaimWindowPort, BatchDeadLetterPort, MethodResult, ScoreResult, ScorerPort } from '../../src/lib/ports.ts';
import { InMemoryTwins } from './in-memory-twins.ts';
import { InMemoryStore } from './in-memory-store.ts';
import { plantCatalog, type Msg, batch } from './plant.ts';
import type { TelemetryCatalog } from '../../src/lib/telemetry/catalog.ts';

export class CapturedAlerts implements AlertSink {
  readonly sent: Alert[] = [];
  failNext: Error[] = [];
  async send(alert: Alert): Promise<void> {
    const e = this.failNext.shift();
    if (e) throw e;
    this.sent.push(alert);
  }
}

/** Equipment that answers direct methods: records each call; can be told to fail the next ones. */
export class CapturedCommands implements CommandsPort {
  readonly calls: { deviceId: string; methodName: string; payload: unknown }[] = [];
  failNext: Error[] = [];
  /** What the device answers to the next calls (then 200). */
  answerNext: MethodResult[] = [];
  async invoke(deviceId: string, methodName: string, payload: unknown): Promise<MethodResult> {
    const e = this.failNext.shift();
    if (e) throw e;
    this.calls.push({ deviceId, methodName, payload });
    return this.answerNext.shift() ?? { status: 200, payload: { stopped: true } };
  }
}

/** A failure model that is sure about hot readings: 95 % failure probability at 95 °C and above. */
export const HOT_FAILURE_MODEL: ScorerPort = {
  async score(inputs): Promise<ScoreResult[]> {
    return inputs.map((i): ScoreResult => ((i.features.temperature ?? 0) >= 95 ? { anomalyScore: 0.9, failureProbability: 0.95, contributions: { temperature: 1 }, modelVersion: 'fp-1' } : { anomalyScore: 0, failureProbability: 0.01, contributions: {}, modelVersion: 'fp-1' }));
  },
};

/** The automated stop on: 90 % on three readings, at most three an hour, once per four-hour incident. */
export const AUTO_STOP = { mode: 'on' as const, minProbability: 0.9, confirmReadings: 3, maxPerHour: 3, incidentMs: 4 * 3_600_000, maxAgeMs: 120_000 };

export const defaultSettings: PipelineSettings = {
  thresholds: { warning: 0.5, critical: 0.8 },
  twinPatchIntervalMs: 15_000,
  twinPatchConcurrency: 8,
  maxClockSkewMs: 5 * 60_000,
  dashboardUrl: 'http://localhost:7071',
};

/**
 * The ingest handler with in-memory far ends. Batches are numbered as Event Hubs numbers a
 * partition's events; harnesses given the same `sequences` share the partitions, as instances
 * of one function app do (a partition that one instance handled meanwhile shows as a gap).
 */
export function harness(options: { settings?: Partial<PipelineSettings>; endpoint?: ScorerPort; now?: () => number; twins?: InMemoryTwins; commands?: CommandsPort; catalog?: TelemetryCatalog; sequences?: Map<string, number>; floods?: ClaimWindowPort; stops?: ClaimWindowPort; deadLetters?: BatchDeadLetterPort; refused?: Pick<BatchDeadLetterPort, 'put'>; alerts?: AlertSink } = {}) {
  const sequences = options.sequences ?? new Map<string, number>();
  const twins = options.twins ?? new InMemoryTwins();
  const store = new InMemoryStore();
  const alerts = new CapturedAlerts();
  const logs: string[] = [];
  /** What the pipeline logged (its own logger, not the invocation's). */
  const logged: { level: string; message: string; fields: Record<string, unknown> | undefined }[] = [];
  const pipeline = new TelemetryPipeline({
    catalog: options.catalog ?? plantCatalog(),
    twins,
    store,
    scorer: new ResilientScorer(options.endpoint, silentLogger),
    // The captured sink, or the caller's in front of it (cards kept while Teams is down).
    alerts: options.alerts ?? alerts,
    ...(options.commands ? { commands: options.commands } : {}),
    ...(options.floods ? { floods: options.floods } : {}),
    ...(options.stops ? { stops: options.stops } : {}),
    settings: { ...defaultSettings, ...options.settings },
    logger: { log: (level, message, fields) => void logged.push({ level, message, fields }) },
    ...(options.now ? { now: options.now } : {}),
    ...(options.refused ? { refused: options.refused } : {}),
  });
  const ingest = createTelemetryIngest(pipeline, options.deadLetters ? { deadLetters: options.deadLetters } : {});
  let invocation = 0;
  /** `retryCount`: which retry of the batch the host says this is (its retryContext). */
  const send = (messages: Msg[], partition = '0', retryCount?: number) => {
    const first = sequences.get(partition) ?? 0;
    sequences.set(partition, first + messages.length);
    const { bodies, meta } = batch(messages, partition, first);
    const context = new InvocationContext({
      invocationId: `inv-${++invocation}`,
      functionName: 'telemetryIngest',
      triggerMetadata: meta as Record<string, unknown>,
      ...(retryCount === undefined ? {} : { retryContext: { retryCount, maxRetryCount: -1 } }),
      logHandler: (level, ...args) => logs.push(`${level} ${args.join(' ')}`),
    });
    return ingest(bodies, context);
  };
  return { twins, store, alerts, logs, logged, pipeline, send, sequences };
}
