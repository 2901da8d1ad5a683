import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort, KAFKA_VERSION, startKafkaBroker } from '@kairos/local-stack';
import { BatchConsumer, connectKafka, ensureTopics, rawDecoder, RecordProducer } from '../src';

/**
 * The ceiling for every Kairos stage: records of ~500 bytes produced to a topic, passed through one consume->produce
 * stage (what every pipeline stage does) and read from its output topic, on the real broker.
 *
 *   npm run bench:kafka                       1,000,000 records (BENCH_RECORDS to change), report in reports/
 *
 * Phase 1 (throughput): produce all records as fast as the producer is acknowledged, while the stage and a sink run.
 * Phase 2 (latency): a paced load at half the measured passthrough rate (at most 20,000/s) for BENCH_LATENCY_SECONDS;
 * latency is from publish() to arrival at the sink, through both hops. Latency under saturation would only measure the
 * backlog, which is why the two are separate.
 */

const RECORDS = Number(process.env['BENCH_RECORDS'] ?? 1_000_000);
const LATENCY_SECONDS = Number(process.env['BENCH_LATENCY_SECONDS'] ?? 15);
const PARTITIONS = Number(process.env['BENCH_PARTITIONS'] ?? 3);
const PAD = 'x'.repeat(440);

const value = (phase: string, index: number) => JSON.stringify({ phase, index, sentAt: performance.now(), pad: PAD });

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  let brokers = process.env['KAFKA_BROKERS'];
  let stopBroker: (() => Promise<void>) | undefined;
  if (!brokers) {
    console.log('starting a local Kafka broker for the benchmark…');
    const broker = await startKafkaBroker({ port: await freePort(), controllerPort: await freePort(), dataDir: join('/tmp', `kairos-bench-${process.pid}`), fresh: true, log: console.log });
    brokers = broker.brokers;
    stopBroker = broker.stop;
  }
  const kafka = connectKafka({ brokers, clientId: 'kairos-bench', logLevel: 'error' });
  const id = Date.now().toString(36);
  const input = `bench-in-${id}`;
  const output = `bench-out-${id}`;
  const spec = (name: string) => ({ name, key: 'k', value: 'v', partitions: PARTITIONS, cleanupPolicy: 'delete' as const, retentionMs: 3_600_000, description: 'bench' });
  await ensureTopics(kafka, [spec(input), spec(output)]);

  const producer = new RecordProducer(kafka, { maxBatchRecords: 5_000, lingerMs: 5 });
  const stageProducer = new RecordProducer(kafka);
  await Promise.all([producer.connect(), stageProducer.connect()]);

  // The stage: consume a batch, produce it onward in one request, commit.
  const stage = new BatchConsumer(kafka, {
    groupId: `bench-stage-${id}`,
    producer: stageProducer,
    partitionsConsumedConcurrently: PARTITIONS,
    subscriptions: [{ topic: input, decoder: rawDecoder, handler: (records) => stageProducer.send(output, records.map((record) => ({ key: record.key, value: record.value }))) }],
  });
  let arrived = 0;
  let firstArrival = 0;
  let lastArrival = 0;
  const latencies: number[] = [];
  const sink = new BatchConsumer(kafka, {
    groupId: `bench-sink-${id}`,
    producer: stageProducer,
    partitionsConsumedConcurrently: PARTITIONS,
    subscriptions: [
      {
        topic: output,
        decoder: rawDecoder,
        handler: async (records) => {
          const now = performance.now();
          if (!firstArrival) firstArrival = now;
          lastArrival = now;
          arrived += records.length;
          for (const record of records) {
            const text = record.value?.toString() ?? '';
            if (text.startsWith('{"phase":"latency"')) latencies.push(now - (JSON.parse(text) as { sentAt: number }).sentAt);
          }
        },
      },
    ],
  });
  await Promise.all([stage.start(), sink.start()]);

  console.log(`phase 1: ${RECORDS.toLocaleString()} records of ~${Buffer.byteLength(value('throughput', 0))} bytes, ${PARTITIONS} partitions, Kafka ${KAFKA_VERSION}`);
  const progress = setInterval(() => console.log(`  produced ${produced.toLocaleString()}, through the stage ${arrived.toLocaleString()}`), 3_000);
  let produced = 0;
  const started = performance.now();
  const WINDOW = 20_000;
  for (let offset = 0; offset < RECORDS; offset += WINDOW) {
    const pending: Promise<void>[] = [];
    for (let index = offset; index < Math.min(RECORDS, offset + WINDOW); index++) {
      pending.push(producer.publish(input, { key: `customer-${index % 10_000}`, value: value('throughput', index) }));
    }
    await Promise.all(pending);
    produced += pending.length;
  }
  const producedAt = performance.now();
  while (arrived < RECORDS) await new Promise((resolve) => setTimeout(resolve, 50));
  clearInterval(progress);
  const produceRate = RECORDS / ((producedAt - started) / 1000);
  const passthroughRate = RECORDS / ((lastArrival - started) / 1000);
  console.log(`  produce: ${Math.round(produceRate).toLocaleString()} records/s; passthrough (produce -> stage -> sink): ${Math.round(passthroughRate).toLocaleString()} records/s`);

  const pacedRate = Math.min(20_000, Math.round(passthroughRate / 2));
  console.log(`phase 2: latency at a paced ${pacedRate.toLocaleString()} records/s for ${LATENCY_SECONDS} s`);
  const perTick = Math.max(1, Math.round(pacedRate / 100));
  const tickEnd = performance.now() + LATENCY_SECONDS * 1000;
  let sent = 0;
  const inFlight: Promise<void>[] = [];
  while (performance.now() < tickEnd) {
    const tickStart = performance.now();
    for (let index = 0; index < perTick; index++) inFlight.push(producer.publish(input, { key: `customer-${sent % 10_000}`, value: value('latency', sent++) }));
    const wait = 10 - (performance.now() - tickStart);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  await Promise.all(inFlight);
  while (latencies.length < sent) await new Promise((resolve) => setTimeout(resolve, 50));
  latencies.sort((a, b) => a - b);
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  console.log(`  end-to-end latency over ${latencies.length.toLocaleString()} records: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);

  await Promise.all([stage.stop(), sink.stop()]);
  await Promise.all([producer.disconnect(), stageProducer.disconnect()]);
  await stopBroker?.();

  const report = {
    benchmark: 'kafka-passthrough',
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, kafka: KAFKA_VERSION },
    records: RECORDS,
    recordBytes: Buffer.byteLength(value('throughput', 0)),
    partitions: PARTITIONS,
    produceRecordsPerSecond: Math.round(produceRate),
    passthroughRecordsPerSecond: Math.round(passthroughRate),
    latency: { pacedRecordsPerSecond: pacedRate, samples: latencies.length, p50Ms: Number(p50.toFixed(2)), p99Ms: Number(p99.toFixed(2)) },
  };
  mkdirSync('reports', { recursive: true });
  writeFileSync(join('reports', 'bench-kafka-passthrough.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log('report: reports/bench-kafka-passthrough.json');
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
