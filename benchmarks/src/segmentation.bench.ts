import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ALL_TOPICS, ProfileUpdateRecord, ResolvedEvent, Topics } from '@kairos/contracts';
import { publishFolder } from '@kairos/definitions-topic';
import { BatchConsumer, connectKafka, ensureTopics, keyPartition, rawDecoder, RecordProducer } from '@kairos/kafka';
import { freePort, startLocalStack } from '@kairos/local-stack';
import { emptyProfileState } from '@kairos/segmentation';
import { Client } from 'pg';
import { describePhases, phasesBetween, readPhases } from './batch-phases';
import { measurePassthrough, percentile } from './passthrough';
import { runBenchmark, writeReport } from './report';
import { machineBusySeconds, processCpuSeconds, ServiceProcess, startServiceProcess } from './service-process';

/**
 * npm run bench:segmentation — in one run, on the real broker and PostgreSQL, one segmentation process:
 * 1. the passthrough ceiling (BENCH_CEILING_RECORDS, 100,000);
 * 2. BENCH_PROFILES (200,000 — the issue's 1,000,000 scaled down so the run takes minutes on a shared 2-core machine;
 *    set it to 1000000 for the full size) stored profiles and 50 segment definitions (aggregates, windowed counts,
 *    absence, consent, traits, segments of segments);
 * 3. saturated: BENCH_SEGMENTATION_EVENTS (100,000) resolved events for random stored profiles as fast as possible:
 *    applied events/s (one profile update each) as a ratio of the ceiling, and the service's RSS;
 * 4. paced for 10 s at BENCH_PACED_RATE (5,000/s, capped at half the saturated rate: latency under overload only
 *    measures the backlog), then at 1,000/s: p50/p99 from producing the resolved event to the profile update (which
 *    carries the segment changes) being published;
 * 5. a 51st segment published: seconds until it is backfilled over every stored profile, and the live p99 at
 *    BENCH_BACKFILL_LIVE_RATE (500/s) while it runs;
 * 6. a pending time-only transition for every stored profile (written while the service is stopped, found when it
 *    starts again), due over 10 s: lateness p50/p99 of their firing.
 * BENCH_STOP_AFTER=saturated (or paced) stops after step 3 (or 4), for A/B runs of a change to the hot path; no report
 * is written then.
 */

const PROFILES = Number(process.env['BENCH_PROFILES'] ?? 200_000);
const EVENTS = Number(process.env['BENCH_SEGMENTATION_EVENTS'] ?? 100_000);
const PACED_RATE = Number(process.env['BENCH_PACED_RATE'] ?? 5_000);
const BACKFILL_LIVE_RATE = Number(process.env['BENCH_BACKFILL_LIVE_RATE'] ?? 500);
const STOP_AFTER = process.env['BENCH_STOP_AFTER'];
if (STOP_AFTER !== undefined && STOP_AFTER !== 'saturated' && STOP_AFTER !== 'paced') throw new Error(`BENCH_STOP_AFTER is "${STOP_AFTER}": saturated or paced, or unset for every phase`);
const PARTITIONS = 4;
const SEGMENTS = 50;
const SCHEMA = 'segmentation_bench';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const profileId = (index: number) => `00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`;
const rssMb = (pid: number) => Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024);

/** 50 segments of the kinds the seeds use, every tenth a segment of segments. */
function segmentRules(): Record<string, unknown> {
  const rules: Record<string, unknown> = {};
  for (let index = 0; index < SEGMENTS; index++) {
    const id = `bench-${String(index).padStart(2, '0')}`;
    switch (index % 5) {
      case 0:
        rules[id] = { aggregate: { sum: 'price', of: 'Order Completed' }, atLeast: 100 + index * 20 };
        break;
      case 1:
        rules[id] = { performed: 'Product Viewed', atLeast: 2 + (index % 7), within: '7d' };
        break;
      case 2:
        rules[id] = { all: [{ performed: 'Order Completed' }, { notPerformed: 'Order Completed', within: `${index + 1}d` }] };
        break;
      case 3:
        rules[id] = index % 2 === 0 ? { consent: { channel: 'email', purpose: 'marketing' } } : { trait: 'plan', equals: 'pro' };
        break;
      default:
        rules[id] = { all: [{ inSegment: `bench-${String(index - 4).padStart(2, '0')}` }, { performed: 'Product Viewed', atLeast: 1 }] };
    }
  }
  return rules;
}

