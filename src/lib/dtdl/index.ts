import { checkBindings } from './bindings.ts';
import { readModelDocuments, DEFAULT_MODELS_DIR } from './load.ts';
import { parseModels } from './parse.ts';
import type { ModelSet } from './model.ts';

export * from './model.ts';
export { zodFor } from './values.ts';
export { parseModels, dtdlParser, DtdlParser, DtdlError, formatProblem, type DtdlProblem } from './parse.ts';
export { deviceModelIdFor, twinModelIdFor, checkBindings } from './bindings.ts';
export { readModelDocuments, readModelFiles, DEFAULT_MODELS_DIR } from './load.ts';

/** Loads, validates (Microsoft's DTDL parser) and cross-checks the plant's models from a directory (dtdl/ by default). */
export async function loadPlantModels(dir: string = DEFAULT_MODELS_DIR): Promise<ModelSet> {
  const models = await parseModels(readModelDocuments(dir));
  checkBindings(models);
  return models;
}
