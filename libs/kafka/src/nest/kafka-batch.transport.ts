import { CustomTransportStrategy, MessageHandler, Server } from '@nestjs/microservices';
import { Kafka } from 'kafkajs';
import { isObservable, lastValueFrom } from 'rxjs';
import { BatchConsumer, BatchConsumerOptions, BatchContext } from '../batch-consumer';
import { RecordDecoder } from '../decoders';
import { BatchOutcome, DecodedRecord } from '../record';

/** What a service says it consumes; the handler for each topic is the @EventPattern(topic) method. */
export interface TopicSubscription {
  topic: string;
  decoder: RecordDecoder<unknown>;
  /** Where a group without committed offsets starts on this topic (default: the service's `fromBeginning`). */
  fromBeginning?: boolean;
}

export interface KafkaBatchTransportOptions extends Omit<BatchConsumerOptions, 'subscriptions'> {
  kafka: Kafka;
  subscriptions: readonly TopicSubscription[];
}

/**
 * A Nest transport over BatchConsumer: handlers stay declarative (@EventPattern(topic) receiving a batch of decoded
 * records and a BatchContext via @Ctx()), while consumption gets batches, per-partition order, retries and a DLQ,
 * which Nest's own Kafka transport (one message at a time, no DLQ) lacks.
 *
 * At start-up it refuses to run unless every subscribed topic has exactly one handler and every handler's topic is
 * subscribed: a missing or doubled handler would otherwise silently drop or double-process records.
 */
export class KafkaBatchTransport extends Server implements CustomTransportStrategy {
  private consumer: BatchConsumer | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: KafkaBatchTransportOptions) {
    super();
  }

  listen(callback: (error?: unknown) => void): void {
    const problems = this.wiringProblems();
    if (problems.length > 0) {
      callback(new Error(`Kafka handlers of group ${this.options.groupId} are miswired: ${problems.join('; ')}`));
      return;
    }
    if (this.options.subscriptions.length === 0) {
      callback();
      return;
    }
    const { kafka, subscriptions, ...consumerOptions } = this.options;
    this.consumer = new BatchConsumer(kafka, {
      ...consumerOptions,
      subscriptions: subscriptions.map(({ topic, decoder, fromBeginning }) => {
        const handler = this.messageHandlers.get(topic) as MessageHandler;
        return { topic, decoder, fromBeginning, handler: (records: DecodedRecord<unknown>[], context: BatchContext) => invoke(handler, records, context) };
      }),
    });
    this.consumer.start().then(() => callback(), callback);
  }

  /** Stops the consumer once, however often it is asked (the runtime, then the Nest app closing its transports). */
  close(): Promise<void> {
    this.closing ??= this.consumer?.stop() ?? Promise.resolve();
    return this.closing;
  }

  on(): void {
    // kafkajs instrumentation events are surfaced as metrics by BatchConsumer; nothing to register here.
  }

  unwrap<T>(): T {
    return this.consumer as T;
  }

  get batchConsumer(): BatchConsumer | undefined {
    return this.consumer;
  }

  private wiringProblems(): string[] {
    const subscribed = new Set(this.options.subscriptions.map((subscription) => subscription.topic));
    const problems: string[] = [];
    for (const topic of subscribed) {
      const handler = this.messageHandlers.get(topic);
      if (!handler) problems.push(`${topic} is subscribed but has no handler`);
      else if (handler.next) problems.push(`${topic} has more than one handler`);
    }
    for (const pattern of this.messageHandlers.keys()) {
      if (!subscribed.has(pattern)) problems.push(`a handler listens to ${pattern}, which the service does not subscribe to`);
    }
    return problems;
  }
}

async function invoke(handler: MessageHandler, records: DecodedRecord<unknown>[], context: BatchContext): Promise<BatchOutcome | void> {
  const result: unknown = await handler(records, context);
  if (isObservable(result)) return (await lastValueFrom(result, { defaultValue: undefined })) as BatchOutcome | void;
  return result as BatchOutcome | void;
}
