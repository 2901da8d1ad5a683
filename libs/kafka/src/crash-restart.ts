import { Consumer } from 'kafkajs';
import { describeError } from './failure';

export interface CrashRestartOptions {
  /** How long a consumer kafkajs gave up on stays stopped before it is started again. */
  delayMs?: number;
  /**
   * A consumer that joined its group and then gave no sign of life (no fetch started or returned, heartbeat or crash)
   * for this long, with no batch in hand, has stalled: it is stopped and started again (a join in progress gets
   * longer, see `joining`).
   */
  stallAfterMs?: number;
  /**
   * How long the stop of a stalled consumer may take before the consumer counts as wedged (see `wedged`). kafkajs' stop
   * waits for the fetch in flight (its request timeout, 30 s) and then for the group leave (another 30 s at most).
   */
  stopLimitMs?: number;
}

const DEFAULTS: Required<CrashRestartOptions> = { delayMs: 5_000, stallAfterMs: 120_000, stopLimitMs: 90_000 };
/** A join in progress counts as a stall only after this many times `stallAfterMs` (10 minutes by default). */
const JOINING_FACTOR = 5;

/**
 * Keeps a kafkajs consumer consuming, for the two ways it can stop for good while the process lives on, ready and
 * silent:
 * - kafkajs restarts a crashed consumer only when the error is retriable. A KafkaJSNonRetriableError without a
 *   retriable cause stops it for good ("Failed to find group coordinator" while the broker restarts does, seen in
 *   deploy/local/outages.int-spec).
 * - Its fetch loop can stop without any error (tulios/kafkajs #659, #1431: a loop that does not resume).
 * Either way the consumer is started again (`start`: connect, subscribe, run), every few seconds until it runs; a
 * stalled one is stopped first. While that stop has not finished after `stopLimitMs`, `wedged` says so, for the
 * liveness probe, so that an orchestrator restarts the process; a stop that finishes later still leads to a restart.
 * The owner runs each batch's handler through `holding`: a batch in hand (an outage waited out) is no stall.
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
  /**
   * Between a connect or a rebalance and the join that ends it. kafkajs retries a slow join itself, silently (each
   * JoinGroup may wait out the rebalance timeout, 60 s), so a join is given JOINING_FACTOR times as long; a loop that
   * never resumes after a rebalance is still caught.
   */
  private joining = false;
  private lastSign = performance.now();
  private lastLook = performance.now();
  private batchesInHand = 0;
  private readonly options: Required<CrashRestartOptions>;
  private readonly lookEveryMs: number;

  constructor(
    private readonly consumer: Consumer,
    private readonly start: () => Promise<void>,
    private readonly log: (level: 'info' | 'error', message: string) => void,
    options: CrashRestartOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    const { CRASH, STOP, FETCH_START, FETCH, GROUP_JOIN, REBALANCING, HEARTBEAT, CONNECT } = consumer.events;
    const sign = () => void (this.lastSign = performance.now());
    for (const event of [FETCH_START, FETCH, HEARTBEAT]) consumer.on(event, sign);
    for (const event of [CONNECT, REBALANCING]) consumer.on(event, () => void (sign(), (this.joining = true)));
    consumer.on(GROUP_JOIN, () => void (sign(), (this.joining = false), (this.armed = true)));
    consumer.on(STOP, () => void (sign(), (this.joining = false)));
    consumer.on(CRASH, ({ payload }) => {
      sign();
      this.joining = false;
      this.crashed(payload.error, payload.restart);
    });
    this.lookEveryMs = Math.min(5_000, this.options.stallAfterMs / 4);
    this.watch = setInterval(() => this.lookForStall(), this.lookEveryMs).unref();
  }

  /** Runs one batch's handler; while any runs, the consumer is busy, not stalled. */
  async holding<T>(work: () => Promise<T>): Promise<T> {
    this.batchesInHand += 1;
    try {
      return await work();
    } finally {
      this.batchesInHand -= 1;
      this.lastSign = performance.now();
    }
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
    const now = performance.now();
    // A late look means the event loop itself was held (a long synchronous stretch, a paused VM): kafkajs could not
    // have said anything meanwhile either.
    if (now - this.lastLook > 2 * this.lookEveryMs) this.lastSign = now;
    this.lastLook = now;
    if (!this.armed || this.stopped || this.reason !== undefined || this.starting || this.batchesInHand > 0) return;
    const quiet = now - this.lastSign;
    if (quiet > this.options.stallAfterMs * (this.joining ? JOINING_FACTOR : 1)) void this.restartStalled(quiet);
  }

  private async restartStalled(quietMs: number): Promise<void> {
    this.reason = `the consumer gave no sign of life for ${Math.round(quietMs / 1000)} s with no batch in hand (kafkajs stopped fetching without an error); starting it again`;
    this.log('error', this.reason);
    const stopping = this.consumer.stop().catch(() => undefined);
    const wedging = setTimeout(() => {
      if (this.stopped) return;
      this.wedgedReason = `the stalled consumer did not stop within ${this.options.stopLimitMs / 1000} s: this process cannot consume until it does, and may need a restart`;
      this.log('error', this.wedgedReason);
    }, this.options.stopLimitMs).unref();
    await stopping;
    clearTimeout(wedging);
    if (this.stopped) return;
    if (this.wedgedReason) this.log('info', 'the stalled consumer stopped after all');
    this.wedgedReason = undefined;
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
      this.lastSign = performance.now();
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
