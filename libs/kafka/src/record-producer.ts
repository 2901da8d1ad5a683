import { performance } from 'node:perf_hooks';
import { Context } from '@opentelemetry/api';
import { CompressionTypes, Kafka, Message, Producer } from 'kafkajs';
import { DependencyUnavailableError } from './failure';
import { kafkaMetrics } from './kafka-metrics';
import { keyPartitioner } from './key-partition';
import { OutgoingRecord } from './record';
import { injectTraceHeaders } from './trace-headers';

export interface ProducerOptions {
  /** How long publish() waits to gather records into one request. */
  lingerMs?: number;
  /** Records per produce request at most. */
  maxBatchRecords?: number;
  /**
   * Bytes per produce request at most. The broker refuses a partition's batch over message.max.bytes (1 MiB by
   * default), and a refused request leaves kafkajs' idempotent sequence numbers out of step; staying below avoids both.
   */
  maxRequestBytes?: number;
  /** publish() refuses new records (ProducerBackpressureError) while this many bytes wait for the broker. */
  maxQueuedBytes?: number;
  compression?: 'none' | 'gzip';
}

/** Raised instead of queueing without bound; HTTP callers turn it into 429 + Retry-After. */
export class ProducerBackpressureError extends Error {
  override readonly name = 'ProducerBackpressureError';
}

interface Pending {
  topic: string;
  message: Message;
  bytes: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * The one producer of a process: idempotent (acks from all in-sync replicas, broker-side de-duplication of retries),
 * with publish() gathering concurrent records into batched produce requests. kafkajs has no linger of its own, and its
 * idempotent mode needs one request in flight, so batching is what gives throughput: while one request is in flight,
 * the next batch fills up.
 */
export class RecordProducer {
  private producer: Producer;
  private readonly kafka: Kafka;
  private readonly maxRequestBytes: number;
  private readonly lingerMs: number;
  private readonly maxBatchRecords: number;
  private readonly maxQueuedBytes: number;
  private readonly compression: CompressionTypes;
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private connected = false;
  /** Requests go out one at a time: kafkajs' idempotent mode tracks sequence numbers for one request in flight. */
  private lastRequest: Promise<unknown> = Promise.resolve();

  constructor(kafka: Kafka, options: ProducerOptions = {}) {
    this.kafka = kafka;
    this.producer = RecordProducer.create(kafka);
    this.maxRequestBytes = options.maxRequestBytes ?? 900 * 1024;
    this.lingerMs = options.lingerMs ?? 2;
    this.maxBatchRecords = options.maxBatchRecords ?? 2_000;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 64 * 1024 * 1024;
    this.compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  }

