/**
 * A line that stops between shifts, end to end: the simulated machines (azure-iot-device, the
 * simulator's --shift) run, stop and say so, then start again. The twins follow their status,
 * every reading is stored, and a stopped machine is no alarm: nothing it read at rest is flagged,
 * no incident is raised above low, and no card goes to Teams.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PLANT } from '../../src/lib/plant/plant.ts';
import type { Fleet } from '../../src/simulator/fleet.ts';
import { until } from '../support/until.ts';
import { fleetOn, startTestStack, type TestStack } from '../support/local-stack.ts';

const MACHINES = ['robotic-arm-001', 'conveyor-001'];
const shift = { runSeconds: 15, restSeconds: 8 };
let stack: TestStack;
let fleet: Fleet;

beforeAll(async () => {
  stack = await startTestStack('shifts');
  fleet = fleetOn(stack, DEFAULT_PLANT.equipment.filter((e) => MACHINES.includes(e.id)), { rate: 20, seconds: 35, anomalyRate: 0, shift });
  await fleet.start();
}, 60_000);

afterAll(async () => {
  await fleet?.stop();
  await stack?.close();
});

describe('a line stopped between shifts', () => {
  it('shows the machines stopped on their twins, then running again, stores every reading, and raises nothing', async () => {
    const statuses = async () => Promise.all(MACHINES.map(async (id) => (await stack.services.twins.getTwin(id)).status));
    await until('the machines stopped on their twins', async () => (await statuses()).every((s) => s === 'stopped'), { timeoutMs: 40_000 });
    await until('the machines running again', async () => (await statuses()).every((s) => s === 'running'), { timeoutMs: 40_000 });
    await fleet.whenDone();
    await until('every reading stored', async () => (await stack.store.count('EquipmentTelemetry')) === fleet.stats.acked);
    expect(fleet.stats.failed).toBe(0);

    const rows = await stack.store.rows('EquipmentTelemetry');
    const atRest = rows.filter((r) => (r.Readings as Record<string, unknown>).status === 'stopped');
    // Eight seconds at 20 a second, for each machine.
    expect(atRest.length).toBeGreaterThan(2 * 100);
    expect(atRest.filter((r) => (r.AnomalyScore as number) >= 0.5)).toEqual([]);
    const steps = await stack.store.rows('AlarmEvents');
    expect(steps.filter((s) => s.Priority !== 'low')).toEqual([]);
    expect(stack.http.alerts).toEqual([]);
  }, 90_000);
});
