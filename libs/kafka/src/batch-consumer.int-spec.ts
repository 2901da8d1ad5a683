import { DeadLetterHeaders, deadLetterTopic, TopicSpec } from '@kairos/contracts';
import { BatchConsumer, Subscription } from './batch-consumer';
import { jsonDecoder, rawDecoder } from './decoders';
import { connectKafka } from './kafka-connection';
import { ConsumedRecord, DecodedRecord } from './record';
import { RecordProducer } from './record-producer';
import { ensureTopics } from './topic-admin';
import { brokersFromHarness, uniqueTestName as uniqueName, until } from './test-support';

const FAST_RETRY = { attempts: 2, initialDelayMs: 10, maxDelayMs: 20 };

function topicSpec(name: string, partitions = 3): TopicSpec {
  return { name, key: 'test', value: 'test', partitions, cleanupPolicy: 'delete', retentionMs: -1, description: 'test' };
}

describe('BatchConsumer against the real broker', () => {
  const kafka = connectKafka({ brokers: brokersFromHarness(), clientId: 'kafka-int-spec', logLevel: 'error' });
  const producer = new RecordProducer(kafka);
  const consumers: BatchConsumer[] = [];

  beforeAll(() => producer.connect());
  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((consumer) => consumer.stop()));
  });
  afterAll(() => producer.disconnect());

  function consumer<T>(groupId: string, subscription: Subscription<T>): BatchConsumer {
    const created = new BatchConsumer(kafka, { groupId, producer, subscriptions: [subscription], retry: FAST_RETRY });
    consumers.push(created);
    return created;
  }

  it('delivers every record once in per-partition order, commits, and does not reprocess after a restart', async () => {
    const topic = uniqueName('roundtrip');
    const groupId = uniqueName('group');
    await ensureTopics(kafka, [topicSpec(topic)]);
    await Promise.all(
      Array.from({ length: 300 }, (_, index) => producer.publish(topic, { key: `customer-${index % 17}`, value: JSON.stringify({ index }) })),
    );

    const seen: Array<DecodedRecord<{ index: number }>> = [];
    const first = consumer(groupId, { topic, decoder: jsonDecoder<{ index: number }>(), handler: async (records) => void seen.push(...records) });
    await first.start();
    await until(() => seen.length >= 300, 30_000, '300 records');
    expect(seen).toHaveLength(300);
    expect(new Set(seen.map((record) => record.data.index)).size).toBe(300);
    // Within one key (hence one partition), records arrive in the order they were produced.
    for (let key = 0; key < 17; key++) {
      const indices = seen.filter((record) => record.key?.toString() === `customer-${key}`).map((record) => record.data.index);
      expect(indices).toEqual([...indices].sort((a, b) => a - b));
    }
    await first.stop();
    consumers.splice(0);

    await producer.send(topic, Array.from({ length: 10 }, (_, index) => ({ key: 'later', value: JSON.stringify({ index: 1000 + index }) })));
    const afterRestart: number[] = [];
    const second = consumer(groupId, { topic, decoder: jsonDecoder<{ index: number }>(), handler: async (records) => void afterRestart.push(...records.map((record) => record.data.index)) });
    await second.start();
    await until(() => afterRestart.length >= 10, 30_000, 'the 10 new records');
    // Give a wrongly uncommitted backlog the chance to show up before asserting it did not.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(afterRestart.sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, index) => 1000 + index));
  });

  it('dead-letters a poison record with its reason and keeps processing the records around it', async () => {
    const topic = uniqueName('poison');
    const groupId = uniqueName('group');
    await ensureTopics(kafka, [topicSpec(topic, 1), deadLetterTopic(groupId)]);
    await producer.send(topic, [
      { key: 'a', value: JSON.stringify({ n: 1 }) },
      { key: 'a', value: JSON.stringify({ n: 2, poison: true }), headers: { origin: 'test' } },
      { key: 'a', value: 'this is not json' },
      { key: 'a', value: JSON.stringify({ n: 4, refuse: true }) },
      { key: 'a', value: JSON.stringify({ n: 5 }) },
    ]);

    const processed: number[] = [];
    const subscription: Subscription<{ n: number; poison?: boolean; refuse?: boolean }> = {
      topic,
      decoder: jsonDecoder(),
      handler: async (records) => {
        if (records.some((record) => record.data.poison)) throw new Error('cannot digest record 2');
        const refused = records.filter((record) => record.data.refuse);
        processed.push(...records.filter((record) => !record.data.refuse).map((record) => record.data.n));
        return { rejected: refused.map((record) => ({ record, detail: 'refused by the domain' })) };
      },
    };
    await consumer(groupId, subscription).start();

    const dead: ConsumedRecord[] = [];
    await consumer(uniqueName('dlq-reader'), { topic: deadLetterTopic(groupId).name, decoder: rawDecoder, handler: async (records) => void dead.push(...records) }).start();
    await until(() => dead.length >= 3, 30_000, 'three dead letters');
    expect(processed.sort()).toEqual([1, 5]);
    const byReason = Object.fromEntries(dead.map((record) => [record.headers[DeadLetterHeaders.reason], record]));
    expect(Object.keys(byReason).sort()).toEqual(['processing_failed', 'rejected', 'undecodable']);
    expect(byReason['processing_failed'].value?.toString()).toBe(JSON.stringify({ n: 2, poison: true }));
    expect(byReason['processing_failed'].headers[DeadLetterHeaders.detail]).toContain('cannot digest record 2');
    expect(byReason['processing_failed'].headers[DeadLetterHeaders.topic]).toBe(topic);
    expect(byReason['processing_failed'].headers[DeadLetterHeaders.offset]).toBe('1');
    expect(byReason['processing_failed'].headers['origin']).toBe('test');
    expect(byReason['undecodable'].value?.toString()).toBe('this is not json');
    expect(byReason['rejected'].headers[DeadLetterHeaders.detail]).toBe('refused by the domain');
  });

  it('on stop, finishes the batch in hand and commits it, so the next member of the group does not see it again', async () => {
    const topic = uniqueName('graceful');
    const groupId = uniqueName('group');
    await ensureTopics(kafka, [topicSpec(topic, 1)]);
    await producer.send(topic, Array.from({ length: 20 }, (_, index) => ({ key: 'k', value: String(index) })));

    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered = false;
    const handled: string[] = [];
    const slow = consumer(groupId, {
      topic,
      decoder: rawDecoder,
      handler: async (records) => {
        entered = true;
        await gate;
        handled.push(...records.map((record) => record.value?.toString() ?? ''));
      },
    });
    await slow.start();
    await until(() => entered, 30_000, 'the handler to start');
    const stopping = slow.stop();
    release();
    await stopping;
    consumers.splice(0);
    expect(handled).toHaveLength(20);

    await producer.send(topic, [{ key: 'k', value: 'after' }]);
    const next: string[] = [];
    await consumer(groupId, { topic, decoder: rawDecoder, handler: async (records) => void next.push(...records.map((record) => record.value?.toString() ?? '')) }).start();
    await until(() => next.includes('after'), 30_000, 'the record produced after the stop');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(next).toEqual(['after']);
  });
});
