import { Consumer } from 'kafkajs';
import { describeError } from './failure';

export interface CrashRestartOptions {
  /** How long a consumer kafkajs gave up on stays stopped before it is started again. */
  delayMs?: number;
  /**
   * A running consumer that gave no sign of life (no fetch started or returned, no batch, join, heartbeat or crash)
   * for this long, with no batch in hand, has stalled: it is stopped and started again. Above kafkajs' rebalance
   * timeout (60 s), the longest a healthy member waits in a join.
   */
  stallAfterMs?: number;
  /** How long the stop of a stalled consumer may take; past it the consumer is wedged (see `wedged`). */
  stopLimitMs?: number;
}

const DEFAULTS: Required<CrashRestartOptions> = { delayMs: 5_000, stallAfterMs: 120_000, stopLimitMs: 30_000 };

/**
 * Keeps a kafkajs consumer consuming, for the two ways it can stop for good while the process lives on, ready and
 * silent:
 * - kafkajs restarts a crashed consumer only when the error is retriable. A KafkaJSNonRetriableError without a
 *   retriable cause stops it for good ("Failed to find group coordinator" while the broker restarts does, seen in
 *   deploy/local/outages.int-spec).
 * - Its fetch loop can stop without any error (tulios/kafkajs #659, #1431): a fetch whose answer never comes, a loop
 *   that never resumes after a rebalance.
 * Either way the consumer is started again (`start`: connect, subscribe, run), every few seconds until it runs; a
 * stalled one is stopped first. One whose stop does not finish is beyond saving in this process: `wedged` says so,
 * for the liveness probe, so that the orchestrator restarts the process.
 */
export class CrashRestart {
  private timer: NodeJS.Timeout | undefined;
  private readonly watch: NodeJS.Timeout | undefined;
  /** A start in progress: a stop waits for it, so that no member joins the group after its owner stopped. */
  private starting: Promise<void> | undefined;
  private reason: string | undefined;
  private wedgedReason: string | undefined;
  private crashes = 0;
  private stopped = false;
  /** Watched for stalls from its first join on: a consumer never started (or not yet) is not stalled. */
  private armed = false;
  private lastSign = Date.now();
  /** Batches kafkajs handed to the handler and not yet finished: a long batch (an outage waited out) is no stall. */
  private batchesInHand = 0;
  private readonly options: Required<CrashRestartOptions>;

  constructor(
    private readonly consumer: Consumer,
    private readonly start: () => Promise<void>,
    private readonly log: (level: 'info' | 'error', message: string) => void,
    options: CrashRestartOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    const { CRASH, STOP, FETCH_START, FETCH, START_BATCH_PROCESS, END_BATCH_PROCESS, GROUP_JOIN, REBALANCING, HEARTBEAT, CONNECT } = consumer.events;
    const sign = () => void (this.lastSign = Date.now());
    for (const event of [FETCH_START, FETCH, REBALANCING, HEARTBEAT, CONNECT]) consumer.on(event, sign);
    consumer.on(GROUP_JOIN, () => void (sign(), (this.armed = true)));
    consumer.on(START_BATCH_PROCESS, () => void (sign(), (this.batchesInHand += 1)));
    consumer.on(END_BATCH_PROCESS, () => void (sign(), (this.batchesInHand = Math.max(0, this.batchesInHand - 1))));
    // A batch whose handler threw ends in a crash without END_BATCH_PROCESS; a stop ends every batch.
    consumer.on(STOP, () => void (sign(), (this.batchesInHand = 0)));
    consumer.on(CRASH, ({ payload }) => {
      sign();
      this.batchesInHand = 0;
      this.crashed(payload.error, payload.restart);
    });
    this.watch = setInterval(() => this.lookForStall(), Math.min(5_000, this.options.stallAfterMs / 4)).unref();
  }

  /** Why the consumer is not running (it is waiting to be started again, or wedged); undefined while it runs. */
  notRunning(): string | undefined {
    return this.wedgedReason ?? this.reason;
  }

  /** Why this process can no longer consume (a stalled consumer that did not stop): a liveness failure. */
  wedged(): string | undefined {
    return this.wedgedReason;
  }

  /** No restart after this; resolves once a start in progress is over, so that the owner's disconnect comes after it. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watch);
    await this.starting?.catch(() => undefined);
  }

  private crashed(error: Error, kafkajsRestarts: boolean): void {
    if (this.stopped || kafkajsRestarts) return;
    this.crashes += 1;
    this.reason = `the consumer stopped on an error kafkajs does not retry (${describeError(error)}); starting it again`;
    this.log('error', `${this.reason} in ${this.options.delayMs / 1000} s`);
    this.schedule();
  }

  private lookForStall(): void {
    if (!this.armed || this.stopped || this.reason !== undefined || this.starting || this.batchesInHand > 0) return;
    const quiet = Date.now() - this.lastSign;
    if (quiet > this.options.stallAfterMs) void this.restartStalled(quiet);
  }

  private async restartStalled(quietMs: number): Promise<void> {
    this.reason = `the consumer gave no sign of life for ${Math.round(quietMs / 1000)} s with no batch in hand (kafkajs stopped fetching without an error); starting it again`;
    this.log('error', this.reason);
    const stopped = await Promise.race([
      this.consumer.stop().then(
        () => true,
        () => true,
      ),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), this.options.stopLimitMs).unref()),
    ]);
    if (this.stopped) return;
    if (!stopped) {
      this.wedgedReason = `the stalled consumer did not stop within ${this.options.stopLimitMs / 1000} s: this process cannot consume again and needs a restart`;
      this.log('error', this.wedgedReason);
      return;
    }
    this.schedule();
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => void this.restart(), this.options.delayMs);
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
      this.lastSign = Date.now();
      this.log('info', 'the consumer started again');
    } catch (error) {
      if (this.stopped) return;
      this.log('error', `the consumer did not start again (${describeError(error)}); next try in ${this.options.delayMs / 1000} s`);
      this.schedule();
    } finally {
      this.starting = undefined;
    }
  }
}
