import { ALL_TOPICS, CatalogueTopic, coPartitionGroups, TopicSpec } from '@kairos/contracts';
import { Kafka } from 'kafkajs';
import { coPartitioningProblem, describeTopics, ensureTopics, TopicDescription, topicDifferences, TopicSettings } from './topic-admin';

/**
 * Creates the whole catalogue up front (and `extra` topics, e.g. dead-letter topics): what `npm run topics -- --create`,
 * the local stack and the test harness do, so that services owning nothing a consumer needs need not start first.
 */
export async function createCatalogueTopics(kafka: Kafka, settings: TopicSettings, extra: readonly TopicSpec[] = []): Promise<string[]> {
  const admin = ALL_TOPICS.filter((topic) => topic.owner === 'admin');
  const created = await ensureTopics(kafka, admin, settingsFor(admin[0], settings));
  return [...created, ...(await ensureTopics(kafka, [...ALL_TOPICS.filter((topic) => topic.owner !== 'admin'), ...extra], settings))];
}

/**
 * The settings a catalogue topic is created (and checked) with. The partition count of the settings scales the keyed
 * topics; the admin's topic (definitions) keeps the catalogue's one partition, because a release is written to it in
 * one request and read in order — split over partitions, a follower can meet a segment before the ones it names.
 */
function settingsFor(topic: CatalogueTopic | undefined, settings: TopicSettings): TopicSettings {
  return topic?.owner === 'admin' ? { ...settings, partitions: undefined } : settings;
}

export interface CatalogueTopicState {
  spec: CatalogueTopic;
  /** Absent: the topic does not exist. */
  actual?: TopicDescription;
  /** Where it differs from the catalogue and the settings it would be created with. */
  differences: string[];
}

export interface CatalogueState {
  topics: CatalogueTopicState[];
  /** Why the existing co-partitioned topics would stop a service from starting, if they would. */
  coPartitioning?: string;
}

/** The catalogue as the cluster has it: each topic's settings and differences, and the co-partition check. */
export async function inspectCatalogue(kafka: Kafka, settings: TopicSettings): Promise<CatalogueState> {
  const described = new Map((await describeTopics(kafka, ALL_TOPICS.map((topic) => topic.name))).map((topic) => [topic.name, topic]));
  const topics = ALL_TOPICS.map((spec) => {
    const actual = described.get(spec.name);
    return { spec, actual, differences: actual ? topicDifferences(spec, actual, settingsFor(spec, settings)) : [] };
  });
  const counts = new Map([...described].map(([name, topic]) => [name, topic.partitions]));
  const coPartitioning = coPartitioningProblem(coPartitionGroups(ALL_TOPICS.filter((topic) => described.has(topic.name))), counts);
  return { topics, coPartitioning };
}
