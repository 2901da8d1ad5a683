import { TopicSpec } from '@kairos/contracts';
import { BatchConsumer } from './batch-consumer';
import { rawDecoder } from './decoders';
import { connectKafka } from './kafka-connection';
import { RecordProducer } from './record-producer';
import { brokersFromHarness, uniqueTestName, until } from './test-support';
import { ensureTopics } from './topic-admin';

const spec = (name: string): TopicSpec => ({ name, key: 'k', value: 'v', partitions: 1, cleanupPolicy: 'delete', retentionMs: -1, description: 'test' });

describe('RecordProducer against the real broker', () => {
  const kafka = connectKafka({ brokers: brokersFromHarness(), clientId: 'producer-int-spec', logLevel: 'nothing' });
  const producer = new RecordProducer(kafka);

  beforeAll(() => producer.connect());
  afterAll(() => producer.disconnect());

  it('splits what would exceed the broker message size into several requests, by publish and by send', async () => {
    const topic = uniqueTestName('large');
    await ensureTopics(kafka, [spec(topic)]);
    const value = 'v'.repeat(10_000);
    // 300 records of 10 kB to one partition: 3 MB, three times the broker's default message.max.bytes.
    await Promise.all(Array.from({ length: 300 }, (_, index) => producer.publish(topic, { key: 'same', value: `${index}:${value}` })));
    await producer.send(topic, Array.from({ length: 300 }, (_, index) => ({ key: 'same', value: `${300 + index}:${value}` })));

    const seen: number[] = [];
    const consumer = new BatchConsumer(kafka, {
      groupId: uniqueTestName('large-reader'),
      producer,
      subscriptions: [{ topic, decoder: rawDecoder, handler: async (records) => void seen.push(...records.map((record) => Number(record.value!.toString().split(':')[0]))) }],
    });
    await consumer.start();
    await until(() => seen.length >= 600, 30_000, '600 records');
    await consumer.stop();
    expect(seen).toEqual(Array.from({ length: 600 }, (_, index) => index));
  });

  it('fails what the broker refused and keeps producing to every partition afterwards', async () => {
    const topic = uniqueTestName('refused');
    await ensureTopics(kafka, [{ ...spec(topic), partitions: 2 }]);
    // No size cap, so one request carries a partition batch over 1 MiB next to a small one, as a misconfigured
    // producer would send it; the broker refuses the large one.
    const uncapped = new RecordProducer(kafka, { maxRequestBytes: 64 * 1024 * 1024, maxBatchRecords: 10_000 });
    await uncapped.connect();
    try {
      const attempts = [
        ...Array.from({ length: 120 }, () => uncapped.publish(topic, { key: 'big', value: 'x'.repeat(10_000), partition: 0 })),
        uncapped.publish(topic, { key: 'small', value: 'y', partition: 1 }),
      ];
      const outcomes = await Promise.allSettled(attempts);
      expect(outcomes.some((outcome) => outcome.status === 'rejected')).toBe(true);
      for (let round = 0; round < 3; round++) {
        await Promise.all([uncapped.publish(topic, { key: 'big', value: `after ${round}`, partition: 0 }), uncapped.publish(topic, { key: 'small', value: `after ${round}`, partition: 1 })]);
      }
    } finally {
      await uncapped.disconnect();
    }
  });
});
