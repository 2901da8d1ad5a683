import { deadLetterTopic, TopicSpec } from '@kairos/contracts';
import { BatchConsumer, committedOffsets, connectKafka, ConsumedRecord, DecodedRecord, endOffsets, ensureTopics, jsonDecoder, KafkaClient, PartitionOwnership, RecordProducer } from '@kairos/kafka';
import { connectAndMigrate } from '@kairos/persistence';
import { readTopic, startControlledStack, testStack, uniqueName } from '@kairos/testing';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { stateStoreMigrations } from './migrations';
import { PartitionFencedError, StateStore } from './state-store';
import { Output, StatefulInput, StatefulProcessor } from './stateful-processor';
import { StateAccess } from './state-transaction';

/** An input: a customer's event at `at`, asking for a reminder `remindInMs` later (replacing an earlier one). */
interface Tick {
  key: string;
  n: number;
  at: number;
  remindInMs?: number;
  marker?: boolean;
}

interface Counter {
  count: number;
  last: number;
}

function topicSpec(name: string, partitions: number): TopicSpec {
  return { name, key: 'customer', value: 'tick', partitions, cleanupPolicy: 'delete', retentionMs: -1, description: 'test' };
}

const json = <T>(record: ConsumedRecord): T => JSON.parse(record.value!.toString()) as T;

/**
 * Starts instances of a stage: each its own consumer, ownership, store object and processor, sharing the schema and
 * group; a started instance is added to `running` (stopped by the test), its data source to `dataSources`.
 */
function instances(kafka: KafkaClient, producer: RecordProducer, databaseUrl: string, running: Array<{ stop(): Promise<void> }>, dataSources: DataSource[]) {
  return async function instance(name: string, schema: string, groupId: string, input: string, output: string) {
    const { dataSource } = await connectAndMigrate({ url: databaseUrl, schema, migrations: stateStoreMigrations, poolSize: 4 });
    dataSources.push(dataSource);
    const store = new StateStore<Counter>({ dataSource, name: 'counters' });
    const ownership = new PartitionOwnership();
    const applied: Array<StatefulInput<Tick>> = [];
    const apply = async (step: StatefulInput<Tick>, state: StateAccess<Counter>): Promise<Output[]> => {
      applied.push(step);
      if (step.kind === 'timer') {
        return [{ topic: output, record: { key: step.key, value: JSON.stringify({ fired: step.timer.name, key: step.key, dueAt: step.timer.dueAt, by: name }) } }];
      }
      const tick = step.record.data;
      if (tick.marker) return [{ topic: output, record: { key: step.key, value: JSON.stringify({ marker: tick.n }) } }];
      const counter = (await state.get(step.key)) ?? { count: 0, last: -1 };
      state.put(step.key, { count: counter.count + 1, last: tick.n });
      if (tick.remindInMs !== undefined) state.setTimer(step.key, 'remind', tick.at + tick.remindInMs, { n: tick.n });
      return [];
    };
    const processor = new StatefulProcessor<Counter, Tick>({
      store,
      producer,
      ownership,
      topics: [input],
      keyOf: (record) => record.data.key,
      eventTime: (record) => record.data.at,
      apply,
      endOffsets: (topic) => endOffsets(kafka, topic),
      committedOffsets: (topic) => committedOffsets(kafka, groupId, topic),
    });
    const consumer = new BatchConsumer(kafka, {
      groupId,
      producer,
      ownership,
      subscriptions: [{ topic: input, decoder: jsonDecoder<Tick>(), handler: (records: DecodedRecord<Tick>[], context) => processor.handleBatch(records, context) }],
    });
    processor.start();
    await consumer.start();
    const handle = {
      name,
      store,
      ownership,
      applied,
      processor,
      async stop() {
        await consumer.stop();
        await processor.stop();
      },
    };
    running.push(handle);
    return handle;
  };
}

