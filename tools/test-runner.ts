import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * `npm test`: lint (with module boundaries), type-check, unit tests, then integration tests against the real stack
 * the harness starts. Runs every stage even when one fails, and ends with one line "N passed, N failed" over all of
 * them (lint and type-check count as one check each). `npm test -- unit` (or lint, typecheck, integration) runs a part.
 */

interface StageResult {
  name: string;
  passed: number;
  failed: number;
  seconds: number;
}

const ROOT = join(__dirname, '..');
const REPORTS = join(ROOT, 'reports');
const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);

function exec(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
    child.on('exit', (code) => resolve(code ?? 1));
    child.on('error', () => resolve(1));
  });
}

async function check(name: string, steps: Array<[string, string[]]>): Promise<StageResult> {
  const started = Date.now();
  console.log(`\n=== ${name}`);
  let ok = true;
  for (const [command, args] of steps) {
    if ((await exec(command, args, { NX_DAEMON: 'false', NX_NO_CLOUD: 'true' })) !== 0) {
      ok = false;
      break;
    }
  }
  return { name, passed: ok ? 1 : 0, failed: ok ? 0 : 1, seconds: (Date.now() - started) / 1000 };
}

async function jest(name: string, config: string, extra: string[] = []): Promise<StageResult> {
  const started = Date.now();
  console.log(`\n=== ${name} tests`);
  const report = join(REPORTS, `${name}.json`);
  rmSync(report, { force: true });
  const code = await exec(bin('jest'), ['-c', config, '--json', `--outputFile=${report}`, ...extra]);
  const seconds = (Date.now() - started) / 1000;
  if (!existsSync(report)) return { name, passed: 0, failed: 1, seconds }; // jest itself did not run
  const results = JSON.parse(readFileSync(report, 'utf8')) as { numPassedTests: number; numFailedTests: number; numRuntimeErrorTestSuites: number; numTotalTests: number };
  // A suite that fails to load has no tests to count; it still counts as a failure. So does a run with no tests.
  const failed = results.numFailedTests + results.numRuntimeErrorTestSuites + (results.numTotalTests === 0 ? 1 : 0) + (code !== 0 && results.numFailedTests === 0 && results.numRuntimeErrorTestSuites === 0 ? 1 : 0);
  return { name, passed: results.numPassedTests, failed, seconds };
}

async function main(): Promise<void> {
  mkdirSync(REPORTS, { recursive: true });
  const wanted = new Set(process.argv.slice(2));
  const all = wanted.size === 0;
  const results: StageResult[] = [];
  if (all || wanted.has('lint')) // The module-boundary rule reads Nx's cached project graph; rebuild it so a stale cache cannot hide a violation.
    results.push(await check('lint', [[bin('nx'), ['reset', '--only-cache']], [bin('nx'), ['show', 'projects']], [bin('eslint'), ['.', '--max-warnings=0']], [process.execPath, ['-r', '@swc-node/register', join(ROOT, 'tools', 'generated-files.ts'), '--check']]]));
  if (all || wanted.has('typecheck')) results.push(await check('typecheck', [[bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']]]));
  if (all || wanted.has('unit')) results.push(await jest('unit', 'jest.unit.config.js'));
  if (all || wanted.has('integration')) results.push(await jest('integration', 'jest.int.config.js', ['--runInBand']));

  console.log('\n=== summary');
  for (const result of results) {
    console.log(`${result.name.padEnd(12)} ${String(result.passed).padStart(4)} passed ${String(result.failed).padStart(4)} failed   ${result.seconds.toFixed(1)} s`);
  }
  const passed = results.reduce((sum, result) => sum + result.passed, 0);
  const failed = results.reduce((sum, result) => sum + result.failed, 0);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

void main();
