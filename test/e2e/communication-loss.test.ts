/**
 * A machine whose gateway goes off the network, end to end: the simulated devices
 * (azure-iot-device) send, one falls silent while its neighbour goes on, and the communicationWatch
 * timer of the local Function App raises its incident against the Digital Twins emulator: one card
 * to Teams, the incident on the plant API; once it sends again the pipeline clears it, one card.
 * Delays are seconds here (ALARM_SILENT_AFTER_MS, the off-delay, the sweep), minutes in a plant.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PLANT } from '../../src/lib/plant/plant.ts';
import type { Fleet } from '../../src/simulator/fleet.ts';
import { until } from '../support/until.ts';
import { fleetOn, startTestStack, type TestStack } from '../support/local-stack.ts';

const MACHINES = ['conveyor-002', 'quality-station-002'];
let stack: TestStack;
let fleet: Fleet;

beforeAll(async () => {
  stack = await startTestStack('silence', { apiKey: 'silence-key', communicationWatchMs: 1_000, env: { ALARM_SILENT_AFTER_MS: '6000', ALARM_OFF_DELAY_MS: '3000' } });
  fleet = fleetOn(stack, DEFAULT_PLANT.equipment.filter((e) => MACHINES.includes(e.id)), { rate: 2, seconds: 35, anomalyRate: 0, silences: { 'conveyor-002': { fromSeconds: 5, toSeconds: 25 } } });
  await fleet.start();
}, 60_000);

afterAll(async () => {
  await fleet?.stop();
  await stack?.close();
});

describe('a machine that goes off the network', () => {
  it('is one incident, told to Teams and listed, while its neighbour sends on; it clears once the machine sends again', async () => {
    const cards = () => stack.http.alerts.map((a) => JSON.stringify(a));
    await until('the silence told', async () => cards().some((c) => c.includes('no telemetry taken in: the machine is not watched at all')), { timeoutMs: 40_000 });
    const raised = cards().filter((c) => c.includes('conveyor-002'));
    expect(raised).toHaveLength(1);
    expect(raised[0]).toContain('Warning: Conveyor conveyor-002 on production-line-b');
    // Its gateway went off the network: IoT Hub saw the device disconnect, and the card says so.
    expect(raised[0]).toMatch(/and IoT Hub saw its device disconnect at \{\{DATE\(.*: check its gateway, network and power/);
    // The dashboard calls a machine silent from the same delay on.
    const plant = await fetch(`${stack.apiUrl}/api/plant`, { headers: { 'x-functions-key': 'silence-key' } }).then((r) => r.json() as Promise<{ silentAfterMs: number }>);
    expect(plant.silentAfterMs).toBe(6_000);
    const listed = await fetch(`${stack.apiUrl}/api/alerts`, { headers: { 'x-functions-key': 'silence-key' } }).then((r) => r.json() as Promise<{ items: { deviceId: string; condition: string; state: string }[] }>);
    expect(listed.items.filter((a) => a.deviceId === 'conveyor-002').map((a) => [a.condition, a.state])).toEqual([['silent', 'active']]);
    await until('the clear told', async () => cards().some((c) => c.includes('CLEARED') && c.includes('conveyor-002')), { timeoutMs: 40_000 });
    await fleet.whenDone();
    // Its neighbour, sending throughout, was told of nothing; the silent one once each way.
    expect(cards().filter((c) => c.includes('quality-station-002'))).toEqual([]);
    expect(cards().filter((c) => c.includes('conveyor-002'))).toHaveLength(2);
    expect(fleet.stats.failed).toBe(0);
  }, 120_000);
});
