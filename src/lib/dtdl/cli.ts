/** `npm run dtdl:validate [dir]`: validates a folder of models the way the pipeline loads them. */
import { DtdlError, formatProblem, loadPlantModels } from './index.ts';

const dir = process.argv[2];
try {
  const models = loadPlantModels(dir);
  process.stdout.write(`ok: ${models.interfaces.size} interfaces\n`);
  for (const m of models.interfaces.values()) {
    process.stdout.write(`  ${m.id}  properties=${m.properties.size} telemetry=${m.telemetry.size} relationships=${m.relationships.size} commands=${m.commands.size}\n`);
  }
} catch (error) {
  if (!(error instanceof DtdlError)) throw error;
  process.stderr.write(`invalid models (${error.problems.length} problems):\n`);
  for (const p of error.problems) process.stderr.write(`  ${formatProblem(p)}\n`);
  process.exitCode = 1;
}
