import { Context } from '@opentelemetry/api';
import { CompressionTypes, Kafka, Message, Producer } from 'kafkajs';
import { kafkaMetrics } from './kafka-metrics';
import { OutgoingRecord } from './record';
import { injectTraceHeaders } from './trace-headers';

export interface ProducerOptions {
  /** How long publish() waits to gather records into one request. */
  lingerMs?: number;
  /** Records per produce request at most. */
  maxBatchRecords?: number;
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
  private readonly producer: Producer;
  private readonly lingerMs: number;
  private readonly maxBatchRecords: number;
  private readonly maxQueuedBytes: number;
  private readonly compression: CompressionTypes;
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private connected = false;

  constructor(kafka: Kafka, options: ProducerOptions = {}) {
    // Unbounded retries keep idempotence intact (a retry after a give-up could reorder); callers are protected by
    // maxQueuedBytes instead, which turns a broker outage into back-pressure rather than memory growth.
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 5_000 },
    });
    this.lingerMs = options.lingerMs ?? 2;
    this.maxBatchRecords = options.maxBatchRecords ?? 2_000;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 64 * 1024 * 1024;
    this.compression = options.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
  }

  /** Sends records in one request and resolves when the broker acknowledged all of them. */
  async send(topic: string, records: OutgoingRecord[], parent?: Context): Promise<void> {
    if (records.length === 0) return;
    await this.producer.send({
      topic,
      acks: -1,
      compression: this.compression,
      messages: records.map((record) => toMessage(record, parent)),
    });
    kafkaMetrics().produced.add(records.length, { topic });
  }

  /** Queues one record for the next batched request; resolves once the broker acknowledged it. */
  publish(topic: string, record: OutgoingRecord, parent?: Context): Promise<void> {
    if (!this.connected) return Promise.reject(new Error('producer is not connected'));
    const message = toMessage(record, parent);
    const bytes = byteLength(message.value) + byteLength(message.key);
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
        const batch = this.queue.splice(0, this.maxBatchRecords);
        const byTopic = new Map<string, Message[]>();
        for (const pending of batch) {
          const messages = byTopic.get(pending.topic) ?? [];
          messages.push(pending.message);
          byTopic.set(pending.topic, messages);
        }
        try {
          await this.producer.sendBatch({
            acks: -1,
            compression: this.compression,
            topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
          });
          for (const [topic, messages] of byTopic) kafkaMetrics().produced.add(messages.length, { topic });
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
}

function toMessage(record: OutgoingRecord, parent?: Context): Message {
  return {
    key: record.key ?? null,
    value: record.value,
    headers: injectTraceHeaders({ ...(record.headers ?? {}) }, parent),
    timestamp: record.timestamp,
  };
}

function byteLength(value: Message['value'] | Message['key']): number {
  if (value == null) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value) : (value as Buffer).length;
}
