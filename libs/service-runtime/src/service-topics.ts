import { catalogueTopic, coPartitionGroups, TopicSpec } from '@kairos/contracts';
import { checkCoPartitioning, ensureTopics, KafkaClient, TopicSettings, waitForTopics } from '@kairos/kafka';

export interface ServiceTopics {
  /** Created when missing: the topics the service owns and its dead-letter topic. */
  owned: readonly TopicSpec[];
  /** Topics consumed or produced; those it does not own are waited for. */
  used: readonly string[];
  settings: TopicSettings;
  waitSeconds: number;
  log: (message: string) => void;
  warn: (message: string) => void;
}

/**
 * The topic step of a service's start-up: create what it owns, wait for what others own, and refuse co-partitioned
 * topics whose partition counts differ. Owners create, everyone else waits, so a topic gets its settings from one
 * place and five services starting together do not race to create the whole catalogue.
 */
export async function prepareServiceTopics(kafka: KafkaClient, topics: ServiceTopics): Promise<void> {
  const created = await ensureTopics(kafka, topics.owned, topics.settings);
  if (created.length > 0) topics.log(`created topics: ${created.join(', ')}`);

  const owned = new Set(topics.owned.map((topic) => topic.name));
  const others = [...new Set(topics.used)].filter((name) => !owned.has(name));
  await waitForTopics(kafka, others, {
    timeoutMs: topics.waitSeconds * 1000,
    describe: whoCreates,
    onWaiting: (missing, waitedMs) =>
      topics.warn(`waiting for ${missing.map(whoCreates).join(', ')} (${Math.round(waitedMs / 1000)} s of ${topics.waitSeconds} s; KAFKA_TOPIC_WAIT_SECONDS)`),
  });

  const specs = [...topics.owned, ...others.flatMap((name) => catalogueTopic(name) ?? [])];
  await checkCoPartitioning(kafka, coPartitionGroups(specs));
}

function whoCreates(name: string): string {
  const owner = catalogueTopic(name)?.owner;
  const creator = owner === undefined ? 'its owner' : owner === 'admin' ? '`npm run topics -- --create`' : `the ${owner} service or \`npm run topics -- --create\``;
  return `${name} (created by ${creator})`;
}
