import { Consumer } from 'kafkajs';
import { describeError } from './failure';

/** How long a consumer kafkajs gave up on stays stopped before it is started again. */
const RESTART_DELAY_MS = 5_000;

/**
 * kafkajs restarts a crashed consumer only when the error is retriable. A KafkaJSNonRetriableError without a
 * retriable cause stops it for good — "Failed to find group coordinator" while the broker restarts does, seen in
 * deploy/local/outages.int-spec — and the process lives on, consuming nothing and saying nothing more. This starts
 * such a consumer again (`start`: connect, subscribe, run), every few seconds until it runs.
 */
export class CrashRestart {
  private timer: NodeJS.Timeout | undefined;
  /** A start in progress: a stop waits for it, so that no member joins the group after its owner stopped. */
  private starting: Promise<void> | undefined;
  private reason: string | undefined;
  private crashes = 0;
  private stopped = false;

  constructor(
    consumer: Consumer,
    private readonly start: () => Promise<void>,
    private readonly log: (level: 'info' | 'error', message: string) => void,
    private readonly delayMs = RESTART_DELAY_MS,
  ) {
    consumer.on(consumer.events.CRASH, ({ payload }) => this.crashed(payload.error, payload.restart));
  }

  /** Why the consumer is not running (it is waiting to be started again); undefined while it runs. */
  notRunning(): string | undefined {
    return this.reason;
  }

  /** No restart after this; resolves once a start in progress is over, so that the owner's disconnect comes after it. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.starting?.catch(() => undefined);
  }

  private crashed(error: Error, kafkajsRestarts: boolean): void {
    if (this.stopped || kafkajsRestarts) return;
    this.crashes += 1;
    this.reason = `the consumer stopped on an error kafkajs does not retry (${describeError(error)}); starting it again`;
    this.log('error', `${this.reason} in ${this.delayMs / 1000} s`);
    this.schedule();
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => void this.restart(), this.delayMs);
  }

  private async restart(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return;
    const crashesBefore = this.crashes;
    try {
      this.starting = this.start();
      await this.starting;
      // kafkajs' run() resolves even when joining the group failed (it reports that as another crash instead).
      if (this.stopped || this.crashes !== crashesBefore) return;
      this.reason = undefined;
      this.log('info', 'the consumer started again after its crash');
    } catch (error) {
      if (this.stopped) return;
      this.log('error', `the consumer did not start again (${describeError(error)}); next try in ${this.delayMs / 1000} s`);
      this.schedule();
    } finally {
      this.starting = undefined;
    }
  }
}
