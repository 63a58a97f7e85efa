/**
 * npm run bench:detect: the anomaly detector and the alarm lifecycle, measured in one run on
 * 1. a fixed-seed fleet of simulated machines (arms and conveyors, several failure modes and P-F
 *    curve shapes, healthy machines among them) over two weeks at one reading a minute. A Teams
 *    incident is a notified raise of the alarm lifecycle the pipeline runs (see
 *    src/lib/alerts/alarm-lifecycle.ts); recall, lead time and false incidents come from
 *    src/lib/anomaly/evaluate.ts. The two baselines (a static threshold rule, a rolling z-score)
 *    run beside it, as alarm episodes re-armed after an hour quiet;
 * 2. the development corpus (../shared/data/nab-dev, 51 labelled public time series) through
 *    `npm run score`'s own path, scored with the benchmark's rules: swept, and at the product's
 *    warning threshold;
 * 3. one line of healthy machines sending the simulator's recipe (5 % injected spikes) at one
 *    reading a second for an 8-hour shift: Teams incidents per 10 minutes, and chattering (an
 *    equipment raising three or more alarms within a minute);
 * 4. synthetic multivariate runs with anomalies of minutes (./multivariate.ts) through the same
 *    path, flagged at the warning threshold and scored row by row, beside flagging every row.
 *
 *   npm run bench:detect [-- --devices 60 --days 14 --seed 7 --verbose]
 */
import { alarmPerformance, type AlarmEventRecord } from '../src/lib/alerts/alarm-performance.ts';
import { parseArgs } from 'node:util';
import { degradationFleet, runReadings } from '../src/simulator/degradation.ts';
import { newState, sample, seedOf } from '../src/simulator/scenarios.ts';
import { StreamingDetector } from '../src/lib/anomaly/streaming-detector.ts';
import { emptyDetectorState, storeDetectorState } from '../src/lib/anomaly/detector-state.ts';
import { RollingZScore, ThresholdRule, type AlarmScorer } from '../src/lib/anomaly/baselines.ts';
import { EpisodeTracker, evaluateAlarms, type DetectionReport, type GroundTruth } from '../src/lib/anomaly/evaluate.ts';
import { AlarmLifecycle, alarmEvidence, notifiedOf, type AlarmState } from '../src/lib/alerts/alarm-lifecycle.ts';
import { FailureModel, latestModelFile } from '../src/lib/anomaly/failure-model.ts';
import { projectRoot } from '../src/lib/paths.ts';
import { join } from 'node:path';
import { corpusAvailable, realSeriesAsSensors, realSeriesThroughAlarms, relatedSeriesAsSensors, scoreCorpus } from './nab-dev.ts';
import { scoreMultivariate } from './multivariate.ts';

const { values } = parseArgs({ options: { devices: { type: 'string', default: '60' }, days: { type: 'string', default: '14' }, seed: { type: 'string', default: '7' }, verbose: { type: 'boolean', default: false } } });
const devices = Number(values.devices);
const days = Number(values.days);
const REARM_MS = 3_600_000;
const THRESHOLDS = { warning: 0.5, critical: 0.8 };
const fmt = (x: number, d = 3) => Number(x.toFixed(d));
const t0 = performance.now();
// The failure model `npm start` serves, on the detector's features, as the pipeline gets it.
const modelFile = latestModelFile(join(projectRoot(), 'models'));
const failureModel = modelFile ? FailureModel.load(modelFile) : undefined;
const probability = (d: { features: Parameters<FailureModel['predict']>[0] }) => failureModel?.predict(d.features);

