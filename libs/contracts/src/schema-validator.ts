import Ajv, { ErrorObject, Options, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

export interface ValidationIssue {
  /** JSON pointer to the offending value, '' for the root. */
  path: string;
  message: string;
}

export type ValidationResult<T> = { valid: true; value: T } | { valid: false; issues: ValidationIssue[] };

/**
 * The one validation approach of Kairos: JSON Schema (draft 2020-12 subset ajv supports) checked by ajv, for HTTP
 * bodies, Kafka payloads, definition files and configuration alike. Schemas are plain JSON files an SDK author can
 * read; TypeScript types sit beside them.
 */
export class SchemaValidator {
  private readonly ajv: Ajv;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(schemas: readonly object[], options: Options = {}) {
    // strictRequired off: `if/then` blocks name required fields that the outer schema defines.
    this.ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true, ...options });
    addFormats(this.ajv);
    for (const schema of schemas) this.ajv.addSchema(schema);
    // Compile now, so a broken schema fails at start-up rather than at the first record.
    for (const schema of schemas) {
      const id = (schema as { $id?: string }).$id;
      if (id) this.functionFor(id);
    }
  }

  validate<T>(schemaId: string, value: unknown): ValidationResult<T> {
    const check = this.functionFor(schemaId);
    if (check(value)) return { valid: true, value: value as T };
    // An `if` failure only repeats the error of its `then` branch, reported on its own.
    return { valid: false, issues: (check.errors ?? []).filter((error) => error.keyword !== 'if').map(toIssue) };
  }

  private functionFor(schemaId: string): ValidateFunction {
    let check = this.compiled.get(schemaId);
    if (!check) {
      check = this.ajv.getSchema(schemaId);
      if (!check) throw new Error(`unknown schema ${schemaId}`);
      this.compiled.set(schemaId, check);
    }
    return check;
  }
}

function toIssue(error: ErrorObject): ValidationIssue {
  const params = error.params as Record<string, unknown>;
  const extra =
    error.keyword === 'additionalProperties'
      ? ` (${String(params['additionalProperty'])})`
      : error.keyword === 'enum'
        ? ` (${(params['allowedValues'] as unknown[]).join(', ')})`
        : '';
  return { path: error.instancePath, message: `${error.message ?? error.keyword}${extra}` };
}

export function describeIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((issue) => `${issue.path || '(root)'} ${issue.message}`).join('; ');
}
