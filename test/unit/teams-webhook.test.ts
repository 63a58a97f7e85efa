import { afterEach, describe, expect, it } from 'vitest';
import { TeamsWebhook } from '../../src/lib/alerts/teams-webhook.ts';
import type { Alert, DeviceConnection } from '../../src/lib/ports.ts';
import { reply, startServer } from '../support/http-server.ts';

const alert: Alert = {
  id: 'robotic-arm-001|m:hot-1|critical',
  deviceId: 'robotic-arm-001',
  modelId: 'dtmi:manufacturing:RoboticArm;1',
  equipmentType: 'Robotic arm',
  severity: 'critical',
  time: Date.parse('2026-11-25T10:00:00Z'),
  anomalyScore: 0.93,
  failureProbability: 0.61,
  readings: { temperature: 97.25, vibration: 2.1, status: 'running' },
  units: { temperature: 'degreeCelsius', vibration: 'gForce', status: undefined },
  contributions: { temperature: 0.7, vibration: 0.3 },
  modelVersion: 'fp-3',
  dashboardUrl: 'http://localhost:7071/',
  incident: { id: 'robotic-arm-001|m:hot-1', event: 'raised', raisedAt: Date.parse('2026-11-25T10:00:00Z') },
};
const servers: { close(): Promise<void> }[] = [];
afterEach(async () => { await Promise.all(servers.splice(0).map((s) => s.close())); });

