import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { AcceptedEvent, ALL_TOPICS, Topics } from '@kairos/contracts';
import { BatchConsumer, connectKafka, ensureTopics, rawDecoder, RecordProducer } from '@kairos/kafka';
import { freePort, startLocalStack } from '@kairos/local-stack';
import { Client } from 'pg';
import { measurePassthrough, percentile } from './passthrough';
import { runBenchmark, writeReport } from './report';
import { ServiceProcess, startServiceProcess } from './service-process';

/**
 * npm run bench:identity — in one run, on the real broker and PostgreSQL:
 * 1. the passthrough ceiling (BENCH_CEILING_RECORDS, 200,000);
 * 2. then twice, with one identity process and with two in one consumer group (each their own process, as in
 *    production), each time on a schema of their own seeded with the same graph of BENCH_IDENTIFIERS (1,000,000)
 *    identifiers (profiles of user_id + anonymous_id + email):
 *    - BENCH_IDENTITY_EVENTS (100,000) accepted events, 80% of known profiles, 15% new anonymous visitors, 5% logins
 *      that merge such a visitor into a known profile, produced as fast as possible: resolutions/s (and as a ratio
 *      of the ceiling), and the services' RSS at the end;
 *    - the same mix at BENCH_PACED_RATE (1,000) events/s for 10 s: per-event latency accepted -> resolved.
 */

const IDENTIFIERS = Number(process.env['BENCH_IDENTIFIERS'] ?? 1_000_000);
const EVENTS = Number(process.env['BENCH_IDENTITY_EVENTS'] ?? 100_000);
const PACED_RATE = Number(process.env['BENCH_PACED_RATE'] ?? 1_000);
const WARM_UP_EVENTS = 5_000;
/** Four, so that two instances share the partitions evenly. */
const PARTITIONS = 4;
const T0 = Date.parse('2026-01-01T00:00:00Z');

/** The mix: deterministic per index, so a run can be repeated. */
function mixEvent(index: number, profiles: number, prefix: string): AcceptedEvent {
  const slot = index % 100;
  const known = 1 + ((index * 7919) % profiles);
  const at = new Date(T0 + 86_400_000 + index).toISOString();
  const base = { messageId: `${prefix}-${index}`, sourceId: 'bench', receivedAt: at, timestamp: at, properties: { product_id: `p-${index % 500}`, price: 79, currency: 'CHF' } };
  if (slot < 80) return { ...base, type: 'track', event: 'Product Viewed', userId: `u${known}`, identifiers: { userId: `u${known}`, anonymousId: `a${known}` } };
  if (slot < 95) return { ...base, type: 'page', anonymousId: `${prefix}-n${index}`, identifiers: { anonymousId: `${prefix}-n${index}` } };
  // A login merging the visitor of 15 events earlier (slot 80..94 of this hundred) into a known customer.
  const visitor = index - 15;
  return { ...base, type: 'identify', userId: `u${known}`, identifiers: { userId: `u${known}`, anonymousId: `${prefix}-n${visitor}` } };
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Topics created a moment ago may not have a leader yet: the broker answers NOT_LEADER for a while. */
async function retried<T>(request: () => Promise<T>, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await sleep(500);
    }
  }
}

