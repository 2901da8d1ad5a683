import { DeadLetterHeaders, DeadLetterReason, deadLetterTopic } from '@kairos/contracts';
import { Link, ObservableCallback, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { backoffDelay, DEFAULT_RETRY, RetryPolicy } from './backoff';
import { RecordDecoder } from './decoders';
import { kafkaMetrics } from './kafka-metrics';
import { BatchOutcome, ConsumedRecord, DecodedRecord } from './record';
import { RecordProducer } from './record-producer';
import { extractTraceContext } from './trace-headers';

export interface BatchContext {
  topic: string;
  partition: number;
  /** Keeps the group membership alive during long work; call between slow steps. */
  heartbeat(): Promise<void>;
}

export type BatchHandler<T> = (records: DecodedRecord<T>[], context: BatchContext) => Promise<BatchOutcome | void>;

export interface Subscription<T = unknown> {
  topic: string;
  decoder: RecordDecoder<T>;
  // Method syntax on purpose: a Subscription<RawEvent> is then usable where Subscription<unknown> is expected.
  handler(records: DecodedRecord<T>[], context: BatchContext): Promise<BatchOutcome | void>;
}

export interface BatchConsumerOptions {
  groupId: string;
  subscriptions: readonly Subscription<unknown>[];
  /** Where dead letters are produced; the consumer group's DLQ topic must exist (ensureTopics). */
  producer: RecordProducer;
  retry?: RetryPolicy;
  /** Partitions processed in parallel; records of one partition are always processed in order. */
  partitionsConsumedConcurrently?: number;
  /** Where a group without committed offsets starts: the beginning (replay) or only new records. */
  fromBeginning?: boolean;
  sessionTimeoutMs?: number;
  maxBytesPerPartition?: number;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

interface Failure {
  record: ConsumedRecord;
  reason: DeadLetterReason;
  detail: string;
  attempts: number;
}

const tracer = trace.getTracer('kairos.kafka');
const MAX_SPAN_LINKS = 64;

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
  private readonly subscriptions: Map<string, Subscription<unknown>>;
  private readonly lag = new Map<string, number>();
  private readonly dlqTopic: string;
  private readonly log: NonNullable<BatchConsumerOptions['log']>;
  private stopping = false;

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
      // A fetch returns as soon as records exist; this only bounds how long an idle fetch holds up a stop.
      maxWaitTimeInMs: 1_000,
      allowAutoTopicCreation: false,
    });
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.subscriptions = new Map(options.subscriptions.map((subscription) => [subscription.topic, subscription]));
    this.dlqTopic = deadLetterTopic(options.groupId).name;
    this.log = options.log ?? (() => undefined);
    kafkaMetrics().lag.addCallback(this.observeLag);
  }

  private readonly observeLag: ObservableCallback = (observer) => {
    for (const [key, value] of this.lag) {
      const [topic, partition] = key.split('#');
      observer.observe(value, { group: this.options.groupId, topic, partition });
    }
  };

  async start(): Promise<void> {
    await this.consumer.connect();
    for (const topic of this.subscriptions.keys()) {
      await this.consumer.subscribe({ topic, fromBeginning: this.options.fromBeginning ?? true });
    }
    await this.consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 3,
      eachBatch: (payload) => this.processBatch(payload),
    });
  }

  /** Finishes the batch in hand, commits its offsets and leaves the group. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer.disconnect();
    kafkaMetrics().lag.removeCallback(this.observeLag);
  }

  /** Consumer lag per "topic#partition" as of the last batch, for health and metrics. */
  currentLag(): ReadonlyMap<string, number> {
    return this.lag;
  }

  private async processBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload): Promise<void> {
    if (batch.messages.length === 0) return;
    const subscription = this.subscriptions.get(batch.topic);
    if (!subscription) throw new Error(`no subscription for ${batch.topic}`); // we subscribe from this map, so only a kafkajs bug gets here
    const started = Date.now();
    const records = batch.messages.map((message) => toConsumedRecord(batch.topic, batch.partition, message));
    const context: BatchContext = { topic: batch.topic, partition: batch.partition, heartbeat };

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
          failures.push(...(await this.handleWithRetries(subscription, decoded, context, () => isRunning() && !isStale())));
          if (failures.length > 0) await this.deadLetter(failures);
          kafkaMetrics().consumed.add(records.length, { group: this.options.groupId, topic: batch.topic });
          resolveOffset(batch.lastOffset());
          await commitOffsetsIfNecessary();
          this.lag.set(`${batch.topic}#${batch.partition}`, Math.max(0, Number(batch.highWatermark) - Number(batch.lastOffset()) - 1));
          await heartbeat();
        } catch (error) {
          span.recordException(error as Error);
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw error;
        } finally {
          kafkaMetrics().batchDuration.record(Date.now() - started, { group: this.options.groupId, topic: batch.topic });
          span.end();
        }
      },
    );
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

  private async attempt(
    subscription: Subscription<unknown>,
    records: DecodedRecord<unknown>[],
    context: BatchContext,
    stillOwned: () => boolean,
  ): Promise<{ ok: true; rejected: Failure[] } | { ok: false; error: string }> {
    let lastError = '';
    for (let attempt = 1; attempt <= this.retry.attempts; attempt++) {
      try {
        const outcome = await subscription.handler(records, context);
        const rejected = (outcome?.rejected ?? []).map((rejection) => ({ record: rejection.record, reason: 'rejected' as const, detail: rejection.detail, attempts: attempt }));
        return { ok: true, rejected };
      } catch (error) {
        lastError = error instanceof Error ? error.message : String(error);
      }
      // The partition may have moved to another instance, or we are shutting down: give the batch back uncommitted.
      if (this.stopping || !stillOwned()) throw new Error(`stopped while retrying: ${lastError}`);
      if (attempt < this.retry.attempts) {
        await new Promise((resolve) => setTimeout(resolve, backoffDelay(this.retry, attempt)));
        await context.heartbeat();
      }
    }
    return { ok: false, error: lastError };
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
