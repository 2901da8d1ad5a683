import { backoffDelay, RetryPolicy } from '@kairos/kafka';

/** A pass that failed (the database away) tries again after ~2 s, doubling per failure up to ~a minute. */
const PASS_RETRY: RetryPolicy = { attempts: Number.POSITIVE_INFINITY, initialDelayMs: 2_000, maxDelayMs: 60_000 };

export interface PartitionPassesOptions {
  /** What a pass is, for the log: "backfill", "journey schedules". */
  name: string;
  /** One pass over the partition's stored state (pages on its ordered path); resolves when it is done or not needed. */
  pass: (partition: number) => Promise<void>;
  /** Whether the group gave this instance the partition (a failed pass of a partition gone elsewhere is dropped). */
  owns: (partition: number) => boolean;
  warn: (message: string) => void;
}

/**
 * Passes over stored state, one partition at a time (segmentation's backfill of a new segment, triggers' schedule of
 * new journeys). A partition requested while its pass runs gets one more pass after it (the definitions changed under
 * it). A failed pass is tried again with back-off for as long as the partition is this instance's — left alone, it
 * would wait for the next assignment or release, which may be days away. Partitions take turns, so passes use about
 * one core's share while live processing goes on.
 */
export class PartitionPasses {
  private readonly running = new Map<number, Promise<void>>();
  private readonly again = new Set<number>();
  /** Failures in a row per partition, and the timer of the next try. */
  private readonly failures = new Map<number, number>();
  private readonly retries = new Map<number, NodeJS.Timeout>();
  private turn: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: PartitionPassesOptions) {}

  /** Makes sure the partition gets a pass (now, after the running one, or after the others' turns). */
  request(partition: number): void {
    if (this.stopped) return;
    if (this.running.has(partition)) {
      this.again.add(partition);
      return;
    }
    clearTimeout(this.retries.get(partition));
    this.retries.delete(partition);
    const run = this.turn
      .then(() => this.options.pass(partition))
      .then(
        () => void this.failures.delete(partition),
        (error: Error) => {
          const failures = (this.failures.get(partition) ?? 0) + 1;
          this.failures.set(partition, failures);
          const delay = backoffDelay(PASS_RETRY, failures);
          this.options.warn(`${this.options.name} of partition ${partition} stopped: ${error.message}; trying again in ${(delay / 1000).toFixed(1)} s`);
          this.retryLater(partition, delay);
        },
      )
      .finally(() => {
        this.running.delete(partition);
        if (this.again.delete(partition)) this.request(partition);
      });
    this.running.set(partition, run);
    this.turn = run;
  }

  /** No new passes; waits for the running ones (each stops at its next page once `stopped` is seen by its pass). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.retries.values()) clearTimeout(timer);
    await Promise.all(this.running.values());
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  private retryLater(partition: number, delay: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.retries.delete(partition);
      if (this.options.owns(partition)) this.request(partition);
      else this.failures.delete(partition);
    }, delay);
    timer.unref();
    this.retries.set(partition, timer);
  }
}
