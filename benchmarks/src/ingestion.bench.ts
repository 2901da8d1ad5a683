import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { ALL_TOPICS, Topics } from '@kairos/contracts';
import { connectKafka, ensureTopics, RecordProducer } from '@kairos/kafka';
import { freePort, startLocalStack, stopChild, waitUntilHealthy } from '@kairos/local-stack';
import { pacedLoad } from './paced-load';
import { measurePassthrough } from './passthrough';
import { runBenchmark, writeReport } from './report';

/**
 * npm run bench:ingestion — in one run, on the real broker and PostgreSQL:
 * 1. the passthrough ceiling (BENCH_CEILING_RECORDS, 300,000);
 * 2. the intake: BENCH_INTAKE_RECORDS (200,000) Segment events of ~500 bytes already on the raw topic, then the
 *    ingestion service (its own process) started; records/s from raw to accepted, and the ratio to the ceiling;
 * 3. the HTTP collector: autocannon posting /v1/batch (100 events a request) for BENCH_HTTP_SECONDS (20) over
 *    BENCH_HTTP_CONNECTIONS (20) for the most events/s durably in Kafka; then BENCH_PACED_EVENTS (20,000) events/s
 *    as evenly spaced requests for the latency at that rate (paced-load.ts).
 * Each is measured in a service process of its own role (INGESTION_ROLE=intake, then collector), as they scale in
 * production; on two cores a process running both would halve each.
 */

const INTAKE_RECORDS = Number(process.env['BENCH_INTAKE_RECORDS'] ?? 200_000);
const HTTP_SECONDS = Number(process.env['BENCH_HTTP_SECONDS'] ?? 20);
const HTTP_CONNECTIONS = Number(process.env['BENCH_HTTP_CONNECTIONS'] ?? 20);
const PARTITIONS = 3;
const ROOT = join(__dirname, '..', '..');

