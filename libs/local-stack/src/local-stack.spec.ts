import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stackRoot } from './local-stack';

describe('where a stack keeps its data', () => {
  it("a test stack never takes KAIROS_DATA_DIR (a developer's demo data), a development stack does", () => {
    const env = { KAIROS_DATA_DIR: '/home/dev/kairos-demo' };
    expect(stackRoot('test', env)).toBe(join(tmpdir(), `kairos-test-${process.pid}`));
    expect(stackRoot('dev', env)).toBe('/home/dev/kairos-demo');
    expect(stackRoot('dev', {})).toBe(join(tmpdir(), 'kairos-dev'));
  });
});
