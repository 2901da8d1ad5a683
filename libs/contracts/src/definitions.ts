import definitionSchema from '../schemas/definition.v1.schema.json';

/** The value of a record on the definitions topic (schemas/definition.v1.schema.json). */
export interface DefinitionRecord {
  kind: 'segment' | 'journey' | 'template' | 'partial' | 'profile-model';
  id: string;
  version: number;
  hash: string;
  status: 'active' | 'paused';
  publishedAt: string;
  publishedBy: { user: string; host: string; tool: string; directory?: string; gitCommit?: string };
  files: Array<{ path: string; text: string }>;
}

export const DEFINITION_RECORD_SCHEMA_ID = 'kairos:definition.v1';
export const DEFINITION_RECORD_SCHEMA: object = definitionSchema;

/** Headers of every definitions record: consumers apply the records of one release together or not at all. */
export const DefinitionHeaders = {
  releaseId: 'kairos-release-id',
  releaseSize: 'kairos-release-size',
  releaseIndex: 'kairos-release-index',
  /** On tombstones too, so the next publish of a removed kind/id continues its versions while the tombstone lasts. */
  version: 'kairos-definition-version',
} as const;
