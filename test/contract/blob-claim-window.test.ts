/**
 * The windows every instance of the function app shares, through the Storage SDK against
 * Azurite: a production line's equipment is spread over the hub's partitions, so over instances,
 * and an upset on the line must still reach the operator as at most three new incidents in ten
 * minutes, not three per instance; the plant's emergencyStop rate limit holds the same way.
 */
import { describe, expect, it } from 'vitest';
import { ContainerClient } from '@azure/storage-blob';
import { azuriteForFile } from '../support/azurite.ts';
import { BlobClaimWindow, FLOOD_CONTAINER, STOP_CONTAINER } from '../../src/lib/coordination/blob-claim-window.ts';
import type { ScoreResult, ScorerPort } from '../../src/lib/ports.ts';
import { CapturedCommands, harness } from '../support/pipeline-harness.ts';
import { InMemoryTwins } from '../support/in-memory-twins.ts';
import { ARM, LINE, iso } from '../support/plant.ts';

const azurite = azuriteForFile('flood');

const WINDOW = 10 * 60_000;
/** One instance's view of the shared windows: its own client, as each instance of the app has. */
const instance = () => new BlobClaimWindow({ container: new ContainerClient(azurite().connectionString, FLOOD_CONTAINER), limit: 3, windowMs: WINDOW });
let lines = 0;
const newLine = () => `production-line-${++lines}`;
const T = Date.UTC(2026, 0, 5, 8);

