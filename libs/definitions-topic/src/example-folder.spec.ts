import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFINITION_SCHEMAS, formatDefinitionError, validateDefinitions } from '@kairos/definitions';
import { readDefinitionsFolder } from './definitions-folder';

const ROOT = join(__dirname, '..', '..', '..', 'definitions');

describe('the shipped definitions', () => {
  const files = readDefinitionsFolder(join(ROOT, 'shop'));

  it("the example shop folder is valid and has the seeds' programmes", () => {
    const report = validateDefinitions(files);
    expect(report.errors.map(formatDefinitionError)).toEqual([]);
    expect(report.definitions.filter((definition) => definition.kind === 'journey').map((definition) => definition.id)).toEqual([
      'abandoned-cart',
      'birthday',
      'double-opt-in',
      'reactivation',
      'vip-thank-you',
      'welcome-series',
      'win-back',
    ]);
  });

  it('the published JSON Schemas are the ones the validator uses (npm run generate writes them)', () => {
    for (const [kind, schema] of Object.entries(DEFINITION_SCHEMAS)) {
      expect(readFileSync(join(ROOT, 'schemas', `${kind}.schema.json`), 'utf8')).toBe(`${JSON.stringify(schema, null, 2)}\n`);
    }
  });

  it('every YAML file of the example names its schema for editors', () => {
    for (const file of files.filter((candidate) => candidate.path.endsWith('.yaml'))) {
      expect(file.text).toMatch(/^# yaml-language-server: \$schema=(\.\.\/)+schemas\/(segment|journey|template)\.schema\.json\n/);
    }
  });
});
