/**
 * A machine wearing out is stopped by the pipeline itself: the simulated arm (azure-iot-device)
 * degrades until its readings are critical, the failure model behind the local Azure ML endpoint
 * scores them, the interlocks confirm it, and emergencyStop goes out through azure-iothub to the
 * local hub and the device, which stops. The stop is on the twin, in MaintenanceActions and in
 * the alert. The probability threshold is lowered for the test: the minutes-long degradation here
 * is far shorter than the days the model was trained on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PLANT } from '../../src/lib/plant/plant.ts';
import type { Fleet } from '../../src/simulator/fleet.ts';
import { until } from '../support/until.ts';
import { fleetOn, startTestStack, type TestStack } from '../support/local-stack.ts';

let stack: TestStack;
let fleet: Fleet;

beforeAll(async () => {
  stack = await startTestStack('autostop', { env: { AUTO_STOP_MIN_PROBABILITY: '0.02', AUTO_STOP_CONFIRM_READINGS: '3' } });
  const arm = DEFAULT_PLANT.equipment.find((e) => e.id === 'robotic-arm-002')!;
  fleet = fleetOn(stack, [arm], { rate: 10, seconds: 20, anomalyRate: 0, degradation: { onsetSeconds: 2, failureSeconds: 14 } });
  await fleet.start();
}, 60_000);

afterAll(async () => {
  await fleet?.stop();
  await stack?.close();
});

describe('an automated emergencyStop, end to end', () => {
  it('stops the degrading machine once, and the twin, the store and the alert all say so', async () => {
    await until('the device to be stopped', () => fleet.stats.stoppedByCommand.includes('robotic-arm-002'));
    await until('the stop on the twin', async () => (await stack.services.twins.getTwin('robotic-arm-002')).lastEmergencyStopTime !== undefined);
    const actions = await stack.store.rows('MaintenanceActions');
    expect(actions).toHaveLength(1);
    expect(actions[0]).toMatchObject({ DeviceId: 'robotic-arm-002', Action: 'emergencyStop', Outcome: 'executed' });
    await until('the device to report it', async () => (await stack.services.twins.getTwin('robotic-arm-002')).status === 'emergencyStopped');
    const alert = stack.http.alerts.find((a) => JSON.stringify(a).includes('stopped automatically'));
    expect(alert, 'an alert card saying the machine was stopped').toBeDefined();
    expect(JSON.stringify(alert)).toContain('production-line-a');
    expect(fleet.stats.stoppedByCommand).toEqual(['robotic-arm-002']);
    // The incident the API lists says what was done during it, from that MaintenanceActions row.
    const listed = async () => ((await (await fetch(`${stack.apiUrl}/api/alerts`, { headers: { 'x-functions-key': stack.apiKey } })).json()) as { items: { deviceId: string; action: { name: string; outcome: string; time: string } | null }[] }).items;
    await until('the incident to be listed', async () => (await listed()).some((a) => a.deviceId === 'robotic-arm-002'));
    const incidents = (await listed()).filter((a) => a.deviceId === 'robotic-arm-002');
    // One incident, critical, and the stop on it (a stop never stands beside an incident of its own).
    expect(incidents).toEqual([expect.objectContaining({ priority: 'critical', action: { name: 'emergencyStop', outcome: 'executed', time: new Date(actions[0]!.Timestamp as string).toISOString(), detail: actions[0]!.Detail } })]);
  }, 60_000);
});
