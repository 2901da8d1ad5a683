import { DeadLetterHeaders, deadLetterTopic, TopicSpec } from '@kairos/contracts';
import { KafkaJSNonRetriableError } from 'kafkajs';
import { BatchConsumer, Subscription } from './batch-consumer';
import { DependencyUnavailableError } from './failure';
import { OwnedPartition, PartitionOwnership } from './partition-ownership';
import { jsonDecoder, rawDecoder } from './decoders';
import { connectKafka } from './kafka-connection';
import { ConsumedRecord, DecodedRecord } from './record';
import { RecordProducer } from './record-producer';
import { ensureTopics, withAdmin } from './topic-admin';
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

  function consumer<T>(groupId: string, subscription: Subscription<T>, options: Partial<ConstructorParameters<typeof BatchConsumer>[1]> = {}): BatchConsumer {
    const created = new BatchConsumer(kafka, { groupId, producer, subscriptions: [subscription], retry: FAST_RETRY, ...options });
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
    // A marker on every partition after the new records: once all three are in, an uncommitted backlog would have been too.
    await producer.send(topic, [0, 1, 2].map((partition) => ({ partition, value: JSON.stringify({ index: -1 - partition }) })));
    const afterRestart: number[] = [];
    const second = consumer(groupId, { topic, decoder: jsonDecoder<{ index: number }>(), handler: async (records) => void afterRestart.push(...records.map((record) => record.data.index)) });
    await second.start();
    await until(() => afterRestart.filter((index) => index < 0).length === 3, 30_000, 'the markers of all three partitions');
    expect(afterRestart.filter((index) => index >= 0).sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, index) => 1000 + index));
  });

  it('handles a small batch at once and gathers what arrives after it into the next batch', async () => {
    const topic = uniqueName('gather');
    await ensureTopics(kafka, [topicSpec(topic, 1)]);
    const batches: number[][] = [];
    const gathering = consumer(
      uniqueName('group'),
      { topic, decoder: jsonDecoder<{ n: number }>(), handler: async (records) => void batches.push(records.map((record) => record.data.n)) },
      { fetch: { minBytes: 1_000_000, maxWaitMs: 3_000 } },
    );
    await gathering.start();
    await producer.send(topic, [{ key: 'a', value: JSON.stringify({ n: 1 }) }]);
    // The first record is handled without waiting for company; the three sent one by one after it meet in one batch.
    await until(() => batches.length === 1, 30_000, 'the first batch');
    for (const n of [2, 3, 4]) await producer.send(topic, [{ key: 'a', value: JSON.stringify({ n }) }]);
    await until(() => batches.flat().length === 4, 30_000, 'all four records');
    expect(batches).toEqual([[1], [2, 3, 4]]);
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
    // With a minute between commits, only the stop's own commit can keep the batch from the next member.
    const slow = consumer(
      groupId,
      {
        topic,
        decoder: rawDecoder,
        handler: async (records) => {
          entered = true;
          await gate;
          handled.push(...records.map((record) => record.value?.toString() ?? ''));
        },
      },
      { commitIntervalMs: 60_000 },
    );
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
    // One partition, in order: when 'after' arrives, a re-delivered batch would have arrived before it.
    await until(() => next.includes('after'), 30_000, 'the record produced after the stop');
    expect(next).toEqual(['after']);
  });

  it('commits an idle partition\'s last batch within the interval, without a batch after it', async () => {
    const topic = uniqueName('idle-commit');
    const groupId = uniqueName('group');
    await ensureTopics(kafka, [topicSpec(topic, 1)]);
    const handled: string[] = [];
    await consumer(groupId, { topic, decoder: rawDecoder, handler: async (records) => void handled.push(...records.map((record) => record.value?.toString() ?? '')) }, { commitIntervalMs: 2_000 }).start();
    await producer.send(topic, [{ key: 'k', value: 'only' }]);
    await until(() => handled.length === 1, 30_000, 'the record');
    // Nothing else arrives: the commit timer, not a next batch, has to commit it.
    const committed = async () => (await withAdmin(kafka, (admin) => admin.fetchOffsets({ groupId, topics: [topic] })))[0]?.partitions[0]?.offset;
    const deadline = Date.now() + 30_000;
    while ((await committed()) !== '1' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await committed()).toBe('1');
  });

  it('commits what it processed when a rebalance moves its partitions, so the new owner does not see it again', async () => {
    const topic = uniqueName('rebalance-commit');
    const groupId = uniqueName('group');
    await ensureTopics(kafka, [topicSpec(topic, 2)]);
    await producer.send(topic, Array.from({ length: 20 }, (_, index) => ({ partition: index % 2, value: String(index) })));
    const seen: string[][] = [[], []];
    // A minute between commits: the processed records are committed only because the rebalance makes the member commit.
    const owners = [new PartitionOwnership(), new PartitionOwnership()];
    const member = (index: number) =>
      consumer(
        groupId,
        { topic, decoder: rawDecoder, handler: async (records) => void seen[index]!.push(...records.map((record) => record.value?.toString() ?? '')) },
        { commitIntervalMs: 60_000, ownership: owners[index] },
      );
    await member(0).start();
    await until(() => seen[0]!.length === 20, 30_000, 'the first member to handle all 20 records');
    await member(1).start();
    await until(() => owners[0]!.partitions().length === 1 && owners[1]!.partitions().length === 1, 30_000, 'one partition each');
    await producer.send(topic, [0, 1].map((partition) => ({ partition, value: `marker-${partition}` })));
    // In order per partition: a redelivered record would reach whoever owns its partition before that partition's marker.
    await until(() => seen.flat().filter((value) => value.startsWith('marker-')).length === 2, 30_000, 'both markers');
    expect(seen[1]!.length).toBeGreaterThan(0);
    expect(seen[1]!.every((value) => value.startsWith('marker-'))).toBe(true);
    expect(seen[0]!.filter((value) => !value.startsWith('marker-')).sort()).toEqual(Array.from({ length: 20 }, (_, index) => String(index)).sort());
  });

  it('waits out a dependency outage for as long as it lasts: stalled, then resumed, nothing dead-lettered', async () => {
    const topic = uniqueName('outage');
    const groupId = uniqueName('group');
    await ensureTopics(kafka, [topicSpec(topic, 1), deadLetterTopic(groupId)]);
    await producer.send(topic, Array.from({ length: 50 }, (_, index) => ({ key: 'k', value: String(index) })));

    // The first calls fail the way an unreachable SMTP server would; then an unrecognised error while the dependency
    // check still reports the database down; then everything is healthy again.
    let calls = 0;
    let databaseDown = true;
    const handled: string[] = [];
    const stallsSeen: string[] = [];
    const created = consumer(
      groupId,
      {
        topic,
        decoder: rawDecoder,
        handler: async (records) => {
          calls += 1;
          if (calls <= 6) throw new DependencyUnavailableError('smtp', 'connect ECONNREFUSED 127.0.0.1:2525');
          if (calls <= 9) throw new Error('something odd while the database is away');
          databaseDown = false;
          handled.push(...records.map((record) => record.value?.toString() ?? ''));
        },
      },
      {
        // Far more outage retries than FAST_RETRY's two attempts: a counted failure would have dead-lettered.
        outageRetry: { attempts: Number.POSITIVE_INFINITY, initialDelayMs: 20, maxDelayMs: 40 },
        dependencyCheck: async () => (databaseDown ? 'database unavailable: ECONNREFUSED' : undefined),
      },
    );
    await created.start();
    await until(() => created.stalls().length > 0, 30_000, 'the partition to be reported stalled');
    stallsSeen.push(...created.stalls().map((stall) => stall.reason));
    await until(() => handled.length === 50, 30_000, 'all 50 records after the outage');
    expect(stallsSeen[0]).toContain('smtp unavailable');
    expect(created.stalls()).toEqual([]);
    expect(calls).toBeGreaterThanOrEqual(10);
    // Dead-lettering happens before the batch commits; the batch is done, so the DLQ would hold anything by now.
    const [dlq] = await withAdmin(kafka, (client) => client.fetchTopicOffsets(deadLetterTopic(groupId).name));
    expect(dlq?.high).toBe('0');
  });

  it('starts its consumer again when kafkajs gives up on it after an error it does not retry', async () => {
    const topic = uniqueName('crash');
    const groupId = uniqueName('group');
    await ensureTopics(kafka, [topicSpec(topic, 1), deadLetterTopic(groupId)]);
    await producer.send(topic, Array.from({ length: 20 }, (_, index) => ({ key: 'k', value: String(index) })));
    // kafkajs stops a consumer for good on a KafkaJSNonRetriableError without a retriable cause; here the decoder
    // throws one once, as an escape from kafkajs' own code would.
    let thrown = false;
    const handled: string[] = [];
    const logged: string[] = [];
    const created = consumer(
      groupId,
      {
        topic,
        decoder: (record) => {
          if (!thrown) {
            thrown = true;
            throw new KafkaJSNonRetriableError('an error kafkajs does not retry');
          }
          return rawDecoder(record);
        },
        handler: async (records) => void handled.push(...records.map((record) => record.value?.toString() ?? '')),
      },
      { log: (level, message) => logged.push(`${level}: ${message}`) },
    );
    await created.start();
    await until(() => created.notRunning() !== undefined, 30_000, 'the consumer to report that it is not running');
    expect(created.notRunning()).toBe('the consumer stopped on an error kafkajs does not retry (KafkaJSNonRetriableError: an error kafkajs does not retry); starting it again');
    await until(() => handled.length >= 20, 30_000, 'all 20 records after the consumer started again');
    expect(created.notRunning()).toBeUndefined();
    expect(thrown).toBe(true);
    expect(handled.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, index) => String(index)));
    expect(logged).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^error: the consumer stopped on an error kafkajs does not retry \(KafkaJSNonRetriableError: an error kafkajs does not retry\); starting it again in 5 s$/),
        'info: the consumer started again',
      ]),
    );
  });

  describe('a consumer whose fetch loop stops without an error (tulios/kafkajs #659, #1431)', () => {
    // The fault is injected where kafkajs asks the broker for records: its Broker.fetch, for this test's client only,
    // answers never (a response lost on a half-open connection; kafkajs' request timeout is not involved here).
    const Broker = require('kafkajs/src/broker') as { prototype: { fetch(...args: unknown[]): Promise<unknown> } };
    const realFetch = Broker.prototype.fetch;
    const clientId = uniqueName('stalling-client');
    const stallingKafka = connectKafka({ brokers: brokersFromHarness(), clientId, logLevel: 'nothing' });
    /** 'until-stopped': the test releases the hung fetch when kafkajs is asked to stop; 'forever': after the test. */
    let hang: 'no' | 'until-stopped' | 'forever' = 'no';
    const releaseHung: Array<() => void> = [];
    let spy: jest.SpyInstance;

    beforeAll(() => {
      spy = jest.spyOn(Broker.prototype, 'fetch').mockImplementation(function (this: { connectionPool: { clientId: string } }, ...args: unknown[]) {
        if (hang === 'no' || this.connectionPool.clientId !== clientId) return realFetch.apply(this, args);
        // Answered when the test releases it (after the test, for 'forever'), by a real fetch then.
        return new Promise((resolve) => releaseHung.push(() => resolve(realFetch.apply(this, args))));
      });
    });
    afterEach(() => {
      hang = 'no';
      releaseHung.splice(0).forEach((release) => release());
    });
    afterAll(() => spy.mockRestore());

    async function stallingConsumer(topic: string, handled: string[], logged: string[]): Promise<{ created: BatchConsumer; kafkajsConsumer: { stop(): Promise<void> } }> {
      const groupId = uniqueName('group');
      await ensureTopics(kafka, [topicSpec(topic, 1), deadLetterTopic(groupId)]);
      const created = new BatchConsumer(stallingKafka, {
        groupId,
        producer,
        subscriptions: [{ topic, decoder: rawDecoder, handler: async (records) => void handled.push(...records.map((record) => record.value?.toString() ?? '')) }],
        restarts: { delayMs: 500, stallAfterMs: 3_000, stopLimitMs: 3_000 },
        log: (level, message) => logged.push(`${level}: ${message}`),
      });
      consumers.push(created);
      await created.start();
      await producer.send(topic, [{ key: 'k', value: 'before' }]);
      await until(() => handled.includes('before'), 30_000, 'the record produced before the stall');
      return { created, kafkajsConsumer: (created as unknown as { consumer: { stop(): Promise<void> } }).consumer };
    }

    it('is stopped and started again, and consumes what came meanwhile', async () => {
      const topic = uniqueName('stall');
      const handled: string[] = [];
      const logged: string[] = [];
      const { created, kafkajsConsumer } = await stallingConsumer(topic, handled, logged);
      // The hung fetch answers once kafkajs is asked to stop (its stop waits for the fetch in flight).
      const stop = kafkajsConsumer.stop.bind(kafkajsConsumer);
      jest.spyOn(kafkajsConsumer, 'stop').mockImplementation(() => {
        hang = 'no';
        releaseHung.splice(0).forEach((release) => release());
        return stop();
      });
      hang = 'until-stopped';
      await until(() => releaseHung.length > 0, 10_000, 'a fetch to hang');
      await producer.send(topic, [{ key: 'k', value: 'during' }]);
      await until(() => created.notRunning() !== undefined, 20_000, 'the consumer to report the stall');
      expect(created.notRunning()).toMatch(/^the consumer gave no sign of life for \d+ s with no batch in hand \(kafkajs stopped fetching without an error\); starting it again$/);
      await until(() => handled.includes('during'), 30_000, 'the record produced during the stall, after the restart');
      expect(created.notRunning()).toBeUndefined();
      expect(created.wedged()).toBeUndefined();
      expect(handled).toEqual(['before', 'during']);
      expect(logged).toEqual(expect.arrayContaining([expect.stringMatching(/^error: the consumer gave no sign of life/), 'info: the consumer started again']));
    });

    it('whose stop hangs is reported wedged, for the liveness probe, and started again once the stop ends', async () => {
      const topic = uniqueName('wedge');
      const handled: string[] = [];
      const logged: string[] = [];
      const { created } = await stallingConsumer(topic, handled, logged);
      hang = 'forever';
      await until(() => created.wedged() !== undefined, 30_000, 'the consumer to report itself wedged');
      expect(created.wedged()).toBe('the stalled consumer did not stop within 3 s: this process cannot consume until it does, and may need a restart');
      expect(created.notRunning()).toBe(created.wedged());
      expect(handled).toEqual(['before']);
      // The fetch answers at last: kafkajs' stop ends, and the consumer is started again.
      hang = 'no';
      releaseHung.splice(0).forEach((release) => release());
      await producer.send(topic, [{ key: 'k', value: 'after' }]);
      await until(() => handled.includes('after'), 30_000, 'the record produced after the stop ended');
      expect(created.wedged()).toBeUndefined();
      expect(handled).toEqual(['before', 'after']);
      expect(logged).toEqual(expect.arrayContaining(['info: the stalled consumer stopped after all', 'info: the consumer started again']));
    });
  });

  it('keeps partition p of co-partitioned topics on one member and tells the ownership hooks what moved', async () => {
    const topics = [uniqueName('copart-a'), uniqueName('copart-b')];
    const groupId = uniqueName('group');
    await ensureTopics(kafka, topics.map((topic) => topicSpec(topic, 4)));
    const events: string[] = [];
    const owners = [new PartitionOwnership(), new PartitionOwnership()];
    owners.forEach((ownership, member) =>
      ownership.listen({
        assigned: (partitions: readonly OwnedPartition[]) => void events.push(`${member}+${partitions.length}`),
        revoked: (partitions: readonly OwnedPartition[]) => void events.push(`${member}-${partitions.length}`),
      }),
    );
    const member = (index: number) =>
      new BatchConsumer(kafka, {
        groupId,
        producer,
        ownership: owners[index],
        subscriptions: topics.map((topic) => ({ topic, decoder: rawDecoder, handler: async () => undefined })),
      });
    const first = member(0);
    consumers.push(first);
    await first.start();
    await until(() => owners[0]!.partitions().length === 8, 30_000, 'the first member to own all 8 partitions');
    const second = member(1);
    consumers.push(second);
    await second.start();
    await until(() => owners[1]!.partitions().length === 4 && owners[0]!.partitions().length === 4, 30_000, 'the partitions to be split 4 and 4');
    for (const ownership of owners) {
      const numbers = (topic: string) => ownership.partitions().filter((owned) => owned.topic === topic).map((owned) => owned.partition).sort();
      expect(numbers(topics[0]!)).toEqual(numbers(topics[1]!));
    }
    expect(events).toEqual(expect.arrayContaining(['0+8', '0-4', '1+4']));
  });
});