runBenchmark(async () => {
  const stack = await startLocalStack({ purpose: 'test', env: { ...process.env, SMTP_URL: 'unused' }, log: console.log });
  const kafka = connectKafka({ brokers: stack.kafkaBrokers, clientId: 'kairos-bench', logLevel: 'error' });
  const admin = kafka.admin();
  await admin.connect();
  const database = new Client({ connectionString: stack.databaseUrl });
  await database.connect();
  const producer = new RecordProducer(kafka, { maxBatchRecords: 5_000, lingerMs: 5 });
  const running: ServiceProcess[] = [];
  const stopServices = () => Promise.all(running.splice(0).map((service) => service.stop()));
  try {
    const ceiling = await measurePassthrough({
      brokers: stack.kafkaBrokers,
      records: Number(process.env['BENCH_CEILING_RECORDS'] ?? 200_000),
      partitions: PARTITIONS,
      latencySeconds: 5,
      log: console.log,
    });
    await ensureTopics(kafka, ALL_TOPICS, { partitions: PARTITIONS });
    await producer.connect();
    const profiles = Math.floor(IDENTIFIERS / 3);
    const send = (event: AcceptedEvent) => producer.publish(Topics.accepted.name, { key: event.identifiers.userId ?? event.identifiers.anonymousId ?? null, value: JSON.stringify(event) });
    const resolvedCount = async () => (await admin.fetchTopicOffsets(Topics.resolved.name)).reduce((sum, partition) => sum + Number(partition.high), 0);
    const sendAndWait = async (count: number, prefix: string, from = 0): Promise<number> => {
      const before = await resolvedCount();
      const started = performance.now();
      for (let offset = 0; offset < count; offset += 10_000) {
        await Promise.all(Array.from({ length: Math.min(10_000, count - offset) }, (_, index) => send(mixEvent(from + offset + index, profiles, prefix))));
      }
      let resolved = 0;
      while ((resolved = (await resolvedCount()) - before) < count) {
        await sleep(100);
        if (performance.now() - started > 900_000) throw new Error(`identity stalled at ${resolved} of ${count} resolved events`);
      }
      return (performance.now() - started) / 1000;
    };

    /**
     * What the graph lock is doing while `work` runs, from pg_stat_activity every 20 ms for the service's connections:
     * the share of samples in which some transaction holds it (and whether PostgreSQL is executing a statement of it
     * then, or the holder is between statements: its own code and round trips), and how many wait for it.
     */
    async function sampleGraphLock<T>(schema: string, work: Promise<T>) {
      let done = false;
      const finished = work.finally(() => (done = true));
      const counts = { samples: 0, held: 0, executing: 0, waiters: 0 };
      while (!done) {
        const { rows } = await database.query<{ state: string; wait_event: string | null }>(
          `SELECT state, wait_event FROM pg_stat_activity WHERE application_name = $1 AND state IN ('active', 'idle in transaction')`,
          [`kairos-${schema}`],
        );
        const holders = rows.filter((row) => row.wait_event !== 'advisory');
        counts.samples += 1;
        counts.held += holders.length > 0 ? 1 : 0;
        counts.executing += holders.some((row) => row.state === 'active') ? 1 : 0;
        counts.waiters += rows.length - holders.length;
        await sleep(20);
      }
      const share = (count: number) => Number((count / Math.max(1, counts.samples)).toFixed(2));
      return { result: await finished, lock: { samples: counts.samples, heldShare: share(counts.held), executingShare: share(counts.executing), meanWaiters: share(counts.waiters) } };
    }

    async function seed(schema: string): Promise<void> {
      console.log(`seeding ${(profiles * 3).toLocaleString()} identifiers in ${profiles.toLocaleString()} profiles into ${schema}…`);
      const seeded = performance.now();
      await database.query(`SET search_path = ${schema}`);
      await database.query(
        `INSERT INTO profiles (id, origin_received_at_ms, origin_at_ms, origin_event_id, merge_count, identifier_count)
         SELECT md5('p' || i)::uuid, $1, $1, 'seed/' || i, 0, 3 FROM generate_series(1, $2::int) i`,
        [T0, profiles],
      );
      for (const [type, value] of [['user_id', `'u' || i`], ['anonymous_id', `'a' || i`], ['email', `'c' || i || '@example.ch'`]] as const) {
        await database.query(
          `INSERT INTO links (identifier, profile_id, type, value, linked_at_ms, last_seen_at_ms)
           SELECT '${type}:' || ${value}, md5('p' || i)::uuid, '${type}', ${value}, $1, $1 FROM generate_series(1, $2::int) i`,
          [T0, profiles],
        );
      }
      await database.query('ANALYZE profiles; ANALYZE links');
      console.log(`  seeded in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);
    }

    /** `instances` identity processes in one group on a freshly seeded schema: saturated throughput, then paced latency. */
    async function measure(instances: number) {
      const label = instances === 1 ? 'one instance' : `${instances} instances`;
      const schema = `identity_bench_${instances}`;
      const groupId = `kairos-identity-bench-${instances}`;
      // The group starts at the end of the accepted topic: earlier rounds' events are not this round's work.
      const ends = await retried(() => admin.fetchTopicOffsets(Topics.accepted.name));
      await admin.setOffsets({ groupId, topic: Topics.accepted.name, partitions: ends.map(({ partition, high }) => ({ partition, offset: high })) });
      const env = {
        KAFKA_BROKERS: stack.kafkaBrokers,
        DATABASE_URL: stack.databaseUrl,
        DATABASE_SCHEMA: schema,
        KAFKA_GROUP_ID: groupId,
        KAFKA_TOPIC_PARTITIONS: String(PARTITIONS),
      };
      const start = async (index: number) =>
        running.push(await startServiceProcess('identity', { ...env, IDENTITY_API_PORT: String(await freePort()) }, await freePort(), `identity instance ${index + 1}`));
      await start(0); // runs the migrations
      await seed(schema);
      for (let index = 1; index < instances; index++) await start(index);
      // Warm-up: the group settles on its members and the code is optimised before anything is measured.
      await sendAndWait(WARM_UP_EVENTS, `${schema}-warm`);
      await sleep(3_000);

      console.log(`${label}: resolving ${EVENTS.toLocaleString()} events (80% known, 15% new anonymous, 5% merges)…`);
      const { result: seconds, lock } = await sampleGraphLock(schema, sendAndWait(EVENTS, `${schema}-drain`));
      const rate = EVENTS / seconds;
      const ratio = rate / ceiling.passthroughRecordsPerSecond;
      const rss = running.map((service) => rssMb(service.child.pid ?? 0));
      console.log(`  ${Math.round(rate).toLocaleString()} resolutions/s (${(ratio * 100).toFixed(0)}% of the passthrough ceiling); service RSS ${rss.join(' + ')} MB`);
      console.log(`  graph lock held ${(lock.heldShare * 100).toFixed(0)}% of the time (a statement executing ${(lock.executingShare * 100).toFixed(0)}%), ${lock.meanWaiters} waiting on average`);

      // Paced: latency per event from our send to the resolved record's timestamp (identity's produce time).
      const sentAt = new Map<string, number>();
      const latencies: number[] = [];
      const reader = new BatchConsumer(kafka, {
        groupId: `bench-reader-${schema}-${Date.now()}`,
        producer,
        fromBeginning: false,
        subscriptions: [
          {
            topic: Topics.resolved.name,
            decoder: rawDecoder,
            handler: async (records) => {
              for (const record of records) {
                const messageId = (JSON.parse(record.value?.toString() ?? '{}') as { messageId?: string }).messageId ?? '';
                const sent = sentAt.get(messageId);
                if (sent !== undefined) latencies.push(Number(record.timestamp) - sent);
              }
            },
          },
        ],
      });
      await reader.start();
      await sleep(3_000);
      console.log(`${label}, paced: ${PACED_RATE.toLocaleString()} events/s for 10 s…`);
      const pacedTotal = PACED_RATE * 10;
      const pacedStart = Date.now();
      for (let index = 0; index < pacedTotal; index++) {
        const due = pacedStart + (index * 1000) / PACED_RATE;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
        const event = mixEvent(EVENTS + index, profiles, `${schema}-paced`);
        sentAt.set(event.messageId, Date.now());
        void send(event);
      }
      const deadline = Date.now() + 60_000;
      while (latencies.length < pacedTotal && Date.now() < deadline) await sleep(200);
      await reader.stop();
      latencies.sort((a, b) => a - b);
      const latency = { samples: latencies.length, p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99) };
      console.log(`  latency accepted -> resolved: p50 ${latency.p50} ms, p95 ${latency.p95} ms, p99 ${latency.p99} ms (${latency.samples} samples)`);
      await stopServices();
      return {
        instances,
        saturated: { events: EVENTS, seconds: Number(seconds.toFixed(2)), resolutionsPerSecond: Math.round(rate), ratioToPassthrough: Number(ratio.toFixed(3)), serviceRssMb: rss, graphLock: lock },
        paced: { eventsPerSecond: PACED_RATE, seconds: 10, latencyMs: latency },
      };
    }

    const one = await measure(1);
    const two = await measure(2);
    const speedup = two.saturated.resolutionsPerSecond / one.saturated.resolutionsPerSecond;
    console.log(`two instances resolve ${speedup.toFixed(2)}x as fast as one`);

    writeReport('identity', {
      ceiling,
      graph: { identifiers: profiles * 3, profiles },
      mix: { knownProfiles: 0.8, newAnonymous: 0.15, merges: 0.05 },
      oneInstance: one,
      twoInstances: two,
      twoOverOne: Number(speedup.toFixed(2)),
      target: { resolutionsPerSecond: 50_000, p95Ms: 7 },
    });
  } finally {
    await stopServices();
    await producer.disconnect();
    await database.end();
    await admin.disconnect();
    await stack.stop();
  }
});
