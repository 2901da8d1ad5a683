import type { ObservableResult } from '@opentelemetry/api';
import { BatchContext, DecodedRecord, OutgoingRecord, OwnedPartition, PartitionOwnership, RecordProducer } from '@kairos/kafka';
import { DueTimers } from './due-timers';
import { stateMetrics } from './state-metrics';
import { PartitionFencedError, StateStore } from './state-store';
import { StateAccess, StateTransaction } from './state-transaction';
import { Timer } from './timer';
import { crashBeforeCommitIfAsked } from './crash-point';

/** One input of a profile's ordered path: a record of an input topic, or one of its timers coming due. */
export type StatefulInput<T> = { kind: 'record'; key: string; at: number; record: DecodedRecord<T> } | { kind: 'timer'; key: string; at: number; timer: Timer };

/** What a task on the ordered path (`work`) may do: what a record's handler may, and load many keys in one query. */
export interface WorkAccess<S> extends StateAccess<S> {
  preload(keys: Iterable<string>): Promise<void>;
}

/** A record to publish; outputs carry deterministic ids, since a crash before the state commit publishes them again. */
export interface Output {
  topic: string;
  record: OutgoingRecord;
}

export interface StatefulProcessorOptions<S, T> {
  store: StateStore<S>;
  producer: RecordProducer;
  ownership: PartitionOwnership;
  /** The co-partitioned input topics; owning partition p of them is owning partition p of the state. */
  topics: readonly string[];
  keyOf(record: DecodedRecord<T>): string;
  /** Event time of a record (epoch ms): what stream time, and so timers during a replay, follow. */
  eventTime(record: DecodedRecord<T>): number;
  /**
   * The input topics whose event times move stream time (all of them unless said). Each topic of a partition is
   * consumed on its own, so in a replay a record of a side topic (an erasure, a merge) can be read long before the
   * events around it: if its time moved stream time, timers would fire before events that were meant to precede them.
   */
  clockTopics?: readonly string[];
  apply(input: StatefulInput<T>, state: StateAccess<S>): Promise<Output[]> | Output[];
  /** Called after each commit with the outputs published for it: what a redelivery or retry will not repeat (metrics). */
  committed?(outputs: readonly Output[]): void;
  /** High watermarks of a topic by partition: whether a newly owned partition has a backlog to replay first. */
  endOffsets(topic: string): Promise<Map<number, bigint>>;
  /**
   * The consumer group's committed offsets on a topic: where it resumes. Beyond the stored offsets when the last
   * records before a restart were dead-lettered (committed, never applied); without it such a partition would wait
   * for its next record to turn live.
   */
  committedOffsets?(topic: string): Promise<Map<number, bigint>>;
  /** Wall clock; injectable for tests. */
  clock?: () => number;
  /** Timers fired per transaction at most. */
  timersPerRound?: number;
  /**
   * Outputs a batch's transaction gathers before it commits and goes on in a new one (10,000: a full fetch of events,
   * ~2,000 records with a few outputs each, commits once).
   */
  outputsPerTransaction?: number;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

/**
 * Lets I/O through during a long stretch of CPU work. Applying a full batch (~2,000 records) is ~150 ms of JavaScript
 * that never waits, and the other partitions' commits and produce requests — every round trip needs the event loop —
 * sat behind it: with a pause every 5 ms, a saturated batch's commit took ~380 ms instead of ~430 and its publish
 * ~180 instead of ~240 (bench:segmentation, same run length).
 */
class EventLoopTurn {
  private since = performance.now();

  constructor(private readonly everyMs = 5) {}

