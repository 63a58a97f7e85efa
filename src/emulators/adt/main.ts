/**
 * npm run emulator:adt [-- --port 7443 --data .data/adt --memory --token <t> --rate-limits]
 * Runs the Azure Digital Twins emulator on its own and prints how to reach it.
 */
import { parseCommandLine, portOption } from '../../lib/command-line.ts';
import { startAdtEmulator } from './server.ts';

const USAGE = 'usage: npm run emulator:adt -- [--port 7443] [--data .data/adt] [--memory] [--token <t>] [--rate-limits]';
const { values } = parseCommandLine(USAGE, {
  options: {
    port: { type: 'string', default: '7443' },
    data: { type: 'string', default: '.data/adt' },
    memory: { type: 'boolean', default: false },
    token: { type: 'string' },
    'rate-limits': { type: 'boolean', default: false },
  },
});

const adt = await startAdtEmulator({
  port: portOption(USAGE, 'port', values.port),
  dataDir: values.data,
  memory: values.memory,
  token: values.token ?? 'any',
  ...(values['rate-limits'] ? { rateLimits: true as const } : {}),
  log: (line) => process.stderr.write(`${line}\n`),
});
const counts = adt.graph.counts;
process.stdout.write(
  [
    `Azure Digital Twins emulator listening on ${adt.url}`,
    `  state: ${values.memory ? 'in memory' : values.data} (${counts.models} models, ${counts.twins} twins, ${counts.relationships} relationships)`,
    `  auth: ${values.token ? 'Bearer token required' : 'any Bearer token'}; rate limits ${values['rate-limits'] ? 'on' : 'off'}`,
    adt.caFile ? `  trust its CA: NODE_EXTRA_CA_CERTS=${adt.caFile}  (or DIGITAL_TWINS_CA_FILE=${adt.caFile})` : '',
    '',
  ].join('\n'),
);
const stop = () => void adt.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
