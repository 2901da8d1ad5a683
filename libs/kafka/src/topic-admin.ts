import { TopicSpec } from '@kairos/contracts';
import { Kafka } from 'kafkajs';

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
        waitForLeaders: true,
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
    // Leaders may still be moving in; metadata for every partition must be served before anyone produces.
    await admin.fetchTopicMetadata({ topics: missing.map((topic) => topic.name) });
    return missing.map((topic) => topic.name);
  } finally {
    await admin.disconnect();
  }
}

function isAlreadyExists(error: unknown): boolean {
  const errors = (error as { errors?: Array<{ type?: string }> }).errors;
  return Array.isArray(errors) && errors.length > 0 && errors.every((entry) => entry.type === 'TOPIC_ALREADY_EXISTS');
}
