/**
 * `npm run dtdl:validate [dir]`: validates a folder of models the way the pipeline loads them
 * (Microsoft's DTDL parser, then the project's device-to-twin bindings). Each problem is printed
 * with the element it is in and what to change.
 */
import { DtdlError, dtdlParser, loadPlantModels } from './index.ts';

const dir = process.argv[2];
try {
  const models = await loadPlantModels(dir);
  const version = (await dtdlParser()).version.split(',').slice(0, 2).join(',');
  process.stdout.write(`ok: ${models.interfaces.size} interfaces, validated by ${version}\n`);
  for (const m of models.interfaces.values()) {
    process.stdout.write(`  ${m.id}  properties=${m.properties.size} telemetry=${m.telemetry.size} relationships=${m.relationships.size} commands=${m.commands.size}\n`);
  }
} catch (error) {
  if (!(error instanceof DtdlError)) throw error;
  process.stderr.write(`invalid models (${error.problems.length} problem${error.problems.length === 1 ? '' : 's'}):\n`);
  for (const p of error.problems) {
    process.stderr.write(`  ${p.model}${p.path ? `  at ${p.path}` : ''}\n    ${p.message}\n`);
    if (p.fix) process.stderr.write(`    fix: ${p.fix}\n`);
  }
  process.exitCode = 1;
}