/** The mix, deterministic per index: views, orders, page views, identifies with traits and consent events. */
function mixEvent(index: number, prefix: string): ResolvedEvent {
  const profile = profileId((index * 7919) % PROFILES);
  const slot = index % 20;
  const timestamp = new Date().toISOString();
  const base = { messageId: `${prefix}-${index}`, sourceId: 'bench', receivedAt: timestamp, timestamp, identifiers: { userId: profile }, profileId: profile, resolution: { matched: [], linked: [], ignored: [], mergedProfileIds: [] } };
  if (slot < 12) return { ...base, type: 'track', event: 'Product Viewed', properties: { product_id: `p-${index % 500}`, price: 79 } };
  if (slot < 16) return { ...base, type: 'track', event: 'Order Completed', properties: { price: 40 + (index % 200), currency: 'CHF' } };
  if (slot < 18) return { ...base, type: 'page', name: 'Home' };
  if (slot < 19) return { ...base, type: 'identify', traits: { plan: index % 3 === 0 ? 'pro' : 'free', email: `c${index}@example.ch` } };
  return { ...base, type: 'track', event: 'Subscribed', properties: { wording: 'Send me offers' } };
}

runBenchmark(async () => {
  const stack = await startLocalStack({ purpose: 'test', env: { ...process.env, SMTP_URL: 'unused' }, log: console.log });
  const kafka = connectKafka({ brokers: stack.kafkaBrokers, clientId: 'kairos-bench', logLevel: 'error' });
  const admin = kafka.admin();
  await admin.connect();
  const database = new Client({ connectionString: stack.databaseUrl });
  await database.connect();
  const producer = new RecordProducer(kafka, { maxBatchRecords: 5_000, lingerMs: 5 });
  const folder = mkdtempSync(join(tmpdir(), 'kairos-bench-segments-'));
  let service: ServiceProcess | undefined;
  const readers: BatchConsumer[] = [];
  try {
    const ceiling = await measurePassthrough({ brokers: stack.kafkaBrokers, records: Number(process.env['BENCH_CEILING_RECORDS'] ?? 100_000), partitions: PARTITIONS, latencySeconds: 5, log: console.log });
    // The definitions topic keeps its one partition (a release is read in order); the profile topics get PARTITIONS.
    await ensureTopics(kafka, [Topics.definitions]);
    await ensureTopics(kafka, ALL_TOPICS, { partitions: PARTITIONS });
    await producer.connect();

    mkdirSync(join(folder, 'segments'));
    const publish = async (rules: Record<string, unknown>) => {
      for (const [id, rule] of Object.entries(rules)) writeFileSync(join(folder, 'segments', `${id}.yaml`), `kind: segment\nid: ${id}\nrule: ${JSON.stringify(rule)}\n`);
      for (let attempt = 1; ; attempt++) {
        try {
          const release = await publishFolder(kafka, folder, { user: 'bench', host: 'bench', tool: 'bench' }, { write: true });
          if (release.errors.length > 0) throw new Error(`definitions refused: ${JSON.stringify(release.errors)}`);
          return;
        } catch (error) {
          if (attempt >= 20 || !/leader/i.test((error as Error).message)) throw error;
          await sleep(500);
        }
      }
    };
    await publish(segmentRules());

    const healthPort = await freePort();
    const serviceEnv = { KAFKA_BROKERS: stack.kafkaBrokers, DATABASE_URL: stack.databaseUrl, DATABASE_SCHEMA: SCHEMA, KAFKA_TOPIC_PARTITIONS: String(PARTITIONS), TELEMETRY_EXPORTER: 'prometheus', LOG_LEVEL: 'info' };
    service = await startServiceProcess('segmentation', serviceEnv, healthPort);
    const pid = service.child.pid ?? 0;

    // Stored profiles, written straight into the store (as a long-running service would hold them).
    console.log(`seeding ${PROFILES.toLocaleString()} stored profiles…`);
    const seeded = performance.now();
    for (let from = 0; from < PROFILES; from += 10_000) {
      const keys = Array.from({ length: Math.min(10_000, PROFILES - from) }, (_, index) => profileId(from + index));
      await database.query(
        `INSERT INTO ${SCHEMA}.state_entries (store, key, partition, value) SELECT 'profiles', k, p, v::jsonb FROM unnest($1::text[], $2::int[], $3::text[]) AS t(k, p, v)`,
        [keys, keys.map((key) => keyPartition(key, PARTITIONS)), keys.map((key) => JSON.stringify({ profile: emptyProfileState(key), memberships: {} }))],
      );
    }
    await database.query(`ANALYZE ${SCHEMA}.state_entries`);
    console.log(`  seeded in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);

    const updatesEnd = async () => (await admin.fetchTopicOffsets(Topics.profileUpdates.name)).reduce((sum, partition) => sum + Number(partition.high), 0);
    const send = (event: ResolvedEvent) => producer.publish(Topics.resolved.name, { key: event.profileId, value: JSON.stringify(event) });
    const sendAndWait = async (count: number, prefix: string) => {
      const before = await updatesEnd();
      const started = performance.now();
      for (let offset = 0; offset < count; offset += 10_000) await Promise.all(Array.from({ length: Math.min(10_000, count - offset) }, (_, index) => send(mixEvent(offset + index, prefix))));
      let applied = 0;
      while ((applied = (await updatesEnd()) - before) < count) {
        await sleep(100);
        if (performance.now() - started > 900_000) throw new Error(`segmentation stalled at ${applied} of ${count} updates`);
      }
      return (performance.now() - started) / 1000;
    };

    console.log('warm-up: 5,000 events…');
    await sendAndWait(5_000, 'warm');
    await sleep(2_000);
    console.log(`saturated: ${EVENTS.toLocaleString()} events for random profiles of ${PROFILES.toLocaleString()}, ${SEGMENTS} segments…`);
    const cpuBefore = { service: processCpuSeconds(pid), machine: machineBusySeconds() };
    let phasesBefore = await readPhases(healthPort);
    const seconds = await sendAndWait(EVENTS, 'drain');
    const saturatedPhases = phasesBetween(phasesBefore, await readPhases(healthPort));
    // CPU per event: steadier than the rate on a shared machine, and what a change to the hot path moves.
    const cpuPerEvent = { serviceMs: ((processCpuSeconds(pid) - cpuBefore.service) * 1000) / EVENTS, machineMs: ((machineBusySeconds() - cpuBefore.machine) * 1000) / EVENTS };
    const rate = EVENTS / seconds;
    const ratio = rate / ceiling.passthroughRecordsPerSecond;
    const rss = rssMb(pid);
    console.log(`  ${Math.round(rate).toLocaleString()} events/s applied (${(ratio * 100).toFixed(0)}% of the passthrough ceiling of ${ceiling.passthroughRecordsPerSecond.toLocaleString()}/s); service RSS ${rss} MB`);
    console.log(`  CPU per event: service ${cpuPerEvent.serviceMs.toFixed(3)} ms, whole machine ${cpuPerEvent.machineMs.toFixed(3)} ms (the broker, PostgreSQL and this process included)`);
    console.log(`  ${describePhases(saturatedPhases)}`);
    if (STOP_AFTER === 'saturated') return;

    // Started now, so parsing updates does not take CPU from the saturated run.
    // Latency: from our send to the update's publish time (the record's timestamp, set by the service's producer).
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    const lateness: number[] = [];
    const reader = new BatchConsumer(kafka, {
      groupId: `bench-reader-${Date.now()}`,
      producer,
      fromBeginning: false,
      subscriptions: [
        {
          topic: Topics.profileUpdates.name,
          decoder: rawDecoder,
          handler: async (records) => {
            for (const record of records) {
              const update = JSON.parse(record.value?.toString() ?? '{}') as ProfileUpdateRecord;
              if (update.input.kind === 'timer') lateness.push(Number(record.timestamp) - Date.parse(update.at));
              if (update.input.kind !== 'event') continue;
              const sent = sentAt.get(update.input.event.messageId);
              if (sent !== undefined) latencies.push(Number(record.timestamp) - sent);
            }
          },
        },
      ],
    });
    readers.push(reader);
    await reader.start();

    await sleep(3_000);

    const paced = async (eventsPerSecond: number, durationMs: number, prefix: string, until?: () => boolean) => {
      latencies.length = 0;
      const start = Date.now();
      let index = 0;
      for (; Date.now() - start < durationMs || (until && !until()); index++) {
        const wait = start + (index * 1000) / eventsPerSecond - Date.now();
        if (wait > 0) await sleep(wait);
        const event = mixEvent(index, prefix);
        sentAt.set(event.messageId, Date.now());
        void send(event);
        if (Date.now() - start > 600_000) break;
      }
      const deadline = Date.now() + 60_000;
      while (latencies.length < index && Date.now() < deadline) await sleep(200);
      const sorted = [...latencies].sort((a, b) => a - b);
      sentAt.clear();
      return { eventsPerSecond, sent: index, samples: sorted.length, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted[sorted.length - 1] };
    };
    // Two paced rates: the requested one (capped at half the saturated rate: latency under overload only measures the
    // backlog) and 1,000/s, where small batches show the per-event path rather than a queue.
    const pacedRate = Math.min(PACED_RATE, Math.floor(rate * 0.5));
    console.log(`paced: ${pacedRate.toLocaleString()} events/s for 10 s${pacedRate < PACED_RATE ? ` (${PACED_RATE.toLocaleString()}/s is above what one process sustains here)` : ''}…`);
    phasesBefore = await readPhases(healthPort);
    const pacedResult = await paced(pacedRate, 10_000, 'paced');
    const pacedPhases = phasesBetween(phasesBefore, await readPhases(healthPort));
    console.log(`  resolved event -> published update: p50 ${pacedResult.p50Ms} ms, p99 ${pacedResult.p99Ms} ms (${pacedResult.samples} samples)`);
    console.log(`  ${describePhases(pacedPhases)}`);
    const lowRate = Math.min(1_000, pacedRate);
    console.log(`paced: ${lowRate.toLocaleString()} events/s for 10 s…`);
    phasesBefore = await readPhases(healthPort);
    const pacedLow = await paced(lowRate, 10_000, 'paced-low');
    const pacedLowPhases = phasesBetween(phasesBefore, await readPhases(healthPort));
    console.log(`  resolved event -> published update: p50 ${pacedLow.p50Ms} ms, p99 ${pacedLow.p99Ms} ms (${pacedLow.samples} samples)`);
    console.log(`  ${describePhases(pacedLowPhases)}`);
    if (STOP_AFTER === 'paced') return;

    // Backfill: a 51st segment over every stored profile, with a live load while it runs.
    const backfillDone = async () => {
      const { rows } = await database.query<{ n: string }>(`SELECT count(*) AS n FROM ${SCHEMA}.state_entries WHERE store = 'profiles' AND key LIKE '~backfill/%' AND value->'done' ? 'bench-new'`);
      return Number(rows[0]?.n ?? 0) === PARTITIONS;
    };
    let done = false;
    console.log(`backfill: a new segment over ${PROFILES.toLocaleString()} stored profiles, ${BACKFILL_LIVE_RATE}/s live meanwhile…`);
    const backfillStart = performance.now();
    await publish({ 'bench-new': { performed: 'Product Viewed', atLeast: 1 } });
    const watcher = (async () => {
      while (!(done = await backfillDone())) await sleep(250);
      return (performance.now() - backfillStart) / 1000;
    })();
    const liveDuringBackfill = await paced(BACKFILL_LIVE_RATE, 2_000, 'backfill-live', () => done);
    const backfillSeconds = await watcher;
    console.log(`  backfilled in ${backfillSeconds.toFixed(1)} s (${Math.round(PROFILES / backfillSeconds).toLocaleString()} profiles/s); live p99 meanwhile ${liveDuringBackfill.p99Ms} ms (p50 ${liveDuringBackfill.p50Ms} ms)`);

    // Time-only transitions: a pending segment timer for every stored profile, due over 10 s. Written while the
    // service is stopped (it learns a partition's earliest timer when it acquires it), as a restart would find them.
    await service.stop();
    const dueFrom = Date.now() + 30_000;
    console.log(`time-only: ${PROFILES.toLocaleString()} pending transitions due over 10 s…`);
    for (let from = 0; from < PROFILES; from += 10_000) {
      const keys = Array.from({ length: Math.min(10_000, PROFILES - from) }, (_, index) => profileId(from + index));
      await database.query(
        `INSERT INTO ${SCHEMA}.state_timers (store, key, name, partition, due_at_ms) SELECT 'profiles', k, 'segments', p, d FROM unnest($1::text[], $2::int[], $3::bigint[]) AS t(k, p, d)
         ON CONFLICT (store, key, name) DO UPDATE SET due_at_ms = excluded.due_at_ms`,
        [keys, keys.map((key) => keyPartition(key, PARTITIONS)), keys.map((_, index) => dueFrom + Math.floor(((from + index) * 10_000) / PROFILES))],
      );
    }
    service = await startServiceProcess('segmentation', serviceEnv, healthPort);
    if (Date.now() > dueFrom) console.log(`  (the restart took until ${((Date.now() - dueFrom) / 1000).toFixed(1)} s after the first due time: lateness includes it)`);
    lateness.length = 0;
    const timersDeadline = Date.now() + 300_000;
    while (lateness.length < PROFILES && Date.now() < timersDeadline) await sleep(500);
    const late = [...lateness].sort((a, b) => a - b);
    const timers = { pending: PROFILES, fired: late.length, latenessP50Ms: percentile(late, 50), latenessP99Ms: percentile(late, 99), maxMs: late[late.length - 1] };
    console.log(`  ${timers.fired.toLocaleString()} fired; lateness p50 ${timers.latenessP50Ms} ms, p99 ${timers.latenessP99Ms} ms`);
    const rssEnd = rssMb(service.child.pid ?? 0);

    writeReport('segmentation', {
      ceiling,
      scale: { storedProfiles: PROFILES, segments: SEGMENTS, partitions: PARTITIONS, instances: 1, note: PROFILES < 1_000_000 ? `scaled down from the issue's 1,000,000 profiles (BENCH_PROFILES=${PROFILES})` : undefined },
      saturated: { events: EVENTS, seconds: Number(seconds.toFixed(2)), eventsPerSecond: Math.round(rate), ratioToPassthrough: Number(ratio.toFixed(3)), serviceRssMb: rss, serviceCpuMsPerEvent: Number(cpuPerEvent.serviceMs.toFixed(3)), machineCpuMsPerEvent: Number(cpuPerEvent.machineMs.toFixed(3)), batchPhases: saturatedPhases },
      paced: { requestedEventsPerSecond: PACED_RATE, ...pacedResult, batchPhases: pacedPhases, measures: 'resolved event produced -> profile update (with its segment changes) published' },
      pacedLow: { ...pacedLow, batchPhases: pacedLowPhases },
      backfill: { profiles: PROFILES, seconds: Number(backfillSeconds.toFixed(1)), profilesPerSecond: Math.round(PROFILES / backfillSeconds), liveDuringBackfill },
      timeOnly: timers,
      serviceRssMbAtEnd: rssEnd,
      target: { ratioToPassthrough: 0.5, pacedP99Ms: 100 },
    });
  } finally {
    for (const reader of readers) await reader.stop().catch(() => undefined);
    await service?.stop().catch(() => undefined);
    await producer.disconnect();
    await database.end();
    await admin.disconnect();
    await stack.stop();
    rmSync(folder, { recursive: true, force: true });
  }
});
