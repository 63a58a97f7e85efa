/**
 * The multivariate parts of the detector on real streams, not only on ours: three of the
 * development corpus's real series (../shared/data/nab-dev) streamed together as one machine's
 * sensors. They are independent and non-stationary, as real sensors often are; the synthetic
 * runs alone once made a rule look free that flagged thousands of these rows. And related series
 * (measured at one place) as one machine's two sensors, for the evidence of pairs that move together.
 */
import { describe, expect, it } from 'vitest';
import { StreamingDetector } from '../../src/lib/anomaly/streaming-detector.ts';
import { AlarmLifecycle } from '../../src/lib/alerts/alarm-lifecycle.ts';
import { FailureModel, latestModelFile } from '../../src/lib/anomaly/failure-model.ts';
import { projectRoot } from '../../src/lib/paths.ts';
import { corpusAvailable, realSeriesAsSensors, realSeriesThroughAlarms, relatedSeriesAsSensors } from '../../bench/nab-dev.ts';
import { join } from 'node:path';

describe('the detector on real series streamed as one machine', () => {
  it('flags few rows outside the labelled windows, and fewer still as several sensors off together', async () => {
    expect(corpusAvailable(), 'the development corpus is expected at ../shared/data/nab-dev').toBe(true);
    const real = await realSeriesAsSensors(new StreamingDetector());
    expect(real.rows).toBeGreaterThan(40_000);
    expect(real.flaggedPct).toBeLessThan(0.5);
    expect(real.deviationPct).toBeLessThan(0.25);
  });

  it('flags few rows of related series (a station\'s speed and occupancy, an exchange\'s two prices) streamed as one machine\'s sensors', async () => {
    // These move together for real, so the pair evidence watches them; parting for a while is rare.
    const related = await relatedSeriesAsSensors(new StreamingDetector());
    expect(related.rows).toBeGreaterThan(6_000);
    expect(related.flaggedPct).toBeLessThan(0.5);
  });

  it('tells an operator of less than one incident a device-week outside the labelled windows of real series, none critical, and of some labelled anomalies', async () => {
    // Each real series as a one-sensor machine, through the failure model `npm start` serves and the alarm lifecycle.
    const model = FailureModel.load(latestModelFile(join(projectRoot(), 'models'))!);
    const alarms = await realSeriesThroughAlarms(new StreamingDetector(), new AlarmLifecycle({ thresholds: { warning: 0.5, critical: 0.8 } }), (d) => model.predict(d.features));
    expect(alarms.deviceWeeks).toBeGreaterThan(100);
    expect(alarms.toldPerDeviceWeek).toBeLessThan(1);
    expect(alarms.critical).toBe(0);
    expect(alarms.windows).toBeGreaterThan(70);
    expect(alarms.windowsTold).toBeGreaterThanOrEqual(alarms.windows / 4);
  });
});
