import { performance } from 'node:perf_hooks';
import { BatchConsumer, connectKafka, ensureTopics, rawDecoder, RecordProducer } from '@kairos/kafka';

export interface PassthroughOptions {
  brokers: string;
  records: number;
  partitions: number;
  latencySeconds: number;
  log: (line: string) => void;
}

export interface PassthroughResult {
  records: number;
  recordBytes: number;
  partitions: number;
  produceRecordsPerSecond: number;
  passthroughRecordsPerSecond: number;
  latency: { pacedRecordsPerSecond: number; samples: number; p50Ms: number; p99Ms: number };
}

const PAD = 'x'.repeat(440);
const value = (phase: string, index: number) => JSON.stringify({ phase, index, sentAt: performance.now(), pad: PAD });

export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * The ceiling for every Kairos stage: records of ~500 bytes produced to a topic, passed through one consume->produce
 * stage (what every pipeline stage does) and read from its output topic, on the real broker.
 *
 * Phase 1 (throughput): produce all records as fast as the producer is acknowledged, while the stage and a sink run.
 * Phase 2 (latency): a paced load at half the measured passthrough rate (at most 20,000/s); latency is from publish()
 * to arrival at the sink, through both hops. Latency under saturation would only measure the backlog, which is why
 * the two phases are separate.
 */
export async function measurePassthrough(options: PassthroughOptions): Promise<PassthroughResult> {
  const kafka = connectKafka({ brokers: options.brokers, clientId: 'kairos-bench', logLevel: 'error' });
  const id = Date.now().toString(36);
  const input = `bench-in-${id}`;
  const output = `bench-out-${id}`;
  const spec = (name: string) => ({ name, key: 'k', value: 'v', partitions: options.partitions, cleanupPolicy: 'delete' as const, retentionMs: 3_600_000, description: 'bench' });
  await ensureTopics(kafka, [spec(input), spec(output)]);

  const producer = new RecordProducer(kafka, { maxBatchRecords: 5_000, lingerMs: 5 });
  const stageProducer = new RecordProducer(kafka);
  await Promise.all([producer.connect(), stageProducer.connect()]);
  const stage = new BatchConsumer(kafka, {
    groupId: `bench-stage-${id}`,
    producer: stageProducer,
    partitionsConsumedConcurrently: options.partitions,
    subscriptions: [{ topic: input, decoder: rawDecoder, handler: (records) => stageProducer.send(output, records.map((record) => ({ key: record.key, value: record.value }))) }],
  });
  let arrived = 0;
  let lastArrival = 0;
  const latencies: number[] = [];
  const sink = new BatchConsumer(kafka, {
    groupId: `bench-sink-${id}`,
    producer: stageProducer,
    partitionsConsumedConcurrently: options.partitions,
    subscriptions: [
      {
        topic: output,
        decoder: rawDecoder,
        handler: async (records) => {
          const now = performance.now();
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

  const recordBytes = Buffer.byteLength(value('throughput', 0));
  options.log(`passthrough phase 1: ${options.records.toLocaleString()} records of ~${recordBytes} bytes, ${options.partitions} partitions`);
  let produced = 0;
  const progress = setInterval(() => options.log(`  produced ${produced.toLocaleString()}, through the stage ${arrived.toLocaleString()}`), 3_000);
  const started = performance.now();
  const WINDOW = 20_000;
  for (let offset = 0; offset < options.records; offset += WINDOW) {
    const pending: Promise<void>[] = [];
    for (let index = offset; index < Math.min(options.records, offset + WINDOW); index++) {
      pending.push(producer.publish(input, { key: `customer-${index % 10_000}`, value: value('throughput', index) }));
    }
    await Promise.all(pending);
    produced += pending.length;
  }
  const producedAt = performance.now();
  while (arrived < options.records) await new Promise((resolve) => setTimeout(resolve, 50));
  clearInterval(progress);
  const produceRate = options.records / ((producedAt - started) / 1000);
  const passthroughRate = options.records / ((lastArrival - started) / 1000);
  options.log(`  produce ${Math.round(produceRate).toLocaleString()} records/s; passthrough (produce -> stage -> sink) ${Math.round(passthroughRate).toLocaleString()} records/s`);

  const pacedRate = Math.min(20_000, Math.round(passthroughRate / 2));
  options.log(`passthrough phase 2: latency at a paced ${pacedRate.toLocaleString()} records/s for ${options.latencySeconds} s`);
  const perTick = Math.max(1, Math.round(pacedRate / 100));
  const end = performance.now() + options.latencySeconds * 1000;
  let sent = 0;
  const inFlight: Promise<void>[] = [];
  while (performance.now() < end) {
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
  options.log(`  end-to-end latency over ${latencies.length.toLocaleString()} records: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);

  await Promise.all([stage.stop(), sink.stop()]);
  await Promise.all([producer.disconnect(), stageProducer.disconnect()]);
  return {
    records: options.records,
    recordBytes,
    partitions: options.partitions,
    produceRecordsPerSecond: Math.round(produceRate),
    passthroughRecordsPerSecond: Math.round(passthroughRate),
    latency: { pacedRecordsPerSecond: pacedRate, samples: latencies.length, p50Ms: Number(p50.toFixed(2)), p99Ms: Number(p99.toFixed(2)) },
  };
}
