/**
 * npm run bench:detect: a fixed-seed fleet of simulated machines (arms and conveyors, several
 * failure modes and P-F curve shapes, healthy machines among them) run for two weeks at one
 * reading a minute, scored in one run by our streaming detector and by the two baselines (a
 * static threshold rule like the recipe's, a per-sensor rolling z-score). An alarm is an episode
 * (re-armed after an hour quiet); see src/lib/anomaly/evaluate.ts for how it is counted.
 *
 *   npm run bench:detect [-- --devices 60 --days 14 --seed 7]
 */
import { parseArgs } from 'node:util';
import { degradationFleet, runReadings } from '../src/simulator/degradation.ts';
import { StreamingDetector, emptyDetectorState } from '../src/lib/anomaly/streaming-detector.ts';
import { RollingZScore, ThresholdRule, type AlarmScorer } from '../src/lib/anomaly/baselines.ts';
import { EpisodeTracker, evaluateAlarms, type DetectionReport, type GroundTruth } from '../src/lib/anomaly/evaluate.ts';

const { values } = parseArgs({ options: { devices: { type: 'string', default: '60' }, days: { type: 'string', default: '14' }, seed: { type: 'string', default: '7' }, verbose: { type: 'boolean', default: false } } });
const devices = Number(values.devices);
const days = Number(values.days);
const REARM_MS = 3_600_000;
const plans = degradationFleet({ seed: Number(values.seed), devices, failingShare: 2 / 3, days, periodMs: 60_000 });

const detector = new StreamingDetector();
const methods = ['detector', 'threshold', 'zscore'] as const;
const starts = Object.fromEntries(methods.map((m) => [m, new Map<string, number[]>()])) as Record<(typeof methods)[number], Map<string, number[]>>;
const truth: GroundTruth[] = [];
let readings = 0;
const t0 = performance.now();
let detectorMs = 0;
for (const plan of plans) {
  const state = emptyDetectorState();
  const baselines: [string, AlarmScorer][] = [['threshold', new ThresholdRule()], ['zscore', new RollingZScore()]];
  const trackers = Object.fromEntries(methods.map((m) => [m, new EpisodeTracker(REARM_MS)])) as Record<(typeof methods)[number], EpisodeTracker>;
  let last = plan.startTime;
  for (const reading of runReadings(plan)) {
    readings++;
    last = reading.time;
    const s = performance.now();
    const d = detector.step(state, reading.time, reading.features, reading.status);
    detectorMs += performance.now() - s;
    trackers.detector.observe(reading.time, d.driftScore >= 0.5);
    for (const [name, b] of baselines) trackers[name as 'threshold' | 'zscore'].observe(reading.time, b.step(reading.time, reading.features));
  }
  for (const m of methods) starts[m].set(plan.deviceId, trackers[m].starts);
  truth.push({ deviceId: plan.deviceId, startTime: plan.startTime, endTime: last, onsetTime: plan.failure?.onsetTime, failureTime: plan.failure?.failureTime });
}
const reports = Object.fromEntries(methods.map((m) => [m, evaluateAlarms(truth, starts[m])])) as Record<(typeof methods)[number], DetectionReport>;

const fmt = (x: number, d = 3) => Number(x.toFixed(d));
console.log(`fleet: ${plans.length} machines (${plans.filter((p) => p.failure).length} fail; modes ${[...new Set(plans.flatMap((p) => (p.failure ? [p.failure.mode] : [])))].join(', ')}), ${days} days at 1/min, ${readings} readings, seed ${values.seed}`);
for (const m of methods) {
  const r = reports[m];
  console.log(`${m.padEnd(9)} recall=${fmt(r.recall)} precision=${fmt(r.precision)} f1=${fmt(r.f1)} median_lead_time_pct=${fmt(r.medianLeadTimePct, 1)} false_alarms=${r.falseAlarms} (${fmt(r.falseAlarmsPerDeviceWeek)}/device-week over ${fmt(r.healthyDeviceWeeks, 1)} device-weeks)`);
}
if (values.verbose) {
  for (const p of plans.filter((x) => x.failure)) {
    const first = starts.detector.get(p.deviceId)!.find((s) => s >= p.failure!.onsetTime && s <= p.failure!.failureTime);
    const lead = first === undefined ? 'missed' : `${fmt((100 * (p.failure!.failureTime - first)) / (p.failure!.failureTime - p.failure!.onsetTime), 1)}%`;
    console.log(`  ${p.deviceId} ${p.failure!.mode} shape=${p.failure!.shape} span_h=${fmt((p.failure!.failureTime - p.failure!.onsetTime) / 3_600_000, 1)} lead=${lead} false=${starts.detector.get(p.deviceId)!.filter((s) => s < p.failure!.onsetTime).length}`);
  }
}
console.log(`detector cost: ${fmt((detectorMs * 1000) / readings, 2)} µs per reading; whole run ${fmt((performance.now() - t0) / 1000, 1)} s`);
const d = reports.detector;
console.log(`detect f1=${fmt(d.f1)} recall=${fmt(d.recall)} precision=${fmt(d.precision)} median_lead_time_pct=${fmt(d.medianLeadTimePct, 1)} false_alarms_per_device_week=${fmt(d.falseAlarmsPerDeviceWeek)} baseline_threshold_f1=${fmt(reports.threshold.f1)} baseline_zscore_f1=${fmt(reports.zscore.f1)}`);
