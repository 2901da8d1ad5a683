import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { DEFINITION_SCHEMAS } from './schemas/definition-schemas';
import { DURATION_EXAMPLES, parseDuration } from './duration';
import { DefinitionError } from './definition-error';
import { YamlSource } from './yaml-source';

export type DefinitionKind = keyof typeof DEFINITION_SCHEMAS;
export const YAML_KINDS = Object.keys(DEFINITION_SCHEMAS) as DefinitionKind[];

/**
 * ajv, configured as @kairos/contracts' SchemaValidator is (all errors, strict, formats), but used directly: turning
 * an error into a line and column needs what SchemaValidator hides — the schema path and the failing keyword's
 * parameters — and unions need their alternatives' complaints folded into one "expected" line.
 */
export class DefinitionSchemas {
  private readonly checks: Record<DefinitionKind, ValidateFunction>;

  constructor() {
    const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true, verbose: true });
    addFormats(ajv);
    ajv.addKeyword({ keyword: 'x-expected', schemaType: 'string' });
    ajv.addKeyword({
      keyword: 'x-duration',
      schemaType: 'boolean',
      errors: true,
      validate: function checkDuration(this: unknown, _schema: boolean, data: unknown) {
        if (typeof data !== 'string' || parseDuration(data) !== undefined) return true;
        (checkDuration as { errors?: Partial<ErrorObject>[] }).errors = [
          { keyword: 'x-duration', message: `"${data}" is not a duration; expected a number and a unit, e.g. ${DURATION_EXAMPLES}`, params: {} },
        ];
        return false;
      },
    });
    this.checks = {
      segment: ajv.compile(DEFINITION_SCHEMAS.segment),
      journey: ajv.compile(DEFINITION_SCHEMAS.journey),
      template: ajv.compile(DEFINITION_SCHEMAS.template),
      'profile-model': ajv.compile(DEFINITION_SCHEMAS['profile-model']),
    };
  }

  check(kind: DefinitionKind, source: YamlSource, value: unknown): DefinitionError[] {
    const check = this.checks[kind];
    if (check(value)) return [];
    return simplify(check.errors ?? []).map((error) => locate(error, source));
  }
}

function simplify(errors: readonly ErrorObject[]): ErrorObject[] {
  // An `if` failure only repeats what its `then` branch reports.
  // Editors check durations by the pattern; the x-duration keyword says the same more helpfully.
  let kept = errors.filter((error) => error.keyword !== 'if' && !(error.keyword === 'pattern' && (error.parentSchema as Record<string, unknown>)['x-duration']));
  for (const union of kept.filter((error) => error.keyword === 'anyOf' || error.keyword === 'oneOf')) {
    const prefix = `${union.schemaPath}/`;
    const inside = (error: ErrorObject) => error !== union && error.schemaPath.startsWith(prefix) && error.instancePath.startsWith(union.instancePath);
    const branches = kept.filter(inside);
    const durations = branches.filter((error) => error.keyword === 'x-duration');
    kept = kept.filter((error) => !inside(error) && (durations.length === 0 || error !== union));
    if (durations.length > 0) kept.push(...durations);
  }
  return kept;
}

function pathOf(error: ErrorObject): string[] {
  return error.instancePath === '' ? [] : error.instancePath.slice(1).split('/').map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function locate(error: ErrorObject, source: YamlSource): DefinitionError {
  const path = pathOf(error);
  const where = path.length > 0 ? path.join('.') : 'the document';
  const params = error.params as Record<string, unknown>;
  const expected = (error.parentSchema as Record<string, unknown> | undefined)?.['x-expected'];
  switch (error.keyword) {
    case 'x-duration':
      return source.errorAt(path, 'duration', `${where}: ${error.message}`);
    case 'additionalProperties':
      return source.errorAt([...path, String(params['additionalProperty'])], 'schema', `${where}: unknown property "${String(params['additionalProperty'])}"; expected ${allowed(error)}`, true);
    case 'required':
      return source.errorAt(path, 'schema', `${where}: missing "${String(params['missingProperty'])}"`, true);
    case 'anyOf':
    case 'oneOf':
      return source.errorAt(path, 'schema', `${where}: expected ${typeof expected === 'string' ? expected : 'a different value'}`);
    case 'minProperties':
      return source.errorAt(path, 'schema', `${where}: expected ${typeof expected === 'string' ? expected : `at least ${String(params['limit'])} properties`}`);
    case 'enum':
      return source.errorAt(path, 'schema', `${where}: expected one of ${(params['allowedValues'] as unknown[]).join(', ')}`);
    case 'const':
      return source.errorAt(path, 'schema', `${where}: expected ${String(params['allowedValue'])}`);
    case 'pattern':
    case 'format':
      // A pattern or format a person cannot read is named by the schema's x-expected where it has one.
      if (typeof expected === 'string') return source.errorAt(path, 'schema', `${where}: expected ${expected}, not ${JSON.stringify(error.data)}`);
      if (error.keyword === 'format') return source.errorAt(path, 'schema', `${where}: ${error.message ?? error.keyword}${describe(error)}`);
      return source.errorAt(path, 'schema', `${where}: ${JSON.stringify(error.data)} does not match ${String(params['pattern'])}${describe(error)}`);
    default:
      return source.errorAt(path, 'schema', `${where}: ${error.message ?? error.keyword}${describe(error)}`);
  }
}

function allowed(error: ErrorObject): string {
  const properties = (error.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return properties ? Object.keys(properties).join(', ') : 'no other properties';
}

function describe(error: ErrorObject): string {
  const description = (error.parentSchema as { description?: unknown } | undefined)?.description;
  return typeof description === 'string' ? ` (${description})` : '';
}