describe('StatefulProcessor with a StateStore, against the real broker and PostgreSQL', () => {
  const { kafkaBrokers, databaseUrl } = testStack();
  const kafka = connectKafka({ brokers: kafkaBrokers, clientId: 'state-store-int-spec', logLevel: 'error' });
  const producer = new RecordProducer(kafka);
  const database = new Client({ connectionString: databaseUrl });
  const running: Array<{ stop(): Promise<void> }> = [];
  const dataSources: DataSource[] = [];

  beforeAll(async () => {
    await producer.connect();
    await database.connect();
  });
  afterEach(async () => {
    for (const instance of running.splice(0).reverse()) await instance.stop();
  });
  afterAll(async () => {
    await Promise.all(dataSources.map((dataSource) => dataSource.destroy()));
    await producer.disconnect();
    await database.end();
  });

  const instance = instances(kafka, producer, databaseUrl, running, dataSources);

  async function send(topic: string, ticks: Tick[]): Promise<void> {
    for (let i = 0; i < ticks.length; i += 5_000) {
      await producer.send(topic, ticks.slice(i, i + 5_000).map((tick) => ({ key: tick.key, value: JSON.stringify(tick) })));
    }
  }

  async function count(sql: string, parameters: unknown[]): Promise<number> {
    const { rows } = await database.query<{ n: string }>(sql, parameters);
    return Number(rows[0]!.n);
  }

  async function until(what: string, condition: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** A marker on every partition of the input: once each is applied, everything before it on its partition was. */
  async function markers(topic: string, partitions: number): Promise<void> {
    await producer.send(topic, [...Array(partitions).keys()].map((partition) => ({ partition, key: `marker-${partition}`, value: JSON.stringify({ key: `marker-${partition}`, n: -1, at: Date.now(), marker: true }) })));
  }

  it('fences a former owner: once another instance acquired the partition, the old owner\'s commit is refused and writes nothing', async () => {
    const schema = uniqueName('state_fence').replace(/-/g, '_');
    const { dataSource } = await connectAndMigrate({ url: databaseUrl, schema, migrations: stateStoreMigrations, poolSize: 2 });
    dataSources.push(dataSource);
    const before = new StateStore<Counter>({ dataSource, name: 'counters' });
    const after = new StateStore<Counter>({ dataSource, name: 'counters' });
    await before.acquire(0);
    const late = before.begin(0);
    late.access(0).put('customer', { count: 99, last: 99 });
    late.advance('ticks', 10n);

    await after.acquire(0); // the rebalance gave partition 0 to another instance
    const current = after.begin(0);
    current.access(0).put('customer', { count: 1, last: 1 });
    current.advance('ticks', 1n);
    await after.commit(current);

    await expect(before.commit(late)).rejects.toThrow(new PartitionFencedError(`partition 0 of store counters was taken over by another instance`));
    expect(before.owned(0)).toBeUndefined();
    const { rows } = await database.query(`SELECT key, value FROM "${schema}".state_entries`);
    expect(rows).toEqual([{ key: 'customer', value: { count: 1, last: 1 } }]);
    const offsets = await database.query(`SELECT offsets FROM "${schema}".state_partitions`);
    expect(offsets.rows).toEqual([{ offsets: { ticks: '1' } }]);
  });

  it('a commit writes exactly its changes: a key cleared and given a new timer keeps that timer, cancelled and cleared timers go', async () => {
    const schema = uniqueName('state_commit').replace(/-/g, '_');
    const { dataSource } = await connectAndMigrate({ url: databaseUrl, schema, migrations: stateStoreMigrations, poolSize: 2 });
    dataSources.push(dataSource);
    const store = new StateStore<Counter>({ dataSource, name: 'counters' });
    await store.acquire(0);
    const first = store.begin(0);
    const one = first.access(0);
    for (const [key, due] of [['a', 100], ['b', 200], ['c', 300]] as const) {
      one.put(key, { count: 1, last: due });
      one.setTimer(key, 'remind', due, { due });
    }
    one.setTimer('c', 'other', 400);
    first.advance('ticks', 3n);
    await store.commit(first);

    const second = store.begin(0);
    const two = second.access(0);
    two.delete('a'); // an erasure: its state and every timer go…
    two.put('a', { count: 0, last: -1 });
    two.setTimer('a', 'remind', 500, { due: 500 }); // …and this one, set after it, must stay
    two.cancelTimer('b', 'remind');
    two.delete('c');
    two.put('d', { count: 1, last: 4 });
    two.setTimer('d', 'remind', 600);
    second.advance('ticks', 5n);
    await store.commit(second);

    const states = await database.query(`SELECT key, value FROM "${schema}".state_entries ORDER BY key`);
    expect(states.rows).toEqual([
      { key: 'a', value: { count: 0, last: -1 } },
      { key: 'b', value: { count: 1, last: 200 } },
      { key: 'd', value: { count: 1, last: 4 } },
    ]);
    const timers = await database.query(`SELECT key, name, due_at_ms::int AS due, payload FROM "${schema}".state_timers ORDER BY key, name`);
    expect(timers.rows).toEqual([
      { key: 'a', name: 'remind', due: 500, payload: { due: 500 } },
      { key: 'd', name: 'remind', due: 600, payload: null },
    ]);
    const offsets = await database.query(`SELECT offsets FROM "${schema}".state_partitions`);
    expect(offsets.rows).toEqual([{ offsets: { ticks: '5' } }]);
  });

  it('a redelivered batch leaves the store unchanged: a second consumer group re-reads the topic and applies nothing', async () => {
    const schema = uniqueName('state_redeliver').replace(/-/g, '_');
    const input = uniqueName('ticks');
    const output = uniqueName('out');
    await ensureTopics(kafka, [topicSpec(input, 2), topicSpec(output, 2)]);
    const ticks = Array.from({ length: 200 }, (_, n) => ({ key: `c${n % 10}`, n, at: Date.now() }));
    await send(input, ticks);
    const first = await instance('first', schema, uniqueName('group'), input, output);
    await until('200 ticks counted', async () => (await count(`SELECT coalesce(sum((value->>'count')::int), 0) AS n FROM "${schema}".state_entries`, [])) === 200);
    const before = await database.query(`SELECT key, value FROM "${schema}".state_entries ORDER BY key`);
    await first.stop();
    running.splice(0);

    // A fresh group starts from offset 0: Kafka redelivers every record; the store's offsets say they are applied.
    const again = await instance('again', schema, uniqueName('group'), input, output);
    await markers(input, 2);
    await until('both markers applied', () => again.applied.filter((step) => step.kind === 'record' && step.record.data.marker).length === 2);
    expect(again.applied.filter((step) => step.kind === 'record' && !step.record.data.marker)).toEqual([]);
    expect((await database.query(`SELECT key, value FROM "${schema}".state_entries ORDER BY key`)).rows).toEqual(before.rows);
  });

  it('fires timers by the clock on a partition whose last record was dead-lettered, also after a restart', async () => {
    const schema = uniqueName('state_dlq_tail').replace(/-/g, '_');
    const input = uniqueName('ticks');
    const output = uniqueName('out');
    const groupId = uniqueName('group');
    await ensureTopics(kafka, [topicSpec(input, 1), topicSpec(output, 1), deadLetterTopic(groupId)]);
    const deadLetters = async () => [...(await endOffsets(kafka, deadLetterTopic(groupId).name)).values()][0];
    const fired = (handle: { applied: Array<StatefulInput<Tick>> }, n: number) => handle.applied.some((step) => step.kind === 'timer' && (step.timer.payload as { n: number }).n === n);
    // One request, hence one batch: a tick asking for a reminder, then a record the decoder refuses. The handler sees
    // only the tick, with a high watermark that counts the refused record behind it.
    const tickThenRefused = (n: number, remindInMs: number) =>
      producer.send(input, [
        { key: 'c1', value: JSON.stringify({ key: 'c1', n, at: Date.now(), remindInMs }) },
        { key: 'c1', value: 'not json' },
      ]);
    const first = await instance('dlq-tail', schema, groupId, input, output);
    await tickThenRefused(1, 1_500);
    await until('the first refused record in the dead-letter topic', async () => (await deadLetters()) === 1n);
    await until('the first reminder fired by the clock', () => fired(first, 1), 30_000);
    expect(first.processor.isLive(0)).toBe(true);

    // The same before a restart: the store's offsets stop before the refused record, the group's commit after it.
    await tickThenRefused(2, 10_000);
    await until('the second refused record in the dead-letter topic', async () => (await deadLetters()) === 2n);
    await first.stop();
    running.splice(running.indexOf(first), 1);
    expect(fired(first, 2)).toBe(false);
    const second = await instance('dlq-tail-after-restart', schema, groupId, input, output);
    await until('the second reminder fired by the clock after the restart', () => fired(second, 2), 40_000);
    expect(second.processor.isLive(0)).toBe(true);
  });

  it('a rebalance moves state and timers with the partition: no count lost or doubled, each timer fires once, on its new owner', async () => {
    const schema = uniqueName('state_rebalance').replace(/-/g, '_');
    const input = uniqueName('ticks');
    const output = uniqueName('out');
    const groupId = uniqueName('group');
    await ensureTopics(kafka, [topicSpec(input, 4), topicSpec(output, 4)]);
    const keys = Array.from({ length: 40 }, (_, index) => `customer-${index}`);
    const a = await instance('a', schema, groupId, input, output);
    // First round: reminders far away, set by instance a.
    await send(input, keys.map((key, n) => ({ key, n, at: Date.now(), remindInMs: 600_000 })));
    await until('40 pending timers', async () => (await count(`SELECT count(*) AS n FROM "${schema}".state_timers`, [])) === 40);

    const b = await instance('b', schema, groupId, input, output);
    await until('the partitions split between a and b', () => a.ownership.partitions().length === 2 && b.ownership.partitions().length === 2);
    // Second round, after the move: every key's reminder is replaced by one due in 3 s.
    const at = Date.now();
    await send(input, keys.map((key, n) => ({ key, n: 100 + n, at, remindInMs: 3_000 })));
    await until('every reminder fired and removed', async () => (await count(`SELECT count(*) AS n FROM "${schema}".state_timers`, [])) === 0, 60_000);

    // Timer rounds commit no input offset; the offsets the records left stay (a wiped offset would re-apply them).
    const stored = await database.query<{ partition: number; offsets: Record<string, string> }>(`SELECT partition, offsets FROM "${schema}".state_partitions ORDER BY partition`);
    expect(stored.rows.map((row) => Object.keys(row.offsets))).toEqual([[input], [input], [input], [input]]);
    expect(stored.rows.reduce((sum, row) => sum + Number(row.offsets[input]), 0)).toBe(80);
    const counts = await database.query<{ key: string; count: number }>(`SELECT key, (value->>'count')::int AS count FROM "${schema}".state_entries ORDER BY key`);
    expect(counts.rows).toHaveLength(40);
    for (const row of counts.rows) expect(row.count).toBe(2);

    // Everything a fired timer publishes is acknowledged before its row is deleted: a marker now comes after all of it.
    await producer.send(output, [0, 1, 2, 3].map((partition) => ({ partition, value: JSON.stringify({ marker: partition }) })));
    const records = await readTopic(kafkaBrokers, output, 44, 30_000);
    const fired = records
      .map((record) => ({ partition: record.partition, value: json<{ fired?: string; key: string; dueAt: number; by: string }>(record) }))
      .filter(({ value }) => value.fired);
    expect(fired).toHaveLength(40);
    expect(new Set(fired.map(({ value }) => value.key)).size).toBe(40);
    for (const { value } of fired) expect(value.dueAt).toBe(at + 3_000);
    // Output and input have the same partition count and key, so the output partition is the key's input partition:
    // each reminder fired on the instance that owns that partition now, whichever instance set it.
    for (const { partition, value } of fired) expect({ key: value.key, owner: (value.by === 'a' ? a : b).ownership.owns(input, partition) }).toEqual({ key: value.key, owner: true });
    expect(new Set(fired.map(({ value }) => value.by))).toEqual(new Set(['a', 'b']));
  });

  it('100,000 timers survive a restart and each fires once', async () => {
    const schema = uniqueName('state_timers').replace(/-/g, '_');
    const input = uniqueName('ticks');
    const output = uniqueName('out');
    const groupId = uniqueName('group');
    await ensureTopics(kafka, [topicSpec(input, 2), topicSpec(output, 2)]);
    const total = 100_000;
    const at = Date.now();
    // Due 45 s from now, spread over 5 s: long enough to load them all and restart before the first comes due.
    await send(input, Array.from({ length: total }, (_, n) => ({ key: `k${n}`, n, at, remindInMs: 45_000 + (n % 5_000) })));
    const first = await instance('first', schema, groupId, input, output);
    await until('100,000 pending timers', async () => (await count(`SELECT count(*) AS n FROM "${schema}".state_timers`, [])) === total, 90_000);
    expect(first.applied.filter((step) => step.kind === 'timer')).toEqual([]);
    await first.stop();
    running.splice(0);

    const second = await instance('second', schema, groupId, input, output);
    await until('every timer fired and removed', async () => (await count(`SELECT count(*) AS n FROM "${schema}".state_timers`, [])) === 0, 120_000);
    expect(second.applied.filter((step) => step.kind === 'timer')).toHaveLength(total);
    await producer.send(output, [0, 1].map((partition) => ({ partition, value: JSON.stringify({ marker: partition }) })));
    const records = await readTopic(kafkaBrokers, output, total + 2, 60_000);
    const fired = records.map((record) => json<{ fired?: string; key: string }>(record)).filter((value) => value.fired);
    expect(fired).toHaveLength(total);
    expect(new Set(fired.map((value) => value.key)).size).toBe(total);
  });
});

describe('timers while PostgreSQL is down', () => {
  /** A count from a connection of its own (undefined while the database is away). */
  async function count(databaseUrl: string, sql: string): Promise<number | undefined> {
    const client = new Client({ connectionString: databaseUrl });
    try {
      await client.connect();
      const { rows } = await client.query<{ n: string }>(sql);
      return Number(rows[0]!.n);
    } catch {
      return undefined;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async function until(what: string, condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  it('PostgreSQL stopped for 5 s while 20,000 timers come due: every timer fires from its row, none is lost, every row goes', async () => {
    const stack = await startControlledStack();
    const kafka = connectKafka({ brokers: stack.kafkaBrokers, clientId: 'state-store-outage-int-spec', logLevel: 'nothing' });
    const producer = new RecordProducer(kafka);
    const running: Array<{ stop(): Promise<void> }> = [];
    const dataSources: DataSource[] = [];
    try {
      await producer.connect();
      const schema = uniqueName('state_outage').replace(/-/g, '_');
      const input = uniqueName('ticks');
      const output = uniqueName('out');
      await ensureTopics(kafka, [topicSpec(input, 2), topicSpec(output, 2)]);
      const total = 20_000;
      const at = Date.now();
      // Due 20-30 s from now: long enough to store them all, and they come due over 10 s, while the database goes away.
      const ticks = Array.from({ length: total }, (_, n) => ({ key: `k${n}`, n, at, remindInMs: 20_000 + (n % 10_000) }));
      for (let i = 0; i < ticks.length; i += 5_000) await producer.send(input, ticks.slice(i, i + 5_000).map((tick) => ({ key: tick.key, value: JSON.stringify(tick) })));
      const stage = await instances(kafka, producer, stack.databaseUrl, running, dataSources)('stage', schema, uniqueName('group'), input, output);
      await until('20,000 pending timers', async () => (await count(stack.databaseUrl, `SELECT count(*) AS n FROM "${schema}".state_timers`)) === total, 60_000);
      const fired = () => stage.applied.filter((step) => step.kind === 'timer').length;
      await until('the first timers fired', async () => fired() > 0, 60_000);

      await stack.restart('postgres', 5_000);
      expect(fired()).toBeLessThan(total); // the outage struck while they were firing

      // A fired timer's row is deleted by the commit that follows its outputs' publication: no row left, nothing lost.
      await until('every timer fired and its row deleted', async () => (await count(stack.databaseUrl, `SELECT count(*) AS n FROM "${schema}".state_timers`)) === 0, 120_000);
      const keys = new Set(stage.applied.flatMap((step) => (step.kind === 'timer' ? [step.key] : [])));
      expect(keys.size).toBe(total);
    } finally {
      for (const instance of running.reverse()) await instance.stop().catch(() => undefined);
      await Promise.all(dataSources.map((dataSource) => dataSource.destroy().catch(() => undefined)));
      await producer.disconnect();
      await stack.stop();
    }
  }, 300_000);
});
