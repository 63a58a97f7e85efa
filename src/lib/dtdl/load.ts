import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { projectRoot } from '../paths.ts';
import { DtdlError } from './parse.ts';

/** dtdl/ at the repository root: the single source of truth for models. */
export const DEFAULT_MODELS_DIR = join(projectRoot(), 'dtdl');

export interface ModelFile {
  file: string;
  documents: unknown[];
}

/** Reads every *.json under `dir`; a file may hold one Interface or an array of them. */
export function readModelFiles(dir: string = DEFAULT_MODELS_DIR): ModelFile[] {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d).sort()) {
      const full = join(d, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (entry.endsWith('.json')) files.push(full);
    }
  };
  walk(dir);
  return files.map((file) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new DtdlError([{ model: relative(dir, file), path: '', message: `not valid JSON: ${(error as Error).message}` }]);
    }
    return { file, documents: Array.isArray(parsed) ? parsed : [parsed] };
  });
}

export function readModelDocuments(dir: string = DEFAULT_MODELS_DIR): unknown[] {
  return readModelFiles(dir).flatMap((f) => f.documents);
}