// 1. The fleet.
const plans = degradationFleet({ seed: Number(values.seed), devices, failingShare: 2 / 3, days, periodMs: 60_000 });
const detector = new StreamingDetector();
const lifecycle = new AlarmLifecycle({ thresholds: THRESHOLDS });
const baselines = ['threshold', 'zscore'] as const;
const incidentStarts = new Map<string, number[]>();
const baselineStarts = Object.fromEntries(baselines.map((m) => [m, new Map<string, number[]>()])) as Record<(typeof baselines)[number], Map<string, number[]>>;
const truth: GroundTruth[] = [];
let readings = 0;
let detectorMs = 0;
let maxStateBytes = 0;
for (const plan of plans) {
  const state = emptyDetectorState();
  const alarms: AlarmState = {};
  const starts: number[] = [];
  const scorers: [(typeof baselines)[number], AlarmScorer, EpisodeTracker][] = [['threshold', new ThresholdRule(), new EpisodeTracker(REARM_MS)], ['zscore', new RollingZScore(), new EpisodeTracker(REARM_MS)]];
  let last = plan.startTime;
  for (const reading of runReadings(plan)) {
    readings++;
    last = reading.time;
    const s = performance.now();
    const d = detector.step(state, reading.time, reading.features, reading.status);
    detectorMs += performance.now() - s;
    const events = lifecycle.evaluate(alarms, [alarmEvidence(d, probability(d))], { line: plan.deviceId, idOf: () => `${plan.deviceId}|${reading.time}` });
    for (const e of events) if (e.notify && e.kind === 'raised') starts.push(e.time);
    for (const [, b, tracker] of scorers) tracker.observe(reading.time, b.step(reading.time, reading.features));
  }
  // As the twin stores it (what ADT's 4 KB string limit applies to).
  maxStateBytes = Math.max(maxStateBytes, Buffer.byteLength(storeDetectorState(state)?.json ?? ''));
  incidentStarts.set(plan.deviceId, starts);
  for (const [name, , tracker] of scorers) baselineStarts[name].set(plan.deviceId, tracker.starts);
  truth.push({ deviceId: plan.deviceId, startTime: plan.startTime, endTime: last, onsetTime: plan.failure?.onsetTime, failureTime: plan.failure?.failureTime });
}
const fleet = evaluateAlarms(truth, incidentStarts);
const baselineReports = Object.fromEntries(baselines.map((m) => [m, evaluateAlarms(truth, baselineStarts[m])])) as Record<(typeof baselines)[number], DetectionReport>;
console.log(`failure model: ${failureModel ? failureModel.version : 'none (models/ is empty)'}`);
console.log(`fleet: ${plans.length} machines (${plans.filter((p) => p.failure).length} fail), ${days} days at 1/min, ${readings} readings, seed ${values.seed}`);
console.log(`incidents recall=${fmt(fleet.recall)} precision=${fmt(fleet.precision)} f1=${fmt(fleet.f1)} median_lead_time_pct=${fmt(fleet.medianLeadTimePct, 1)} false=${fleet.falseAlarms} (${fmt(fleet.falseAlarmsPerDeviceWeek)}/device-week over ${fmt(fleet.healthyDeviceWeeks, 1)} device-weeks)`);
for (const m of baselines) {
  const r = baselineReports[m];
  console.log(`${m.padEnd(9)} recall=${fmt(r.recall)} precision=${fmt(r.precision)} f1=${fmt(r.f1)} median_lead_time_pct=${fmt(r.medianLeadTimePct, 1)} false=${r.falseAlarms} (${fmt(r.falseAlarmsPerDeviceWeek)}/device-week)`);
}
if (values.verbose) {
  for (const p of plans.filter((x) => x.failure)) {
    const first = incidentStarts.get(p.deviceId)!.find((s) => s >= p.failure!.onsetTime && s <= p.failure!.failureTime);
    const lead = first === undefined ? 'missed' : `${fmt((100 * (p.failure!.failureTime - first)) / (p.failure!.failureTime - p.failure!.onsetTime), 1)}%`;
    console.log(`  ${p.deviceId} ${p.failure!.mode} shape=${p.failure!.shape} span_h=${fmt((p.failure!.failureTime - p.failure!.onsetTime) / 3_600_000, 1)} lead=${lead} false=${incidentStarts.get(p.deviceId)!.filter((s) => s < p.failure!.onsetTime).length}`);
  }
}
console.log(`detector: ${fmt((detectorMs * 1000) / readings, 2)} µs per reading; largest stored state ${maxStateBytes} bytes`);

// 2. The development corpus.
let nabSwept = NaN;
let nabFixed = NaN;
let zscoreNab = NaN;
if (corpusAvailable()) {
  const ours = await scoreCorpus({ warning: THRESHOLDS.warning });
  nabSwept = ours.swept;
  nabFixed = ours.fixed;
  for (const [c, v] of Object.entries(ours.categories)) console.log(`nab_dev ${c}: swept=${fmt(v.swept, 2)} fixed=${fmt(v.fixed, 2)} (${v.files} files)`);
  console.log(`nab_dev: ${ours.detectedSwept}/${ours.windows} windows and ${ours.falsePositivesSwept} false positives at the swept threshold ${fmt(ours.sweptThreshold, 4)}; ${ours.detectedFixed} windows and ${ours.falsePositivesFixed} false positives at ${THRESHOLDS.warning}`);
  zscoreNab = (await scoreCorpus({ zscore: true })).swept;
  const real = await realSeriesAsSensors(new StreamingDetector(), THRESHOLDS.warning);
  console.log(`real series as sensors: three at a time, ${real.rows} rows outside labelled windows: ${fmt(real.flaggedPct, 2)} % flagged, ${fmt(real.deviationPct, 2)} % as a deviation`);
  const related = await relatedSeriesAsSensors(new StreamingDetector(), THRESHOLDS.warning);
  console.log(`related real series as a machine's two sensors (traffic stations, ad exchanges): ${related.rows} rows outside labelled windows: ${fmt(related.flaggedPct, 2)} % flagged`);
  const alarmsOnReal = await realSeriesThroughAlarms(new StreamingDetector(), new AlarmLifecycle({ thresholds: THRESHOLDS }), probability);
  console.log(
    `real series through the alarms (each a one-sensor machine, the failure model, the lifecycle): ${fmt(alarmsOnReal.deviceWeeks, 1)} device-weeks, ${alarmsOnReal.told} Teams incidents outside labelled windows (${fmt(alarmsOnReal.toldPerDeviceWeek, 2)} per device-week), ${alarmsOnReal.critical} critical; told in ${alarmsOnReal.windowsTold} of ${alarmsOnReal.windows} labelled windows`,
  );
} else console.log('nab_dev: ../shared/data/nab-dev not found; corpus figures are NaN');