describe('windows shared by every instance: a line\'s flood window, the plant\'s stop limit', () => {
  it('lets exactly three of ten incidents raised at once on two instances notify', async () => {
    const [a, b] = [instance(), instance()];
    const line = newLine();
    const verdicts = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).claim(line, `incident-${i}`, T + i)));
    expect(verdicts.filter(Boolean)).toHaveLength(3);
  });

  it('keeps an incident\'s place for a retried batch, and opens again once the window has moved on', async () => {
    const [a, b] = [instance(), instance()];
    const line = newLine();
    expect(await a.claim(line, 'first', T)).toBe(true);
    expect(await b.claim(line, 'second', T + 1000)).toBe(true);
    expect(await a.claim(line, 'third', T + 2000)).toBe(true);
    expect(await b.claim(line, 'fourth', T + 3000)).toBe(false);
    // The host retries the batch that raised the first one, on the other instance.
    expect(await b.claim(line, 'first', T)).toBe(true);
    expect(await a.claim(line, 'fifth', T + WINDOW)).toBe(true);
  });

  it('keeps counting when an incident id is as long as a device could make it (its message id)', async () => {
    const a = instance();
    const line = newLine();
    const long = `robotic-arm-001|m:${'x'.repeat(20_000)}`;
    expect(await a.claim(line, long, T)).toBe(true);
    expect(await a.claim(line, 'second', T)).toBe(true);
    expect(await a.claim(line, long, T)).toBe(true); // its place, found again
    expect(await a.claim(line, 'third', T)).toBe(true);
    expect(await a.claim(line, 'fourth', T)).toBe(false);
  });

  it('counts each line on its own', async () => {
    const a = instance();
    const [one, two] = [newLine(), newLine()];
    for (let i = 0; i < 3; i++) expect(await a.claim(one, `one-${i}`, T)).toBe(true);
    expect(await a.claim(two, 'two-0', T)).toBe(true);
    expect(await a.claim(one, 'one-3', T)).toBe(false);
  });

  it('starts a window afresh when its blob is not one (written by hand, cut short)', async () => {
    const line = newLine();
    const container = new ContainerClient(azurite().connectionString, FLOOD_CONTAINER);
    await container.createIfNotExists();
    const blob = container.getBlockBlobClient(`${encodeURIComponent(line)}.json`);
    for (const garbage of ['{"claims":[{"id":1}]', '{"claims":"all"}', 'null']) {
      await blob.upload(garbage, garbage.length);
      expect(await instance().claim(line, `after-${garbage}`, T)).toBe(true);
      expect(JSON.parse((await blob.downloadToBuffer()).toString())).toEqual({ claims: [{ id: `after-${garbage}`, time: T }] });
    }
  });

  it('two instances of the pipeline tell the operator of three incidents on a line in upset, not three each', async () => {
    const twins = new InMemoryTwins();
    const sequences = new Map<string, number>();
    const floods = instance();
    const settings = { twinPatchIntervalMs: 0 };
    const [a, b] = [harness({ twins, sequences, settings, floods }), harness({ twins, sequences, settings, floods: instance() })];
    const line = newLine();
    twins.add(line, LINE);
    const machines = Array.from({ length: 8 }, (_, i) => `robotic-arm-${line}-${i}`);
    for (const id of machines) {
      twins.add(id, ARM, { equipmentId: id });
      twins.relate(line, id, 'contains');
    }
    const t0 = Date.now() - 200_000;
    const reading = (id: string, s: number, temperature: number) => ({ device: id, body: { timestamp: iso(t0 + s * 1000), temperature, vibration: 0.5 + (s % 2) * 0.02, pressure: 6, status: 'running' }, messageId: `${id}-${s}` });
    // Each instance has its own partition, and half the line's machines send through it.
    const run = (from: number, n: number, temperature: (s: number) => number) =>
      Promise.all(
        [a, b].map((h, half) => h.send(machines.filter((_, i) => i % 2 === half).flatMap((id) => Array.from({ length: n }, (_, k) => reading(id, from + k, temperature(from + k)))), String(half))),
      );
    await run(0, 60, (s) => 65 + (s % 3) * 0.5);
    // Warm enough, for long enough, to raise a warning on every machine.
    await run(60, 8, () => 77);
    const cards = [...a.alerts.sent, ...b.alerts.sent];
    expect(cards.map((c) => [c.line, c.incident.event, c.severity])).toEqual(Array(3).fill([line, 'raised', 'warning']));
    // The others are still incidents, recorded as held back by flood suppression.
    const held = [...a.store.storedAlarmEvents, ...b.store.storedAlarmEvents].filter((e) => e.Event === 'raised' && e.Notified === 'flood');
    expect(held).toHaveLength(5);
  });

  it('two instances stop at most the plant-wide number of machines an hour between them', async () => {
    const twins = new InMemoryTwins();
    const sequences = new Map<string, number>();
    // A failure model that is sure about hot readings.
    const model: ScorerPort = {
      async score(inputs): Promise<ScoreResult[]> {
        return inputs.map((i): ScoreResult => ((i.features.temperature ?? 0) >= 95 ? { anomalyScore: 0.9, failureProbability: 0.95, contributions: { temperature: 1 }, modelVersion: 'fp-1' } : { anomalyScore: 0, failureProbability: 0.01, contributions: {}, modelVersion: 'fp-1' }));
      },
    };
    const autoStop = { mode: 'on' as const, minProbability: 0.9, confirmReadings: 3, maxPerHour: 1, incidentMs: 4 * 3_600_000, maxAgeMs: 120_000 };
    const stopWindow = () => new BlobClaimWindow({ container: new ContainerClient(azurite().connectionString, STOP_CONTAINER), limit: 1, windowMs: 3_600_000 });
    const instances = [0, 1].map(() => {
      const commands = new CapturedCommands();
      return { commands, ...harness({ twins, sequences, endpoint: model, commands, settings: { autoStop }, stops: stopWindow() }) };
    });
    const machines = ['robotic-arm-stop-a', 'robotic-arm-stop-b'];
    for (const id of machines) twins.add(id, ARM, { equipmentId: id });
    const t0 = Date.now() - 5_000;
    const hot = (id: string) => Array.from({ length: 3 }, (_, k) => ({ device: id, body: { timestamp: iso(t0 + k * 500), temperature: 97, status: 'running' }, messageId: `${id}-hot-${k}` }));
    const results = await Promise.all(instances.map((h, i) => h.send(hot(machines[i]!), String(i))));
    expect(results.map((r) => r.stops.executed).reduce((x, y) => x + y)).toBe(1);
    expect(results.map((r) => r.stops.blocked).reduce((x, y) => x + y)).toBe(1);
    expect(instances.flatMap((h) => h.commands.calls)).toHaveLength(1);
    const blocked = instances.flatMap((h) => [...h.store.actions.values()]).find((a) => a.Outcome === 'blocked');
    expect(blocked?.Detail).toContain('across the plant');
  });
});
