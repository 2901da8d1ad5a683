import { TopicSpec } from '@kairos/contracts';
import { Admin, Kafka } from 'kafkajs';

export interface EnsureTopicsOptions {
  replicationFactor?: number;
  /** Overrides the catalogue's partition count (a single dev broker does not need 6). */
  partitions?: number;
}

/**
 * Creates the catalogue topics that do not exist yet, with their cleanup policy and retention. Existing topics are
 * left as they are: changing partitions re-shuffles keys and with them the ownership of profile state, which is an
 * operator's decision, not a start-up side effect.
 */
export async function ensureTopics(kafka: Kafka, topics: readonly TopicSpec[], options: EnsureTopicsOptions = {}): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((topic, index) => !existing.has(topic.name) && topics.findIndex((other) => other.name === topic.name) === index);
    if (missing.length === 0) return [];
    try {
      await admin.createTopics({
        waitForLeaders: false,
        topics: missing.map((topic) => ({
          topic: topic.name,
          numPartitions: options.partitions ?? topic.partitions,
          replicationFactor: options.replicationFactor ?? 1,
          configEntries: [
            { name: 'cleanup.policy', value: topic.cleanupPolicy },
            { name: 'retention.ms', value: String(topic.retentionMs) },
          ],
        })),
      });
    } catch (error) {
      // Another instance created some of them at the same moment; that is the state we want.
      if (!isAlreadyExists(error)) throw error;
    }
    await untilLeadersElected(admin, missing.map((topic) => topic.name));
    return missing.map((topic) => topic.name);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Right after creation a broker can still answer "does not host this topic-partition" for a while; producing or
 * subscribing then fails. Polls metadata until every partition of every topic has a leader (30 s at most).
 */
async function untilLeadersElected(admin: Admin, topics: string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  let problem = 'no metadata yet';
  while (Date.now() < deadline) {
    try {
      const metadata = await admin.fetchTopicMetadata({ topics });
      const leaderless = metadata.topics.filter((topic) => topic.partitions.length === 0 || topic.partitions.some((partition) => partition.leader < 0));
      if (leaderless.length === 0) return;
      problem = `no leader yet for ${leaderless.map((topic) => topic.name).join(', ')}`;
    } catch (error) {
      problem = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`topics not ready after 30 s: ${problem}`);
}

function isAlreadyExists(error: unknown): boolean {
  const errors = (error as { errors?: Array<{ type?: string }> }).errors;
  return Array.isArray(errors) && errors.length > 0 && errors.every((entry) => entry.type === 'TOPIC_ALREADY_EXISTS');
}

/** How many partitions a topic has (0 when it does not exist). */
export async function partitionCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => ({ topics: [] }));
    return metadata.topics[0]?.partitions.length ?? 0;
  } finally {
    await admin.disconnect();
  }
}
