import { startLocalStack } from '@kairos/local-stack';
import { measurePassthrough } from './passthrough';
import { runBenchmark, writeReport } from './report';

/**
 * npm run bench:kafka — the passthrough ceiling on the real broker (see passthrough.ts).
 * BENCH_RECORDS (1,000,000), BENCH_PARTITIONS (3), BENCH_LATENCY_SECONDS (15); KAFKA_BROKERS to use an existing broker.
 */
runBenchmark(async () => {
  const stack = await startLocalStack({ purpose: 'test', env: { ...process.env, DATABASE_URL: 'unused', SMTP_URL: 'unused' }, log: console.log });
  try {
    const result = await measurePassthrough({
      brokers: stack.kafkaBrokers,
      records: Number(process.env['BENCH_RECORDS'] ?? 1_000_000),
      partitions: Number(process.env['BENCH_PARTITIONS'] ?? 3),
      latencySeconds: Number(process.env['BENCH_LATENCY_SECONDS'] ?? 15),
      log: console.log,
    });
    writeReport('kafka-passthrough', result);
  } finally {
    await stack.stop();
  }
});
