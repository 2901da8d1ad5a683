import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { SourceFile } from '@kairos/definitions';

const DEFINITION_FILE = /\.(ya?ml|hbs|mjml)$/;
const SKIPPED = new Set(['node_modules', '.git', 'schemas']);

/** The YAML, Handlebars and MJML files of a definitions folder, with paths relative to it; the validation is pure. */
export function readDefinitionsFolder(directory: string): SourceFile[] {
  if (!statSync(directory, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`${directory} is not a directory`);
  const files: SourceFile[] = [];
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.') || SKIPPED.has(entry.name)) continue;
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && DEFINITION_FILE.test(entry.name)) files.push({ path: relative(directory, path).split(sep).join('/'), text: readFileSync(path, 'utf8') });
    }
  };
  walk(directory);
  return files;
}
