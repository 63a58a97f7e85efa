/**
 * An incident says what was done about it: the equipment's emergencyStop (sent, a dry run,
 * blocked or failed) between the incident's raise and its clearing, whichever store holds it.
 */
import { describe, expect, it } from 'vitest';
import { withActions, type ActionRow } from '../../src/lib/alerts/incident-actions.ts';

const actionsOf = (incidents: Parameters<typeof withActions>[0], actions: ActionRow[]) => withActions(incidents, actions).map((i) => i.action);
const stop = (device: string, time: string, outcome = 'executed', detail = 'failure probability 93 % (≥ 90 %)'): ActionRow => ({ Timestamp: time, DeviceId: device, Action: 'emergencyStop', Outcome: outcome, Detail: detail });

describe("an incident's automated action", () => {
  it('is the equipment’s latest stop from the raise to the clearing, and none outside it', () => {
    const incidents = [
      { deviceId: 'arm-1', time: '2026-12-01T10:00:00Z', clearedAt: null },
      { deviceId: 'arm-1', time: '2026-12-01T08:00:00Z', clearedAt: '2026-12-01T09:00:00Z' },
      { deviceId: 'arm-2', time: '2026-12-01T08:00:00Z', clearedAt: '2026-12-01T09:00:00Z' },
      { deviceId: 'arm-3', time: '2026-12-01T08:00:00Z', clearedAt: null },
    ];
    const actions = [
      stop('arm-1', '2026-12-01T10:05:00Z', 'blocked', 'rate limit: 3 stops in the last hour (max 3)'),
      stop('arm-1', '2026-12-01T10:07:00.250Z'),
      stop('arm-1', '2026-12-01T08:30:00Z', 'dry-run'),
      // Before arm-2's incident was raised, and after it cleared: neither is its.
      stop('arm-2', '2026-12-01T07:59:59Z'),
      stop('arm-2', '2026-12-01T09:00:01Z'),
      stop('arm-3', 'not a time'),
    ];
    expect(actionsOf(incidents, actions)).toEqual([
      { name: 'emergencyStop', outcome: 'executed', time: '2026-12-01T10:07:00.250Z', detail: 'failure probability 93 % (≥ 90 %)' },
      { name: 'emergencyStop', outcome: 'dry-run', time: '2026-12-01T08:30:00.000Z', detail: 'failure probability 93 % (≥ 90 %)' },
      null,
      null,
    ]);
  });

  it('takes a stop at the very reading that raised or cleared the incident as its own', () => {
    const incidents = [{ deviceId: 'arm-1', time: '2026-12-01T10:00:00Z', clearedAt: '2026-12-01T11:00:00Z' }];
    expect(actionsOf(incidents, [stop('arm-1', '2026-12-01T10:00:00Z')])[0]?.time).toBe('2026-12-01T10:00:00.000Z');
    expect(actionsOf(incidents, [stop('arm-1', '2026-12-01T11:00:00Z')])[0]?.time).toBe('2026-12-01T11:00:00.000Z');
  });

  it('takes device ids as plain strings, never as keys of a prototype', () => {
    const incidents = [{ deviceId: '__proto__', time: '2026-12-01T10:00:00Z', clearedAt: null }, { deviceId: 'constructor', time: '2026-12-01T10:00:00Z', clearedAt: null }];
    expect(actionsOf(incidents, [stop('__proto__', '2026-12-01T10:01:00Z')]).map((a) => a?.outcome ?? null)).toEqual(['executed', null]);
  });
});
