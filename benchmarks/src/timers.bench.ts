import { performance } from 'node:perf_hooks';
import { TopicSpec } from '@kairos/contracts';
import { BatchConsumer, connectKafka, DecodedRecord, endOffsets, ensureTopics, jsonDecoder, PartitionOwnership, RecordProducer } from '@kairos/kafka';
import { startLocalStack } from '@kairos/local-stack';
import { connectAndMigrate, NO_LIMITS } from '@kairos/persistence';
import { StateAccess, StatefulInput, StatefulProcessor, StateStore, stateStoreMigrations } from '@kairos/state-store';
import { percentile } from './passthrough';
import { runBenchmark, writeReport } from './report';

/**
 * npm run bench:timers — durable timers on the real broker and PostgreSQL:
 * 1. BENCH_TIMERS (1,000,000) pending timers seeded into a state store's partitions, due tomorrow;
 * 2. a processor (in this process) takes the partitions over, and its RSS is read with all of them pending;
 * 3. load: BENCH_TIMER_RATE (2,000) records/s for BENCH_TIMER_SECONDS (30), each setting a timer due 1-5 s later, so
 *    timers come due at the same rate while records keep arriving; lateness = when the timer's input reached the
 *    handler minus its due time (p50/p95/p99, after a 5 s warm-up), RSS sampled every second.
 */

const PENDING = Number(process.env['BENCH_TIMERS'] ?? 1_000_000);
const RATE = Number(process.env['BENCH_TIMER_RATE'] ?? 2_000);
const SECONDS = Number(process.env['BENCH_TIMER_SECONDS'] ?? 30);
const PARTITIONS = 3;
const SCHEMA = 'timers_bench';
const STORE = 'bench';

interface Tick {
  key: string;
  at: number;
  remindAt: number;
}

const rssMb = () => Math.round(process.memoryUsage().rss / 1024 / 1024);

