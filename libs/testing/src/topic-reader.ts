import { BatchConsumer, ConsumedRecord, connectKafka, rawDecoder, RecordProducer } from '@kairos/kafka';
import { uniqueName } from './test-stack';

/**
 * Reads a topic from the beginning with a throw-away consumer group until `count` records that `matches` accepts
 * arrived (or the timeout), as an analyst or a downstream stage would see it. Tests share topics, so they match on
 * ids of their own.
 */
export async function readTopic(
  brokers: string,
  topic: string,
  count: number,
  timeoutMs = 30_000,
  matches: (record: ConsumedRecord) => boolean = () => true,
): Promise<ConsumedRecord[]> {
  const kafka = connectKafka({ brokers, clientId: 'kairos-test-reader', logLevel: 'error' });
  const producer = new RecordProducer(kafka);
  const records: ConsumedRecord[] = [];
  let done: () => void = () => undefined;
  const enough = new Promise<void>((resolve) => (done = resolve));
  const consumer = new BatchConsumer(kafka, {
    groupId: uniqueName('test-reader'),
    producer,
    subscriptions: [
      {
        topic,
        decoder: rawDecoder,
        handler: async (batch) => {
          records.push(...batch.filter(matches));
          if (records.length >= count) done();
        },
      },
    ],
  });
  await consumer.start();
  const timer = setTimeout(done, timeoutMs);
  await enough;
  clearTimeout(timer);
  await consumer.stop();
  return records;
}
