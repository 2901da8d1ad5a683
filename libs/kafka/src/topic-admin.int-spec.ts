import { TopicSpec } from '@kairos/contracts';
import { connectKafka } from './kafka-connection';
import { brokersFromHarness, uniqueTestName } from './test-support';
import { checkCoPartitioning, describeTopics, ensureTopics, waitForTopics } from './topic-admin';

const spec = (name: string, partitions = 1): TopicSpec => ({ name, key: 'k', value: 'v', partitions, cleanupPolicy: 'compact', retentionMs: -1, description: 'test' });

describe('topic administration against the real broker', () => {
  const kafka = connectKafka({ brokers: brokersFromHarness(), clientId: 'topic-admin-int-spec', logLevel: 'nothing' });

  it('creates a topic with its replication factor, min.insync.replicas, cleanup policy and retention', async () => {
    const topic = uniqueTestName('settings');
    expect(await ensureTopics(kafka, [spec(topic, 3)], { replicationFactor: 1, minInsyncReplicas: 1 })).toEqual([topic]);
    expect(await describeTopics(kafka, [topic, uniqueTestName('absent')])).toEqual([
      { name: topic, partitions: 3, replicationFactor: 1, minInsyncReplicas: 1, cleanupPolicy: 'compact', retentionMs: -1 },
    ]);
  });

  it('refuses a replication factor larger than the cluster, saying how many brokers there are', async () => {
    const topic = uniqueTestName('too-many-copies');
    await expect(ensureTopics(kafka, [spec(topic)], { replicationFactor: 3, minInsyncReplicas: 2 })).rejects.toThrow(
      "replication factor 3 (KAFKA_REPLICATION_FACTOR) is larger than the cluster's 1 broker: each copy of a partition needs a broker of its own",
    );
    expect(await describeTopics(kafka, [topic])).toEqual([]);
  });

  it('refuses co-partitioned topics whose partition counts differ, naming each topic and its count', async () => {
    const [a, b, c] = [uniqueTestName('copart-a'), uniqueTestName('copart-b'), uniqueTestName('copart-c')];
    await ensureTopics(kafka, [spec(a, 2), spec(b, 2), spec(c, 3)]);
    await expect(checkCoPartitioning(kafka, [{ group: 'even', topics: [a, b] }])).resolves.toBeUndefined();
    await expect(checkCoPartitioning(kafka, [{ group: 'profile', topics: [a, b, c] }])).rejects.toThrow(
      `co-partitioned topics have different partition counts, so one profile's records would land on partitions owned by ` +
        `different instances: group "profile": ${a} has 2, ${b} has 2, ${c} has 3. Give every topic of a group the same count.`,
    );
  });

  it('waits for a topic someone else creates, reporting what it waits for', async () => {
    const topic = uniqueTestName('later');
    const reports: string[][] = [];
    let created: Promise<string[]> | undefined;
    await waitForTopics(kafka, [topic], {
      timeoutMs: 30_000,
      reportEveryMs: 100,
      // Created only once the wait has reported it missing, so the wait is what is tested.
      onWaiting: (missing) => {
        reports.push(missing);
        created ??= ensureTopics(kafka, [spec(topic)]);
      },
    });
    expect(await created).toEqual([topic]);
    expect(reports[0]).toEqual([topic]);
  });

  it('gives up waiting after the bounded time with the missing topic and who creates it', async () => {
    const topic = uniqueTestName('never');
    await expect(waitForTopics(kafka, [topic], { timeoutMs: 1_000, describe: (name) => `${name} (created by nobody)` })).rejects.toThrow(
      `gave up after 1 s waiting for topic ${topic} (created by nobody)`,
    );
  });
});
