/**
 * Fault scenarios shared by the fault suite (test/fault, small) and `npm run bench:faults` (more
 * iterations): the store and Digital Twins throttling in storms, the alert sink failing, the store
 * refusing for a while (batches kept after their retries and redelivered), Teams down again and
 * again (cards kept, then delivered), clock
 * skew and stale backlogs, a full disk under the event log, and bad HTTP requests. Each case
 * checks the invariants: nothing acknowledged is lost, nothing is stored twice, no twin moves
 * backwards, no stop on stale data, no crash, no 5xx for a client's error.
 */
import { mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../../src/lib/errors.ts';
import { EventLog } from '../../src/emulators/event-log/event-log.ts';
import { createTwinApi } from '../../src/lib/http/twin-api.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { CapturedCommands, harness } from './pipeline-harness.ts';
import { ContainerClient } from '@azure/storage-blob';
import { startAzurite } from '../../src/local/azurite.ts';
import { BATCH_DEAD_LETTER_CONTAINER, BlobBatchDeadLetters } from '../../src/lib/store/blob-batch-dead-letters.ts';
import { redeliverBatches } from '../../src/lib/batch-redelivery.ts';
import { TELEMETRY_INGEST_TRIGGER } from '../../src/lib/telemetry-ingest.ts';
import { ARM, LINE } from './plant.ts';
import type { AlertSink, ScoreResult, ScorerPort } from '../../src/lib/ports.ts';
import { AlertDelivery } from '../../src/lib/alerts/alert-delivery.ts';
import { ALERT_OUTBOX_CONTAINER, BlobAlertOutbox } from '../../src/lib/alerts/blob-alert-outbox.ts';

export interface FaultTally {
  cases: number;
  crashes: number;
  lost: number;
  duplicated: number;
  wrong5xx: number;
  /** Also counted as failures: a twin moved backwards, a stop on stale data. */
  backwards: number;
  staleStops: number;
  notes: string[];
}

/** A small deterministic generator, so a scenario's faults are the same every run. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0) / 2 ** 32);
}

const throttled = () => new AppError('store.throttled', 'throttled (429)', { status: 429, retryable: true });
const reading = (time: number, n: number, temperature = 60) => JSON.stringify({ timestamp: new Date(time).toISOString(), temperature, vibration: 0.3, pressure: 6, cycleCount: n, status: 'running' });

/** The host's retry: the same batch again until it succeeds (bounded). */
async function deliver(send: () => Promise<unknown>, tally: FaultTally, attempts = 30): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    try {
      await send();
      return true;
    } catch (error) {
      if (!(error instanceof AppError) && !(error as { retryable?: boolean }).retryable) {
        tally.crashes++;
        tally.notes.push(`unexpected error: ${(error as Error).message}`);
        return false;
      }
    }
  }
  return false;
}

/** Throttling storms on the store, Digital Twins and the alert sink, with the host retrying. */
async function storms(tally: FaultTally, iterations: number, seed: number): Promise<void> {
  const random = rng(seed);
  const feed = new ArmFeed(random);
  const h = harness({ now: () => feed.clock + 1000 });
  for (const id of ARMS) h.twins.add(id, ARM);
  const written = recordWrites(h);
  const lastSeen = new Map<string, string>();
  for (let i = 0; i < iterations; i++) {
    tally.cases++;
    const messages = feed.next();
    const storm = Math.floor(random() * 4);
    h.store.failNext = Array.from({ length: storm }, throttled);
    h.twins.failNext.patch = Array.from({ length: Math.floor(random() * 3) }, () => new AppError('twins.throttled', '429', { status: 429, retryable: true }));
    h.alerts.failNext = random() < 0.3 ? [new Error('Teams answered 503')] : [];
    if (!(await deliver(() => h.send(messages), tally))) tally.notes.push(`batch ${i} never went through`);
    checkTwinsForward(h, lastSeen, tally);
  }
  countLostAndDuplicated(feed.expected, written, tally);
}

type Harness = ReturnType<typeof harness>;
const ARMS = ['robotic-arm-001', 'robotic-arm-002'];

/** Batches of four readings, the two arms taking turns a second apart; each reading's identity is expected in the store once. */
class ArmFeed {
  clock = Date.parse('2026-12-01T08:00:00Z');
  readonly expected: string[] = [];
  private n = 0;
  constructor(private readonly random: () => number) {}

  next(): { device: string; body: string }[] {
    const messages: { device: string; body: string }[] = [];
    for (let k = 0; k < 4; k++) {
      this.clock += 1000;
      const device = ARMS[k % 2]!;
      this.expected.push(`${device}#${++this.n}`);
      messages.push({ device, body: reading(this.clock, this.n, 60 + this.random() * 5) });
    }
    return messages;
  }
}

