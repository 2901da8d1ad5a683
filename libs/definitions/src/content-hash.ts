import { createHash } from 'node:crypto';
import { SourceFile } from './definition-error';

/**
 * sha256 over a definition's files, by file name and text: any edit (a comment too) is a change and gets a new
 * version, while moving a definition to another folder is not one.
 */
export function contentHash(files: readonly SourceFile[]): string {
  const hash = createHash('sha256');
  for (const file of [...files].sort((a, b) => baseName(a.path).localeCompare(baseName(b.path)))) {
    hash.update(baseName(file.path)).update('\0').update(file.text).update('\0');
  }
  return `sha256:${hash.digest('hex')}`;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
