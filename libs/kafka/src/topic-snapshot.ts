import { randomUUID } from 'node:crypto';
import { Admin, Kafka } from 'kafkajs';
import { ConsumedRecord } from './record';
import { toConsumedRecord } from './batch-consumer';
import { withAdmin } from './topic-admin';

/** Where a topic ends now, and which partitions a reader from the beginning has still to get through. */
export interface TopicEnds {
  ends: Map<number, bigint>;
  /** Partitions with records before their end that no batch has reached yet. */
  pending: Set<number>;
  /** Notes a batch of a partition; true once every partition has reached its end. */
  reached(partition: number, lastOffset: string): boolean;
}

export async function topicEnds(admin: Admin, topic: string): Promise<TopicEnds> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const ends = new Map(offsets.map((partition) => [partition.partition, BigInt(partition.high)]));
  const pending = new Set(offsets.filter((partition) => BigInt(partition.high) > BigInt(partition.low)).map((partition) => partition.partition));
  return {
    ends,
    pending,
    reached(partition, lastOffset) {
      // lastOffset() also covers the tail of a compacted partition, where offsets have gaps.
      if (BigInt(lastOffset) + 1n >= (ends.get(partition) ?? 0n)) pending.delete(partition);
      return pending.size === 0;
    },
  };
}

/**
 * Reads a topic from the beginning up to its end as of the call, and hands over every record in order per
 * partition: how a service rebuilds a small table from a compacted topic at start-up (the suppression list).
 * It uses a throwaway consumer group, removed afterwards, and commits nothing.
 */
export async function readTopicToEnd(kafka: Kafka, topic: string, onRecords: (records: ConsumedRecord[]) => Promise<void> | void, timeoutMs = 60_000): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `kairos-snapshot-${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  try {
    const { ends, pending, reached } = await topicEnds(admin, topic);
    if (pending.size === 0) return 0;
    let read = 0;
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topic} to its end took over ${timeoutMs} ms`)), timeoutMs);
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const end = ends.get(batch.partition) ?? 0n;
            const records = batch.messages.filter((message) => BigInt(message.offset) < end).map((message) => toConsumedRecord(batch.topic, batch.partition, message));
            if (records.length > 0) await onRecords(records);
            read += records.length;
            if (reached(batch.partition, batch.lastOffset())) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    await done;
    return read;
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

/** The offsets a consumer group committed on a topic, by partition; partitions it never committed are absent. */
export async function committedOffsets(kafka: Kafka, groupId: string, topic: string): Promise<Map<number, bigint>> {
  const [entry] = await withAdmin(kafka, (admin) => admin.fetchOffsets({ groupId, topics: [topic] }));
  return new Map((entry?.partitions ?? []).filter((partition) => BigInt(partition.offset) >= 0n).map((partition) => [partition.partition, BigInt(partition.offset)]));
}

/** The end (high watermark) of every partition of a topic: the offset the next record will get. */
export async function endOffsets(kafka: Kafka, topic: string): Promise<Map<number, bigint>> {
  const offsets = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
  return new Map(offsets.map((partition) => [partition.partition, BigInt(partition.high)]));
}
