import { createRequire } from 'node:module';
import { encodeProduceRequest, ProduceRequestOptions } from '@kairos/kafka';
import { runBenchmark, writeReport } from './report';

/**
 * npm run bench:encoding — CPU per record of encoding a produce request, kafkajs' encoder against Kairos' (what
 * connectKafka installs), on requests of BENCH_ENCODING_RECORDS (400) records of ~1.8 KB (a profile update carrying its
 * state) and of ~500 bytes (an event), alternating, ROUNDS rounds each; medians. No broker: encoding alone.
 */
const RECORDS = Number(process.env['BENCH_ENCODING_RECORDS'] ?? 400);
const ROUNDS = 7;
const REQUESTS_PER_ROUND = 20;

const kafkajs = createRequire(require.resolve('kafkajs'));
const kafkajsRequest = kafkajs('./src/protocol/requests/produce/v3/request') as (options: ProduceRequestOptions) => { encode(): Promise<unknown> };

function request(valueBytes: number): ProduceRequestOptions {
  const value = JSON.stringify({ profileId: '23262734-6c09-8714-8083-1ba62442244d', state: 'x'.repeat(Math.max(0, valueBytes - 70)) });
  const now = Date.now();
  const messages = Array.from({ length: RECORDS }, (_, index) => ({
    key: `23262734-6c09-8714-8083-${String(index).padStart(12, '0')}`,
    value,
    headers: { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` },
    timestamp: String(now + index),
  }));
  return { acks: -1, timeout: 30_000, topicData: [{ topic: 'kairos.profile-updates.v1', partitions: [{ partition: 0, firstSequence: 0, messages }] }] };
}

async function microsPerRecord(encode: () => unknown): Promise<number> {
  const started = process.hrtime.bigint();
  for (let index = 0; index < REQUESTS_PER_ROUND; index++) await encode();
  return Number(process.hrtime.bigint() - started) / 1_000 / (REQUESTS_PER_ROUND * RECORDS);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

runBenchmark(async () => {
  const sizes: Record<string, { kafkajsMicrosPerRecord: number; kairosMicrosPerRecord: number; ratio: number }> = {};
  for (const [label, bytes] of [['1.8 KB', 1_800], ['500 B', 500]] as const) {
    const options = request(bytes);
    const kafkajsRounds: number[] = [];
    const kairosRounds: number[] = [];
    // The first round of each warms the JIT and is not counted.
    for (let round = 0; round <= ROUNDS; round++) {
      const theirs = await microsPerRecord(() => kafkajsRequest(options).encode());
      const ours = await microsPerRecord(() => encodeProduceRequest(options));
      if (round === 0) continue;
      kafkajsRounds.push(theirs);
      kairosRounds.push(ours);
    }
    const kafkajsMicros = median(kafkajsRounds);
    const kairosMicros = median(kairosRounds);
    sizes[label] = { kafkajsMicrosPerRecord: round2(kafkajsMicros), kairosMicrosPerRecord: round2(kairosMicros), ratio: round2(kafkajsMicros / kairosMicros) };
    console.log(`records of ${label}, ${RECORDS} a request: kafkajs ${round2(kafkajsMicros)} µs a record, Kairos ${round2(kairosMicros)} µs (${round2(kafkajsMicros / kairosMicros)}x), medians of ${ROUNDS} alternating rounds`);
  }
  writeReport('encoding', { recordsPerRequest: RECORDS, rounds: ROUNDS, sizes });
});

const round2 = (value: number) => Math.round(value * 100) / 100;
