import { TopicSpec } from '@kairos/contracts';
import { Admin, ConfigResourceTypes, Kafka } from 'kafkajs';

/** How topics are created, beyond what the catalogue says about each one. */
export interface TopicSettings {
  /** Overrides the catalogue's partition count (a single dev broker does not need 6). */
  partitions?: number;
  /** Copies of each partition; the broker's default.replication.factor when absent. */
  replicationFactor?: number;
  /** The topic's `min.insync.replicas`: an acks=all write succeeds once this many copies have it. Broker default when absent. */
  minInsyncReplicas?: number;
}

/**
 * Creates the topics that do not exist yet, with their cleanup policy, retention, replication factor and
 * min.insync.replicas. Existing topics are left as they are: changing partitions re-shuffles keys and with them the
 * ownership of profile state, which is an operator's decision, not a start-up side effect (`npm run topics` shows
 * the differences).
 */
export async function ensureTopics(kafka: Kafka, topics: readonly TopicSpec[], settings: TopicSettings = {}): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((topic, index) => !existing.has(topic.name) && topics.findIndex((other) => other.name === topic.name) === index);
    if (missing.length === 0) return [];
    await checkReplication(admin, settings.replicationFactor);
    try {
      await admin.createTopics({
        waitForLeaders: false,
        topics: missing.map((topic) => ({
          topic: topic.name,
          numPartitions: settings.partitions ?? topic.partitions,
          replicationFactor: settings.replicationFactor ?? -1,
          configEntries: [
            { name: 'cleanup.policy', value: topic.cleanupPolicy },
            { name: 'retention.ms', value: String(topic.retentionMs) },
            ...(settings.minInsyncReplicas === undefined ? [] : [{ name: 'min.insync.replicas', value: String(settings.minInsyncReplicas) }]),
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
 * The broker refuses a replication factor above its broker count with INVALID_REPLICATION_FACTOR, which does not say
 * how many brokers there are; this says it, and what to change.
 */
async function checkReplication(admin: Admin, replicationFactor: number | undefined): Promise<void> {
  if (replicationFactor === undefined) return;
  const { brokers } = await admin.describeCluster();
  if (replicationFactor > brokers.length) {
    throw new Error(
      `replication factor ${replicationFactor} (KAFKA_REPLICATION_FACTOR) is larger than the cluster's ${brokers.length} ` +
        `broker${brokers.length === 1 ? '' : 's'}: each copy of a partition needs a broker of its own`,
    );
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
      if (leaderless.length === 0) {
        // A leader in the metadata may not serve yet (NOT_LEADER_OR_FOLLOWER for a moment after creation): ask each
        // for its offsets, as the first reader will.
        for (const topic of topics) await admin.fetchTopicOffsets(topic);
        return;
      }
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

export interface WaitForTopicsOptions {
  timeoutMs: number;
  /** Called at once and then every few seconds while topics are missing. */
  onWaiting?: (missing: string[], waitedMs: number) => void;
  reportEveryMs?: number;
  /** How a missing topic is named in the error, e.g. with who creates it. */
  describe?: (topic: string) => string;
}

/**
 * Waits until topics someone else creates exist (and have leaders), so a service never subscribes to or produces
 * into a topic that is not there — with auto-creation off that fails, and with it on the topic would get the broker's
 * defaults instead of the catalogue's settings.
 */
export async function waitForTopics(kafka: Kafka, topics: readonly string[], options: WaitForTopicsOptions): Promise<void> {
  if (topics.length === 0) return;
  const describe = options.describe ?? ((topic: string) => topic);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const begun = Date.now();
    let nextReport = begun;
    for (;;) {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((topic) => !existing.has(topic));
      if (missing.length === 0) break;
      const waited = Date.now() - begun;
      if (waited >= options.timeoutMs) {
        throw new Error(`gave up after ${Math.round(waited / 1000)} s waiting for ${missing.length === 1 ? 'topic' : 'topics'} ${missing.map(describe).join(', ')}`);
      }
      if (Date.now() >= nextReport) {
        options.onWaiting?.(missing, waited);
        nextReport = Date.now() + (options.reportEveryMs ?? 5_000);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(500, options.timeoutMs - waited)));
    }
    await untilLeadersElected(admin, [...topics]);
  } finally {
    await admin.disconnect();
  }
}

export interface CoPartitionGroup {
  group: string;
  topics: readonly string[];
}

/** Runs `work` with a connected admin client, disconnected afterwards whatever happens. */
export async function withAdmin<T>(kafka: Kafka, work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Why topics of one co-partition group with different partition counts may not run together; undefined if none. */
export function coPartitioningProblem(groups: readonly CoPartitionGroup[], counts: ReadonlyMap<string, number>): string | undefined {
  const problems = groups
    .filter((group) => new Set(group.topics.map((topic) => counts.get(topic))).size > 1)
    .map((group) => `group "${group.group}": ${group.topics.map((topic) => `${topic} has ${counts.get(topic) ?? 0}`).join(', ')}`);
  if (problems.length === 0) return undefined;
  return (
    `co-partitioned topics have different partition counts, so one profile's records would land on partitions ` +
    `owned by different instances: ${problems.join('; ')}. Give every topic of a group the same count.`
  );
}

/**
 * Refuses topics of one co-partition group whose partition counts differ: a profile's records would then land on
 * partitions owned by different instances, and two instances would write the same profile's state. Every topic
 * must exist.
 */
export async function checkCoPartitioning(kafka: Kafka, groups: readonly CoPartitionGroup[]): Promise<void> {
  const names = [...new Set(groups.flatMap((group) => group.topics))];
  if (names.length === 0) return;
  const metadata = await withAdmin(kafka, (admin) => admin.fetchTopicMetadata({ topics: names }));
  const problem = coPartitioningProblem(groups, new Map(metadata.topics.map((topic) => [topic.name, topic.partitions.length])));
  if (problem) throw new Error(problem);
}

/** How many partitions a topic has (0 when it does not exist). */
export async function partitionCount(kafka: Kafka, topic: string): Promise<number> {
  const metadata = await withAdmin(kafka, (admin) => admin.fetchTopicMetadata({ topics: [topic] }).catch(() => ({ topics: [] })));
  return metadata.topics[0]?.partitions.length ?? 0;
}

/** A topic as the cluster has it (undefined fields: the broker did not say). */
export interface TopicDescription {
  name: string;
  partitions: number;
  /** The smallest number of replicas of any partition. */
  replicationFactor: number;
  minInsyncReplicas?: number;
  cleanupPolicy?: string;
  retentionMs?: number;
}

/** Describes the topics that exist among `topics`; missing ones are left out. */
export async function describeTopics(kafka: Kafka, topics: readonly string[]): Promise<TopicDescription[]> {
  return withAdmin(kafka, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const names = topics.filter((topic) => existing.has(topic));
    if (names.length === 0) return [];
    const metadata = await admin.fetchTopicMetadata({ topics: names });
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: names.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['min.insync.replicas', 'cleanup.policy', 'retention.ms'] })),
    });
    return metadata.topics.map((topic) => {
      const entries = new Map(configs.resources.find((resource) => resource.resourceName === topic.name)?.configEntries.map((entry) => [entry.configName, entry.configValue]));
      const number = (name: string) => (entries.has(name) ? Number(entries.get(name)) : undefined);
      return {
        name: topic.name,
        partitions: topic.partitions.length,
        replicationFactor: Math.min(...topic.partitions.map((partition) => partition.replicas.length)),
        minInsyncReplicas: number('min.insync.replicas'),
        cleanupPolicy: entries.get('cleanup.policy'),
        retentionMs: number('retention.ms'),
      };
    });
  });
}

/** Where an existing topic differs from its spec and the settings it would be created with (empty: it matches). */
export function topicDifferences(spec: TopicSpec, actual: TopicDescription, settings: TopicSettings = {}): string[] {
  const wanted = {
    partitions: settings.partitions ?? spec.partitions,
    replicationFactor: settings.replicationFactor,
    minInsyncReplicas: settings.minInsyncReplicas,
    cleanupPolicy: spec.cleanupPolicy,
    retentionMs: spec.retentionMs,
  };
  const labels = { partitions: 'partitions', replicationFactor: 'replication factor', minInsyncReplicas: 'min.insync.replicas', cleanupPolicy: 'cleanup.policy', retentionMs: 'retention.ms' };
  return (Object.keys(wanted) as Array<keyof typeof wanted>)
    .filter((field) => wanted[field] !== undefined && actual[field] !== undefined && wanted[field] !== actual[field])
    .map((field) => `${labels[field]} is ${actual[field]}, wanted ${wanted[field]}`);
}