  async yieldIfDue(): Promise<void> {
    if (performance.now() - this.since < this.everyMs) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.since = performance.now();
  }
}

interface PartitionProgress {
  /** Records behind the end, per input topic, as of the last batch (or of acquisition). */
  lag: Map<string, bigint>;
  /** Work on the partition, one at a time: batches and timer rounds never interleave. */
  queue: Promise<unknown>;
}

/**
 * The ordered path of a stateful stage: records of the owned partitions and their timers go through `apply` one at a
 * time, per partition, against a StateStore.
 *
 * - Effectively once: records whose offsets the committed state reflects are skipped; outputs are published (and
 *   acknowledged) before the state commit, so a crash in between publishes them again — with the same ids — and never
 *   loses them.
 * - Timers are state: set and cancelled in the same transaction as the state. Before each record, the timers due at
 *   or before the stream time (the latest event time seen) fire first, so a replay makes the live run's decisions.
 *   While a partition is caught up (no lag), the wall clock fires them too; while it replays a backlog it does not,
 *   or a timer would fire before the records that were meant to cancel it.
 * - Ownership: partitions are acquired (fencing the previous owner) when assigned and released when revoked; their
 *   timers move with them because they are rows of the partition.
 */
export class StatefulProcessor<S, T> {
  private readonly progress = new Map<number, PartitionProgress>();
  /** Partitions another instance fenced us out of: only a new assignment (not a lazy acquire) takes them back. */
  private readonly fenced = new Set<number>();
  private readonly clock: () => number;
  private readonly log: NonNullable<StatefulProcessorOptions<S, T>['log']>;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private running = false;
  private lastAcquireWarning = 0;
  /** When each partition's failed timer round was last logged: a round is tried again every second during an outage. */
  private readonly lastTimerWarning = new Map<number, number>();

  constructor(private readonly options: StatefulProcessorOptions<S, T>) {
    this.clock = options.clock ?? Date.now;
    this.log = options.log ?? (() => undefined);
    options.ownership.listen({ assigned: (partitions) => this.assigned(partitions), revoked: (partitions) => this.revoked(partitions), progressed: (owned, lag) => this.progressed(owned, lag) });
  }

  /** Starts firing timers by the wall clock. */
  start(): void {
    this.running = true;
    stateMetrics().partitions.addCallback(this.observePartitions);
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    stateMetrics().partitions.removeCallback(this.observePartitions);
    clearTimeout(this.timer);
    await this.ticking;
    await Promise.all([...this.progress.values()].map((progress) => progress.queue));
  }

  /** The handler of every input topic's batches. */
  async handleBatch(records: readonly DecodedRecord<T>[], context: BatchContext): Promise<void> {
    // Normally acquired by the assignment hook; if that failed (the database was down), acquire now — or fail as an
    // outage, which the consumer waits out.
    if (!this.options.store.owned(context.partition)) {
      if (this.fenced.has(context.partition)) throw new PartitionFencedError(`partition ${context.partition} of store ${this.options.store.name} belongs to another instance now`);
      await this.acquire([context.partition]);
    }
    return this.exclusive(context.partition, async () => {
      const phases = new BatchPhases(this.options.store.name);
      let transaction = this.options.store.begin(context.partition);
      const fresh = records.filter((record) => BigInt(record.offset) >= transaction.nextOffset(context.topic));
      await transaction.preload(fresh.map((record) => this.options.keyOf(record)));
      phases.lap('preload');
      let due = new DueTimers(this.options.store, transaction);
      let outputs: Output[] = [];
      let fired = 0;
      const chunk = this.options.timersPerRound ?? 1_000;
      const outputsPerTransaction = this.options.outputsPerTransaction ?? 10_000;
      // Commits what is done so far (records before `nextOffset`) and goes on in a new transaction: a batch that makes
      // many timers come due at once (80,000 birthdays at 09:00) stays bounded in memory and keeps its membership.
      // Records alone commit once per fetch: bounded at 1,000 outputs too, a saturated batch of ~2,000 events made six
      // transactions, each waiting for its publish and commit in turn (bench:segmentation saturated, medians of three
      // alternating runs: 4,702 -> 5,659 events/s).
      const checkpoint = async (nextOffset: bigint) => {
        transaction.advance(context.topic, nextOffset);
        phases.lap('apply');
        await this.publish(outputs);
        phases.lap('publish');
        await this.commit(transaction, outputs);
        phases.lap('commit');
        if (fired > 0) stateMetrics().timersFired.add(fired, { store: this.options.store.name, by: 'stream' });
        await context.heartbeat();
        transaction = this.options.store.begin(context.partition);
        due = new DueTimers(this.options.store, transaction);
        outputs = [];
        fired = 0;
      };
      const drivesClock = this.options.clockTopics?.includes(context.topic) ?? true;
      const turn = new EventLoopTurn();
      for (const record of fresh) {
        const at = this.options.eventTime(record);
        // Stream time is the event time, but never past the moment the record was written to the log (its broker
        // timestamp): an event stamped hours ahead by a skewed client must not fire the partition's timers early. Live,
        // the wall clock bounds it too; a replay, whose wall clock is far ahead, reads the same timestamps as the live
        // run, so it fires them between the same records (before, one such event made a replay fire every timer of
        // its partition an hour early: found when a test sent one ahead of a replay).
        if (drivesClock) transaction.observe(Math.min(at, writtenAt(record, at)));
        for (;;) {
          const count = await this.fireDue(transaction, due, Math.min(transaction.streamTime, this.clock()), outputs, chunk);
          fired += count;
          if (count < chunk) break;
          await checkpoint(BigInt(record.offset));
        }
        outputs.push(...(await this.options.apply({ kind: 'record', key: this.options.keyOf(record), at, record }, transaction.access(at))));
        if (outputs.length >= outputsPerTransaction) await checkpoint(BigInt(record.offset) + 1n);
        await turn.yieldIfDue();
      }
      const last = BigInt(records[records.length - 1].offset);
      await checkpoint(last + 1n);
      phases.record();
      // Set here too, on the partition's path, although the consumer's word (progressed) follows the batch: a timer
      // round queued behind this batch must already see a backlog that the batch revealed.
      this.progress.get(context.partition)?.lag.set(context.topic, BigInt(context.highWatermark) - last - 1n);
      if (this.isLive(context.partition)) this.schedule(0);
    });
  }