runBenchmark(async () => {
  const stack = await startLocalStack({ purpose: 'test', env: { ...process.env, SMTP_URL: 'unused' }, log: console.log });
  const kafka = connectKafka({ brokers: stack.kafkaBrokers, clientId: 'kairos-bench-timers', logLevel: 'error' });
  const producer = new RecordProducer(kafka, { maxBatchRecords: 5_000 });
  const { dataSource } = await connectAndMigrate({ url: stack.databaseUrl, schema: SCHEMA, migrations: stateStoreMigrations, limits: NO_LIMITS });
  let stopAll: () => Promise<void> = async () => undefined;
  try {
    const input: TopicSpec = { name: 'bench.timers.ticks', key: 'key', value: 'tick', partitions: PARTITIONS, cleanupPolicy: 'delete', retentionMs: -1, description: 'bench' };
    const output: TopicSpec = { ...input, name: 'bench.timers.fired' };
    await ensureTopics(kafka, [input, output]);
    await producer.connect();

    console.log(`seeding ${PENDING.toLocaleString()} pending timers over ${PARTITIONS} partitions…`);
    const seeding = performance.now();
    const tomorrow = Date.now() + 86_400_000;
    await dataSource.query(
      `INSERT INTO state_timers (store, key, name, partition, due_at_ms, payload)
       SELECT $1, 'seeded-' || i, 'win-back', i % $2, $3::bigint + i, NULL FROM generate_series(1, $4::int) i`,
      [STORE, PARTITIONS, tomorrow, PENDING],
    );
    await dataSource.query('ANALYZE state_timers');
    const seedSeconds = (performance.now() - seeding) / 1000;
    console.log(`  seeded in ${seedSeconds.toFixed(1)} s`);

    const store = new StateStore<{ ticks: number }>({ dataSource, name: STORE });
    const ownership = new PartitionOwnership();
    const lateness: Array<{ at: number; ms: number }> = [];
    let fired = 0;
    const apply = async (step: StatefulInput<Tick>, state: StateAccess<{ ticks: number }>) => {
      if (step.kind === 'timer') {
        const now = Date.now();
        lateness.push({ at: now, ms: now - step.timer.dueAt });
        fired += 1;
        return [{ topic: output.name, record: { key: step.key, value: JSON.stringify({ key: step.key, dueAt: step.timer.dueAt, firedAt: now }) } }];
      }
      const current = (await state.get(step.key)) ?? { ticks: 0 };
      state.put(step.key, { ticks: current.ticks + 1 });
      state.setTimer(step.key, 'remind', step.record.data.remindAt);
      return [];
    };
    const processor = new StatefulProcessor<{ ticks: number }, Tick>({
      store,
      producer,
      ownership,
      topics: [input.name],
      keyOf: (record: DecodedRecord<Tick>) => record.data.key,
      eventTime: (record: DecodedRecord<Tick>) => record.data.at,
      apply,
      endOffsets: (topic) => endOffsets(kafka, topic),
    });
    const consumer = new BatchConsumer(kafka, {
      groupId: `bench-timers-${Date.now()}`,
      producer,
      ownership,
      subscriptions: [{ topic: input.name, decoder: jsonDecoder<Tick>(), handler: (records: DecodedRecord<Tick>[], context) => processor.handleBatch(records, context) }],
    });
    const rssBefore = rssMb();
    const taking = performance.now();
    processor.start();
    await consumer.start();
    while (store.ownedPartitions().length < PARTITIONS) await new Promise((resolve) => setTimeout(resolve, 50));
    const takeOverMs = Math.round(performance.now() - taking);
    stopAll = async () => {
      stopAll = async () => undefined;
      await consumer.stop();
      await processor.stop();
    };
    const pending = await store.pendingTimers();
    const rssIdle = rssMb();
    console.log(`processor owns ${PARTITIONS} partitions with ${pending.toLocaleString()} pending timers after ${takeOverMs} ms; RSS ${rssBefore} MB before, ${rssIdle} MB idle`);

    console.log(`load: ${RATE.toLocaleString()} records/s for ${SECONDS} s, each setting a timer due 1-5 s later…`);
    const rssSamples: number[] = [];
    const sampler = setInterval(() => rssSamples.push(rssMb()), 1_000);
    const total = RATE * SECONDS;
    const started = Date.now();
    const sends: Array<Promise<void>> = [];
    for (let index = 0; index < total; index++) {
      const due = started + (index * 1000) / RATE;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const at = Date.now();
      const tick: Tick = { key: `live-${index % 50_000}`, at, remindAt: at + 1_000 + (index % 4_000) };
      sends.push(producer.publish(input.name, { key: tick.key, value: JSON.stringify(tick) }));
      if (sends.length >= 1_000) await Promise.all(sends.splice(0));
    }
    await Promise.all(sends);
    // Keys repeat every 50,000 records: a later tick replaces the key's pending reminder, so fewer fire than were set.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (await store.pendingTimers()) > pending) await new Promise((resolve) => setTimeout(resolve, 250));
    clearInterval(sampler);
    const rssAfter = rssMb();
    const measured = lateness.filter((sample) => sample.at >= started + 5_000).map((sample) => sample.ms).sort((a, b) => a - b);
    const figures = {
      samples: measured.length,
      p50: percentile(measured, 50),
      p95: percentile(measured, 95),
      p99: percentile(measured, 99),
      max: measured[measured.length - 1] ?? 0,
    };
    console.log(`  fired ${fired.toLocaleString()} timers; lateness p50 ${figures.p50} ms, p95 ${figures.p95} ms, p99 ${figures.p99} ms, max ${figures.max} ms (${figures.samples} after the warm-up)`);
    console.log(`  RSS during the load ${Math.min(...rssSamples)}-${Math.max(...rssSamples)} MB, after ${rssAfter} MB; ${(await store.pendingTimers()).toLocaleString()} still pending`);

    writeReport('timers', {
      pending: { timers: pending, partitions: PARTITIONS, seedSeconds: Number(seedSeconds.toFixed(1)), takeOverMs },
      load: { recordsPerSecond: RATE, seconds: SECONDS, timersFired: fired },
      latenessMs: figures,
      rssMb: { beforeTakeOver: rssBefore, idleWithAllPending: rssIdle, duringLoadMin: Math.min(...rssSamples), duringLoadMax: Math.max(...rssSamples), after: rssAfter },
      target: { pendingTimers: 1_000_000, latenessP99Ms: 1_000 },
    });
  } finally {
    await stopAll();
    await producer.disconnect().catch(() => undefined);
    await dataSource.destroy();
    await stack.stop();
  }
});
