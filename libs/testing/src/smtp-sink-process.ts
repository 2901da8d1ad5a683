import { fork } from 'node:child_process';
import { join } from 'node:path';
import type { RunningSmtpSink, SmtpSinkOptions } from '@kairos/local-stack';

type Command = 'stopSmtp' | 'startSmtp' | 'stop';
type Reply = { ready: true; error?: string } | { id: number; error?: string };

/**
 * The SMTP sink in a process of its own, as a relay is: the pipeline's services talk SMTP to it, and its event loop is
 * not the benchmark's or the test's (in the benchmark's busy process it was delayed p99 ~50 ms, four times per mail's
 * conversation). Stops and starts of its SMTP port (an outage) are asked of it over IPC.
 */
export async function startSmtpSinkProcess(options: Omit<SmtpSinkOptions, 'onMessage'>): Promise<RunningSmtpSink & { pid: number }> {
  const child = fork(require.resolve('./smtp-sink.main'), [JSON.stringify(options)], { cwd: join(__dirname, '..', '..', '..'), execArgv: ['-r', '@swc-node/register'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  let next = 0;
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the SMTP sink process exited (${code}) before it was ready`)));
    child.on('message', (reply: Reply) => {
      if ('ready' in reply) return reply.error ? reject(new Error(`the SMTP sink did not start: ${reply.error}`)) : resolve();
      const waiting = pending.get(reply.id);
      pending.delete(reply.id);
      if (reply.error) waiting?.reject(new Error(reply.error));
      else waiting?.resolve();
    });
  });
  const ask = (command: Command) =>
    new Promise<void>((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      child.send({ id, command });
    });
  return {
    pid: child.pid ?? 0,
    smtpUrl: `smtp://127.0.0.1:${options.smtpPort}`,
    inboxUrl: `http://127.0.0.1:${options.httpPort}`,
    stopSmtp: () => ask('stopSmtp'),
    startSmtp: () => ask('startSmtp'),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await ask('stop').catch(() => undefined);
      await exited;
    },
  };
}
