import { RunningSmtpSink, startSmtpSink } from '@kairos/local-stack';
import type { SinkCommand, SinkReply } from './smtp-sink-process';

/** The process startSmtpSinkProcess forks: the sink, told what to do over IPC. */
async function main(): Promise<void> {
  const send = (reply: SinkReply, then: () => void = () => undefined) => process.send?.(reply, then);
  let sink: RunningSmtpSink | undefined;
  // The parent gone (a crashed test run), even while starting: nothing is left holding the ports.
  process.on('disconnect', () => void (sink?.stop() ?? Promise.resolve()).finally(() => process.exit(0)));
  try {
    sink = await startSmtpSink(JSON.parse(process.argv[2]));
  } catch (error) {
    send({ failed: (error as Error).message }, () => process.exit(1));
    return;
  }
  const running = sink;
  // One command at a time, in order: a stop waits for an outage's start or stop in hand, then ends the process.
  let queue = Promise.resolve();
  process.on('message', ({ id, command }: { id: number; command: SinkCommand }) => {
    queue = queue.then(async () => {
      try {
        await running[command]();
        if (command === 'stop') send({ id }, () => process.exit(0));
        else send({ id });
      } catch (error) {
        send({ id, error: (error as Error).message });
      }
    });
  });
  send({ ready: true });
}

void main();
