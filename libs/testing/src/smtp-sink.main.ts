import { startSmtpSink } from '@kairos/local-stack';

/** The process startSmtpSinkProcess forks: the sink, told what to do over IPC. */
async function main(): Promise<void> {
  const send = (message: object) => process.send?.(message);
  try {
    const sink = await startSmtpSink(JSON.parse(process.argv[2]));
    process.on('message', async ({ id, command }: { id: number; command: 'stopSmtp' | 'startSmtp' | 'stop' }) => {
      try {
        await sink[command]();
        if (command === 'stop') process.send?.({ id }, () => process.exit(0));
        else send({ id });
      } catch (error) {
        send({ id, error: (error as Error).message });
      }
    });
    // The parent gone (a crashed test run): nothing is left listening.
    process.on('disconnect', () => void sink.stop().finally(() => process.exit(0)));
    send({ ready: true });
  } catch (error) {
    send({ ready: true, error: (error as Error).message });
    process.exit(1);
  }
}

void main();