  /**
   * Work that is not a record (a backfill of a new segment over stored profiles) on a partition's ordered path: it runs
   * between batches and timer rounds, never beside them, in a transaction of its own; its outputs are published before
   * the commit like a record's. `now` is the wall clock while the partition is live, its stream time while it replays.
   * Fails with PartitionNotOwnedError when this instance does not own the partition (any more).
   */
  work(partition: number, task: (state: WorkAccess<S>, now: number) => Promise<Output[]> | Output[]): Promise<void> {
    return this.exclusive(partition, async () => {
      const transaction = this.options.store.begin(partition);
      const now = this.isLive(partition) ? this.clock() : transaction.streamTime;
      const outputs = await task({ ...transaction.access(now), preload: (keys) => transaction.preload(keys) }, now);
      await this.publish(outputs);
      await this.commit(transaction, outputs);
    });
  }

  private readonly observePartitions = (result: ObservableResult): void => {
    const owned = this.options.store.ownedPartitions();
    const live = owned.filter((partition) => this.isLive(partition.partition)).length;
    result.observe(live, { store: this.options.store.name, mode: 'live' });
    result.observe(owned.length - live, { store: this.options.store.name, mode: 'replaying' });
  };

  /**
   * The consumer's word after each batch, dead-lettered records included: a batch whose last records were
   * dead-lettered leaves the lag the handler saw (counting them) behind, and a partition that is not live fires no
   * timer by the clock until its next record — on a quiet topic, days.
   */
  private progressed(owned: OwnedPartition, lag: bigint): void {
    const progress = this.progress.get(owned.partition);
    if (!progress || !this.options.topics.includes(owned.topic)) return;
    progress.lag.set(owned.topic, lag);
    if (this.isLive(owned.partition)) this.schedule(0);
  }

  /** Whether the partition is caught up on every input topic, so that the wall clock drives its timers. */
  isLive(partition: number): boolean {
    const progress = this.progress.get(partition);
    return !!progress && [...progress.lag.values()].every((lag) => lag <= 0n);
  }

  /** Fires the timers due up to `upTo`, at most `limit`; returns how many (`fired`, if given, receives their due times). */
  private async fireDue(transaction: StateTransaction<S>, due: DueTimers<S>, upTo: number, outputs: Output[], limit = Number.POSITIVE_INFINITY, fired?: number[]): Promise<number> {
    let count = 0;
    const turn = new EventLoopTurn();
    while (count < limit) {
      const timer = await due.next(upTo);
      if (!timer) break;
      transaction.cancelTimer(timer.key, timer.name);
      transaction.observe(timer.dueAt);
      outputs.push(...(await this.options.apply({ kind: 'timer', key: timer.key, at: timer.dueAt, timer }, transaction.access(timer.dueAt))));
      fired?.push(timer.dueAt);
      count += 1;
      await turn.yieldIfDue();
    }
    return count;
  }

