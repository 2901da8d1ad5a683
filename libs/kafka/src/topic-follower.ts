import { randomUUID } from 'node:crypto';
import { Consumer, Kafka } from 'kafkajs';
import { toConsumedRecord } from './batch-consumer';
import { describeError } from './failure';
import { ConsumedRecord } from './record';

export interface TopicFollowerOptions {
  topic: string;
  /** Called with each fetched batch, in order; a rejection is logged and the batch is not retried (see below). */
  onRecords(records: ConsumedRecord[], context: { caughtUp: boolean }): Promise<void> | void;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** How long an idle fetch waits on the broker: the upper bound on how late a new record is seen. */
  maxWaitMs?: number;
}

export interface TopicFollower {
  /** Resolves once every record that existed at start() has been handed over. */
  caughtUp: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Every instance reads the whole topic, from the beginning, and keeps reading: how each process holds a small
 * replicated table (the published definitions) instead of sharing partitions in a group. A throwaway consumer group
 * per instance, removed on stop, commits nothing. The handler decides what a bad record means; a failing handler is
 * logged and the follower moves on, because a table that stops following is worse than one refusing one record.
 */
export async function followTopic(kafka: Kafka, options: TopicFollowerOptions): Promise<TopicFollower> {
  const log = options.log ?? (() => undefined);
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `kairos-follow-${randomUUID()}`;
  let consumer: Consumer | undefined;
  try {
    const offsets = await admin.fetchTopicOffsets(options.topic);
    const ends = new Map(offsets.map((partition) => [partition.partition, BigInt(partition.high)]));
    const pending = new Set(offsets.filter((partition) => BigInt(partition.high) > BigInt(partition.low)).map((partition) => partition.partition));
    let markCaughtUp: () => void = () => undefined;
    const caughtUp = new Promise<void>((resolve) => (markCaughtUp = resolve));
    if (pending.size === 0) markCaughtUp();

    consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: options.maxWaitMs ?? 200, sessionTimeout: 10_000, heartbeatInterval: 3_000 });
    await consumer.connect();
    await consumer.subscribe({ topic: options.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const records = batch.messages.map((message) => toConsumedRecord(batch.topic, batch.partition, message));
        // lastOffset() also covers the tail of a compacted partition, where offsets have gaps.
        if (pending.has(batch.partition) && BigInt(batch.lastOffset()) + 1n >= (ends.get(batch.partition) ?? 0n)) pending.delete(batch.partition);
        const nowCaughtUp = pending.size === 0;
        if (records.length > 0) {
          try {
            await options.onRecords(records, { caughtUp: nowCaughtUp });
          } catch (error) {
            log('error', `following ${options.topic}: a batch at offset ${batch.firstOffset()} failed: ${describeError(error)}`);
          }
        }
        if (nowCaughtUp) markCaughtUp();
      },
    });
    const running = consumer;
    return {
      caughtUp,
      async stop() {
        await running.disconnect().catch(() => undefined);
        await admin.deleteGroups([groupId]).catch(() => undefined);
        await admin.disconnect().catch(() => undefined);
      },
    };
  } catch (error) {
    await consumer?.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    throw error;
  }
}
