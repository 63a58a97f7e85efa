/**
 * npm run emulator:ml [-- --port 7080 --key <k> --model models/failure-model-v4.json]
 * Serves a failure model with the Azure ML online endpoint contract on its own.
 */
import { join } from 'node:path';
import { parseCommandLine, portOption } from '../../lib/command-line.ts';
import { FailureModel, latestModelFile } from '../../lib/anomaly/failure-model.ts';
import { projectRoot } from '../../lib/paths.ts';
import { LOCAL_ML_KEY, startMlEndpoint } from './server.ts';

const USAGE = 'usage: npm run emulator:ml -- [--port 7080] [--key <k>] [--model models/failure-model-v<N>.json]';
const { values } = parseCommandLine(USAGE, { options: { port: { type: 'string', default: '7080' }, key: { type: 'string', default: LOCAL_ML_KEY }, model: { type: 'string' } } });
const modelFile = values.model ?? latestModelFile(join(projectRoot(), 'models'));
if (!modelFile) {
  console.error('no model: pass --model FILE or run npm run train');
  process.exit(2);
}
const model = FailureModel.load(modelFile);
const ml = await startMlEndpoint({ model, key: values.key, port: portOption(USAGE, 'port', values.port), log: (l) => process.stderr.write(`${l}\n`) });
process.stdout.write(`Azure ML scoring endpoint (local) at ${ml.scoringUri}\n  model ${model.version} from ${modelFile}\n  key: Authorization: Bearer ${values.key}\n`);
const stop = () => void ml.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
