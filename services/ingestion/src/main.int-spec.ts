import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { waitUntilHealthy } from '@kairos/local-stack';
import { expectServiceLifecycle, serviceTestEnv } from '@kairos/testing';
import { startIngestion } from './main';

describe('the ingestion service', () => {
  it('starts against the real stack, reports ready with metrics, and stops gracefully', async () => {
    await expectServiceLifecycle(startIngestion);
  });

  it('exits after STOP_TIMEOUT_SECONDS when a stop is held up, saying what it waited for', async () => {
    const env = await serviceTestEnv({ STOP_TIMEOUT_SECONDS: '2', LOG_FORMAT: 'pretty' });
    const child = spawn(process.execPath, ['-r', '@swc-node/register', join(__dirname, 'main.ts')], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitUntilHealthy('ingestion', child, Number(env.HEALTH_PORT));
      // A client that sent half of its request and went quiet: the HTTP server waits for it to finish.
      const client = connect(Number(env.COLLECTOR_PORT), '127.0.0.1');
      await new Promise<void>((resolve) => client.once('connect', () => resolve()));
      client.write('POST /v1/track HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"event":');
      await new Promise((resolve) => setTimeout(resolve, 200));
      child.kill('SIGTERM');
      expect(await exited).toBe(1);
      client.destroy();
      expect(output).toContain('stop did not finish within 2 s, waiting for the HTTP server to answer its requests; exiting');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
