/**
 * DTDL validation by Microsoft's own parser (DTDLParser 1.1, the one Azure Digital Twins runs),
 * compiled to WebAssembly by @digicatapult/dtdl-parser. Its interop module is called directly: the
 * package's convenience functions write to the console. The runtime takes about half a second to
 * start, so it is loaded once, on first use, and never on the telemetry hot path (the catalog
 * compiles its per-device checks from the parsed models at start-up).
 */
import { AppError } from '../errors.ts';
import type { ModelSet } from './model.ts';
import { modelSetOf, termOf, type ObjectModel } from './object-model.ts';
import { jsonOrUndefined } from '../json-text.ts';

export interface DtdlProblem {
  /** The Interface the problem is in (or the element's own id when it is in no uploaded Interface). */
  model: string;
  /** Where inside it, e.g. `contents.temperature.schema`. */
  path: string;
  message: string;
  /** What to change, as the parser words it. */
  fix?: string;
  /** The parser's rule, e.g. dtmi:dtdl:parsingError:badDtmiOrTerm. */
  rule?: string;
}

export class DtdlError extends AppError {
  readonly problems: DtdlProblem[];
  constructor(problems: DtdlProblem[]) {
    const shown = problems.slice(0, 5).map(formatProblem).join('; ');
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
    super('dtdl.invalid', `Invalid DTDL: ${shown}${more}`, { status: 400, detail: { problems } });
    this.name = 'DtdlError';
    this.problems = problems;
  }
}

export function formatProblem(p: DtdlProblem): string {
  return `${p.model}${p.path ? ` ${p.path}` : ''}: ${p.message}${p.fix ? ` Fix: ${p.fix}` : ''}`;
}

/** The interop module's two calls. `parse` throws an Error whose message is a ModelingException's JSON. */
interface Interop {
  parse(json: string): string;
  parserVersion(): string;
}

interface ParsingError {
  PrimaryID?: string | null;
  SecondaryID?: string | null;
  Property?: string | null;
  Cause?: string;
  Action?: string;
  ValidationID?: string;
}

/** A loaded parser: parsing is synchronous, so a caller can validate and commit in one step. */
export class DtdlParser {
  constructor(private readonly interop: Interop) {}

  get version(): string {
    return this.interop.parserVersion();
  }

  /**
   * Validates and resolves a set of Interface documents, as ADT does for one upload: every
   * reference an Interface depends on (`extends`, component schemas) must be in the set; a
   * relationship's `target` need not be. Throws DtdlError listing every problem.
   */
  parse(documents: readonly unknown[]): ModelSet {
    if (documents.length === 0) return modelSetOf({});
    const om = this.objectModel(documents);
    try {
      return modelSetOf(om);
    } catch (error) {
      throw objectModelUnreadable(error);
    }
  }

  /** The parser's own object model of the documents (what `parse` reads); throws DtdlError as `parse` does. */
  objectModel(documents: readonly unknown[]): ObjectModel {
    let text: string;
    try {
      text = this.interop.parse(JSON.stringify(documents));
    } catch (error) {
      throw new DtdlError(problemsOf(error, documents));
    }
    try {
      return JSON.parse(text) as ObjectModel;
    } catch (error) {
      throw objectModelUnreadable(error);
    }
  }
}

const objectModelUnreadable = (error: unknown) =>
  new DtdlError([{ model: '(upload)', path: '', message: `the parser accepted these models but its object model could not be read: ${(error as Error).message}`, rule: 'parser.objectModel' }]);

let loading: Promise<DtdlParser> | undefined;

/** The parser, loaded once per process on first use. */
export function dtdlParser(): Promise<DtdlParser> {
  if (!loading) {
    loading = (async () => {
      const { getInterop } = await import('@digicatapult/dtdl-parser');
      return new DtdlParser((await getInterop()) as Interop);
    })();
    // A failed load is not cached: the next caller tries again.
    loading.catch(() => (loading = undefined));
  }
  return loading;
}

/** parseModels(documents): the resolved model set, or a DtdlError listing every problem. */
export async function parseModels(documents: readonly unknown[]): Promise<ModelSet> {
  return (await dtdlParser()).parse(documents);
}

