import { fork } from 'node:child_process';
import { join } from 'node:path';
import type { RunningSmtpSink, SmtpSinkOptions } from '@kairos/local-stack';

export type SinkCommand = 'stopSmtp' | 'startSmtp' | 'stop';
export type SinkReply = { ready: true } | { failed: string } | { id: number; error?: string };

const STOP_TIMEOUT_MS = 10_000;

/**
 * The SMTP sink in a process of its own, as a relay is: the pipeline's services talk SMTP to it, and its event loop is
 * not the benchmark's or the test's (in the benchmark's busy process it was delayed p99 ~50 ms, and a mail's
 * conversation waits on it four times). Stops and starts of its SMTP port (an outage) are asked of it over IPC.
 */
export async function startSmtpSinkProcess(options: Omit<SmtpSinkOptions, 'onMessage'>): Promise<RunningSmtpSink & { pid: number }> {
  const child = fork(require.resolve('./smtp-sink.main'), [JSON.stringify(options)], {
    cwd: join(__dirname, '..', '..', '..'),
    execArgv: ['-r', '@swc-node/register'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  let gone: Error | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      // Whatever was asked and not answered will not be now.
      gone = new Error(`the SMTP sink process exited (${signal ?? code})`);
      for (const waiting of pending.values()) waiting.reject(gone);
      pending.clear();
      resolve();
    }),
  );
  // A send to a process that has just gone reports here; the pending request is rejected by 'exit'.
  child.on('error', () => undefined);
  let next = 0;
  await new Promise<void>((resolve, reject) => {
    void exited.then(() => reject(gone));
    child.on('message', (reply: SinkReply) => {
      if ('ready' in reply) return resolve();
      if ('failed' in reply) return reject(new Error(`the SMTP sink did not start: ${reply.failed}`));
      const waiting = pending.get(reply.id);
      pending.delete(reply.id);
      if (reply.error) waiting?.reject(new Error(reply.error));
      else waiting?.resolve();
    });
  });
  const ask = (command: SinkCommand) =>
    new Promise<void>((resolve, reject) => {
      if (gone) return reject(gone);
      const id = next++;
      pending.set(id, { resolve, reject });
      child.send({ id, command });
    });
  return {
    pid: child.pid ?? 0,
    smtpUrl: `smtp://127.0.0.1:${options.smtpPort}`,
    inboxUrl: `http://127.0.0.1:${options.httpPort}/messages`,
    stopSmtp: () => ask('stopSmtp'),
    startSmtp: () => ask('startSmtp'),
    async stop() {
      if (gone) return;
      await Promise.race([ask('stop').catch(() => undefined), new Promise((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS).unref())]);
      if (!gone) child.kill('SIGKILL');
      await exited;
    },
  };
}
