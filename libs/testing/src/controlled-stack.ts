import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stopChild } from '@kairos/local-stack';

const ROOT = join(__dirname, '..', '..', '..');

export interface ControlledStack {
  kafkaBrokers: string;
  databaseUrl: string;
  /** Stops the broker or PostgreSQL, keeps its data, starts it again after `downMs`; resolves when it is back. */
  restart(component: 'kafka' | 'postgres', downMs: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A broker and a PostgreSQL of a test's own, in a stack process that restarts them on request (`stack.ts --control`):
 * for fault tests, which must not take the shared harness stack down, and cannot host the broker or PostgreSQL in a
 * Jest worker.
 */
export async function startControlledStack(): Promise<ControlledStack> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'deploy', 'local', 'stack.ts'), '--purpose', 'test', '--infra-only', '--json', '--control'], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, KAFKA_BROKERS: '', DATABASE_URL: '', SMTP_URL: 'smtp://unused' },
  });
  if (!child.stdout) throw new Error('the controlled stack has no stdout');
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-5_000)));
  const lines = createInterface({ input: child.stdout });
  const waiting: Array<(line: Record<string, unknown>) => void> = [];
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`the controlled stack exited with ${code}:\n${output}`))));
  exited.catch(() => undefined);
  lines.on('line', (line) => waiting.shift()?.(JSON.parse(line) as Record<string, unknown>));
  const nextLine = () => Promise.race([new Promise<Record<string, unknown>>((resolve) => waiting.push(resolve)), exited]);
  const endpoints = await nextLine();
  return {
    kafkaBrokers: String(endpoints['kafkaBrokers']),
    databaseUrl: String(endpoints['databaseUrl']),
    async restart(component, downMs) {
      const answer = nextLine();
      child.stdin?.write(`restart ${component} ${downMs}\n`);
      const result = await answer;
      if (result['error']) throw new Error(`restarting ${component} failed: ${String(result['error'])}`);
    },
    stop: () => stopChild(child, 60_000),
  };
}
