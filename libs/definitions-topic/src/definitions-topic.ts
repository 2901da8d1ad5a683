import { randomUUID } from 'node:crypto';
import { Topics } from '@kairos/contracts';
import { PlannedChange, TopicEntry } from '@kairos/definitions';
import { ConsumedRecord, KafkaClient, readTopicToEnd, RecordProducer } from '@kairos/kafka';
import { releaseRecords, topicEntries } from './definition-records';

/** What the definitions topic holds now, per kind/id: what publishing plans against. */
export async function readDefinitionsTopic(kafka: KafkaClient, topic: string = Topics.definitions.name): Promise<Map<string, TopicEntry>> {
  const records: ConsumedRecord[] = [];
  await readTopicToEnd(kafka, topic, (batch) => void records.push(...batch));
  return topicEntries(records);
}

/**
 * Writes one release to the topic's one partition: in one produce request (appended by the broker as one batch) up to
 * the request size cap, so readers normally see a release arrive at once; the release headers let them wait for the
 * rest when it does not.
 */
export async function writeRelease(kafka: KafkaClient, changes: readonly PlannedChange[], topic: string = Topics.definitions.name): Promise<string> {
  const releaseId = randomUUID();
  const producer = new RecordProducer(kafka);
  await producer.connect();
  try {
    await producer.send(topic, releaseRecords(releaseId, changes));
  } finally {
    await producer.disconnect();
  }
  return releaseId;
}