  /** One round of wall-clock firing for every live partition with a timer due; then sleeps until the next is due. */
  private tick(): Promise<void> {
    return (this.ticking = (async () => {
      const limit = this.options.timersPerRound ?? 1_000;
      let again = false;
      // Partitions the group gave us that the store does not hold (a failed assignment hook, a commit with an unknown
      // outcome): an idle partition gets no batch that would acquire it, and its timers must still fire.
      const missing = this.partitionNumbers(this.options.ownership.partitions()).filter((partition) => !this.options.store.owned(partition) && !this.fenced.has(partition));
      if (this.running && missing.length > 0) {
        await this.acquire(missing).catch((error: Error) => {
          if (Date.now() - this.lastAcquireWarning < 30_000) return;
          this.lastAcquireWarning = Date.now();
          this.log('warn', `${this.options.store.name}: partitions ${missing.join(', ')} not acquired yet: ${error.message}`);
        });
      }
      // The partitions' rounds run side by side (each on its own ordered path): one partition's reads, publish and
      // commit wait on PostgreSQL and the broker while another's timers are applied.
      const rounds = this.options.store.ownedPartitions().map(async (owned) => {
        if (!this.running || !this.isLive(owned.partition)) return;
        const now = this.clock();
        try {
          // Read on the partition's path: a batch committing new timers meanwhile would leave a stale bound behind.
          const nextDue = owned.nextDue ?? (await this.exclusive(owned.partition, () => this.options.store.refreshNextDue(owned)));
          if (nextDue > now) return;
          const fired = await this.exclusive(owned.partition, async () => {
            // Asked again in line: a stop, a revocation or a batch that found a backlog may have come first.
            if (!this.running || !this.isLive(owned.partition) || this.options.store.owned(owned.partition) !== owned) return 0;
            const transaction = this.options.store.begin(owned.partition);
            const outputs: Output[] = [];
            const dueTimes: number[] = [];
            const count = await this.fireDue(transaction, new DueTimers(this.options.store, transaction), now, outputs, limit, dueTimes);
            await this.publish(outputs);
            await this.commit(transaction, outputs);
            this.recordClockFiring(dueTimes);
            await this.options.store.refreshNextDue(owned);
            return count;
          });
          if (fired >= limit) again = true;
        } catch (error) {
          // The partition moved, or a dependency is down: the timers stay pending and are tried again.
          owned.nextDue = undefined;
          if (Date.now() - (this.lastTimerWarning.get(owned.partition) ?? 0) < 30_000) return;
          this.lastTimerWarning.set(owned.partition, Date.now());
          this.log('warn', `timers of partition ${owned.partition} of ${this.options.store.name} not fired (tried again every second, said every 30 s): ${(error as Error).message}`);
        }
      });
      await Promise.all(rounds);
      this.ticking = undefined;
      this.schedule(again ? 0 : this.untilNextDue());
    })());
  }

  private recordClockFiring(dueTimes: readonly number[]): void {
    if (dueTimes.length === 0) return;
    const { timersFired, timerLateness } = stateMetrics();
    const store = this.options.store.name;
    timersFired.add(dueTimes.length, { store, by: 'clock' });
    const now = this.clock();
    for (const dueAt of dueTimes) timerLateness.record(Math.max(0, now - dueAt) / 1000, { store });
  }

  private untilNextDue(): number {
    const now = this.clock();
    let earliest = now + 1_000; // re-check at least every second (a failed round, a partition turning live)
    for (const owned of this.options.store.ownedPartitions()) if (this.isLive(owned.partition) && owned.nextDue !== undefined) earliest = Math.min(earliest, owned.nextDue);
    return Math.max(0, earliest - now);
  }

