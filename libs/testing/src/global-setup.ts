import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = join(__dirname, '..', '..', '..');

declare global {
  var __KAIROS_STACK__: ChildProcess | undefined;
}

/**
 * Jest global set-up for integration tests: starts the real stack (Kafka, PostgreSQL, SMTP sink) with free ports and
 * throw-away data, in a child process so that its Java and PostgreSQL processes die with it, and exports its
 * endpoints as environment variables the test workers inherit. Anything already set in the environment
 * (KAFKA_BROKERS, DATABASE_URL, SMTP_URL) is used instead of starting a local one.
 */
export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const child = spawn(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'deploy', 'local', 'stack.ts'), '--purpose', 'test', '--infra-only', '--json'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  globalThis.__KAIROS_STACK__ = child;
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    process.stderr.write(chunk);
  });
  const endpoints = await new Promise<Record<string, string>>((resolve, reject) => {
    if (!child.stdout) throw new Error('the stack process has no stdout');
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => resolve(JSON.parse(line)));
    child.once('exit', (code) => reject(new Error(`test stack exited with ${code} before it was ready:\n${output.slice(-3000)}`)));
  });
  process.env['KAFKA_BROKERS'] = endpoints['kafkaBrokers'];
  process.env['DATABASE_URL'] = endpoints['databaseUrl'];
  process.env['SMTP_URL'] = endpoints['smtpUrl'];
  if (endpoints['inboxUrl']) process.env['SMTP_INBOX_URL'] = endpoints['inboxUrl'];
  process.stderr.write(`\ntest stack ready in ${Date.now() - started} ms\n`);
}