/** The uploaded Interfaces' ids, to say which one a nested element belongs to. */
function interfaceIds(documents: readonly unknown[]): string[] {
  const ids: string[] = [];
  for (const d of documents) {
    const id = typeof d === 'object' && d !== null && Object.hasOwn(d, '@id') ? (d as Record<string, unknown>)['@id'] : undefined;
    if (typeof id === 'string') ids.push(id);
  }
  return ids;
}

/**
 * The parser names nested elements by path: dtmi:x:Pump:_contents:__flow;1 is the content `flow`
 * of dtmi:x:Pump;1. Gives the owning Interface and a readable path inside it.
 */
export function locate(elementId: string | null | undefined, owners: readonly string[]): { model: string; path: string } {
  if (!elementId) return { model: '(upload)', path: '' };
  for (const owner of owners) {
    if (elementId === owner) return { model: owner, path: '' };
    const semi = owner.lastIndexOf(';');
    const [base, version] = semi < 0 ? [owner, ''] : [owner.slice(0, semi), owner.slice(semi)];
    if (elementId.startsWith(`${base}:_`) && elementId.endsWith(version)) {
      const inner = elementId.slice(base.length + 1, elementId.length - version.length);
      // ":_contents:__flow:_schema" → "contents.flow.schema"
      return { model: owner, path: inner.split(':').map((s) => s.replace(/^_+/, '')).join('.') };
    }
  }
  return { model: elementId, path: '' };
}

const unquote = (s: string) => s.replace(/^'|'$/g, '');
/** A full-IRI property (dtmi:dtdl:extension:quantitativeTypes:v1:property:unit) by its term (unit). */
const propertyName = (s: string) => (s.startsWith('dtmi:') ? termOf(s) : s);
/** Long values (a 5,000-character id) are quoted by their ends, so the message stays readable. */
const abbreviate = (text: string) => text.replace(/\S{121,}/g, (w) => `${w.slice(0, 60)}…${w.slice(-20)}`);

/** What the parser threw, as problems; anything it did not explain is one clear rejection. */
function problemsOf(error: unknown, documents: readonly unknown[]): DtdlProblem[] {
  const message = error instanceof Error ? error.message : String(error);
  const parsed = jsonOrUndefined(message);
  const exception = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  const owners = interfaceIds(documents);
  if (exception?.ExceptionKind === 'Parsing' && Array.isArray(exception.Errors) && exception.Errors.length > 0) {
    const seen = new Set<string>();
    const problems: DtdlProblem[] = [];
    for (const e of exception.Errors as ParsingError[]) {
      const at = locate(e.PrimaryID, owners);
      const property = e.Property ? propertyName(unquote(e.Property)) : '';
      const problem: DtdlProblem = {
        model: abbreviate(at.model),
        path: [at.path, property].filter(Boolean).join('.'),
        message: abbreviate(e.Cause ?? 'invalid'),
        ...(e.Action ? { fix: abbreviate(e.Action) } : {}),
        ...(e.ValidationID ? { rule: e.ValidationID } : {}),
      };
      // The parser can report one fault once per path it reached it by (an extends cycle).
      const key = formatProblem(problem);
      if (!seen.has(key)) problems.push(problem);
      seen.add(key);
    }
    return problems;
  }
  if (exception?.ExceptionKind === 'Resolution' && Array.isArray(exception.UndefinedIdentifiers)) {
    const missing = (exception.UndefinedIdentifiers as unknown[]).map(String);
    return [
      {
        model: owners.length === 1 ? owners[0]! : '(upload)',
        path: '',
        message: `references ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not defined in this upload or among the models already there`,
        fix: 'Upload the referenced models first, or in the same upload.',
        rule: 'dtmi:dtdl:resolutionError:undefinedIdentifiers',
      },
    ];
  }
  // The parser's runtime failed without a modelling verdict (e.g. a shape it cannot read at all).
  return [
    {
      model: '(upload)',
      path: '',
      message: `the DTDL parser could not read this upload (${message.split('\n')[0]!.slice(0, 200)})`,
      fix: 'Send a JSON array of DTDL Interface objects, each with @context, @id and @type.',
      rule: 'parser.internal',
    },
  ];
}
