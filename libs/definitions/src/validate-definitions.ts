import { Definition, DefinitionBody, definitionKey, JourneyBody, SegmentBody } from './definition';
import { DefinitionError, SourceFile } from './definition-error';
import { compileMjml, MJML_COMPILED_FILE } from './mjml-template';
import { DefinitionKind, DefinitionSchemas, YAML_KINDS } from './schema-check';
import { ContextType, TemplateVariableCheck } from './template-variables';
import { YamlSource } from './yaml-source';

export interface ValidationReport {
  /** Every definition whose own files are valid (cross-reference errors may still name it). */
  definitions: Definition[];
  /** Every problem of the folder at once, ordered by file, line and column. */
  errors: DefinitionError[];
}

type Path = (string | number)[];

interface Parsed {
  kind: DefinitionKind;
  id: string;
  source: YamlSource;
  value: Record<string, unknown>;
  files: SourceFile[];
  valid: boolean;
}

export const TEMPLATE_FILES = { subject: 'subject.hbs', html: 'html.hbs', text: 'text.hbs' } as const;
/** The HTML part may be MJML instead, compiled to HTML when the folder is validated. */
const MJML_HTML_FILE = 'html.mjml';

let schemas: DefinitionSchemas | undefined;

/**
 * Checks a definitions folder as a whole. The layout: YAML files say their `kind` (segment, journey, template) and
 * `id`; a template's subject.hbs, html.hbs (or html.mjml) and (optionally) text.hbs sit beside its YAML; *.hbs files in
 * a folder named `partials` are partials, named after the file. Where files are is otherwise free.
 */
export function validateDefinitions(files: readonly SourceFile[]): ValidationReport {
  schemas ??= new DefinitionSchemas();
  const errors: DefinitionError[] = [];
  const parsed: Parsed[] = [];
  const partials = new Map<string, SourceFile>();
  const handlebars = new Map<string, SourceFile>();

  // In path order, so which of two duplicates is reported does not depend on how the caller listed the files.
  for (const file of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    if (/\.ya?ml$/.test(file.path)) {
      const entry = parseYaml(file, errors);
      if (entry) parsed.push(entry);
    } else if (file.path.endsWith('.hbs')) {
      if (directoryOf(file.path).split('/').includes('partials')) partials.set(baseName(file.path).replace(/\.hbs$/, ''), file);
      else handlebars.set(file.path, file);
    } else if (file.path.endsWith('.mjml') || baseName(file.path) === MJML_COMPILED_FILE) {
      handlebars.set(file.path, file);
    }
  }

  // A template's Handlebars files are the ones beside it; any other Handlebars file belongs to nothing.
  const used = new Set<string>();
  for (const entry of parsed.filter((candidate) => candidate.kind === 'template')) {
    const directory = directoryOf(entry.source.file.path);
    const mjml = handlebars.get(join(directory, MJML_HTML_FILE));
    // Beside html.mjml in a published record: its HTML as it was compiled and checked at publish time.
    const published = mjml && handlebars.get(join(directory, MJML_COMPILED_FILE));
    for (const file of [mjml, published]) if (file) used.add(file.path);
    for (const [part, name] of Object.entries(TEMPLATE_FILES)) {
      const file = handlebars.get(join(directory, name));
      if (part === 'html' && mjml) {
        if (file) {
          used.add(file.path);
          errors.push({ file: mjml.path, line: 1, column: 1, code: 'conflicting-files', message: `template ${entry.id}: both ${MJML_HTML_FILE} and ${name}; expected one of them` });
          entry.valid = false;
        }
        const compiled = published ? { html: published.text } : compileMjml(mjml);
        if ('html' in compiled) {
          entry.value[part] = compiled.html;
          // Published with the source, so the content hash covers the HTML that is sent.
          entry.files.push(mjml, published ?? { path: join(directory, MJML_COMPILED_FILE), text: compiled.html });
        } else {
          entry.files.push(mjml);
          errors.push(...compiled.errors);
          entry.valid = false;
        }
      } else if (file) {
        used.add(file.path);
        entry.files.push(file);
        entry.value[part] = file.text;
      } else if (part !== 'text') {
        errors.push(entry.source.errorAt(['kind'], 'missing-file', `template ${entry.id}: expected ${name} beside ${baseName(entry.source.file.path)}`));
        entry.valid = false;
      }
    }
  }
  // Beside a YAML file that did not parse, the Handlebars files are its template's: one error, not one per file.
  const yamlDirectories = new Set(files.filter((file) => /\.ya?ml$/.test(file.path)).map((file) => directoryOf(file.path)));
  for (const file of handlebars.values()) {
    if (!used.has(file.path) && !yamlDirectories.has(directoryOf(file.path))) errors.push({ file: file.path, line: 1, column: 1, code: 'stray-file', message: `belongs to no template: a template's ${Object.values(TEMPLATE_FILES).join(', ')} (or ${MJML_HTML_FILE}) sit beside its YAML; partials go in a folder named partials` });
  }

  errors.push(...duplicates(parsed));
  const byKind = (kind: DefinitionKind) => new Set(parsed.filter((entry) => entry.kind === kind).map((entry) => entry.id));
  const segments = byKind('segment');
  const templates = byKind('template');
  for (const entry of parsed) {
    for (const { path, kind, id } of references(entry)) {
      const known = kind === 'segment' ? segments : templates;
      if (!known.has(id)) {
        errors.push(entry.source.errorAt(path, 'missing-reference', `${entry.kind} ${entry.id} names ${kind} "${id}", which does not exist; expected one of: ${[...known].sort().join(', ') || `(no ${kind}s defined)`}`));
      }
    }
  }
  errors.push(...segmentCycles(parsed.filter((entry) => entry.kind === 'segment')));
  for (const entry of parsed.filter((candidate) => candidate.kind === 'journey')) errors.push(...splitWinnerErrors(entry));

  for (const entry of parsed.filter((candidate) => candidate.kind === 'template' && candidate.valid)) {
    const check = new TemplateVariableCheck(partials, (entry.value['context'] ?? {}) as Record<string, ContextType>);
    // An html.mjml is checked as written (its lines are the author's); HTML published beside it too, as it came (a
    // record not written by `kairos publish` could differ from its source). HTML compiled here is checked as its source.
    for (const file of entry.files.filter((candidate) => /\.(hbs|mjml)$/.test(candidate.path) || handlebars.get(candidate.path) === candidate)) errors.push(...check.check(file));
  }

  const definitions: Definition[] = parsed
    .filter((entry) => entry.valid)
    .map((entry) => ({ kind: entry.kind, id: entry.id, key: definitionKey(entry.kind, entry.id), body: entry.value as unknown as DefinitionBody, files: entry.files }));
  for (const [id, file] of partials) {
    definitions.push({ kind: 'partial', id, key: definitionKey('partial', id), body: { kind: 'partial', id, source: file.text }, files: [file] });
  }
  return { definitions: definitions.sort((a, b) => a.key.localeCompare(b.key)), errors: unique(errors).sort(byPosition) };
}

