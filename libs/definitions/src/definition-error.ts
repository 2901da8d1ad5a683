/** A file of a definitions folder, as the caller read it; `path` is relative to the folder, with forward slashes. */
export interface SourceFile {
  path: string;
  text: string;
}

export type DefinitionErrorCode =
  | 'yaml'
  | 'schema'
  | 'duration'
  | 'duplicate-id'
  | 'missing-reference'
  | 'segment-cycle'
  | 'template-variable'
  | 'template-syntax'
  | 'mjml'
  | 'missing-file'
  | 'conflicting-files'
  | 'stray-file';

/** One problem, where it is (1-based line and column) and what was expected. */
export interface DefinitionError {
  file: string;
  line: number;
  column: number;
  code: DefinitionErrorCode;
  message: string;
}

export function formatDefinitionError(error: DefinitionError): string {
  return `${error.file}:${error.line}:${error.column}: ${error.message}`;
}
