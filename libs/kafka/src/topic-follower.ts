import { randomUUID } from 'node:crypto';
import { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { toConsumedRecord } from './batch-consumer';
import { CrashRestart } from './crash-restart';
import { describeError } from './failure';
import { ConsumedRecord } from './record';
import { topicEnds } from './topic-snapshot';

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
  /** Why the topic is not being followed (its consumer crashed or stalled and is being started again); undefined while it is. */
  notRunning(): string | undefined;
  /** Why this process can no longer follow the topic (a stalled consumer that did not stop): for the liveness probe. */
  wedged(): string | undefined;
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
  let crashRestart: CrashRestart | undefined;
  try {
    const { pending, reached } = await topicEnds(admin, options.topic);
    let markCaughtUp: () => void = () => undefined;
    const caughtUp = new Promise<void>((resolve) => (markCaughtUp = resolve));
    if (pending.size === 0) markCaughtUp();

    consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: options.maxWaitMs ?? 200, sessionTimeout: 10_000, heartbeatInterval: 3_000 });
    const following = consumer;
    // The next offset to hand over per partition: a consumer started again after a crash reads from the beginning
    // (nothing is committed), and what was handed over already is skipped.
    const next = new Map<number, bigint>();
    const handle = async ({ batch }: EachBatchPayload) => {
      const from = next.get(batch.partition) ?? 0n;
      const records = batch.messages.filter((message) => BigInt(message.offset) >= from).map((message) => toConsumedRecord(batch.topic, batch.partition, message));
      const nowCaughtUp = reached(batch.partition, batch.lastOffset());
      if (records.length > 0) {
        try {
          await options.onRecords(records, { caughtUp: nowCaughtUp });
        } catch (error) {
          log('error', `following ${options.topic}: a batch at offset ${batch.firstOffset()} failed: ${describeError(error)}`);
        }
        next.set(batch.partition, BigInt(records[records.length - 1].offset) + 1n);
      }
      if (nowCaughtUp) markCaughtUp();
    };
    const start = async () => {
      await following.connect();
      await following.subscribe({ topic: options.topic, fromBeginning: true });
      // Through the restarter: a batch in hand is no stall of the fetch loop.
      await following.run({ autoCommit: false, eachBatch: (payload) => restarts.holding(() => handle(payload)) });
    };
    const restarts = new CrashRestart(following, start, (level, message) => log(level, `following ${options.topic}: ${message}`));
    crashRestart = restarts;
    await start();
    return {
      caughtUp,
      notRunning: () => restarts.notRunning(),
      wedged: () => restarts.wedged(),
      async stop() {
        await restarts.stop();
        await following.disconnect().catch(() => undefined);
        await admin.deleteGroups([groupId]).catch(() => undefined);
        await admin.disconnect().catch(() => undefined);
      },
    };
  } catch (error) {
    await crashRestart?.stop();
    await consumer?.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    throw error;
  }
}
