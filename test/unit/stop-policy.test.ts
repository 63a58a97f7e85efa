/**
 * The interlocks on the automated emergencyStop: what must hold before a machine is stopped,
 * and what keeps it from being stopped twice, too often, or at all.
 */
import { describe, expect, it } from 'vitest';
import { StopPolicy, type StopSettings } from '../../src/lib/commands/stop-policy.ts';
import type { TwinState } from '../../src/lib/ports.ts';
import type { ScoredReading } from '../../src/lib/twins/twin-update.ts';

const settings: StopSettings = { mode: 'on', minProbability: 0.9, confirmReadings: 3, maxPerHour: 2, incidentMs: 4 * 3_600_000, maxAgeMs: 120_000 };
const thresholds = { warning: 0.5, critical: 0.8 };
const T = Date.UTC(2026, 10, 25, 10);
const twin = (over: Partial<TwinState> = {}): TwinState => ({ id: 'arm-1', modelId: 'm', etag: '1', lastTelemetryTime: T - 60_000, status: 'running', healthStatus: 'warning', lastAlertTime: undefined, ...over });
const reading = (i: number, p: number | undefined, anomaly = 0.9, deviceId = 'arm-1', status = 'running'): ScoredReading => ({
  reading: { deviceId, key: `${deviceId}|m:${i}`, time: T + i * 1000, timeIso: new Date(T + i * 1000).toISOString(), values: { temperature: 99, status } } as unknown as ScoredReading['reading'],
  score: { anomalyScore: anomaly, failureProbability: p, contributions: {}, modelVersion: 'v' },
});
const run = (n: number, p: number | undefined, from = 0, deviceId = 'arm-1') => Array.from({ length: n }, (_, i) => reading(from + i, p, 0.9, deviceId));