  private schedule(delayMs: number): void {
    if (!this.running || this.ticking) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), delayMs);
  }

  private async commit(transaction: StateTransaction<S>, outputs: readonly Output[]): Promise<void> {
    crashBeforeCommitIfAsked(outputs);
    try {
      await this.options.store.commit(transaction);
    } catch (error) {
      const { partition } = transaction.owned;
      if (error instanceof PartitionFencedError) this.fenced.add(partition);
      // Any other failure may have struck after the server committed (a connection lost during COMMIT): what this
      // instance holds in memory (offsets, cache, stream time) can no longer be trusted, so it is read again.
      else this.options.store.release(partition);
      throw error;
    }
    if (outputs.length === 0 || !this.options.committed) return;
    // Told after the fact: whatever the hook does (metrics), the commit stands and is not reported as failed.
    try {
      this.options.committed(outputs);
    } catch (error) {
      this.log('warn', `${this.options.store.name}: the committed hook failed: ${(error as Error).message}`);
    }
  }

  private async publish(outputs: readonly Output[]): Promise<void> {
    if (outputs.length === 0) return;
    await Promise.all(outputs.map((output) => this.options.producer.publish(output.topic, output.record)));
  }

  private async assigned(partitions: readonly OwnedPartition[]): Promise<void> {
    const numbers = this.partitionNumbers(partitions);
    for (const partition of numbers) this.fenced.delete(partition);
    await this.acquire(numbers);
  }

  private async acquire(partitions: readonly number[]): Promise<void> {
    const numbers = partitions.filter((partition) => !this.options.store.owned(partition));
    if (numbers.length === 0) return;
    const ends = new Map(await Promise.all(this.options.topics.map(async (topic) => [topic, await this.options.endOffsets(topic)] as const)));
    const committed = new Map(await Promise.all(this.options.topics.map(async (topic) => [topic, (await this.options.committedOffsets?.(topic)) ?? new Map<number, bigint>()] as const)));
    for (const partition of numbers) {
      const progress = this.progress.get(partition) ?? { lag: new Map(), queue: Promise.resolve() };
      this.progress.set(partition, progress);
      await this.exclusive(partition, async () => {
        if (this.options.store.owned(partition)) return;
        const owned = await this.options.store.acquire(partition);
        for (const topic of this.options.topics) {
          const stored = owned.offsets.get(topic) ?? 0n;
          const resumesAt = committed.get(topic)?.get(partition) ?? 0n;
          progress.lag.set(topic, (ends.get(topic)?.get(partition) ?? 0n) - (resumesAt > stored ? resumesAt : stored));
          if (resumesAt > stored) this.log('info', `${this.options.store.name}: ${topic}#${partition} resumes at the group's offset ${resumesAt}, past the stored ${stored}: records dead-lettered there, or the group's offsets were moved`);
        }
        // The bound that spares a timer query per record; if it cannot be read now it stays unknown (queries, then).
        await this.options.store.refreshNextDue(owned).catch(() => undefined);
      });
      this.log('info', `${this.options.store.name}: partition ${partition} acquired (${this.isLive(partition) ? 'live' : 'replaying its backlog first'})`);
    }
    this.schedule(0);
  }

  private async revoked(partitions: readonly OwnedPartition[]): Promise<void> {
    for (const partition of this.partitionNumbers(partitions)) {
      if (this.options.topics.some((topic) => this.options.ownership.owns(topic, partition))) continue;
      await this.exclusive(partition, async () => this.options.store.release(partition));
      this.progress.delete(partition);
    }
  }

  private partitionNumbers(partitions: readonly OwnedPartition[]): number[] {
    return [...new Set(partitions.filter((owned) => this.options.topics.includes(owned.topic)).map((owned) => owned.partition))];
  }

  private exclusive<R>(partition: number, work: () => Promise<R>): Promise<R> {
    const progress = this.progress.get(partition);
    if (!progress) return work();
    const next = progress.queue.then(work);
    progress.queue = next.catch(() => undefined);
    return next;
  }
}

/** The time of one batch's phases (summed over its checkpoints), recorded once the batch is done. */
class BatchPhases {
  private readonly totals = new Map<string, number>();
  private last = performance.now();

  constructor(private readonly store: string) {}

  lap(phase: 'preload' | 'apply' | 'publish' | 'commit'): void {
    const now = performance.now();
    this.totals.set(phase, (this.totals.get(phase) ?? 0) + now - this.last);
    this.last = now;
  }

  record(): void {
    for (const [phase, ms] of this.totals) stateMetrics().batchPhase.record(ms / 1000, { store: this.store, phase });
  }
}

/** When the record was written to the log (its broker timestamp), or `fallback` when it carries none. */
export function writtenAt(record: { timestamp: string }, fallback: number): number {
  const written = Number(record.timestamp);
  return Number.isFinite(written) && written > 0 ? written : fallback;
}