/** Reading identity (device#cycleCount) → the store keys it was written under. */
function recordWrites(h: Harness): Map<string, Set<string>> {
  const written = new Map<string, Set<string>>();
  const write = h.store.write.bind(h.store);
  h.store.write = async (b) => {
    await write(b);
    for (const r of b.telemetry) {
      const n = (r.Readings as Record<string, unknown>).cycleCount;
      const id = `${r.DeviceId}#${String(n)}`;
      written.set(id, (written.get(id) ?? new Set()).add(`${r.DeviceId}|${r.MessageId}`));
    }
  };
  return written;
}

function checkTwinsForward(h: Harness, lastSeen: Map<string, string>, tally: FaultTally): void {
  for (const id of ARMS) {
    const t = h.twins.props(id).lastTelemetryTime as string | undefined;
    const before = lastSeen.get(id);
    if (t && before && Date.parse(t) < Date.parse(before)) tally.backwards++;
    if (t) lastSeen.set(id, t);
  }
}

function countLostAndDuplicated(expected: readonly string[], written: Map<string, Set<string>>, tally: FaultTally): void {
  for (const id of expected) {
    const keys = written.get(id);
    if (!keys) tally.lost++;
    else if (keys.size > 1) tally.duplicated++;
  }
}

/**
 * The store refuses for a while with an error retrying does not mend (a role assignment gone, a
 * table it will not write): the host retries the batch for ever; after its retries the handler
 * keeps it whole in the storage account (Azurite here) and the partition goes on; the redelivery
 * hands kept batches back, and once the store accepts again they go through.
 */