  // Unbounded retries keep idempotence intact (a retry after a give-up could reorder); callers are protected by
  // maxQueuedBytes instead, which turns a broker outage into back-pressure rather than memory growth.
  private static create(kafka: Kafka): Producer {
    return kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: keyPartitioner,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 5_000 },
    });
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
  }

  /**
   * Sends records (in as few requests as the size cap allows, in order) and resolves when the broker acknowledged all
   * of them. `progress.acknowledged` counts the leading records of the requests acknowledged so far, for a caller that
   * must know, when a later request fails, which records are out already.
   */
  async send(topic: string, records: OutgoingRecord[], options: { parent?: Context; progress?: { acknowledged: number } } = {}): Promise<void> {
    const { parent, progress } = options;
    const messages = records.map((record) => toMessage(record, parent));
    while (messages.length > 0) {
      const chunk = messages.splice(0, countThatFits(messages, messageBytes, this.maxRequestBytes, this.maxBatchRecords));
      await this.request([{ topic, messages: chunk }]);
      if (progress) progress.acknowledged += chunk.length;
    }
  }

  /** Queues one record for the next batched request; resolves once the broker acknowledged it. */
  publish(topic: string, record: OutgoingRecord, parent?: Context): Promise<void> {
    if (!this.connected) return Promise.reject(new DependencyUnavailableError('broker', 'the producer is not connected'));
    const message = toMessage(record, parent);
    const bytes = messageBytes(message);
    if (this.queuedBytes + bytes > this.maxQueuedBytes) {
      return Promise.reject(new ProducerBackpressureError(`${this.queuedBytes} bytes already wait for the broker`));
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ topic, message, bytes, resolve, reject });
      this.queuedBytes += bytes;
      this.schedule();
    });
  }

  get pendingBytes(): number {
    return this.queuedBytes;
  }

  /** Resolves when everything published so far has been acknowledged or failed. */
  async flush(): Promise<void> {
    while (this.queue.length > 0 || this.inFlight) {
      clearTimeout(this.timer);
      this.timer = undefined;
      if (!this.inFlight) this.inFlight = this.drain();
      await this.inFlight;
    }
  }

  async disconnect(): Promise<void> {
    await this.flush();
    this.connected = false;
    await this.producer.disconnect();
  }

  private schedule(): void {
    if (this.inFlight) return; // drain() picks the queue up when the request in flight returns
    if (this.queue.length >= this.maxBatchRecords) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.inFlight = this.drain();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (!this.inFlight) this.inFlight = this.drain();
      }, this.lingerMs);
    }
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.takeBatch();
        const byTopic = new Map<string, Message[]>();
        for (const pending of batch) {
          const messages = byTopic.get(pending.topic) ?? [];
          messages.push(pending.message);
          byTopic.set(pending.topic, messages);
        }
        try {
          await this.request([...byTopic].map(([topic, messages]) => ({ topic, messages })));
          for (const pending of batch) pending.resolve();
        } catch (error) {
          for (const pending of batch) pending.reject(error as Error);
        } finally {
          for (const pending of batch) this.queuedBytes -= pending.bytes;
        }
      }
    } finally {
      this.inFlight = undefined;
    }
  }

  /** The next queued records that fit one request. */
  private takeBatch(): Pending[] {
    return this.queue.splice(0, countThatFits(this.queue, (pending) => pending.bytes, this.maxRequestBytes, this.maxBatchRecords));
  }

  private request(topicMessages: Array<{ topic: string; messages: Message[] }>): Promise<void> {
    const next = this.lastRequest.then(() => this.sendNow(topicMessages));
    this.lastRequest = next.catch(() => undefined);
    return next;
  }

  private async sendNow(topicMessages: Array<{ topic: string; messages: Message[] }>): Promise<void> {
    const started = performance.now();
    try {
      await this.producer.sendBatch({ acks: -1, compression: this.compression, topicMessages });
      kafkaMetrics().produceDuration.record((performance.now() - started) / 1000);
    } catch (error) {
      // Seen in the ingestion benchmark before requests were capped by size: after the broker refused an oversized
      // batch, every later request of that kafkajs producer failed with OUT_OF_ORDER_SEQUENCE_NUMBER. A new producer
      // has a new id and fresh sequence numbers, so one refused request cannot wedge the process.
      await this.replaceProducer();
      throw error;
    }
    for (const { topic, messages } of topicMessages) kafkaMetrics().produced.add(messages.length, { topic });
  }

  private async replaceProducer(): Promise<void> {
    const broken = this.producer;
    this.producer = RecordProducer.create(this.kafka);
    await broken.disconnect().catch(() => undefined);
    if (this.connected) await this.producer.connect();
  }
}

/** Per-record framing in a record batch, roughly: length, attributes, deltas, key/value lengths, header count. */
const RECORD_OVERHEAD = 32;

/** How many leading items fit one request; at least one, so a record larger than the cap goes alone (and may fail). */
function countThatFits<T>(items: readonly T[], sizeOf: (item: T) => number, maxBytes: number, maxRecords: number): number {
  let bytes = 0;
  let count = 0;
  while (count < items.length && count < maxRecords) {
    const next = sizeOf(items[count]);
    if (count > 0 && bytes + next > maxBytes) break;
    bytes += next;
    count++;
  }
  return count;
}

/**
 * A string value is encoded to UTF-8 once, here: kafkajs would measure it and then encode it, and the request's size
 * cap measures it too (three passes over a ~2 KB profile state).
 */
function toMessage(record: OutgoingRecord, parent?: Context): Message {
  return {
    key: record.key ?? null,
    value: typeof record.value === 'string' ? Buffer.from(record.value) : record.value,
    headers: injectTraceHeaders({ ...(record.headers ?? {}) }, parent),
    timestamp: record.timestamp,
    partition: record.partition,
  };
}

/** What a record adds to a request, roughly: key, value, headers and per-record framing. */
function messageBytes(message: Message): number {
  let headers = 0;
  for (const [name, value] of Object.entries(message.headers ?? {})) headers += name.length + byteLength(value as string | Buffer);
  return byteLength(message.value) + byteLength(message.key) + headers + RECORD_OVERHEAD;
}

function byteLength(value: Message['value'] | Message['key'] | undefined): number {
  if (value == null) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value) : (value as Buffer).length;
}
