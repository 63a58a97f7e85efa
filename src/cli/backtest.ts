/**
 * npm run backtest -- --truth .data/simulator/runs/<run>/ground-truth.json [--db .data/telemetry.duckdb]
 * Replays the telemetry stored by `npm start` (stop the stack first: DuckDB allows one writer)
 * through the detector and reports precision, recall and lead time against the run's ground truth.
 */
import { existsSync } from 'node:fs';
import { parseCommandLine } from '../lib/command-line.ts';
import { DuckDbTelemetryStore } from '../lib/store/duckdb-telemetry-store.ts';
import { backtest, readGroundTruth } from '../lib/anomaly/backtest.ts';

const USAGE = 'usage: npm run backtest -- --truth RUN/ground-truth.json [--db .data/telemetry.duckdb] [--on-delay-readings 5] [--off-delay-seconds 60] [--json]';

async function main(): Promise<number> {
  const { values } = parseCommandLine(USAGE, { options: { truth: { type: 'string' }, db: { type: 'string', default: '.data/telemetry.duckdb' }, 'on-delay-readings': { type: 'string', default: '5' }, 'off-delay-seconds': { type: 'string', default: '60' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return console.log(USAGE), 0;
  if (!values.truth) return console.error(`--truth is required\n${USAGE}`), 2;
  if (!existsSync(values.db)) return console.error(`no telemetry store at ${values.db}: run npm start (and the simulator) first, or pass --db`), 2;
  const onDelay = Number(values['on-delay-readings']);
  const offDelay = Number(values['off-delay-seconds']);
  if (!Number.isInteger(onDelay) || onDelay < 1) return console.error('--on-delay-readings must be a whole number of at least 1'), 2;
  if (!(offDelay >= 0)) return console.error('--off-delay-seconds must be a number of seconds'), 2;
  try {
    const truth = readGroundTruth(values.truth);
    const store = await DuckDbTelemetryStore.open(values.db);
    try {
      const r = await backtest(store, truth, { alarms: { sustainReadings: onDelay, offDelayMs: offDelay * 1000 } });
      if (values.json) console.log(JSON.stringify(r));
      else {
        console.log(`replayed ${r.readings} readings of ${r.devices} devices; ${r.failing} failed in the ground truth`);
        console.log(`recall=${r.recall.toFixed(3)} precision=${r.precision.toFixed(3)} f1=${r.f1.toFixed(3)} median_lead_time_pct=${r.medianLeadTimePct.toFixed(1)} false_incidents=${r.falseAlarms} (${r.falseAlarmsPerDeviceWeek.toFixed(3)}/device-week)`);
        if (r.missingDevices.length) console.log(`no stored telemetry for: ${r.missingDevices.join(', ')}`);
      }
      return 0;
    } finally {
      await store.close();
    }
  } catch (error) {
    console.error(`backtest: ${(error as Error).message}`);
    return 1;
  }
}

process.exitCode = await main();