describe('the automated emergencyStop', () => {
  it('stops on a confirmed, confident failure prediction', () => {
    const v = new StopPolicy(settings, thresholds).decide(twin(), run(3, 0.95), T);
    expect(v).toMatchObject({ kind: 'stop', incidentId: 'arm-1|stop|arm-1|m:2' });
    expect(v!.reason).toContain('failure probability 95 %');
  });

  it('never acts on stale readings: a backlog replayed hours later stops nothing', () => {
    const policy = new StopPolicy(settings, thresholds);
    expect(policy.decide(twin(), run(3, 0.99), T + 6 * 3_600_000)).toBeUndefined();
    expect(policy.decide(twin(), run(3, 0.99), T + 60_000)).toMatchObject({ kind: 'stop' });
  });

  it('retries a stop that failed (device offline) with the next readings, without using up the hourly limit', () => {
    const policy = new StopPolicy({ ...settings, maxPerHour: 1 }, thresholds);
    const first = policy.decide(twin(), run(3, 0.99), T + 3_000)!;
    expect(first).toMatchObject({ kind: 'stop' });
    policy.record(first, T + 3_000, true);
    // Not on the very next batch, but seconds later, and the limit of one an hour still has room.
    expect(policy.decide(twin({ healthStatus: 'critical' }), run(1, 0.99, 4), T + 5_000)).toBeUndefined();
    const retry = policy.decide(twin({ healthStatus: 'critical' }), run(1, 0.99, 20), T + 21_000)!;
    expect(retry).toMatchObject({ kind: 'stop' });
    policy.record(retry, T + 21_000);
    // Once it went through, the incident window holds.
    expect(policy.decide(twin({ healthStatus: 'critical' }), run(1, 0.99, 40), T + 41_000)).toBeUndefined();
  });

  it('gives a host retry of the batch the verdict it acted on, with its outcome, and counts nothing again', () => {
    const policy = new StopPolicy({ ...settings, maxPerHour: 1 }, thresholds);
    const first = policy.decide(twin(), run(3, 0.99), T + 3_000)!;
    policy.record(first, T + 3_000, true, { outcome: 'failed', detail: 'error: device offline' });
    // The same readings again (the batch failed later, at its twin patch): the same stop, failed as it was, not sent again.
    const retry = policy.decide(twin(), run(3, 0.99), T + 4_000)!;
    expect(retry).toMatchObject({ kind: 'stop', incidentId: first.incidentId, replay: { outcome: 'failed', detail: 'error: device offline' } });
    policy.record(retry, T + 4_000);
    // Recording the replay counted nothing: the failed stop is still retried later, within the limit of one.
    expect(policy.decide(twin({ healthStatus: 'critical' }), run(1, 0.99, 20), T + 21_000)).toMatchObject({ kind: 'stop' });
    expect(policy.decide(twin({ healthStatus: 'critical' }), run(1, 0.99, 20), T + 21_000)!.replay).toBeUndefined();
  });

  it('needs the failure model: an anomaly score alone never stops a machine', () => {
    expect(new StopPolicy(settings, thresholds).decide(twin(), run(5, undefined), T)).toBeUndefined();
  });

  it('needs confidence and a critical reading', () => {
    const policy = new StopPolicy(settings, thresholds);
    expect(policy.decide(twin(), run(5, 0.85), T)).toBeUndefined();
    expect(policy.decide(twin(), [reading(0, 0.99, 0.6), reading(1, 0.99, 0.6), reading(2, 0.99, 0.6)], T)).toBeUndefined();
  });

  it('needs confirmation: three readings in a row, or a twin already critical before the batch', () => {
    const policy = new StopPolicy(settings, thresholds);
    expect(policy.decide(twin(), [reading(0, 0.2), reading(1, 0.95), reading(2, 0.95)], T)).toBeUndefined();
    expect(policy.decide(twin({ healthStatus: 'critical' }), [reading(3, 0.95)], T)).toMatchObject({ kind: 'stop' });
  });

  it('takes the incident as the alarm lifecycle has it after the batch: one that cleared within it confirms nothing, one critical by now does', () => {
    const policy = new StopPolicy(settings, thresholds);
    // The twin was critical before the batch, but the batch's quiet readings cleared the incident before this hot one.
    expect(policy.decide(twin({ healthStatus: 'critical' }), [reading(3, 0.95)], T, false)).toBeUndefined();
    expect(policy.decide(twin({ healthStatus: 'warning' }), [reading(3, 0.95)], T, true)).toMatchObject({ kind: 'stop' });
  });

  it('never stops twice for one incident, nor a machine that reports it is stopped', () => {
    const policy = new StopPolicy(settings, thresholds);
    const first = policy.decide(twin(), run(3, 0.95), T)!;
    policy.record(first, T);
    expect(policy.decide(twin({ healthStatus: 'critical' }), run(3, 0.97, 3), T)).toBeUndefined();
    // Another instance knows from the twin.
    expect(new StopPolicy(settings, thresholds).decide(twin({ lastEmergencyStopTime: T }), run(3, 0.97, 10), T)).toBeUndefined();
    expect(new StopPolicy(settings, thresholds).decide(twin(), [...run(2, 0.97), reading(2, 0.97, 0.9, 'arm-1', 'emergencyStopped')], T)).toBeUndefined();
    // A new incident, after the window, may stop it again.
    expect(new StopPolicy(settings, thresholds).decide(twin({ lastEmergencyStopTime: T - 5 * 3_600_000 }), run(3, 0.97), T)).toMatchObject({ kind: 'stop' });
  });

  it('holds back stops past the hourly limit, and says so once per incident', () => {
    const policy = new StopPolicy(settings, thresholds);
    for (const id of ['a', 'b']) policy.record(policy.decide(twin({ id }), run(3, 0.95, 0, id), T)!, T);
    const blocked = policy.decide(twin({ id: 'c' }), run(3, 0.95, 0, 'c'), T)!;
    expect(blocked).toMatchObject({ kind: 'blocked' });
    expect(blocked.reason).toContain('rate limit: 2 stops in the last hour (max 2)');
    policy.record(blocked, T);
    expect(policy.decide(twin({ id: 'c', healthStatus: 'critical' }), run(3, 0.95, 3, 'c'), T + 60_000)).toBeUndefined();
    // An hour later the limit has room again.
    expect(policy.decide(twin({ id: 'c', healthStatus: 'critical' }), run(3, 0.95, 3603, 'c'), T + 3_605_000)).toMatchObject({ kind: 'stop' });
  });

  it('holds the limit within one batch: when every machine looks about to fail at once, only the first two are stopped', () => {
    const policy = new StopPolicy(settings, thresholds);
    // The pipeline decides for all the batch's equipment before it acts on any verdict.
    const verdicts = ['a', 'b', 'c', 'd'].map((id) => policy.decide(twin({ id }), run(3, 0.95, 0, id), T)!);
    expect(verdicts.map((v) => v.kind)).toEqual(['stop', 'stop', 'blocked', 'blocked']);
    // A host retry of that batch decides the same incidents alike: their places are theirs already.
    expect(policy.decide(twin({ id: 'a' }), run(3, 0.95, 0, 'a'), T)).toMatchObject({ kind: 'stop' });
    // A stop the device did not take gives its place back.
    policy.record(verdicts[0]!, T, true);
    expect(policy.decide(twin({ id: 'e' }), run(3, 0.95, 0, 'e'), T)).toMatchObject({ kind: 'stop' });
  });

  it('only decides in dry-run mode, and does nothing when off', () => {
    expect(new StopPolicy({ ...settings, mode: 'dry-run' }, thresholds).decide(twin(), run(3, 0.95), T)).toMatchObject({ kind: 'dry-run' });
    expect(new StopPolicy({ ...settings, mode: 'off' }, thresholds).decide(twin(), run(3, 0.95), T)).toBeUndefined();
  });

  describe('at the edges of its interlocks', () => {
    const last = (n: number) => T + (n - 1) * 1000;
    it('acts on a reading exactly as old as maxAgeMs, not a millisecond older', () => {
      expect(new StopPolicy(settings, thresholds).decide(twin(), run(3, 0.95), last(3) + settings.maxAgeMs)).toMatchObject({ kind: 'stop' });
      expect(new StopPolicy(settings, thresholds).decide(twin(), run(3, 0.95), last(3) + settings.maxAgeMs + 1)).toBeUndefined();
    });

    it('takes a failure probability exactly at minProbability, and needs one: an anomaly score alone stops nothing', () => {
      expect(new StopPolicy(settings, thresholds).decide(twin(), run(3, 0.9), T)).toMatchObject({ kind: 'stop' });
      expect(new StopPolicy(settings, thresholds).decide(twin(), run(3, 0.8999), T)).toBeUndefined();
      expect(new StopPolicy(settings, thresholds).decide(twin(), run(3, undefined), T)).toBeUndefined();
      // Confident, but the reading is not critical.
      expect(new StopPolicy(settings, thresholds).decide(twin(), [reading(0, 0.99, 0.79), reading(1, 0.99, 0.79), reading(2, 0.99, 0.79)], T)).toBeUndefined();
    });

    it('needs the newest reading to qualify, and counts the run back from it', () => {
      expect(new StopPolicy(settings, thresholds).decide(twin(), [...run(3, 0.95), reading(3, 0.5)], T)).toBeUndefined();
      expect(new StopPolicy(settings, thresholds).decide(twin(), [reading(0, 0.95), reading(1, 0.5), reading(2, 0.95), reading(3, 0.95)], T)).toBeUndefined();
      expect(new StopPolicy(settings, thresholds).decide(twin({ healthStatus: 'critical' }), [reading(0, 0.5), reading(1, 0.95)], T)!.reason).toBe('failure probability 95 % (≥ 90 %), critical for 1 reading of a critical incident');
      expect(new StopPolicy(settings, thresholds).decide(twin(), run(4, 0.95), T)!.reason).toBe('failure probability 95 % (≥ 90 %), critical for 4 readings');
      expect(new StopPolicy(settings, thresholds).decide(twin(), run(3, 0.95), T)!.reason).toBe('failure probability 95 % (≥ 90 %), critical for 3 readings');
    });

    it("trusts the newest reading's status over the twin's, and the twin's when the reading has none", () => {
      const policy = () => new StopPolicy(settings, thresholds);
      const stoppedNow = [...run(2, 0.95), reading(2, 0.95, 0.9, 'arm-1', 'emergencyStopped')];
      expect(policy().decide(twin(), stoppedNow, T)).toBeUndefined();
      const runningAgain = [...run(2, 0.95), reading(2, 0.95, 0.9, 'arm-1', 'running')];
      expect(policy().decide(twin({ status: 'stopped' }), runningAgain, T)).toMatchObject({ kind: 'stop' });
      const silent = run(3, 0.95).map((r) => ({ ...r, reading: { ...r.reading, values: { temperature: 99 } } }));
      expect(policy().decide(twin({ status: 'stopped' }), silent, T)).toBeUndefined();
      expect(policy().decide(twin({ status: 'running' }), silent, T)).toMatchObject({ kind: 'stop' });
    });

    it('stops again exactly one incident window after the last stop, not a millisecond sooner', () => {
      const stoppedAt = last(3) - settings.incidentMs;
      expect(new StopPolicy(settings, thresholds).decide(twin({ lastEmergencyStopTime: stoppedAt }), run(3, 0.95), T)).toMatchObject({ kind: 'stop' });
      expect(new StopPolicy(settings, thresholds).decide(twin({ lastEmergencyStopTime: stoppedAt + 1 }), run(3, 0.95), T)).toBeUndefined();
    });

    it('retries a failed stop exactly ten seconds after it failed', () => {
      const policy = new StopPolicy(settings, thresholds);
      policy.record(policy.decide(twin(), run(3, 0.95), T)!, T, true);
      expect(policy.decide(twin({ healthStatus: 'critical' }), run(1, 0.95, 5), T + 9_999)).toBeUndefined();
      expect(policy.decide(twin({ healthStatus: 'critical' }), run(1, 0.95, 6), T + 10_000)).toMatchObject({ kind: 'stop' });
    });

    it('frees a place in the hourly limit exactly an hour after a stop', () => {
      const policy = new StopPolicy({ ...settings, maxPerHour: 1 }, thresholds);
      policy.record(policy.decide(twin({ id: 'a' }), run(3, 0.95, 0, 'a'), T)!, T);
      expect(policy.decide(twin({ id: 'b' }), run(3, 0.95, 3596, 'b'), T + 3_600_000 - 1)).toMatchObject({ kind: 'blocked' });
      expect(policy.decide(twin({ id: 'c' }), run(3, 0.95, 3598, 'c'), T + 3_600_000)).toMatchObject({ kind: 'stop' });
    });
  });

  it('decides nothing on a batch with no fresh reading', () => {
    expect(new StopPolicy(settings, thresholds).decide(twin(), [], T)).toBeUndefined();
  });

  it('counts a stop once: a replayed batch\'s recorded verdict does not use up the hourly limit again', () => {
    const policy = new StopPolicy({ ...settings, maxPerHour: 2 }, thresholds);
    const stop = policy.decide(twin(), run(3, 0.95), T)!;
    policy.record(stop, T);
    // The batch is replayed (the twin holds the stop): recorded, not sent, and not counted again.
    const replay = policy.decide(twin({ lastEmergencyStopTime: T + 2000 }), run(3, 0.95), T + 1000)!;
    expect(replay.kind).toBe('recorded');
    policy.record(replay, T + 1000);
    // Room for one more stop this hour, on another machine.
    expect(policy.decide(twin({ id: 'b' }), run(3, 0.95, 10, 'b'), T + 13_000)).toMatchObject({ kind: 'stop' });
    policy.record(policy.decide(twin({ id: 'b' }), run(3, 0.95, 10, 'b'), T + 13_000)!, T + 13_000);
    expect(policy.decide(twin({ id: 'c' }), run(3, 0.95, 20, 'c'), T + 23_000)).toMatchObject({ kind: 'blocked' });
  });

  it('reports a blocked stop once per incident window, and a recorded verdict from elsewhere counts as a stop', () => {
    const policy = new StopPolicy({ ...settings, maxPerHour: 0 }, thresholds);
    const blocked = policy.decide(twin(), run(3, 0.95), T)!;
    expect(blocked.kind).toBe('blocked');
    policy.record(blocked, T);
    expect(policy.decide(twin(), run(3, 0.95, 3), T + 4000)).toBeUndefined();
    expect(policy.decide(twin(), run(3, 0.95, 3 + settings.incidentMs / 1000), T + settings.incidentMs + 4000)).toMatchObject({ kind: 'blocked' });
    // A stop this instance did not send (another instance did, before a crash) counts when recorded here.
    const counting = new StopPolicy({ ...settings, maxPerHour: 1 }, thresholds);
    const recorded = counting.decide(twin({ lastEmergencyStopTime: T + 2000 }), run(3, 0.95), T)!;
    expect(recorded.kind).toBe('recorded');
    counting.record(recorded, T);
    expect(counting.decide(twin({ id: 'b' }), run(3, 0.95, 10, 'b'), T + 13_000)).toMatchObject({ kind: 'blocked' });
  });
});