async function refusals(tally: FaultTally, iterations: number, seed: number): Promise<void> {
  const random = rng(seed);
  const dir = mkdtempSync(join(tmpdir(), 'fault-refusals-'));
  const azurite = await startAzurite({ location: dir, port: 0 });
  try {
    const deadLetters = new BlobBatchDeadLetters(new ContainerClient(azurite.connectionString, BATCH_DEAD_LETTER_CONTAINER));
    const feed = new ArmFeed(random);
    const h = harness({ now: () => feed.clock + 1000, deadLetters });
    for (const id of ARMS) h.twins.add(id, ARM);
    const written = recordWrites(h);
    const refused = () => new AppError('store.http403', 'Data Explorer answered 403', { status: 502 });
    const redeliver = () => redeliverBatches({ deadLetters, pipeline: h.pipeline, logger: silentLogger, limit: 20 });
    const lastSeen = new Map<string, string>();
    let kept = 0;
    for (let i = 0; i < iterations; i++) {
      tally.cases++;
      const messages = feed.next();
      // Now and then the store refuses the next 1–20 writes for good.
      if (random() < 0.15) h.store.failNext.push(...Array.from({ length: 1 + Math.floor(random() * 20) }, refused));
      let through = false;
      // As the host runs the registration's policy: its retries, then a checkpoint past the batch
      // whatever happened; a policy that never runs out (-1) is cut at 40, far past the 8 after
      // which the handler keeps a batch.
      const { maxRetryCount } = TELEMETRY_INGEST_TRIGGER.retry;
      for (let retry = 0; retry <= (maxRetryCount < 0 ? 40 : maxRetryCount) && !through; retry++) {
        try {
          const result = await h.send(messages, '0', retry);
          if (result.deadLetterReasons['batch.deadLettered']) kept++;
          through = true;
        } catch (error) {
          if (!(error instanceof AppError)) {
            tally.crashes++;
            tally.notes.push(`unexpected error: ${(error as Error).message}`);
            break;
          }
        }
      }
      if (!through) tally.notes.push(`refusals: batch ${i} neither went through nor was kept`);
      if (i % 10 === 9) await redeliver();
      checkTwinsForward(h, lastSeen, tally);
    }
    // The store accepts again: the redelivery rounds empty the container.
    h.store.failNext = [];
    for (let round = 0; round < 100 && (await redeliver()).tried > 0; round++) checkTwinsForward(h, lastSeen, tally);
    let left = 0;
    for await (const _ of deadLetters.names()) left++;
    if (left) tally.notes.push(`refusals: ${left} kept batches never redelivered`);
    if (kept === 0) tally.notes.push('refusals: no batch was kept, so the scenario tried nothing');
    countLostAndDuplicated(feed.expected, written, tally);
  } finally {
    await azurite.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Teams goes down again and again while equipment faults raise incidents: with the cards kept in the
 * storage account (Azurite here), no batch fails for it (the partition is never held up), and once
 * Teams answers every incident's newest card reaches it once, cards in the order handed over.
 */
async function teamsOutages(tally: FaultTally, iterations: number, seed: number): Promise<void> {
  const random = rng(seed);
  const dir = mkdtempSync(join(tmpdir(), 'fault-teams-'));
  const azurite = await startAzurite({ location: dir, port: 0 });
  try {
    const feed = new ArmFeed(random);
    let down = false;
    const received: string[] = [];
    const teams: AlertSink = {
      async send(alert) {
        if (down) throw new AppError('teams.http503', 'Teams answered 503', { status: 503, retryable: true });
        received.push(alert.id);
      },
    };
    const delivery = new AlertDelivery(teams, new BlobAlertOutbox(new ContainerClient(azurite.connectionString, ALERT_OUTBOX_CONTAINER)), silentLogger, () => feed.clock + 1000);
    const handedOver: { id: string; incident: string }[] = [];
    const h = harness({ now: () => feed.clock + 1000, alerts: { send: (alert) => (handedOver.push({ id: alert.id, incident: alert.incident.id }), delivery.send(alert)) } });
    h.twins.add('production-line-a', LINE);
    for (const id of ARMS) h.twins.add(id, ARM, { equipmentId: id });
    const written = recordWrites(h);
    let kept = 0;
    for (let i = 0; i < iterations; i++) {
      tally.cases++;
      // Outages of a few batches; now and then an arm reports a fault (an incident at once) or is back to normal.
      if (random() < 0.25) down = !down;
      const messages = feed.next().map((m) => (random() < 0.1 ? { ...m, body: m.body.replace('"status":"running"', '"status":"fault"') } : m));
      try {
        kept += (await h.send(messages)).alertsKept ?? 0;
      } catch (error) {
        tally.notes.push(`teams outage: batch ${i} failed (${(error as Error).message}): the partition would be held up`);
      }
      if (i % 5 === 4) await delivery.deliverKept();
    }
    down = false;
    for (let round = 0; round < 100 && (await delivery.deliverKept()).waiting > 0; round++);
    const once = new Set(received);
    tally.duplicated += received.length - once.size;
    // Every incident's newest card reaches Teams (a kept card a later one of its incident supersedes may be folded into it), in the order handed over.
    const newest = new Map(handedOver.map((c) => [c.incident, c.id]));
    tally.lost += [...newest.values()].filter((id) => !once.has(id)).length;
    const order = handedOver.map((c) => c.id).filter((id) => once.has(id));
    if (received.join() !== order.join()) tally.notes.push('teams outage: cards reached Teams in another order than handed over');
    if (kept === 0) tally.notes.push('teams outage: no card was kept, so the scenario tried nothing');
    countLostAndDuplicated(feed.expected, written, tally);
  } finally {
    await azurite.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A device's clock runs ahead, then a backlog hours old arrives: no blinding, no stop on stale data. */
async function clockSkew(tally: FaultTally): Promise<void> {
  tally.cases++;
  const now = Date.parse('2026-12-01T12:00:00Z');
  const commands = new CapturedCommands();
  // The failure model's answer for hot readings (its wire contract is tested against the local ML endpoint).
  const model: ScorerPort = {
    score: async (inputs) => inputs.map((i): ScoreResult => ((i.features.temperature ?? 0) >= 95 ? { anomalyScore: 0.9, failureProbability: 0.97, contributions: { temperature: 1 }, modelVersion: 'fp' } : { anomalyScore: 0, failureProbability: 0.01, contributions: {}, modelVersion: 'fp' })),
  };
  const h = harness({ now: () => now, commands, endpoint: model, settings: { autoStop: { mode: 'on', minProbability: 0.9, confirmReadings: 3, maxPerHour: 10, incidentMs: 3_600_000, maxAgeMs: 120_000 } } });
  h.twins.add('production-line-a', LINE);
  h.twins.add('robotic-arm-001', ARM, { equipmentId: 'robotic-arm-001' });
  h.twins.relate('production-line-a', 'robotic-arm-001', 'contains');
  // Six hours old and critical: must not stop the machine.
  const old = now - 6 * 3_600_000;
  const backlog = Array.from({ length: 30 }, (_, i) => ({ device: 'robotic-arm-001', body: JSON.stringify({ timestamp: new Date(old + i * 1000).toISOString(), temperature: 130, vibration: 9, pressure: 11, cycleCount: i, status: 'running' }) }));
  if (!(await deliver(() => h.send(backlog), tally))) tally.lost += backlog.length;
  if (commands.calls.length) tally.staleStops += commands.calls.length;
  // A reading from the future is refused, and does not hide the next real ones.
  await deliver(() => h.send([{ device: 'robotic-arm-001', body: JSON.stringify({ timestamp: new Date(now + 290_000).toISOString(), temperature: 60, cycleCount: 100, status: 'running' }) }]), tally);
  await deliver(() => h.send([{ device: 'robotic-arm-001', body: reading(now - 1000, 101) }]), tally);
  const stored = [...h.store.telemetry.values()].some((r) => (r.Readings as Record<string, unknown>).cycleCount === 101);
  if (!stored) tally.lost++;
}

/** The event log's disk fills: appends are refused (never acknowledged), the process lives on. */
async function diskFull(tally: FaultTally, iterations: number): Promise<void> {
  if (!existsSync('/dev/full')) {
    tally.notes.push('disk full: /dev/full missing, case skipped');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'fault-disk-'));
  try {
    const log = EventLog.open(dir, { partitions: 1, segmentBytes: 1 });
    let acked = 0;
    await log.append({ partitionKey: 'd', body: Buffer.from('{"n":0}') });
    acked++;
    for (let i = 1; i <= iterations; i++) {
      tally.cases++;
      const partDir = join(dir, 'partitions', '0');
      const files = readdirSync(partDir).sort();
      const last = join(partDir, files.at(-1)!);
      const next = join(partDir, `${String(acked).padStart(20, '0')}-${String(statSync(last).size + Number(files.at(-1)!.split('-')[1]!.slice(0, 20))).padStart(20, '0')}.log`);
      const full = i % 2 === 1;
      if (full) symlinkSync('/dev/full', next);
      try {
        await log.append({ partitionKey: 'd', body: Buffer.from(`{"n":${i}}`) });
        acked++;
      } catch {
        // refused, not acknowledged: the device keeps it and retries
      }
      if (full) rmSync(next, { force: true });
    }
    const readable = log.read('0', 0, 100_000).length;
    if (readable < acked) tally.lost += acked - readable;
    log.close();
  } catch (error) {
    tally.crashes++;
    tally.notes.push(`disk full: ${(error as Error).message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Bad requests to the twin API with Digital Twins throttling: a client's error is never a 5xx. */
async function badRequests(tally: FaultTally, iterations: number, seed: number): Promise<void> {
  const random = rng(seed);
  const h = harness();
  h.twins.add('robotic-arm-001', ARM);
  const api = createTwinApi({ twins: h.twins, logger: silentLogger, maxBodyBytes: 4096, version: 'faults' });
  const bodies = ['', '{', 'null', '[]', '{"query": 5}', '{"query": "SELECT * FROM"}', `{"query": "${'('.repeat(500)}"}`, '{"query": "SELECT * FROM DIGITALTWINS", "continuationToken": {"__proto__": 1}}', 'x'.repeat(10_000)];
  const ids = ['', '..', '%00', '__proto__', 'a'.repeat(300), 'robotic-arm-001', 'ghost'];
  for (let i = 0; i < iterations; i++) {
    tally.cases++;
    const body = bodies[Math.floor(random() * bodies.length)]!;
    const id = ids[Math.floor(random() * ids.length)]!;
    const request = (params: Record<string, string>, text: string) => ({ method: 'POST', url: 'http://localhost/api/x', headers: { get: () => null }, params, text: async () => text });
    const answers = [await api.queryTwins(request({}, body) as never), await api.getTwin(request({ id }, '') as never), await api.getRelationships(request({ id }, '') as never)];
    for (const a of answers) if (a.status >= 500) tally.wrong5xx++;
  }
}

export async function runFaultScenarios(options: { iterations: number; seed: number }): Promise<FaultTally> {
  const tally: FaultTally = { cases: 0, crashes: 0, lost: 0, duplicated: 0, wrong5xx: 0, backwards: 0, staleStops: 0, notes: [] };
  const crashed = (error: unknown) => {
    tally.crashes++;
    tally.notes.push(`uncaught: ${String(error)}`);
  };
  process.on('unhandledRejection', crashed);
  process.on('uncaughtException', crashed);
  try {
    await storms(tally, options.iterations, options.seed);
    await refusals(tally, options.iterations, options.seed + 2);
    await teamsOutages(tally, options.iterations, options.seed + 3);
    await clockSkew(tally);
    await diskFull(tally, Math.max(4, Math.floor(options.iterations / 5)));
    await badRequests(tally, options.iterations, options.seed + 1);
  } finally {
    process.off('unhandledRejection', crashed);
    process.off('uncaughtException', crashed);
  }
  return tally;
}
