import { join } from 'node:path';
import { DEFINITION_SCHEMAS } from '@kairos/definitions';

/** The JSON Schemas editors use (definitions/schemas/) from @kairos/definitions; `npm run generate` writes them. */
export const SCHEMA_DIRECTORY = join(__dirname, '..', 'definitions', 'schemas');

export function schemaFiles(): Array<{ path: string; text: string }> {
  return Object.entries(DEFINITION_SCHEMAS).map(([kind, schema]) => ({ path: join(SCHEMA_DIRECTORY, `${kind}.schema.json`), text: `${JSON.stringify(schema, null, 2)}\n` }));
}