function parseYaml(file: SourceFile, errors: DefinitionError[]): Parsed | undefined {
  const source = new YamlSource(file);
  const syntax = source.syntaxErrors();
  if (syntax.length > 0) {
    errors.push(...syntax);
    return undefined;
  }
  const value = source.value;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    errors.push(source.errorAt([], 'schema', `expected a mapping with kind: ${YAML_KINDS.join(', ')}`));
    return undefined;
  }
  const record = value as Record<string, unknown>;
  const kind = record['kind'];
  if (typeof kind !== 'string' || !(YAML_KINDS as string[]).includes(kind)) {
    errors.push(source.errorAt(['kind'], 'schema', `kind: expected one of ${YAML_KINDS.join(', ')}`, kind === undefined));
    return undefined;
  }
  schemas ??= new DefinitionSchemas();
  const problems = schemas.check(kind as DefinitionKind, source, record);
  errors.push(...problems);
  const id = typeof record['id'] === 'string' ? record['id'] : undefined;
  if (!id) return undefined;
  return { kind: kind as DefinitionKind, id, source, value: record, files: [file], valid: problems.length === 0 };
}

function duplicates(parsed: readonly Parsed[]): DefinitionError[] {
  const first = new Map<string, Parsed>();
  const errors: DefinitionError[] = [];
  for (const entry of parsed) {
    const key = definitionKey(entry.kind, entry.id);
    const earlier = first.get(key);
    if (earlier) {
      const at = earlier.source.errorAt(['id'], 'duplicate-id', '');
      errors.push(entry.source.errorAt(['id'], 'duplicate-id', `duplicate ${entry.kind} id "${entry.id}": also defined at ${at.file}:${at.line}:${at.column}; expected ids unique per kind`));
      entry.valid = false;
    } else {
      first.set(key, entry);
    }
  }
  return errors;
}

interface Reference {
  path: Path;
  kind: 'segment' | 'template';
  id: string;
}

/** The segments and templates a definition names, with where; read defensively, as the schema may have failed. */
function references(entry: Parsed): Reference[] {
  const found: Reference[] = [];
  const conditions = (value: unknown, path: Path) => visitConditions(value, path, (id, at) => found.push({ path: at, kind: 'segment', id }));
  if (entry.kind === 'segment') conditions(entry.value['rule'], ['rule']);
  if (entry.kind === 'journey') {
    const journey = entry.value as Partial<JourneyBody> & Record<string, unknown>;
    const trigger = asRecord(journey.trigger);
    if (trigger) {
      if (typeof trigger['segment'] === 'string') found.push({ path: ['trigger', 'segment'], kind: 'segment', id: trigger['segment'] });
      conditions(trigger['onlyIf'], ['trigger', 'onlyIf']);
      conditions(trigger['threshold'], ['trigger', 'threshold']);
    }
    conditions(journey.exitWhen, ['exitWhen']);
    visitSteps(journey.steps, ['steps'], (step, at) => {
      if (typeof step['send'] === 'string') found.push({ path: [...at, 'send'], kind: 'template', id: step['send'] });
      conditions(asRecord(step['branch'])?.['if'], [...at, 'branch', 'if']);
    });
  }
  return found;
}

