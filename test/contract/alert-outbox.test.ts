/**
 * A Teams outage does not hold telemetry up: a card Teams does not take is kept in the app's
 * storage account and the batch goes on (stored, twins moved); cards raised meanwhile wait behind
 * it; once Teams takes cards again the alertDelivery round sends them, oldest first, each saying it
 * is late, and the dashboard's API says how many wait meanwhile. Through the Storage SDK against
 * Azurite and the real Teams webhook client against an HTTP server playing Teams.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { propertyRuns } from '../support/property-runs.ts';
import { AppError } from '../../src/lib/errors.ts';
import { ContainerClient } from '@azure/storage-blob';
import azureFunctions from '@azure/functions';
import { azuriteForFile } from '../support/azurite.ts';
import { loadConfig } from '../../src/lib/config.ts';
import { createServices } from '../../src/lib/composition.ts';
import { TeamsWebhook } from '../../src/lib/alerts/teams-webhook.ts';
import { ALERT_OUTBOX_CONTAINER, BlobAlertOutbox } from '../../src/lib/alerts/blob-alert-outbox.ts';
import { AlertDelivery, REFUSED_IN_A_ROW, alertRoundFailure } from '../../src/lib/alerts/alert-delivery.ts';
import type { Alert } from '../../src/lib/ports.ts';
import type { LogFields } from '../../src/lib/log.ts';
import { storeWithReads } from '../support/in-memory-store.ts';
import { InMemoryTwins } from '../support/in-memory-twins.ts';
import { ARM, CONVEYOR, LINE, batch as eventBatch, iso, type Msg } from '../support/plant.ts';

const azurite = azuriteForFile('alert-outbox');

/** Teams as the webhook client meets it: answers each post with what it is told to (202 when up). */
class FakeTeams {
  answer = 202;
  posts = 0;
  /** Answers for the next posts, before `answer`. */
  next: number[] = [];
  readonly received: { heading: string; late: boolean }[] = [];
  /** The cards taken, whole. */
  readonly cards: { body: { text?: string; facts?: { title: string; value: string }[] }[] }[] = [];
  private server: Server | undefined;
  url = '';
  async start() {
    this.server = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        this.posts++;
        const status = this.next.shift() ?? this.answer;
        if (status < 300) {
          const card = JSON.parse(text).attachments[0].content;
          this.cards.push(card);
          this.received.push({ heading: card.body[0].text, late: card.body.some((b: { text?: string }) => b.text?.startsWith('Delivered late')) });
        }
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? '' : 'Teams says no');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/webhook`;
  }
  close() {
    return new Promise((resolve) => this.server?.close(resolve));
  }
}


const teams = new FakeTeams();
beforeAll(() => teams.start());
afterAll(() => teams.close());

const t0 = Date.now() - 60_000;
const fault = (device: string, i: number): Msg => ({ device, body: { timestamp: iso(t0 + i * 1000), status: 'fault', ...(device.startsWith('robotic') ? { temperature: 99, vibration: 3 } : { motorTemperature: 99 }) } });

/** A card as the pipeline makes it, for the delivery alone. */
const card = (device: string, at: number): Alert => ({
  id: `${device}|raised|${at}`, deviceId: device, modelId: ARM, equipmentType: 'Robotic arm', severity: 'critical', time: at, anomalyScore: 0.9, failureProbability: undefined,
  readings: { temperature: 99 }, units: {}, contributions: {}, modelVersion: 'test', dashboardUrl: undefined, incident: { id: `${device}|${at}`, event: 'raised', raisedAt: at },
});

/** The delivery alone (cards made here, not by the pipeline) in a fresh container, Teams down, the webhook client without retries. */
async function deliveryAlone(containerName: string) {
  const container = new ContainerClient(azurite().connectionString, containerName);
  await container.deleteIfExists();
  const webhook = new TeamsWebhook({ url: teams.url, retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 } });
  teams.received.length = 0;
  teams.cards.length = 0;
  teams.next = [];
  teams.answer = 503;
  return { container, delivery: new AlertDelivery(webhook, new BlobAlertOutbox(container), { log() {} }) };
}

/** The app as its settings compose it, Teams behind the webhook client (quick retries), its storage account in Azurite. */
async function app() {
  teams.answer = 202;
  teams.next = [];
  teams.received.length = 0;
  const twins = new InMemoryTwins();
  twins.add('production-line-a', LINE);
  twins.add('robotic-arm-001', ARM, { equipmentId: 'robotic-arm-001' });
  twins.add('conveyor-belt-001', CONVEYOR, { equipmentId: 'conveyor-belt-001' });
  const store = storeWithReads({ alerts: async () => [] });
  const logged: { level: string; message: string; fields?: LogFields }[] = [];
  const logger = { log: (level: string, message: string, fields?: LogFields) => void logged.push({ level, message, ...(fields ? { fields } : {}) }) };
  const webhook = new TeamsWebhook({ url: teams.url, retry: { retries: 1, baseDelayMs: 5, maxDelayMs: 10 } });
  const connection = azurite().connectionString;
  // Each test its own account-wide container: the composition root names it, so it is emptied first.
  const outbox = new ContainerClient(connection, ALERT_OUTBOX_CONTAINER);
  await outbox.deleteIfExists();
  const services = await createServices(loadConfig({ DIGITAL_TWINS_URL: 'https://twins.invalid', DUCKDB_PATH: 'unused', AzureWebJobsStorage: connection, LOG_LEVEL: 'error' }), { twins, store, alerts: webhook, logger });
  let invocation = 0;
  const send = (messages: Msg[], first: number) => {
    const { bodies, meta } = eventBatch(messages, '0', first);
    return services.telemetryIngest(bodies, new azureFunctions.InvocationContext({ invocationId: `i${++invocation}`, functionName: 'telemetryIngest', triggerMetadata: meta as Record<string, unknown> }));
  };
  const waiting = async () => ((await services.plantApi.alerts({ method: 'GET', url: 'http://localhost/api/alerts', headers: new Headers(), params: {}, text: async () => '' })).jsonBody as { undelivered: Record<string, unknown> }).undelivered;
  return { twins, store, services, send, waiting, logged, webhook };
}

describe('alert cards while Teams does not take them', () => {
  it('are kept and the telemetry goes on; cards raised meanwhile wait behind them; once Teams answers they go out oldest first, marked late', async () => {
    const { twins, store, services, send, waiting, logged } = await app();
    teams.answer = 503;
    // The arm reports a fault: a critical incident, whose card Teams does not take.
    expect(await send([fault('robotic-arm-001', 0)], 0)).toMatchObject({ stored: 1, alertsSent: 0, alertsKept: 1 });
    // The batch went through: stored, and the twin moved and knows it told (its card is handed over).
    expect(store.telemetry.size).toBe(1);
    expect(twins.props('robotic-arm-001')).toMatchObject({ status: 'fault', healthStatus: 'critical' });
    expect(twins.props('robotic-arm-001').lastAlertTime).toBeDefined();
    expect(logged.filter((l) => l.message === 'alert card kept: Teams did not take it').map((l) => l.fields?.reason)).toEqual(['teams.http503']);
    expect(await waiting()).toMatchObject({ keeping: true, waiting: 1, error: { code: 'teams.http503' } });

    // Teams is back, but the conveyor's card must not overtake the arm's: it is kept behind it.
    teams.answer = 202;
    expect(await send([fault('conveyor-belt-001', 1)], 1)).toMatchObject({ alertsSent: 0, alertsKept: 1 });
    expect(teams.received).toEqual([]);
    expect(await waiting()).toMatchObject({ waiting: 2 });

    // The timer's round: both, in the order they were kept, each saying it is late; then nothing waits.
    const round = await services.deliverKeptAlerts();
    expect(round).toMatchObject({ sent: 2, waiting: 0, setAside: 0, error: undefined });
    expect(alertRoundFailure(round)).toBeUndefined();
    expect(teams.received).toEqual([
      { heading: expect.stringContaining('robotic-arm-001'), late: true },
      { heading: expect.stringContaining('conveyor-belt-001'), late: true },
    ]);
    expect(await waiting()).toMatchObject({ waiting: 0, oldest: null });
    expect(await services.deliverKeptAlerts()).toMatchObject({ sent: 0, waiting: 0 });
    expect(teams.received).toHaveLength(2);
  });

  it('a round while Teams is still down sends nothing, keeps every card, and fails so that someone looks', async () => {
    const { services, send } = await app();
    teams.answer = 500;
    await send([fault('robotic-arm-001', 0)], 0);
    const round = await services.deliverKeptAlerts();
    expect(round).toMatchObject({ sent: 0, waiting: 1, error: { code: 'teams.http500' } });
    expect(alertRoundFailure(round)?.message).toMatch(/^1 alert card waiting for Teams since .*teams\.http500/);
    // Once Teams answers, a new card goes straight out: nothing waits any more.
    teams.answer = 202;
    expect((await services.deliverKeptAlerts()).sent).toBe(1);
    expect(await send([fault('conveyor-belt-001', 1)], 1)).toMatchObject({ alertsSent: 1 });
    expect(teams.received.map((r) => r.late)).toEqual([true, false]);
  });

  it('a card Teams refuses for good while it takes the next is set aside, so it cannot hold every later card back', async () => {
    const { container, delivery } = await deliveryAlone('alerts-outbox-refused');
    expect(await delivery.send(card('robotic-arm-007', t0))).toBe('deferred');
    expect(await delivery.send(card('robotic-arm-008', t0 + 1))).toBe('deferred');
    // The first is refused for good (400: the card itself), the second goes through.
    teams.answer = 202;
    teams.next = [400];
    expect(await delivery.deliverKept()).toMatchObject({ sent: 1, setAside: 1, waiting: 0 });
    expect(teams.received.map((r) => r.heading)).toEqual([expect.stringContaining('robotic-arm-008')]);
    const names: string[] = [];
    for await (const b of container.listBlobsFlat()) names.push(b.name);
    expect(names).toEqual([expect.stringMatching(/^refused\//)]);
    // A blob in the queue that is no card this app kept (written by hand, or by a version that kept less) is set aside too, and said.
    await container.getBlockBlobClient('waiting/0000-by-hand.json').upload('{"version":1}', 13);
    teams.answer = 503;
    await delivery.send(card('robotic-arm-011', t0 + 5));
    teams.answer = 202;
    const withJunk = await delivery.deliverKept();
    expect(withJunk).toMatchObject({ sent: 1, unreadable: 1, waiting: 0 });
    expect(alertRoundFailure(withJunk)?.message).toContain('1 blob in the alerts outbox was no card this app kept');
    expect(teams.received.map((r) => r.heading)).toEqual([expect.stringContaining('robotic-arm-008'), expect.stringContaining('robotic-arm-011')]);
    // Every card refused for good (the webhook gone): none set aside, all wait, and a round goes past a few only.
    teams.answer = 503;
    for (let i = 0; i < REFUSED_IN_A_ROW + 3; i++) await delivery.send(card(`robotic-arm-1${i}`, t0 + 10 + i));
    teams.answer = 404;
    const posts = teams.posts;
    expect(await delivery.deliverKept()).toMatchObject({ sent: 0, setAside: 0, waiting: REFUSED_IN_A_ROW + 3, error: { code: 'teams.http404' } });
    expect(teams.posts - posts).toBe(REFUSED_IN_A_ROW + 1);
  });

  it("keeps a silent machine's card whole, what IoT Hub said of its device with it", async () => {
    const { delivery } = await deliveryAlone('alerts-outbox-silent');
    const silent: Alert = { ...card('robotic-arm-021', t0), severity: 'warning', anomalyScore: 0, condition: 'silent', silent: { since: t0 - 600_000, connection: { identity: 'enabled', connected: false, since: t0 - 630_000 } } };
    expect(await delivery.send(silent)).toBe('deferred');
    teams.answer = 202;
    expect(await delivery.deliverKept()).toMatchObject({ sent: 1, waiting: 0 });
    expect(JSON.stringify(teams.cards.at(-1))).toContain(`and IoT Hub saw its device disconnect at {{DATE(${new Date(t0 - 630_000).toISOString().slice(0, 19)}Z, SHORT)}}`);
  });

  it('of an incident with several cards waiting, the newest alone goes out: it tells the incident\'s state, and says when it was raised', async () => {
    const { delivery } = await deliveryAlone('alerts-outbox-fold');
    const step = (device: string, event: 'raised' | 'escalated' | 'cleared', at: number): Alert => ({ ...card(device, t0), id: `${device}|${event}|${at}`, severity: event === 'raised' ? 'warning' : 'critical', time: at, incident: { id: `${device}|${t0}`, event, raisedAt: t0 } });
    // During the outage: an arm's incident raised, escalated and cleared; a conveyor's raised in between.
    for (const c of [step('robotic-arm-001', 'raised', t0), step('robotic-arm-001', 'escalated', t0 + 1), step('conveyor-belt-001', 'raised', t0 + 2), step('robotic-arm-001', 'cleared', t0 + 3)]) expect(await delivery.send(c)).toBe('deferred');
    teams.answer = 202;
    expect(await delivery.deliverKept()).toMatchObject({ sent: 2, folded: 2, waiting: 0 });
    expect(teams.received).toEqual([{ heading: expect.stringMatching(/^Warning: .*conveyor-belt-001/), late: true }, { heading: expect.stringMatching(/^CLEARED: .*robotic-arm-001/), late: true }]);
  });

  it('after an outage, the incidents raised and over meanwhile come as one card; one still open, and the clear of one people were told of, come on their own', async () => {
    const { delivery, container } = await deliveryAlone('alerts-outbox-summary');
    const step = (device: string, event: 'raised' | 'escalated' | 'cleared', at: number): Alert => ({ ...card(device, t0), id: `${device}|${event}|${at}`, severity: event === 'raised' ? 'warning' : 'critical', time: at, incident: { id: `${device}|${t0}`, event, raisedAt: t0 } });
    // Before the outage: an arm's incident is raised, and its card reaches Teams.
    teams.answer = 202;
    expect(await delivery.send(step('robotic-arm-009', 'raised', t0))).toBeUndefined();
    teams.answer = 503;
    // During it: that incident clears; two others are raised and clear; a third is raised and stands.
    const during = [
      step('robotic-arm-009', 'cleared', t0 + 1), step('robotic-arm-001', 'raised', t0 + 2), step('conveyor-belt-001', 'raised', t0 + 3), step('robotic-arm-001', 'cleared', t0 + 60_000),
      step('conveyor-belt-001', 'escalated', t0 + 70_000), step('conveyor-belt-001', 'cleared', t0 + 130_000), step('robotic-arm-002', 'raised', t0 + 140_000),
    ];
    for (const c of during) expect(await delivery.send(c)).toBe('deferred');
    const kept = await new BlobAlertOutbox(container).waiting();
    teams.answer = 202;
    expect(await delivery.deliverKept()).toMatchObject({ sent: 3, summarised: 2, folded: 3, waiting: 0 });
    expect(teams.received.slice(1)).toEqual([
      { heading: 'Missed while Teams was not taking cards: 2 incidents, raised and over', late: false },
      { heading: expect.stringMatching(/^CLEARED: .*robotic-arm-009/), late: true },
      { heading: expect.stringMatching(/^Warning: .*robotic-arm-002/), late: true },
    ]);
    // Kept from the first of their raises (the arm's, kept second) to the last of their clears (the conveyor's).
    const when = (keptAt: string) => `{{DATE(${keptAt.slice(0, 19)}Z, SHORT)}}`;
    expect(teams.cards[1]!.body[1]!.text).toMatch(new RegExp(`^Their cards were kept from ${when(kept[1]!.keptAt).replace(/[{}()]/g, '\\$&')}.* to ${when(kept[5]!.keptAt).replace(/[{}()]/g, '\\$&')}`));
    const facts = teams.cards[1]!.body.flatMap((b) => b.facts ?? []);
    expect(facts.map((f) => f.title)).toEqual(['CRITICAL robotic-arm-001', 'CRITICAL conveyor-belt-001']);
    expect(facts[1]!.value).toContain(`raised ${new Date(t0).toISOString().slice(0, 19).replace('T', ' ')} UTC, cleared ${new Date(t0 + 130_000).toISOString().slice(0, 19).replace('T', ' ')} UTC`);
  });

  it('a summary Teams refuses for good gives way to each incident\'s own card', async () => {
    const { delivery } = await deliveryAlone('alerts-outbox-summary-refused');
    const step = (device: string, event: 'raised' | 'cleared', at: number): Alert => ({ ...card(device, t0), id: `${device}|${event}|${at}`, time: at, incident: { id: `${device}|${t0}`, event, raisedAt: t0 } });
    for (const c of [step('robotic-arm-001', 'raised', t0), step('robotic-arm-002', 'raised', t0 + 1), step('robotic-arm-001', 'cleared', t0 + 2), step('robotic-arm-002', 'cleared', t0 + 3)]) await delivery.send(c);
    teams.answer = 202;
    teams.next = [400];
    expect(await delivery.deliverKept()).toMatchObject({ sent: 2, summarised: 0, folded: 2, waiting: 0, error: undefined });
    expect(teams.received.map((r) => r.heading)).toEqual([expect.stringMatching(/^CLEARED: .*robotic-arm-001/), expect.stringMatching(/^CLEARED: .*robotic-arm-002/)]);
  });

  it('an incident whose newest card Teams refuses for good is still told, by the step before it', async () => {
    const { delivery } = await deliveryAlone('alerts-outbox-step-before');
    const step = (device: string, event: 'raised' | 'escalated', at: number): Alert => ({ ...card(device, t0), id: `${device}|${event}|${at}`, time: at, incident: { id: `${device}|${t0}`, event, raisedAt: t0 } });
    for (const c of [step('robotic-arm-001', 'raised', t0), step('robotic-arm-001', 'escalated', t0 + 1), step('conveyor-belt-001', 'raised', t0 + 2)]) await delivery.send(c);
    teams.answer = 202;
    teams.next = [400]; // the arm's escalation
    expect(await delivery.deliverKept()).toMatchObject({ sent: 1, setAside: 1, folded: 0, waiting: 1 });
    expect(await delivery.deliverKept()).toMatchObject({ sent: 1, waiting: 0 });
    expect(teams.received.map((r) => r.heading)).toEqual([expect.stringMatching(/conveyor-belt-001/), expect.stringMatching(/^CRITICAL: .*robotic-arm-001/)]);
  });

  it('with the storage account down, go to Teams as ever; neither delivered nor kept, the batch fails and its retry tries again', async () => {
    const webhook = new TeamsWebhook({ url: teams.url, retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 } });
    // An account nobody listens on: the Storage SDK gives up after its own retries.
    const nowhere = new ContainerClient('DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;', 'alerts-outbox', { retryOptions: { maxTries: 1 } });
    const delivery = new AlertDelivery(webhook, new BlobAlertOutbox(nowhere), { log() {} });
    teams.received.length = 0;
    teams.next = [];
    const alert = { id: 'a|raised|1', deviceId: 'robotic-arm-001', equipmentType: 'Robotic arm', severity: 'critical', time: t0, anomalyScore: 1, readings: {}, units: {}, contributions: {}, modelVersion: 'test', incident: { id: 'a', event: 'raised', raisedAt: t0 } } as unknown as Alert;
    teams.answer = 202;
    await delivery.send(alert);
    expect(teams.received).toHaveLength(1);
    teams.answer = 503;
    await expect(delivery.send(alert)).rejects.toMatchObject({ code: 'alerts.unkept', retryable: true });
  });
});

describe('alert cards through any sequence of Teams outages and refusals', () => {
  /** Teams as a far end the delivery meets: up, down (503), and refusing some cards for good (400: the card itself). */
  class Channel {
    up = true;
    readonly poison = new Set<string>();
    readonly received: string[] = [];
    async send(alert: Alert): Promise<void> {
      if (this.poison.has(alert.id)) throw new AppError('teams.http400', 'teams answered 400: bad card', { status: 502 });
      if (!this.up) throw new AppError('teams.http503', 'teams answered 503', { status: 503, retryable: true });
      this.received.push(alert.id);
    }
  }
  let runs = 0;
  it('every card Teams can take reaches it once and in the order raised; one it refuses for good never holds the others back for long (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Each step: a card raised (poisoned or not) or a round of the timer, with Teams up or down; the clock may stand still.
        fc.array(fc.record({ round: fc.boolean(), up: fc.boolean(), poison: fc.integer({ min: 0, max: 3 }).map((n) => n === 0), tick: fc.integer({ min: 0, max: 2 }) }), { minLength: 1, maxLength: 14 }),
        async (steps) => {
          const container = new ContainerClient(azurite().connectionString, `alerts-outbox-p${++runs}`);
          await container.createIfNotExists();
          const teams = new Channel();
          let clock = t0;
          const delivery = new AlertDelivery(teams, new BlobAlertOutbox(container), { log() {} }, () => clock);
          const raised: string[] = [];
          for (const [i, step] of steps.entries()) {
            clock += step.tick;
            teams.up = step.up;
            if (step.round) {
              await delivery.deliverKept();
              continue;
            }
            const id = `arm-${i % 3}|raised|${i}`;
            raised.push(id);
            // At most three refused for good in a row (past REFUSED_IN_A_ROW everything is refused alike, and waits).
            if (step.poison && !raised.slice(-4, -1).every((r) => teams.poison.has(r))) teams.poison.add(id);
            expect([undefined, 'deferred']).toContain(await delivery.send({ ...card(`arm-${i % 3}`, t0 + i), id }));
          }
          // Teams is back, and a last card goes through after whatever it refuses; rounds until nothing moves.
          teams.up = true;
          raised.push('last');
          await delivery.send({ ...card('arm-0', t0 + 99), id: 'last' });
          for (let r = 0; r < 3; r++) await delivery.deliverKept();
          const good = raised.filter((id) => !teams.poison.has(id));
          expect(teams.received).toEqual(good);
          // The refused ones are set aside, none still waiting.
          expect(await delivery.deliverKept()).toMatchObject({ waiting: 0 });
          const setAside: string[] = [];
          for await (const b of container.listBlobsFlat({ prefix: 'refused/' })) setAside.push(b.name);
          expect(setAside.length).toBe(raised.filter((id) => teams.poison.has(id)).length);
        },
      ),
      propertyRuns(4303, 12),
    );
  }, 300_000);
  it('each incident\'s latest step reaches Teams once, its steps never out of order, however outages fall (incidents raised, escalated and cleared; property)', async () => {
    type Step = 'raised' | 'escalated' | 'cleared';
    await fc.assert(
      fc.asyncProperty(
        // Each step: a machine's incident moves on (raised, escalated, cleared, then a new one), or a round of the timer; Teams up or down.
        fc.array(fc.record({ round: fc.boolean(), up: fc.boolean(), machine: fc.integer({ min: 0, max: 2 }), tick: fc.integer({ min: 0, max: 2 }) }), { minLength: 1, maxLength: 18 }),
        async (plan) => {
          const container = new ContainerClient(azurite().connectionString, `alerts-outbox-s${++runs}`);
          await container.createIfNotExists();
          const delivered: string[] = [];
          const summarised: string[][] = [];
          let up = true;
          const channel = {
            async send(alert: Alert) {
              if (!up) throw new AppError('teams.http503', 'teams answered 503', { status: 503, retryable: true });
              delivered.push(alert.id);
            },
            async sendSummary(summary: { incidents: Alert[] }) {
              if (!up) throw new AppError('teams.http503', 'teams answered 503', { status: 503, retryable: true });
              summarised.push(summary.incidents.map((a) => a.id));
            },
          };
          let clock = t0;
          const delivery = new AlertDelivery(channel, new BlobAlertOutbox(container), { log() {} }, () => clock);
          /** Per machine: its incident's number and the steps it has been through. */
          const machines = [0, 1, 2].map(() => ({ incident: 0, steps: [] as Step[] }));
          /** Every card handed over, by incident, in order. */
          const cards = new Map<string, string[]>();
          for (const [i, step] of plan.entries()) {
            clock += step.tick;
            up = step.up;
            if (step.round) {
              await delivery.deliverKept();
              continue;
            }
            const m = machines[step.machine]!;
            const last = m.steps.at(-1);
            if (last === 'cleared') {
              m.incident++;
              m.steps = [];
            }
            const next: Step = m.steps.length === 0 ? 'raised' : m.steps.at(-1) === 'raised' && i % 2 === 0 ? 'escalated' : 'cleared';
            m.steps.push(next);
            const incident = `arm-${step.machine}#${m.incident}`;
            const id = `${incident}|${next}|${i}`;
            (cards.get(incident) ?? cards.set(incident, []).get(incident)!).push(id);
            const alert: Alert = { ...card(`arm-${step.machine}`, t0 + i), id, severity: next === 'raised' ? 'warning' : 'critical', incident: { id: incident, event: next, raisedAt: t0 } };
            expect([undefined, 'deferred']).toContain(await delivery.send(alert));
          }
          up = true;
          for (let r = 0; r < 3; r++) await delivery.deliverKept();
          expect(await delivery.deliverKept()).toMatchObject({ waiting: 0 });
          const told = [...delivered, ...summarised.flat()];
          // Nothing twice.
          expect(new Set(told).size).toBe(told.length);
          for (const [incident, ids] of cards) {
            const own = delivered.filter((id) => id.startsWith(`${incident}|`));
            // Its steps in the order they happened, and its latest one told, on its own card or in a summary.
            expect(own.map((id) => ids.indexOf(id))).toEqual([...own.map((id) => ids.indexOf(id))].sort((a, b) => a - b));
            expect(told).toContain(ids.at(-1));
            // A summary tells only incidents over and unheard of: nothing of it went out on its own before.
            if (summarised.flat().includes(ids.at(-1)!)) {
              expect(ids.at(-1)).toContain('|cleared|');
              expect(own).toEqual([]);
            }
          }
        },
      ),
      propertyRuns(5407, 150),
    );
  }, 300_000);
});
