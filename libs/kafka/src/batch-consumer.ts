import { DeadLetterHeaders, DeadLetterReason, deadLetterTopic } from '@kairos/contracts';
import { Link, ObservableCallback, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { backoffDelay, DEFAULT_RETRY, OUTAGE_RETRY, RetryPolicy } from './backoff';
import { coPartitionedAssigner } from './co-partitioned-assigner';
import { CrashRestart, CrashRestartOptions } from './crash-restart';
import { RecordDecoder } from './decoders';
import { describeError, outageReason, PartitionMovedError } from './failure';
import { kafkaMetrics } from './kafka-metrics';
import { PartitionOwnership } from './partition-ownership';
import { BatchOutcome, ConsumedRecord, DecodedRecord } from './record';
import { RecordProducer } from './record-producer';
import { extractTraceContext } from './trace-headers';

export interface BatchContext {
  topic: string;
  partition: number;
  /** The partition's end as of this fetch: records at or after it did not exist yet. lag = highWatermark - lastOffset - 1. */
  highWatermark: string;
  /** Keeps the group membership alive during long work; call between slow steps. */
  heartbeat(): Promise<void>;
}

export type BatchHandler<T> = (records: DecodedRecord<T>[], context: BatchContext) => Promise<BatchOutcome | void>;

export interface Subscription<T = unknown> {
  topic: string;
  decoder: RecordDecoder<T>;
  /** Where the group starts on this topic without committed offsets, overriding the consumer's `fromBeginning`. */
  fromBeginning?: boolean;
  // Method syntax on purpose: a Subscription<RawEvent> is then usable where Subscription<unknown> is expected.
  handler(records: DecodedRecord<T>[], context: BatchContext): Promise<BatchOutcome | void>;
}

export interface BatchConsumerOptions {
  groupId: string;
  subscriptions: readonly Subscription<unknown>[];
  /** Where dead letters are produced; the consumer group's DLQ topic must exist (ensureTopics). */
  producer: RecordProducer;
  /** Attempts for a failure that is not an outage, before the batch is split and poison records are dead-lettered. */
  retry?: RetryPolicy;
  /** Back-off while a dependency is down; there is no last attempt, processing waits for as long as it takes. */
  outageRetry?: RetryPolicy;
  /**
   * Asked when a handler fails with an error not recognisably an outage: a reason when a dependency is down (the
   * failure then counts as an outage), undefined when everything is healthy (the records are at fault).
   */
  dependencyCheck?: () => Promise<string | undefined>;
  /** Told of every assignment and revocation, and awaited before the partition's next batch is handled. */
  ownership?: PartitionOwnership;
  /** Partitions processed in parallel; records of one partition are always processed in order. */
  partitionsConsumedConcurrently?: number;
  /** Where a group without committed offsets starts: the beginning (replay) or only new records. */
  fromBeginning?: boolean;
  sessionTimeoutMs?: number;
  maxBytesPerPartition?: number;
  /**
   * Gathering: a batch of fewer than `minBytes` is handled at once, and the next fetch waits until `maxWaitMs` after
   * the fetch it came in arrived, so that a trickle becomes fewer, larger batches (and state transactions). An idle
   * consumer's fetch waits at the broker for a second. Without it, every fetch returns as soon as records exist.
   */
  fetch?: { minBytes: number; maxWaitMs: number };
  /**
   * Offsets are committed at most this often while batches come, and within it once they stop; before the member
   * leaves the group (stop) and when kafkajs reports a rebalance. 0 commits after every batch (kafkajs' own
   * behaviour). A crash, or a rejoin kafkajs makes on its own (stale metadata after a broker restart), redelivers what
   * was processed since the last commit, which every stage takes as a redelivery.
   */
  commitIntervalMs?: number;
  /** When a crashed or stalled consumer is started again (CrashRestart's defaults unless set; tests shorten them). */
  restarts?: CrashRestartOptions;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

/** A partition whose processing waits for a dependency. */
export interface Stall {
  topic: string;
  partition: number;
  since: number;
  reason: string;
  attempts: number;
}

interface Failure {
  record: ConsumedRecord;
  reason: DeadLetterReason;
  detail: string;
  attempts: number;
}

const tracer = trace.getTracer('kairos.kafka');
const MAX_SPAN_LINKS = 64;
const STOP_COMMIT_WAIT_MS = 5_000;
/**
 * How long a stop waits for kafkajs to leave the group. Its disconnect waits for the batch in hand and can stall
 * beyond that (kafkajs issues #967, #1596, #1639); a service's own stop deadline would then end the process with an
 * error and no word on where it hung. Past this, the stop goes on: the group drops the member after its session
 * timeout, and records not committed are delivered again.
 */
const STOP_DISCONNECT_WAIT_MS = 15_000;
/** Waits for `work` at most `ms`: true when it settled by then (a rejection still rejects). */
async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let bound: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (bound = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([work.then(() => true), late]);
  } finally {
    clearTimeout(bound);
  }
}

/** Each record's age now: from its producer's timestamp to the moment its batch is done here. */
function recordAges(records: readonly ConsumedRecord[], labels: { group: string; topic: string }): void {
  const now = Date.now();
  const { recordAge } = kafkaMetrics();
  for (const record of records) recordAge.record(Math.max(0, now - Number(record.timestamp)) / 1000, labels);
}

/** Refusals (of a heartbeat or a commit) that mean the member's generation is over. */
const GENERATION_ENDED = new Set(['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'REBALANCE_IN_PROGRESS', 'FENCED_INSTANCE_ID']);

/**
 * Consumes with eachBatch: one partition's batch at a time, in order, several partitions in parallel.
 *
 * For each batch: decode every record (undecodable ones go straight to the DLQ), hand the rest to the handler as one
 * batch, retry the whole batch with back-off when the handler throws, and when retries are exhausted, retry record by
 * record so that one poison record is dead-lettered alone while its neighbours are processed. Offsets are committed
 * only after the batch is processed or dead-lettered, so a crash means redelivery, never loss.
 */
export class BatchConsumer {
  private readonly consumer: Consumer;
  private readonly retry: RetryPolicy;
  private readonly outageRetry: RetryPolicy;
  private readonly ownership: PartitionOwnership;
  private readonly stalled = new Map<string, Stall>();
  /** When each partition's batch in hand entered processing: a batch that takes very long is a stall too. */
  private readonly busySince = new Map<string, number>();
  /** Wakes the back-off sleeps when stop() is called, so a consumer waiting out an outage stops at once. */
  private readonly stopSignal = new AbortController();
  private readonly subscriptions: Map<string, Subscription<unknown>>;
  private readonly lag = new Map<string, number>();
  /** When the fetch whose batches are in hand arrived, for gathering (with several brokers: the latest of theirs). */
  private fetchArrivedAt = 0;
  private readonly dlqTopic: string;
  private readonly log: NonNullable<BatchConsumerOptions['log']>;
  private stopping = false;
  /** Commits every offset resolved and not yet committed: set by every batch, dropped when the consumer crashes or stops. */
  private commitResolved: (() => Promise<void>) | undefined;
  /** Commits go out one at a time, so a later commit never carries older offsets than the one before it. */
  private committing: Promise<void> = Promise.resolve();
  private lastCommitAt = 0;
  private commitTimer: NodeJS.Timeout | undefined;
  private readonly crashRestart: CrashRestart;

  constructor(
    kafka: Kafka,
    private readonly options: BatchConsumerOptions,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      // 10 s: a crashed member's partitions move on after 10 s instead of kafkajs' 30 s.
      sessionTimeout: options.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: 3_000,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1024 * 1024,
      // A fetch returns as soon as records exist; the wait bounds how long an idle fetch holds up a stop. Gathering
      // (options.fetch) is done here, between fetches, rather than by the broker holding every fetch for its minimum:
      // that made each idle consumer fetch 20 times a second.
      minBytes: 1,
      maxWaitTimeInMs: 1_000,
      allowAutoTopicCreation: false,
      // Partition p of every topic to one member: what per-partition state needs. Round robin is deliberately not
      // offered as a fallback: a group that settled on it could split a profile's topics across members.
      partitionAssigners: [coPartitionedAssigner],
    });
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.outageRetry = options.outageRetry ?? OUTAGE_RETRY;
    this.ownership = options.ownership ?? new PartitionOwnership();
    const { GROUP_JOIN, CRASH, STOP, FETCH, REBALANCING } = this.consumer.events;
    if (options.fetch) this.consumer.on(FETCH, () => void (this.fetchArrivedAt = Date.now()));
    // Emitted before kafkajs rejoins: the partitions may move, so what was processed is committed while this member's
    // generation is still the current one (kafkajs' autoCommit did the same; if the JoinGroup gets there first, the
    // commit is refused and the next owner gets those records again).
    this.consumer.on(REBALANCING, () => void this.commit(true));
    this.consumer.on(GROUP_JOIN, ({ payload }) => void this.ownership.update(payload.memberAssignment, payload.memberId).catch((error) => this.log('error', `partition assignment hook failed: ${describeError(error)}`)));
    // The crashed or stopped consumer's group has gone: its commit function can only be refused from now on.
    this.consumer.on(CRASH, () => void ((this.commitResolved = undefined), this.ownership.releaseAll().catch(() => undefined)));
    this.consumer.on(STOP, () => void ((this.commitResolved = undefined), this.ownership.releaseAll().catch(() => undefined)));
    this.subscriptions = new Map(options.subscriptions.map((subscription) => [subscription.topic, subscription]));
    this.dlqTopic = deadLetterTopic(options.groupId).name;
    this.log = options.log ?? (() => undefined);
    this.crashRestart = new CrashRestart(this.consumer, () => this.start(), this.log, options.restarts);
    kafkaMetrics().lag.addCallback(this.observeLag);
  }

  private readonly observeLag: ObservableCallback = (observer) => {
    for (const [key, value] of this.lag) {
      const [topic, partition] = key.split('#');
      observer.observe(value, { group: this.options.groupId, topic, partition });
    }
  };

  async start(): Promise<void> {
    this.lastCommitAt = Date.now();
    await this.consumer.connect();
    for (const { topic, fromBeginning } of this.subscriptions.values()) {
      await this.consumer.subscribe({ topic, fromBeginning: fromBeginning ?? this.options.fromBeginning ?? true });
    }
    await this.consumer.run({
      // kafkajs' autoCommit commits after every batch whatever its interval says: commits are ours (commit()).
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 3,
      // Through the restarter: a batch in hand (an outage waited out, a slow handler) is no stall of the fetch loop.
      eachBatch: (payload) => this.crashRestart.holding(() => this.processBatch(payload)),
    });
  }

  /** Finishes the batch in hand, commits its offsets and leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopSignal.abort();
    await this.crashRestart.stop();
    // What idle partitions resolved; a batch still in hand commits its own when it ends (stopping), before the leave.
    await this.finalCommit();
    if (!(await settlesWithin(this.consumer.disconnect(), STOP_DISCONNECT_WAIT_MS))) this.log('warn', `the consumer did not leave the group within ${STOP_DISCONNECT_WAIT_MS / 1000} s; stopping anyway (the group drops it after its session timeout; uncommitted records are delivered again)`);
    await this.ownership.releaseAll().catch(() => undefined);
    kafkaMetrics().lag.removeCallback(this.observeLag);
  }

  /**
   * Partitions whose processing is waiting for a dependency (readiness reports them): retrying after an outage, or a
   * batch in the handler for over 30 s — the producer waits for an unreachable broker without failing, so a broker
   * outage shows as a batch that does not finish.
   */
  stalls(): Stall[] {
    const now = Date.now();
    const slow = [...this.busySince]
      .filter(([key, since]) => now - since > 30_000 && !this.stalled.has(key))
      .map(([key, since]): Stall => {
        const [topic, partition] = key.split('#');
        return { topic, partition: Number(partition), since, reason: `a batch has been processing for ${Math.round((now - since) / 1000)} s (the broker or another dependency does not answer)`, attempts: 0 };
      });
    return [...this.stalled.values(), ...slow];
  }

  /** Why nothing is being consumed (the consumer crashed or stalled and is being started again); undefined while it runs. */
  notRunning(): string | undefined {
    return this.crashRestart.notRunning();
  }

  /** Why this process can no longer consume (a stalled consumer that did not stop): for the liveness probe. */
  wedged(): string | undefined {
    return this.crashRestart.wedged();
  }

  /** Consumer lag per "topic#partition" as of the last batch, for health and metrics. */
  currentLag(): ReadonlyMap<string, number> {
    return this.lag;
  }

  private async processBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, uncommittedOffsets, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0) return;
    // Refreshed per batch: after kafkajs restarts a crashed consumer, the first one's functions commit nothing.
    this.commitResolved = () => commitOffsetsIfNecessary(uncommittedOffsets());
    const fetchArrivedAt = this.fetchArrivedAt;
    const subscription = this.subscriptions.get(batch.topic);
    if (!subscription) throw new Error(`no subscription for ${batch.topic}`); // we subscribe from this map, so only a kafkajs bug gets here
    const started = Date.now();
    const partitionKey = `${batch.topic}#${batch.partition}`;
    this.busySince.set(partitionKey, started);
    const records = batch.messages.map((message) => toConsumedRecord(batch.topic, batch.partition, message));
    const context: BatchContext = { topic: batch.topic, partition: batch.partition, highWatermark: batch.highWatermark, heartbeat: () => this.heartbeat(heartbeat) };
    const stillOwned = () => isRunning() && !isStale() && !this.stopping;
    // An assignment hook (a state store loading or fencing the partition) finishes before the partition's records go in.
    await this.ownership.settled();

    const links: Link[] = records.slice(0, MAX_SPAN_LINKS).flatMap((record) => {
      const producerSpan = trace.getSpanContext(extractTraceContext(record.headers));
      return producerSpan ? [{ context: producerSpan }] : [];
    });
    await tracer.startActiveSpan(
      `${batch.topic} process`,
      { kind: SpanKind.CONSUMER, links, attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': batch.topic, 'messaging.batch.message_count': records.length, 'messaging.consumer.group.name': this.options.groupId } },
      async (span) => {
        try {
          const decoded: DecodedRecord<unknown>[] = [];
          const failures: Failure[] = [];
          for (const record of records) {
            const result = subscription.decoder(record);
            if (result.ok) decoded.push({ ...record, data: result.data });
            else failures.push({ record, reason: result.reason, detail: result.detail, attempts: 0 });
          }
          failures.push(...(await this.handleWithRetries(subscription, decoded, context, stillOwned)));
          if (failures.length > 0) await this.untilDone('dead-lettering', context, stillOwned, () => this.deadLetter(failures));
          kafkaMetrics().consumed.add(records.length, { group: this.options.groupId, topic: batch.topic });
          resolveOffset(batch.lastOffset());
          await (this.stopping ? this.finalCommit() : this.commit(false));
          recordAges(records, { group: this.options.groupId, topic: batch.topic });
          const lag = BigInt(batch.highWatermark) - BigInt(batch.lastOffset()) - 1n;
          this.lag.set(partitionKey, lag > 0n ? Number(lag) : 0);
          this.ownership.progressed(batch.topic, batch.partition, lag);
          await heartbeat();
        } catch (error) {
          span.recordException(error as Error);
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw error;
        } finally {
          this.busySince.delete(partitionKey);
          kafkaMetrics().batchDuration.record(Date.now() - started, { group: this.options.groupId, topic: batch.topic });
          span.end();
        }
      },
    );
    // Outside the span and the batch's duration. kafkajs commits the batch's offsets after it: a crash during the wait
    // redelivers the batch, which every stage takes as a redelivery.
    await this.gather(fetchArrivedAt, batch.messages);
  }

  /**
   * Gathering: after a batch of fewer than `minBytes` (keys and values), the next fetch waits until `maxWaitMs` after
   * the fetch it came in arrived (kafkajs fetches again once every batch of a fetch is done). Per batch, not per fetch:
   * a stage reading several partitions then keeps gathering at moderate rates, where the fetch's total would often
   * just reach `minBytes` and end the wait (measured in docs/operations.md, section 3).
   */
  private async gather(fetchArrivedAt: number, messages: ReadonlyArray<{ key: Buffer | null; value: Buffer | null }>): Promise<void> {
    const { fetch } = this.options;
    if (!fetch || this.stopping) return;
    let bytes = 0;
    for (const message of messages) bytes += (message.key?.length ?? 0) + (message.value?.length ?? 0);
    const wait = fetchArrivedAt + fetch.maxWaitMs - Date.now();
    if (bytes < fetch.minBytes && wait > 0) await this.sleep(wait);
  }

  private async handleWithRetries(
    subscription: Subscription<unknown>,
    records: DecodedRecord<unknown>[],
    context: BatchContext,
    stillOwned: () => boolean,
  ): Promise<Failure[]> {
    if (records.length === 0) return [];
    const whole = await this.attempt(subscription, records, context, stillOwned);
    if (whole.ok) return whole.rejected;
    if (records.length === 1) {
      return [{ record: records[0], reason: 'processing_failed', detail: whole.error, attempts: this.retry.attempts }];
    }
    this.log('warn', `batch of ${records.length} from ${context.topic}#${context.partition} failed ${this.retry.attempts} times (${whole.error}); retrying record by record`);
    const failures: Failure[] = [];
    for (const record of records) {
      const single = await this.attempt(subscription, [record], context, stillOwned);
      if (single.ok) failures.push(...single.rejected);
      else failures.push({ record, reason: 'processing_failed', detail: single.error, attempts: this.retry.attempts });
    }
    return failures;
  }

  /**
   * Runs the handler until it succeeds, or until it failed `retry.attempts` times while its dependencies were
   * healthy. A failure caused by an outage (recognised by the error, or by the dependency check) is not counted: the
   * partition waits with back-off for as long as the outage lasts, reported as stalled, and nothing is dead-lettered.
   */
  private async attempt(
    subscription: Subscription<unknown>,
    records: DecodedRecord<unknown>[],
    context: BatchContext,
    stillOwned: () => boolean,
  ): Promise<{ ok: true; rejected: Failure[] } | { ok: false; error: string }> {
    let failures = 0;
    let lastError = '';
    for (;;) {
      try {
        const outcome = await subscription.handler(records, context);
        this.clearStall(context);
        const rejected = (outcome?.rejected ?? []).map((rejection) => ({ record: rejection.record, reason: 'rejected' as const, detail: rejection.detail, attempts: failures + 1 }));
        return { ok: true, rejected };
      } catch (error) {
        lastError = describeError(error);
        // The partition may have moved to another instance, or we are shutting down: give the batch back uncommitted.
        if (!stillOwned()) throw new Error(`stopped while retrying: ${lastError}`);
        if (error instanceof PartitionMovedError) {
          await this.waitOut(context, `${lastError}; waiting for the rebalance to take the partition away`, stillOwned);
          continue;
        }
        const outage = outageReason(error) ?? (await this.options.dependencyCheck?.().catch((check: unknown) => describeError(check)));
        if (outage) {
          await this.waitOut(context, outage, stillOwned);
          continue;
        }
        failures += 1;
        if (failures >= this.retry.attempts) return { ok: false, error: lastError };
        await this.sleep(backoffDelay(this.retry, failures));
        await context.heartbeat();
      }
    }
  }

  /** Repeats a step the broker must take (dead-lettering) until it succeeds; only an outage can make it fail. */
  private async untilDone(what: string, context: BatchContext, stillOwned: () => boolean, step: () => Promise<void>): Promise<void> {
    for (;;) {
      try {
        await step();
        this.clearStall(context);
        return;
      } catch (error) {
        if (!stillOwned()) throw new Error(`stopped while ${what}: ${describeError(error)}`);
        await this.waitOut(context, `${what} failed: ${describeError(error)}`, stillOwned);
      }
    }
  }

  /** One back-off step of an outage: marks the partition stalled (cleared by the next success) and keeps the membership. */
  private async waitOut(context: BatchContext, reason: string, stillOwned: () => boolean): Promise<void> {
    const key = `${context.topic}#${context.partition}`;
    const stall = this.stalled.get(key) ?? { topic: context.topic, partition: context.partition, since: Date.now(), reason, attempts: 0 };
    stall.reason = reason;
    stall.attempts += 1;
    this.stalled.set(key, stall);
    if (stall.attempts === 1 || stall.attempts % 10 === 0) {
      this.log('warn', `${key} waits for a dependency (attempt ${stall.attempts}, ${Math.round((Date.now() - stall.since) / 1000)} s): ${reason}`);
    }
    // Slept in slices of a second with a heartbeat between: a back-off of up to 10 s must not outlast the 10 s
    // session timeout and get this member evicted in the middle of an outage.
    for (let remaining = backoffDelay(this.outageRetry, Math.min(stall.attempts, 30)); remaining > 0; remaining -= 1_000) {
      await this.sleep(Math.min(remaining, 1_000));
      if (!stillOwned()) throw new Error(`stopped while waiting for a dependency: ${reason}`);
      await context.heartbeat();
    }
  }

  private clearStall(context: BatchContext): void {
    const key = `${context.topic}#${context.partition}`;
    const stall = this.stalled.get(key);
    if (!stall) return;
    this.stalled.delete(key);
    this.log('info', `${key} resumed after ${Math.round((Date.now() - stall.since) / 1000)} s waiting for a dependency`);
  }

  /**
   * kafkajs' heartbeat, tolerant of a broker that is down (the outage we may be waiting out); a heartbeat refused
   * because the group is rebalancing is passed on, so the batch is given back and the partition can move.
   */
  private async heartbeat(heartbeat: () => Promise<void>): Promise<void> {
    try {
      await heartbeat();
    } catch (error) {
      if (GENERATION_ENDED.has((error as { type?: string }).type ?? '')) throw error;
    }
  }

  /**
   * Commits the resolved offsets when the interval has passed since the last commit (or `now`); otherwise makes sure
   * a timer commits them within the interval, so an idle partition's last batch is committed too. A failed commit is
   * not an error of the batch: the offsets stay resolved and a timer tries again; a crash before then redelivers.
   */
  private commit(now: boolean): Promise<void> {
    const interval = this.options.commitIntervalMs ?? 0;
    const wait = now ? 0 : this.lastCommitAt + interval - Date.now();
    if (wait > 0) {
      this.commitLater(wait);
      return this.committing;
    }
    this.lastCommitAt = Date.now();
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    const commitResolved = this.commitResolved;
    if (!commitResolved) return this.committing;
    this.committing = this.committing.then(() =>
      commitResolved().catch((error: unknown) => {
        // Refused for a generation that has ended: the partitions' next owner (maybe this member again) starts from
        // the last commit, and another try would be refused the same way.
        if (GENERATION_ENDED.has((error as { type?: string }).type ?? '')) return this.log('info', `offsets of an ended generation not committed: ${describeError(error)}`);
        this.log('warn', `offsets not committed, trying again: ${describeError(error)}`);
        this.commitLater(Math.max(interval, 1_000));
      }),
    );
    return this.committing;
  }

  /**
   * The commit of a stop, bounded: with the broker unreachable the stop goes on, and the next owner gets those records
   * again. A batch still in hand when the stop began ends with one too (its commit queues behind the stop's).
   */
  private async finalCommit(): Promise<void> {
    await settlesWithin(this.commit(true), STOP_COMMIT_WAIT_MS);
  }

  private commitLater(ms: number): void {
    if (this.stopping) return;
    this.commitTimer ??= setTimeout(() => {
      this.commitTimer = undefined;
      if (!this.stopping) void this.commit(true);
    }, ms).unref();
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopSignal.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.stopSignal.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private async deadLetter(failures: Failure[]): Promise<void> {
    const failedAt = new Date().toISOString();
    await this.options.producer.send(
      this.dlqTopic,
      failures.map(({ record, reason, detail, attempts }) => ({
        key: record.key,
        value: record.value,
        headers: {
          ...record.headers,
          [DeadLetterHeaders.reason]: reason,
          [DeadLetterHeaders.detail]: detail.slice(0, 2_000),
          [DeadLetterHeaders.topic]: record.topic,
          [DeadLetterHeaders.partition]: String(record.partition),
          [DeadLetterHeaders.offset]: record.offset,
          [DeadLetterHeaders.group]: this.options.groupId,
          [DeadLetterHeaders.attempts]: String(attempts),
          [DeadLetterHeaders.failedAt]: failedAt,
        },
      })),
    );
    for (const failure of failures) {
      kafkaMetrics().deadLettered.add(1, { group: this.options.groupId, topic: failure.record.topic, reason: failure.reason });
      this.log('warn', `dead-lettered ${failure.record.topic}#${failure.record.partition}@${failure.record.offset}: ${failure.reason}: ${failure.detail}`);
    }
  }
}

export function toConsumedRecord(topic: string, partition: number, message: KafkaMessage): ConsumedRecord {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? String(value[value.length - 1]) : String(value);
  }
  return { topic, partition, offset: message.offset, key: message.key, value: message.value, headers, timestamp: message.timestamp };
}