/** Every step of a journey, nested ones too (waitForEvent and branch arms, split variants), with its path. */
function visitSteps(steps: unknown, path: Path, onStep: (step: Record<string, unknown>, at: Path) => void): void {
  if (!Array.isArray(steps)) return;
  steps.forEach((raw, index) => {
    const step = asRecord(raw);
    if (!step) return;
    const at = [...path, index];
    onStep(step, at);
    const waitForEvent = asRecord(step['waitForEvent']);
    visitSteps(waitForEvent?.['onEvent'], [...at, 'waitForEvent', 'onEvent'], onStep);
    visitSteps(waitForEvent?.['onTimeout'], [...at, 'waitForEvent', 'onTimeout'], onStep);
    const branch = asRecord(step['branch']);
    visitSteps(branch?.['then'], [...at, 'branch', 'then'], onStep);
    visitSteps(branch?.['else'], [...at, 'branch', 'else'], onStep);
    const variants = asRecord(step['split'])?.['variants'];
    if (Array.isArray(variants)) variants.forEach((variant, v) => visitSteps(asRecord(variant)?.['steps'], [...at, 'split', 'variants', v, 'steps'], onStep));
  });
}

/**
 * An automatic A/B winner is chosen on the journey's goal, counted for the variant an instance is in: it needs a goal,
 * and the split must be the journey's only one (an instance has one variant).
 */
function splitWinnerErrors(entry: Parsed): DefinitionError[] {
  const splits: Array<{ path: Path; winner: boolean }> = [];
  visitSteps(entry.value['steps'], ['steps'], (step, at) => {
    const split = asRecord(step['split']);
    if (split) splits.push({ path: [...at, 'split'], winner: split['winner'] !== undefined });
  });
  const withWinner = splits.find((split) => split.winner);
  if (!withWinner) return [];
  const at = [...withWinner.path, 'winner'];
  const errors: DefinitionError[] = [];
  if (entry.value['goal'] === undefined) errors.push(entry.source.errorAt(at, 'schema', `journey ${entry.id}: a split's winner is the variant ahead on the journey's goal; expected a goal (event and within)`));
  if (splits.length > 1) errors.push(entry.source.errorAt(at, 'schema', `journey ${entry.id}: a split with a winner must be the journey's only split (${splits.length} found); an instance's conversion counts for the one variant it is in`));
  return errors;
}

function visitConditions(value: unknown, path: Path, onSegment: (id: string, path: Path) => void): void {
  const condition = asRecord(value);
  if (!condition) return;
  if (typeof condition['inSegment'] === 'string') onSegment(condition['inSegment'], [...path, 'inSegment']);
  for (const combinator of ['all', 'any'] as const) {
    const list = condition[combinator];
    if (Array.isArray(list)) list.forEach((item, index) => visitConditions(item, [...path, combinator, index], onSegment));
  }
  visitConditions(condition['not'], [...path, 'not'], onSegment);
}

/** Segments that contain themselves through others: each cycle once, at the reference that closes it. */
function segmentCycles(segments: readonly Parsed[]): DefinitionError[] {
  const byId = new Map(segments.map((segment) => [segment.id, segment]));
  const source = (id: string) => (byId.get(id) as Parsed).source;
  const edges = new Map(segments.map((segment) => [segment.id, [] as Array<{ to: string; path: Path }>]));
  for (const segment of segments) {
    visitConditions((segment.value as Partial<SegmentBody>).rule, ['rule'], (to, path) => edges.get(segment.id)?.push({ to, path }));
  }
  const errors: DefinitionError[] = [];
  const done = new Set<string>();
  const reported = new Set<string>();
  const walk = (id: string, trail: string[]) => {
    if (done.has(id)) return;
    for (const edge of edges.get(id) ?? []) {
      const start = trail.indexOf(edge.to);
      if (start >= 0 || edge.to === id) {
        const cycle = edge.to === id ? [id] : [...trail.slice(start), id];
        const signature = [...cycle].sort().join(',');
        if (!reported.has(signature)) {
          reported.add(signature);
          errors.push(source(id).errorAt(edge.path, 'segment-cycle', `segment ${edge.to} refers to itself: ${[...cycle, edge.to].join(' -> ')}; expected segments to refer to others without a cycle`));
        }
      } else if (byId.has(edge.to)) {
        walk(edge.to, [...trail, id]);
      }
    }
    done.add(id);
  };
  for (const segment of segments) walk(segment.id, []);
  return errors;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function directoryOf(path: string): string {
  return path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function join(directory: string, name: string): string {
  return directory ? `${directory}/${name}` : name;
}

function unique(errors: DefinitionError[]): DefinitionError[] {
  const seen = new Set<string>();
  return errors.filter((error) => {
    const key = `${error.file}:${error.line}:${error.column}:${error.message}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

function byPosition(a: DefinitionError, b: DefinitionError): number {
  return a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column;
}