describe('alerts to a Teams Workflows webhook', () => {
  it('posts an Adaptive Card message with the equipment, readings, score, action and dashboard link', async () => {
    const s = await startServer((_q, r) => reply(r, 202, ''));
    servers.push(s);
    await new TeamsWebhook({ url: `${s.url}/workflows/abc` }).send(alert);
    const message = JSON.parse(s.requests[0]!.body);
    expect(message.type).toBe('message');
    expect(message.attachments[0].contentType).toBe('application/vnd.microsoft.card.adaptive');
    const card = message.attachments[0].content;
    expect(card.type).toBe('AdaptiveCard');
    const text = JSON.stringify(card);
    expect(text).toContain('CRITICAL: Robotic arm robotic-arm-001');
    // Units as an engineer writes them, the time readable (to the second, in UTC: a fact is not localised by every host).
    expect(text).toContain('97.25 °C');
    expect(text).not.toContain('degreeCelsius');
    expect(card.body.flatMap((b: { facts?: unknown[] }) => b.facts ?? [])).toContainEqual({ title: 'Time', value: '2026-11-25 10:00:00 UTC' });
    expect(text).toContain('61 %');
    expect(text).toContain('Stop the equipment safely');
    expect(card.actions[0].url).toBe('http://localhost:7071/#/equipment/robotic-arm-001');
    expect(Buffer.byteLength(s.requests[0]!.body)).toBeLessThan(28 * 1024);
  });

  it('names the line, tells an escalation and a clear of the same incident, and says what the automatic stop did', async () => {
    const { alertCard } = await import('../../src/lib/alerts/adaptive-card.ts');
    const text = (a: Partial<Alert>) => JSON.stringify(alertCard({ ...alert, ...a }));
    expect(text({ line: 'production-line-a' })).toContain('CRITICAL: Robotic arm robotic-arm-001 on production-line-a');
    const raisedAt = Date.parse('2026-11-25T09:45:00Z');
    const escalated = text({ incident: { id: 'robotic-arm-001|m:hot-1', event: 'escalated', raisedAt } });
    expect(escalated).toContain('ESCALATED CRITICAL');
    // When it was raised, in the reader's own time zone and language (Teams' DATE and TIME, whole seconds as they require).
    expect(escalated).toContain('Escalated: the incident raised {{DATE(2026-11-25T09:45:00Z, SHORT)}} {{TIME(2026-11-25T09:45:00Z)}} got worse. Escalate to the maintenance lead.');
    expect(escalated).toContain('Incident robotic-arm-001|m:hot-1');
    const message = JSON.parse(text({ severity: 'warning', incident: { id: 'robotic-arm-001|m:hot-1', event: 'cleared', raisedAt } })) as { attachments: { content: { body: { color?: string; text?: string }[] } }[] };
    const cleared = message.attachments[0]!.content;
    expect(cleared.body[0]).toMatchObject({ color: 'Good', text: 'CLEARED: Robotic arm robotic-arm-001' });
    expect(JSON.stringify(cleared)).toContain('Cleared: the incident raised {{DATE(2026-11-25T09:45:00Z, SHORT)}} {{TIME(2026-11-25T09:45:00Z)}} is over.');
    expect(JSON.stringify(cleared)).not.toContain('Stop the equipment');
    expect(text({ incident: { id: 'x', event: 'raised', raisedAt, reopened: true } })).toContain('the same incident, reopened');
    // The first card of an incident that stood untold a while (a flood held it back, or it came in late) says since when.
    expect(text({ incident: { id: 'x', event: 'raised', raisedAt } })).toContain('Standing since {{DATE(2026-11-25T09:45:00Z, SHORT)}} {{TIME(2026-11-25T09:45:00Z)}}: this is the first card about it.');
    expect(text({ incident: { id: 'x', event: 'raised', raisedAt: alert.time - 5_000 } })).not.toContain('Standing since');
    expect(text({ action: { name: 'emergencyStop', outcome: 'executed', detail: 'failure probability 95 %' } })).toContain('stopped automatically (emergencyStop)');
    expect(text({ action: { name: 'emergencyStop', outcome: 'failed', detail: 'device.offline' } })).toContain('FAILED: stop the equipment by hand now');
    expect(text({ action: { name: 'emergencyStop', outcome: 'blocked', detail: 'rate limit' } })).toContain('held back by the stop rate limit');
    // A stop that escalated its incident is an escalation; a stop during an incident told as critical already is headed by what it did.
    const escalatedBy = (outcome: string, stopOnly?: boolean) => text({ action: { name: 'emergencyStop', outcome, detail: 'failure probability 95 %' }, incident: { id: 'x', event: 'escalated', raisedAt, ...(stopOnly ? { stopOnly } : {}) } });
    expect(escalatedBy('executed')).toContain('ESCALATED CRITICAL: Robotic arm robotic-arm-001');
    expect(escalatedBy('executed', true)).toContain('STOPPED AUTOMATICALLY during a CRITICAL incident: Robotic arm robotic-arm-001');
    expect(escalatedBy('failed', true)).toContain('AUTOMATIC STOP FAILED during a CRITICAL incident');
    expect(escalatedBy('blocked', true)).toContain('AUTOMATIC STOP HELD BACK during a CRITICAL incident');
    expect(escalatedBy('failed', true)).toContain('FAILED: stop the equipment by hand now');
    expect(escalatedBy('executed', true)).not.toContain('got worse');
  });

  it('says what the detector saw, in words, while the incident is open; nothing of it once it cleared', async () => {
    const { alertCard } = await import('../../src/lib/alerts/adaptive-card.ts');
    type Message = { attachments: { content: { body: { facts?: { title: string; value: string }[] }[] } }[] };
    const facts = (a: Partial<Alert>) => (alertCard({ ...alert, ...a }) as unknown as Message).attachments[0]!.content.body.flatMap((b) => b.facts ?? []);
    expect(facts({ condition: 'drift' })).toContainEqual({ title: 'Condition', value: 'drifting toward its failure limit' });
    expect(facts({ condition: 'pattern' })).toContainEqual({ title: 'Condition', value: 'sensors that move together have come apart' });
    expect(facts({ condition: 'stuck' })).toContainEqual({ title: 'Condition', value: 'a sensor stuck on one value' });
    // A failure prediction alone (nothing stood out in the readings), or a clear: no condition line.
    expect(facts({}).some((f) => f.title === 'Condition')).toBe(false);
    expect(facts({ condition: 'drift', incident: { id: 'x', event: 'cleared', raisedAt: alert.time } }).some((f) => f.title === 'Condition')).toBe(false);
  });

  it("tells a clear by the line's status as such: the line's state and since when, no score, what to check before the line restarts", async () => {
    const { alertCard } = await import('../../src/lib/alerts/adaptive-card.ts');
    const raisedAt = Date.parse('2026-11-25T09:45:00Z');
    const since = Date.parse('2026-11-25T10:00:00Z');
    const card = alertCard({ ...alert, severity: 'warning', line: 'production-line-a', anomalyScore: 0, failureProbability: undefined, incident: { id: 'x', event: 'cleared', raisedAt }, lineAtRest: { status: 'maintenance', since } });
    const text = JSON.stringify(card);
    expect(text).toContain('CLEARED: Robotic arm robotic-arm-001 on production-line-a');
    expect(text).toContain('Cleared: the incident raised {{DATE(2026-11-25T09:45:00Z, SHORT)}} {{TIME(2026-11-25T09:45:00Z)}} is over, its line set to maintenance at {{DATE(2026-11-25T10:00:00Z, SHORT)}} {{TIME(2026-11-25T10:00:00Z)}}.');
    expect(text).toContain('Its line is in maintenance: the machine is not expected to send, so its silence is not alarmed until the line runs again. Check it before the line restarts.');
    expect(text).not.toContain('back to normal');
    expect(text).not.toContain('Anomaly score');
    expect(text).toContain('{"title":"Line","value":"production-line-a (maintenance)"}');
    expect(text).toContain('Last readings');
  });

  it("says on a raise that the machine's line is in maintenance (likely a test run), its score and advice as always", async () => {
    const { alertCard } = await import('../../src/lib/alerts/adaptive-card.ts');
    const text = JSON.stringify(alertCard({ ...alert, line: 'production-line-a', lineAtRest: { status: 'maintenance', since: Date.parse('2026-11-25T09:00:00Z') } }));
    expect(text).toContain('Its line is in maintenance (set {{DATE(2026-11-25T09:00:00Z, SHORT)}} {{TIME(2026-11-25T09:00:00Z)}}): the machine may be running for a test; tell the crew working on the line.');
    expect(text).toContain('Anomaly score');
    expect(text).toContain('Stop the equipment safely');
    expect(text).toContain('"text":"Readings"');
  });

  it("sends someone to the right place for a silent machine, from what IoT Hub says of its device", async () => {
    const { alertCard } = await import('../../src/lib/alerts/adaptive-card.ts');
    const since = Date.parse('2026-11-25T09:50:00Z');
    const at = (iso: string) => `{{DATE(${iso}, SHORT)}} {{TIME(${iso})}}`;
    const silentCard = (connection?: DeviceConnection) =>
      JSON.stringify(alertCard({ ...alert, severity: 'warning', anomalyScore: 0, failureProbability: undefined, condition: 'silent', silent: { since, ...(connection ? { connection } : {}) } }));
    const heard = `Nothing has been heard from this machine since ${at('2026-11-25T09:50:00Z')}`;
    expect(silentCard()).toContain(`${heard}: check its gateway, network and power. It is not watched until it sends again`);
    expect(silentCard({ identity: 'enabled', connected: false, since: Date.parse('2026-11-25T09:49:30Z') })).toContain(`${heard}, and IoT Hub saw its device disconnect at ${at('2026-11-25T09:49:30Z')}: check its gateway, network and power.`);
    expect(silentCard({ identity: 'enabled', connected: false })).toContain(`${heard}, and IoT Hub saw its device disconnect: check its gateway`);
    const online = silentCard({ identity: 'enabled', connected: true, since: Date.parse('2026-11-25T06:00:00Z'), lastActivity: Date.parse('2026-11-25T09:50:00Z') });
    expect(online).toContain(`${heard}, yet IoT Hub counts its device as connected since ${at('2026-11-25T06:00:00Z')}: it is online and sends nothing. Check its controller and what it should send.`);
    expect(online).not.toContain('gateway');
    // Still talking to IoT Hub well after its last reading reached us: what it sends is lost on the way, or not telemetry.
    const talking = silentCard({ identity: 'enabled', connected: true, since: Date.parse('2026-11-25T06:00:00Z'), lastActivity: Date.parse('2026-11-25T09:58:00Z') });
    expect(talking).toContain(`and active at ${at('2026-11-25T09:58:00Z')}: what it sends does not reach us. Check what it sends and IoT Hub's routes.`);
    expect(silentCard({ identity: 'disabled', connected: false })).toContain(`${heard}: its IoT Hub identity is disabled, so it cannot connect.`);
    expect(silentCard({ identity: 'unregistered' })).toContain(`${heard}: IoT Hub has no identity for its device (deleted?), so it cannot connect. Register it again.`);
  });

  it('retries when Teams throttles, and fails after its retries when Teams stays down', async () => {
    let n = 0;
    const flaky = await startServer((_q, r) => (n++ < 2 ? reply(r, 429, 'busy', { 'retry-after': '0' }) : reply(r, 200, '')));
    const down = await startServer((_q, r) => reply(r, 503, 'down', { 'retry-after': '0' }));
    servers.push(flaky, down);
    const retry = { retries: 3, baseDelayMs: 1, maxDelayMs: 5 };
    await new TeamsWebhook({ url: flaky.url, retry }).send(alert);
    expect(flaky.requests).toHaveLength(3);
    await expect(new TeamsWebhook({ url: down.url, retry }).send(alert)).rejects.toMatchObject({ code: 'teams.http503', retryable: true });
    expect(down.requests).toHaveLength(4);
  });

  it('keeps no batch waiting on Teams down for longer than it would wait: one try, the error retryable, so the card is kept', async () => {
    const s = await startServer((_q, r) => reply(r, 503, 'down for maintenance', { 'retry-after': '600' }));
    servers.push(s);
    await expect(new TeamsWebhook({ url: s.url }).send(alert)).rejects.toMatchObject({ code: 'teams.http503', retryable: true, retryAfterMs: 600_000 });
    expect(s.requests).toHaveLength(1);
  });

  it('does not retry a webhook that refuses the message', async () => {
    const s = await startServer((_q, r) => reply(r, 400, 'bad card'));
    servers.push(s);
    await expect(new TeamsWebhook({ url: s.url }).send(alert)).rejects.toMatchObject({ code: 'teams.http400', retryable: false });
    expect(s.requests).toHaveLength(1);
  });
});