// 4. Anomalies of minutes on several sensors, row by row.
const rowwise = await scoreMultivariate(new StreamingDetector());
console.log(
  `multivariate: ${rowwise.files} synthetic runs at 1/s, row by row at ${THRESHOLDS.warning}: f1=${fmt(rowwise.f1)} precision=${fmt(rowwise.precision)} recall=${fmt(rowwise.recall)} false_alarm_rate=${fmt(rowwise.falseAlarmRate)} anomalies_flagged=${rowwise.anomaliesFlagged}/${rowwise.anomalies} (flagging every row: f1=${fmt(rowwise.everyRowF1)})`,
);

// 3. One line of healthy machines on the recipe, an 8-hour shift at one reading a second.
const SHIFT_S = 8 * 3600;
const line = ['robotic-arm-001', 'robotic-arm-002', 'conveyor-001', 'conveyor-002', 'robotic-arm-004', 'conveyor-003', 'conveyor-004'];
const shiftLifecycle = new AlarmLifecycle({ thresholds: THRESHOLDS });
const start = Date.UTC(2026, 0, 5, 6);
let cards = 0;
let chattering = 0;
let lowIncidents = 0;
const raisedAt = new Map<string, number[]>();
/** The shift's lifecycle events, as AlarmEvents rows would hold them: the alarm performance an alarm manager would read. */
const shiftEvents: AlarmEventRecord[] = [];
const sims = line.map((id) => ({ id, sim: newState(id.startsWith('robotic') ? 'RoboticArm' : 'Conveyor', seedOf(id), 0.05), state: emptyDetectorState(), alarms: {} as AlarmState }));
for (let t = 0; t < SHIFT_S; t++) {
  const time = start + t * 1000;
  for (const m of sims) {
    const body = sample(m.sim, t).body;
    const features: Record<string, number> = {};
    for (const [k, v] of Object.entries(body)) if (typeof v === 'number' && k !== 'cycleCount') features[k] = v;
    const d = detector.step(m.state, time, features, String(body.status));
    for (const e of shiftLifecycle.evaluate(m.alarms, [alarmEvidence(d, probability(d))], { line: 'line-1', idOf: () => `${m.id}|${time}` })) {
      shiftEvents.push({ time, incidentId: e.incidentId, deviceId: m.id, event: e.kind, priority: e.priority, notified: notifiedOf(e) });
      if (e.kind !== 'raised') continue;
      if (e.notify) cards++;
      if (e.priority === 'low') lowIncidents++;
      const times = raisedAt.get(m.id) ?? [];
      times.push(time);
      raisedAt.set(m.id, times);
      const recent = times.filter((x) => x > time - 60_000);
      if (e.priority !== 'low' && recent.length >= 3) chattering++;
    }
  }
}
const alarmsPer10 = cards / (SHIFT_S / 600);
console.log(`shift: ${line.length} healthy machines, 8 h at 1/s with 5 % injected spikes: ${cards} Teams incidents, ${lowIncidents} low-priority incidents recorded without a card, ${chattering} chattering`);
const shiftPerformance = alarmPerformance(shiftEvents, start, start + SHIFT_S * 1000);
console.log(`shift alarm performance (ISA-18.2, GET /api/alarms/performance): ${shiftPerformance.alarms} alarms, ${fmt(shiftPerformance.per10Min, 3)} per 10 min (${shiftPerformance.verdicts.rate}), busiest 10 min ${shiftPerformance.peak.alarms}, flood periods ${shiftPerformance.flood.periods}/${shiftPerformance.flood.of}, hours over 30 ${shiftPerformance.busyHours.hours}/${shiftPerformance.busyHours.of}, chattering ${shiftPerformance.chattering.episodes}, withheld ${JSON.stringify(shiftPerformance.withheld)}`);
console.log(`whole run ${fmt((performance.now() - t0) / 1000, 1)} s`);
console.log(
  `detect nab_dev=${fmt(nabSwept, 2)} nab_dev_fixed=${fmt(nabFixed, 2)} f1=${fmt(fleet.f1)} recall=${fmt(fleet.recall)} median_lead_time_pct=${fmt(fleet.medianLeadTimePct, 1)} false_incidents_per_device_week=${fmt(fleet.falseAlarmsPerDeviceWeek)} alarms_per_10min=${fmt(alarmsPer10, 3)} chattering=${chattering} baseline_zscore_nab_dev=${fmt(zscoreNab, 2)}`,
);