function shopEvent(index: number, withMessageId: boolean): Record<string, unknown> {
  return {
    type: 'track',
    event: 'Product Viewed',
    userId: `customer-${index % 50_000}`,
    ...(withMessageId ? { messageId: `bench-${index}-${randomUUID()}` } : {}),
    timestamp: new Date().toISOString(),
    properties: { product_id: `p-${index % 500}`, name: 'Gooseneck kettle', price: 79, currency: 'CHF', category: 'Brewing', url: 'https://shop.example/p/kettle' },
    context: { library: { name: 'analytics.js', version: '5.0.0' }, userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36', locale: 'de-CH', page: { path: '/p/kettle' } },
  };
}

runBenchmark(async () => {
  const stack = await startLocalStack({ purpose: 'test', env: { ...process.env, SMTP_URL: 'unused' }, log: console.log });
  const kafka = connectKafka({ brokers: stack.kafkaBrokers, clientId: 'kairos-bench', logLevel: 'error' });
  const admin = kafka.admin();
  await admin.connect();
  let stopService: (() => Promise<void>) | undefined;
  try {
    const ceiling = await measurePassthrough({
      brokers: stack.kafkaBrokers,
      records: Number(process.env['BENCH_CEILING_RECORDS'] ?? 300_000),
      partitions: PARTITIONS,
      latencySeconds: 5,
      log: console.log,
    });

    await ensureTopics(kafka, ALL_TOPICS, { partitions: PARTITIONS });
    console.log(`intake: writing ${INTAKE_RECORDS.toLocaleString()} events to the raw topic`);
    const producer = new RecordProducer(kafka, { maxBatchRecords: 5_000, lingerMs: 5 });
    await producer.connect();
    for (let offset = 0; offset < INTAKE_RECORDS; offset += 20_000) {
      const chunk = Array.from({ length: Math.min(20_000, INTAKE_RECORDS - offset) }, (_, index) => shopEvent(offset + index, true));
      await Promise.all(chunk.map((event) => producer.publish(Topics.raw.name, { key: String(event['userId']), value: JSON.stringify(event) })));
    }
    await producer.disconnect();
    const eventBytes = Buffer.byteLength(JSON.stringify(shopEvent(0, true)));

    const writeKey = `bench_write_key_${randomUUID()}`;
    const collectorPort = await freePort();
    const healthPort = await freePort();
    const startService = async (role: 'intake' | 'collector') => {
      const child = spawn(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'services', 'ingestion', 'src', 'main.ts')], {
        cwd: ROOT,
        stdio: ['ignore', 'inherit', 'inherit'],
        env: {
          ...process.env,
          INGESTION_ROLE: role,
          KAFKA_BROKERS: stack.kafkaBrokers,
          DATABASE_URL: stack.databaseUrl,
          KAIROS_SOURCES: JSON.stringify([{ id: 'bench', writeKey }]),
          COLLECTOR_PORT: String(collectorPort),
          HEALTH_PORT: String(healthPort),
          KAFKA_TOPIC_PARTITIONS: String(PARTITIONS),
          LOG_LEVEL: 'warn',
        },
      });
      stopService = async () => {
        stopService = undefined;
        await stopChild(child, 30_000);
      };
      await waitUntilHealthy(`the ${role} service`, child, healthPort);
    };
    const acceptedCount = async () => (await admin.fetchTopicOffsets(Topics.accepted.name)).reduce((sum, partition) => sum + Number(partition.high), 0);
    await startService('intake');
    const intakeStarted = performance.now();
    let accepted = 0;
    while ((accepted = await acceptedCount()) < INTAKE_RECORDS) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (performance.now() - intakeStarted > 600_000) throw new Error(`intake stalled at ${accepted}`);
    }
    const intakeRate = INTAKE_RECORDS / ((performance.now() - intakeStarted) / 1000);
    console.log(`  intake ${Math.round(intakeRate).toLocaleString()} records/s raw -> accepted (${((intakeRate / ceiling.passthroughRecordsPerSecond) * 100).toFixed(0)}% of the passthrough ceiling)`);

    await stopService?.();
    await startService('collector');
    console.log(`collector: POST /v1/batch, 100 events a request, ${HTTP_CONNECTIONS} connections, ${HTTP_SECONDS} s`);
    const body = JSON.stringify({ batch: Array.from({ length: 100 }, (_, index) => shopEvent(index, false)), sentAt: new Date().toISOString() });
    const result = await autocannon({
      url: `http://127.0.0.1:${collectorPort}/v1/batch`,
      method: 'POST',
      connections: HTTP_CONNECTIONS,
      duration: HTTP_SECONDS,
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
      body,
    });
    const okRequests = result['2xx'];
    const httpEventsPerSecond = (okRequests * 100) / HTTP_SECONDS;
    console.log(
      `  ${Math.round(httpEventsPerSecond).toLocaleString()} events/s accepted into Kafka (${okRequests} requests of 100 events, ${result.non2xx} non-2xx); ` +
        `latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms`,
    );

    // The target load, evenly spaced: 20,000 events/s as 200 requests of 100 events.
    const pacedEvents = Number(process.env['BENCH_PACED_EVENTS'] ?? 20_000);
    console.log(`collector, paced: ${pacedEvents.toLocaleString()} events/s evenly spaced for ${HTTP_SECONDS} s`);
    const paced = await pacedLoad({
      url: `http://127.0.0.1:${collectorPort}/v1/batch`,
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
      body,
      requestsPerSecond: pacedEvents / 100,
      seconds: HTTP_SECONDS,
    });
    console.log(`  ${paced.ok} of ${paced.requests} requests answered 200; latency p50 ${paced.latencyMs.p50} ms, p99 ${paced.latencyMs.p99} ms, max ${paced.latencyMs.max} ms`);

    writeReport('ingestion', {
      ceiling,
      intake: { records: INTAKE_RECORDS, eventBytes, recordsPerSecond: Math.round(intakeRate), ratioToPassthrough: Number((intakeRate / ceiling.passthroughRecordsPerSecond).toFixed(3)) },
      collector: {
        seconds: HTTP_SECONDS,
        connections: HTTP_CONNECTIONS,
        eventsPerRequest: 100,
        requestBytes: Buffer.byteLength(body),
        saturated: {
          eventsPerSecond: Math.round(httpEventsPerSecond),
          non2xx: result.non2xx,
          latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
        },
        paced: { eventsPerSecond: pacedEvents, evenlySpaced: true, ...paced },
        ratioToPassthrough: Number((httpEventsPerSecond / ceiling.passthroughRecordsPerSecond).toFixed(3)),
      },
    });
  } finally {
    await stopService?.();
    await admin.disconnect();
    await stack.stop();
  }
});
