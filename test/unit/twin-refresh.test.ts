import { describe, expect, it } from 'vitest';
import { refreshTwins } from '../../src/lib/twin-refresh.ts';
import { silentLogger } from '../../src/lib/log.ts';
import { harness } from '../support/pipeline-harness.ts';
import { ARM, iso, plantCatalog } from '../support/plant.ts';

describe('the twin refresh sweep', () => {
  it('brings a held-back twin up to its newest stored reading once its device goes quiet', async () => {
    const h = harness();
    h.twins.add('robotic-arm-001', ARM);
    const t0 = Date.now() - 30_000;
    await h.send([{ device: 'robotic-arm-001', enqueued: t0 + 500, body: { timestamp: iso(t0), temperature: 70, status: 'running' } }]);
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ $metadata: { lastTelemetryTime: { sourceTime: iso(t0 + 500) } } });
    const held = await h.send([{ device: 'robotic-arm-001', enqueued: t0 + 3_400, body: { timestamp: iso(t0 + 3_000), temperature: 73, pressure: 6.5 } }]);
    expect(held.twinsDeferred).toBe(1);
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ temperature: 70 });

    const deps = { catalog: plantCatalog(), twins: h.twins, store: h.store, logger: silentLogger, lookbackMs: 600_000, concurrency: 4 };
    expect(await refreshTwins(deps)).toEqual({ devices: 1, patched: 1, upToDate: 0, errors: 0 });
    // Written now, and said to have been taken in when IoT Hub took the held-back reading in: its silence counts from then.
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ temperature: 73, pressure: 6.5, lastTelemetryTime: iso(t0 + 3_000), $metadata: { temperature: { sourceTime: iso(t0 + 3_000) }, lastTelemetryTime: { sourceTime: iso(t0 + 3_400) } } });
    // A second sweep finds nothing to do.
    expect(await refreshTwins(deps)).toEqual({ devices: 1, patched: 0, upToDate: 1, errors: 0 });
  });

  it('leaves a value not measured (null) in the newest stored reading at the last one measured', async () => {
    const h = harness();
    h.twins.add('robotic-arm-001', ARM);
    const t0 = Date.now() - 30_000;
    await h.send([{ device: 'robotic-arm-001', body: { timestamp: iso(t0), temperature: 70, status: 'running' } }]);
    expect((await h.send([{ device: 'robotic-arm-001', body: { timestamp: iso(t0 + 3_000), temperature: null, pressure: 6.5 } }])).twinsDeferred).toBe(1);
    const deps = { catalog: plantCatalog(), twins: h.twins, store: h.store, logger: silentLogger, lookbackMs: 600_000, concurrency: 4 };
    expect(await refreshTwins(deps)).toMatchObject({ patched: 1, errors: 0 });
    expect(h.twins.props('robotic-arm-001')).toMatchObject({ temperature: 70, pressure: 6.5, lastTelemetryTime: iso(t0 + 3_000), $metadata: { temperature: { sourceTime: iso(t0) } } });
  });
});
