/**
 * npm run bench:faults [-- --iterations 400 --seed 1]
 * The fault scenarios of test/fault, run longer: throttling storms (store, Digital Twins, Teams)
 * with the host retrying, the store refusing for a while (batches kept after their retries and
 * redelivered), clock skew and a stale backlog with the automated stop on, a full disk
 * under the event log, bad requests while Digital Twins throttles. Goal: every count but cases 0.
 * (A process killed mid-stream is test/e2e/crash-recovery.test.ts, in npm test.)
 */
import { parseArgs } from 'node:util';
import { runFaultScenarios } from '../test/support/fault-scenarios.ts';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '400' }, seed: { type: 'string', default: '1' } } });
const t = await runFaultScenarios({ iterations: Number(values.iterations), seed: Number(values.seed) });
for (const note of t.notes) process.stdout.write(`note: ${note}\n`);
process.stdout.write(`twins_moved_backwards=${t.backwards} stops_on_stale_data=${t.staleStops}\n`);
process.stdout.write(`faults cases=${t.cases} crashes=${t.crashes} lost=${t.lost} duplicated=${t.duplicated} wrong_5xx=${t.wrong5xx}\n`);
