/**
 * A production line's status (its twin's `lineStatus`): a line stopped, in changeover or in
 * maintenance may have its machines powered down, so their silence is no communication-loss alarm
 * and no page for operations; once it is set running again, a machine still silent is raised when
 * the alarm's delay has passed since then.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { PLANT_SILENT_LOG } from '../../src/lib/alerts/communication-watch.ts';
import { LINE_STATUSES, lineAtRest, lineStatusOf, runningSince } from '../../src/lib/plant/line-status.ts';
import { lineStatusBody } from '../../src/lib/http/plant-api.ts';
import { watchedPlant } from '../support/watched-plant.ts';

const MIN = 60_000;
const at = (text: string) => Date.parse(text);

describe("a line's status as its twin holds it", () => {
  it('takes exactly the statuses the line model declares', () => {
    const model = JSON.parse(readFileSync(new URL('../../dtdl/production-line.json', import.meta.url), 'utf8')) as { contents: { name: string; schema: { enumValues?: { enumValue: string }[] } }[] };
    const declared = model.contents.find((c) => c.name === 'lineStatus')!.schema.enumValues!.map((v) => v.enumValue);
    expect([...LINE_STATUSES].sort()).toEqual([...declared].sort());
    expect(lineStatusBody.safeParse({ status: 'maintenance', by: 'Dana' }).success).toBe(true);
    expect(lineStatusBody.safeParse({ status: 'paused', by: 'Dana' }).error?.issues[0]?.message).toBe('one of running, stopped, changeover, maintenance');
    expect(lineStatusBody.safeParse({ status: 'stopped', by: ' ' }).error?.issues[0]?.message).toBe('who sets it');
  });

  it('is running when never set, and knows since when by the service clock', () => {
    const never = lineStatusOf({ $dtId: 'line', name: 'A' });
    expect([never, lineAtRest(never), runningSince(never)]).toEqual([{ status: undefined, since: undefined }, false, -Infinity]);
    const running = lineStatusOf({ lineStatus: 'running', $metadata: { lineStatus: { lastUpdateTime: '2026-12-07T06:00:00Z' } } });
    expect([lineAtRest(running), runningSince(running)]).toEqual([false, at('2026-12-07T06:00:00Z')]);
    for (const status of ['stopped', 'changeover', 'maintenance']) expect(lineAtRest(lineStatusOf({ lineStatus: status }))).toBe(true);
    // Whatever else a twin says is watched, as a running line is; an inherited `lineStatus` is not the twin's.
    expect(lineAtRest(lineStatusOf({ lineStatus: 'paused' }))).toBe(false);
    expect(lineStatusOf(Object.create({ lineStatus: 'stopped' }) as Record<string, unknown>).status).toBeUndefined();
    expect(runningSince(lineStatusOf({ lineStatus: 'running', $metadata: { lineStatus: { lastUpdateTime: 'soon' } } }))).toBe(-Infinity);
  });
});

describe('a line taken down for maintenance, its machines powered off without each saying so', () => {
  const LINE_A = ['robotic-arm-001', 'robotic-arm-002'];
  const LINE_B = ['robotic-arm-003'];

  /** Two lines, their arms running until 08:00 UTC; Digital Twins' clock follows the test's. */
  async function plant() {
    const p = watchedPlant({ 'production-line-a': LINE_A, 'production-line-b': LINE_B }, at('2026-12-07T07:55:00Z'));
    /** What the plant (or the API) writes on the line's twin, at `when`. */
    const setLine = (line: string, status: string, when: number) => {
      p.moveTo(when);
      return p.h.twins.patch(line, [{ op: 'add', path: '/lineStatus', value: status }]);
    };
    const sweepAt = (when: number) => {
      p.moveTo(when);
      return p.watch.run();
    };
    return { ...p, setLine, sweepAt };
  }

  it('raises nothing for the line in maintenance while the other line is watched as always; set running again, its machine still silent is raised ten minutes later', async () => {
    const p = await plant();
    await p.run([...LINE_A, ...LINE_B], at('2026-12-07T08:00:00Z'));
    await p.setLine('production-line-a', 'maintenance', at('2026-12-07T08:01:00Z'));
    // Line B keeps sending; line A's arms are off all morning.
    const morning = [];
    for (let t = at('2026-12-07T08:05:00Z'); t <= at('2026-12-07T11:55:00Z'); t += 10 * MIN) {
      await p.run(LINE_B, t);
      morning.push(await p.sweepAt(t + 30_000));
    }
    expect(morning.every((r) => r.silent === 0 && r.raised === 0)).toBe(true);
    // From ten minutes after they went quiet, both are past the delay and expected quiet.
    expect(morning.map((r) => r.onLinesAtRest ?? 0)).toEqual([0, ...Array(23).fill(2)]);
    expect(p.h.alerts.sent).toEqual([]);

    // Back to running at noon: one arm comes back within minutes, the other does not.
    await p.setLine('production-line-a', 'running', at('2026-12-07T12:00:00Z'));
    await p.run([...LINE_B, 'robotic-arm-001'], at('2026-12-07T12:04:00Z'));
    expect(await p.sweepAt(at('2026-12-07T12:09:30Z'))).toMatchObject({ silent: 0, raised: 0 });
    await p.run(LINE_B, at('2026-12-07T12:10:00Z'));
    expect(await p.sweepAt(at('2026-12-07T12:10:30Z'))).toMatchObject({ silent: 1, raised: 1, told: 1 });
    const [card] = p.h.alerts.sent;
    expect(card).toMatchObject({ deviceId: 'robotic-arm-002', condition: 'silent', line: 'production-line-a', time: at('2026-12-07T12:10:00Z') });
    // Its card says when it was last heard from: before the maintenance, not when the line ran again.
    expect(card!.silent!.since).toBeGreaterThan(at('2026-12-07T07:59:00Z'));
    expect(card!.silent!.since).toBeLessThanOrEqual(at('2026-12-07T08:00:00Z'));
    expect(p.logged).toEqual([]);
  });

  it('clears the silence raised before the line was set to maintenance, with one card each saying so; running again and still silent, a new incident', async () => {
    const p = await plant();
    await p.run([...LINE_A, ...LINE_B], at('2026-12-07T08:00:00Z'));
    await p.run(LINE_B, at('2026-12-07T08:10:00Z'));
    expect(await p.sweepAt(at('2026-12-07T08:10:30Z'))).toMatchObject({ silent: 2, raised: 2, told: 2 });
    // The shift lead finds line A's arms powered off for maintenance and says so.
    await p.setLine('production-line-a', 'maintenance', at('2026-12-07T08:20:00Z'));
    await p.run(LINE_B, at('2026-12-07T08:20:10Z'));
    expect(await p.sweepAt(at('2026-12-07T08:20:30Z'))).toMatchObject({ silent: 0, raised: 0, onLinesAtRest: 2, clearedAtRest: 2 });
    const clears = p.h.alerts.sent.slice(2);
    expect(clears.map((c) => [c.deviceId, c.incident.event, c.time, c.lineAtRest])).toEqual(
      LINE_A.map((id) => [id, 'cleared', at('2026-12-07T08:20:00Z'), { status: 'maintenance', since: at('2026-12-07T08:20:00Z') }]),
    );
    expect(clears.map((c) => c.incident.id)).toEqual(p.h.alerts.sent.slice(0, 2).map((c) => c.incident.id));
    for (const id of LINE_A) expect(p.h.twins.props(id)).toMatchObject({ healthStatus: 'normal' });
    expect(p.h.store.storedAlarmEvents.filter((r) => r.Event === 'cleared').map((r) => [r.DeviceId, r.Detail, r.Notified])).toEqual(LINE_A.map((id) => [id, 'lineAtRest=maintenance', 'yes']));
    // The next sweeps find nothing open: no second card.
    await p.run(LINE_B, at('2026-12-07T08:21:10Z'));
    expect(await p.sweepAt(at('2026-12-07T08:21:30Z'))).toMatchObject({ onLinesAtRest: 2, raised: 0 });
    expect(p.h.alerts.sent).toHaveLength(4);
    // Running again at nine and still nothing from either arm: each raised anew ten minutes later.
    await p.setLine('production-line-a', 'running', at('2026-12-07T09:00:00Z'));
    await p.run(LINE_B, at('2026-12-07T09:10:00Z'));
    expect(await p.sweepAt(at('2026-12-07T09:10:30Z'))).toMatchObject({ silent: 2, raised: 2, told: 2 });
    const again = p.h.alerts.sent.slice(4);
    expect(again.map((c) => [c.incident.event, c.time])).toEqual(LINE_A.map(() => ['raised', at('2026-12-07T09:10:00Z')]));
    expect(again.map((c) => c.incident.reopened)).toEqual([undefined, undefined]);
    expect(p.logged.filter((l) => l.startsWith('error'))).toEqual([]);
  });

  it('clears an incident raised on readings when its machine falls quiet on a line set to maintenance, once past the delay', async () => {
    const p = await plant();
    await p.run([...LINE_A, ...LINE_B], at('2026-12-07T08:00:00Z'));
    // An open incident on robotic-arm-001 (raised on its readings before it went quiet).
    p.h.twins.props('robotic-arm-001').alarmState = JSON.stringify({ id: 'robotic-arm-001|m1', p: 'critical', n: 'critical', r: at('2026-12-07T07:59:00Z') });
    await p.setLine('production-line-a', 'maintenance', at('2026-12-07T08:01:00Z'));
    await p.run(LINE_B, at('2026-12-07T08:05:00Z'));
    // Not yet past its delay: it may be about to send.
    expect(await p.sweepAt(at('2026-12-07T08:05:30Z'))).toMatchObject({ raised: 0 });
    expect(p.h.alerts.sent).toEqual([]);
    await p.run(LINE_B, at('2026-12-07T08:10:00Z'));
    expect(await p.sweepAt(at('2026-12-07T08:10:30Z'))).toMatchObject({ onLinesAtRest: 2, clearedAtRest: 1 });
    const [card] = p.h.alerts.sent;
    expect(card).toMatchObject({ deviceId: 'robotic-arm-001', severity: 'critical', incident: { id: 'robotic-arm-001|m1', event: 'cleared' }, lineAtRest: { status: 'maintenance' } });
    // When its silence passed the delay (its twin last took a reading in just before 08:00), after the line was set so.
    expect(card!.time).toBeGreaterThan(at('2026-12-07T08:09:00Z'));
    expect(card!.time).toBeLessThanOrEqual(at('2026-12-07T08:10:00Z'));
  });

  it("judges a machine test-run during maintenance on its readings as always, its card saying that its line is in maintenance; a running line's card says nothing of it", async () => {
    const p = await plant();
    await p.run([...LINE_A, ...LINE_B], at('2026-12-07T08:00:00Z'));
    await p.setLine('production-line-a', 'maintenance', at('2026-12-07T08:01:00Z'));
    const fault = (device: string, t: number) => p.h.send([{ device, enqueued: t, body: { timestamp: new Date(t).toISOString(), temperature: 70, vibration: 0.4, pressure: 6, status: 'fault' } }]);
    p.moveTo(at('2026-12-07T08:30:00Z'));
    await fault('robotic-arm-001', at('2026-12-07T08:30:00Z'));
    await fault('robotic-arm-003', at('2026-12-07T08:30:00Z'));
    const cards = new Map(p.h.alerts.sent.map((c) => [c.deviceId, c]));
    expect(cards.get('robotic-arm-001')).toMatchObject({ severity: 'critical', incident: { event: 'raised' }, line: 'production-line-a', lineAtRest: { status: 'maintenance', since: at('2026-12-07T08:01:00Z') } });
    expect(cards.get('robotic-arm-003')).toMatchObject({ severity: 'critical', line: 'production-line-b' });
    expect(cards.get('robotic-arm-003')!.lineAtRest).toBeUndefined();
  });

  it("reads a line's status once for a batch's cards on it, and sends them without it when Digital Twins cannot say", async () => {
    const p = await plant();
    await p.run([...LINE_A, ...LINE_B], at('2026-12-07T08:00:00Z'));
    await p.setLine('production-line-a', 'maintenance', at('2026-12-07T08:01:00Z'));
    const reads = vi.spyOn(p.h.twins, 'getTwin');
    const faults = (t: number) => p.h.send(LINE_A.map((device) => ({ device, enqueued: t, body: { timestamp: new Date(t).toISOString(), temperature: 70, vibration: 0.4, pressure: 6, status: 'fault' } })));
    p.moveTo(at('2026-12-07T08:30:00Z'));
    await faults(at('2026-12-07T08:30:00Z'));
    expect(p.h.alerts.sent.map((c) => [c.deviceId, c.lineAtRest?.status])).toEqual(LINE_A.map((id) => [id, 'maintenance']));
    expect(reads.mock.calls.filter(([id]) => id === 'production-line-a')).toHaveLength(1);
    // Unreadable now: one attempt for the batch, and its cards go out saying nothing of the line's rest.
    reads.mockClear();
    reads.mockRejectedValue(new Error('Digital Twins unavailable'));
    for (const id of LINE_A) p.h.twins.props(id).alarmState = JSON.stringify({});
    p.moveTo(at('2026-12-07T09:30:00Z'));
    await faults(at('2026-12-07T09:30:00Z'));
    const later = p.h.alerts.sent.slice(LINE_A.length);
    expect(later.map((c) => [c.deviceId, c.incident.event, c.lineAtRest])).toEqual(LINE_A.map((id) => [id, 'raised', undefined]));
    expect(reads.mock.calls.filter(([id]) => id === 'production-line-a')).toHaveLength(1);
  });

  it('without the line status, the same morning raises both arms of line A ten minutes after they went quiet', async () => {
    const p = await plant();
    await p.run([...LINE_A, ...LINE_B], at('2026-12-07T08:00:00Z'));
    await p.run(LINE_B, at('2026-12-07T08:10:00Z'));
    expect(await p.sweepAt(at('2026-12-07T08:10:30Z'))).toMatchObject({ silent: 2, raised: 2, told: 2 });
  });

  it("reads no machine's line when the whole plant has gone quiet and no line's status bears on it: one page, not a read per machine", async () => {
    const p = await plant();
    await p.run([...LINE_A, ...LINE_B], at('2026-12-07T08:00:00Z'));
    // Set running long before: the silences began after it.
    await p.setLine('production-line-a', 'running', at('2026-12-07T07:58:00Z'));
    const lookups = vi.spyOn(p.h.twins, 'listIncomingRelationships');
    expect(await p.sweepAt(at('2026-12-07T08:11:00Z'))).toMatchObject({ silent: 3, raised: 0, plantSilent: true });
    expect(lookups).not.toHaveBeenCalled();
  });

  it('pages nobody when every line is stopped, and pages operations when the lines that run have all gone quiet', async () => {
    const p = await plant();
    await p.run([...LINE_A, ...LINE_B], at('2026-12-07T08:00:00Z'));
    await p.setLine('production-line-a', 'stopped', at('2026-12-07T08:00:30Z'));
    await p.setLine('production-line-b', 'changeover', at('2026-12-07T08:00:40Z'));
    expect(await p.sweepAt(at('2026-12-07T08:30:00Z'))).toMatchObject({ silent: 0, raised: 0, onLinesAtRest: 3 });
    expect(p.logged).toEqual([]);
    // Both lines run again and nothing comes from anywhere: the uplink, not each machine.
    await p.setLine('production-line-b', 'running', at('2026-12-07T08:31:00Z'));
    await p.setLine('production-line-a', 'running', at('2026-12-07T08:31:00Z'));
    expect(await p.sweepAt(at('2026-12-07T08:42:00Z'))).toMatchObject({ silent: 3, raised: 0, plantSilent: true });
    expect(p.logged).toEqual([`error ${PLANT_SILENT_LOG}`]);
    expect(p.h.alerts.sent).toEqual([]);
  });
});
