import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ALL_TOPICS, EmailDispatchRequest, Topics } from '@kairos/contracts';
import { publishFolder } from '@kairos/definitions-topic';
import { connectKafka, ensureTopics, RecordProducer } from '@kairos/kafka';
import { freePort, startLocalStack, startSmtpSink, StoredMessage } from '@kairos/local-stack';
import { percentile } from './passthrough';
import { runBenchmark, writeReport } from './report';
import { machineBusySeconds, processCpuSeconds, ServiceProcess, startServiceProcess } from './service-process';

/**
 * npm run bench:dispatch — one dispatch process (BENCH_DISPATCH_INSTANCES: more, in one consumer group, sharing
 * BENCH_SMTP_CONNECTIONS between them) on the real broker and PostgreSQL, handing mail to the local SMTP sink (started
 * here, so each acceptance is timed where it happens):
 * 1. saturated: BENCH_DISPATCH_MAILS (20,000) abandoned-cart requests produced at once; rendered mails/s from the first
 *    request produced to the last mail accepted by the sink, with SMTP_POOL_CONNECTIONS (BENCH_SMTP_CONNECTIONS, 20)
 *    pooled connections;
 * 2. paced: BENCH_DISPATCH_RATE (1,000) requests/s, evenly spaced, for BENCH_DISPATCH_SECONDS (15): latency from the
 *    moment a request was due to be produced to the sink's acceptance of its mail, p50/p95/p99/max.
 * Every request has its own recipient, so each acceptance is matched to its request; each mail counts once.
 * BENCH_DISPATCH_TEMPLATE (cart-reminder) names the shop template; the report gives the median mail's size.
 */

const MAILS = Number(process.env['BENCH_DISPATCH_MAILS'] ?? 20_000);
const RATE = Number(process.env['BENCH_DISPATCH_RATE'] ?? 1_000);
const SECONDS = Number(process.env['BENCH_DISPATCH_SECONDS'] ?? 15);
const CONNECTIONS = Number(process.env['BENCH_SMTP_CONNECTIONS'] ?? 20);
const INSTANCES = Number(process.env['BENCH_DISPATCH_INSTANCES'] ?? 1);
/** A shop template: cart-reminder (the MJML layout, ~16 KB a mail) by default, welcome-1 for a small plain-HTML mail. */
const TEMPLATE = process.env['BENCH_DISPATCH_TEMPLATE'] ?? 'cart-reminder';
const PARTITIONS = 6;
const KEY = { id: 'bench', secret: 'bench-signing-secret-of-at-least-32-bytes' };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Topics created a moment ago may not have a leader yet: the broker answers NOT_LEADER for a while. */
async function retried<T>(work: () => Promise<T>, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts) throw error;
      await sleep(500);
    }
  }
}

function request(prefix: string, index: number): EmailDispatchRequest {
  const profileId = `${prefix}-p${index}`;
  return {
    dispatchId: `${prefix}-${index}`,
    profileId,
    requestedAt: new Date().toISOString(),
    origin: { journeyId: 'abandoned-cart', journeyVersion: 1, instanceId: `${prefix}-i${index}`, stepId: 'first reminder' },
    reason: { trigger: 'abandoned-cart', consent: { channel: 'email', purpose: 'marketing', status: 'granted', proof: { at: Date.now() - 86_400_000 } } },
    channel: 'email',
    purpose: 'marketing',
    templateId: TEMPLATE,
    context: {
      profile: { firstName: 'Anna', email: `${prefix}-${index}@bench.example`, userId: `u-${profileId}` },
      event: {
        name: 'Cart Updated',
        properties: {
          cartId: `cart-${index}`,
          currency: 'CHF',
          products: [
            { name: 'Wanderschuh Alpin', price: 1234.5, quantity: 1, url: 'https://shop.example/p/wanderschuh', imageUrl: 'https://shop.example/i/wanderschuh.jpg' },
            { name: 'Socken', price: 19.9, quantity: 2, url: 'https://shop.example/p/socken', imageUrl: 'https://shop.example/i/socken.jpg' },
            { name: 'Regenjacke', price: 249, quantity: 1, url: 'https://shop.example/p/jacke', imageUrl: 'https://shop.example/i/jacke.jpg' },
          ],
        },
      },
      locale: 'de-CH',
      timeZone: 'Europe/Zurich',
    },
  };
}

runBenchmark(async () => {
  const mailDir = mkdtempSync(join(tmpdir(), 'kairos-bench-sink-'));
  // Acceptance times by recipient, recorded by the sink as it answers 250.
  const accepted = new Map<string, number>();
  let received = 0;
  const sizes: number[] = [];
  const onMessage = (message: StoredMessage) => {
    received += 1;
    sizes.push(message.size);
    for (const to of message.envelope.to) if (!accepted.has(to)) accepted.set(to, performance.now());
  };
  const sink = await startSmtpSink({ smtpPort: await freePort(), httpPort: await freePort(), mailDir, closeTimeoutMs: 500, onMessage });
  const stack = await startLocalStack({ purpose: 'test', env: { ...process.env, SMTP_URL: sink.smtpUrl }, log: console.log });
  const kafka = connectKafka({ brokers: stack.kafkaBrokers, clientId: 'kairos-bench', logLevel: 'error' });
  const producer = new RecordProducer(kafka, { maxBatchRecords: 2_000, lingerMs: 2 });
  const services: ServiceProcess[] = [];
  try {
    await ensureTopics(kafka, ALL_TOPICS, { partitions: PARTITIONS });
    const release = await retried(() => publishFolder(kafka, resolve(__dirname, '../../definitions/shop'), { user: 'bench', host: 'bench', tool: 'bench' }, { write: true }));
    if (release.errors.length > 0) throw new Error(`definitions refused: ${release.errors.map((error) => error.message).join('; ')}`);
    await producer.connect();
    const env = {
      KAFKA_BROKERS: stack.kafkaBrokers,
      DATABASE_URL: stack.databaseUrl,
      DATABASE_SCHEMA: 'dispatch_bench',
      KAFKA_TOPIC_PARTITIONS: String(PARTITIONS),
      SMTP_URL: sink.smtpUrl,
      SMTP_POOL_CONNECTIONS: String(Math.ceil(CONNECTIONS / INSTANCES)),
      DISPATCH_SIGNING_KEYS: JSON.stringify({ current: KEY, previous: [] }),
      TELEMETRY_EXPORTER: 'none',
    };
    for (let instance = 0; instance < INSTANCES; instance++) {
      services.push(await startServiceProcess('dispatch', { ...env, DISPATCH_PORT: String(await freePort()) }, await freePort(), 'the dispatch service'));
    }
    const send = (mail: EmailDispatchRequest) => producer.publish(Topics.dispatchRequests.name, { key: mail.profileId, value: JSON.stringify(mail) });
    const waitFor = async (addresses: readonly string[], timeoutMs: number, label: string) => {
      const deadline = Date.now() + timeoutMs;
      let last = 0;
      for (;;) {
        const done = addresses.filter((address) => accepted.has(address)).length;
        if (done === addresses.length) return;
        if (Date.now() > deadline) throw new Error(`${label}: only ${done} of ${addresses.length} mails arrived`);
        if (Date.now() - last > 5_000) {
          last = Date.now();
          console.log(`  ${label}: ${done.toLocaleString()} of ${addresses.length.toLocaleString()} accepted`);
        }
        await sleep(50);
      }
    };

    // Warm-up: connections, JIT, caches.
    const warm = Array.from({ length: 2_000 }, (_, index) => request('warm', index));
    await Promise.all(warm.map(send));
    await waitFor(warm.map((mail) => String(mail.context.profile['email'])), 120_000, 'warm-up');
    await sleep(2_000);

    console.log(`saturated: ${MAILS.toLocaleString()} requests at once, ${CONNECTIONS} pooled SMTP connections…`);
    const batch = Array.from({ length: MAILS }, (_, index) => request('sat', index));
    const started = performance.now();
    const servicesCpu = () => services.reduce((sum, service) => sum + processCpuSeconds(service.child.pid ?? 0), 0);
    const cpuBefore = { service: servicesCpu(), machine: machineBusySeconds() };
    for (let offset = 0; offset < batch.length; offset += 2_000) await Promise.all(batch.slice(offset, offset + 2_000).map(send));
    const addresses = batch.map((mail) => String(mail.context.profile['email']));
    await waitFor(addresses, 600_000, 'saturated');
    const last = Math.max(...addresses.map((address) => accepted.get(address) ?? 0));
    const seconds = (last - started) / 1000;
    const mailsPerSecond = Math.round(MAILS / seconds);
    // CPU per mail: the service's own, and the whole machine's (the broker, PostgreSQL, the sink and this process too).
    const cpuPerMailMs = {
      service: Number((((servicesCpu() - cpuBefore.service) / MAILS) * 1000).toFixed(3)),
      machine: Number((((machineBusySeconds() - cpuBefore.machine) / MAILS) * 1000).toFixed(3)),
    };
    console.log(`  ${mailsPerSecond.toLocaleString()} rendered mails/s accepted by the sink (${MAILS.toLocaleString()} in ${seconds.toFixed(1)} s); CPU per mail: dispatch ${cpuPerMailMs.service} ms, whole machine ${cpuPerMailMs.machine} ms`);
    await sleep(3_000);

    console.log(`paced: ${RATE.toLocaleString()} requests/s for ${SECONDS} s…`);
    const total = RATE * SECONDS;
    const due = new Map<string, number>();
    const pacedStart = performance.now() + 50;
    for (let index = 0; index < total; index++) {
      const at = pacedStart + (index * 1000) / RATE;
      const wait = at - performance.now();
      if (wait > 1) await sleep(wait);
      const mail = request('paced', index);
      due.set(String(mail.context.profile['email']), at);
      void send(mail);
    }
    const sentIn = (performance.now() - pacedStart) / 1000;
    await waitFor([...due.keys()], 120_000, 'paced');
    const latencies = [...due].map(([address, at]) => (accepted.get(address) ?? at) - at).sort((a, b) => a - b);
    const round = (value: number) => Number(value.toFixed(1));
    const latency = { samples: latencies.length, p50: round(percentile(latencies, 50)), p95: round(percentile(latencies, 95)), p99: round(percentile(latencies, 99)), max: round(latencies[latencies.length - 1] ?? 0) };
    console.log(`  request due -> SMTP acceptance: p50 ${latency.p50} ms, p95 ${latency.p95} ms, p99 ${latency.p99} ms, max ${latency.max} ms (${latency.samples} mails, produced in ${sentIn.toFixed(1)} s)`);
    const duplicates = received - (warm.length + MAILS + total);
    const mailBytes = percentile([...sizes].sort((a, b) => a - b), 50);
    console.log(`  template ${TEMPLATE}: a mail is ${mailBytes.toLocaleString()} bytes as the sink received it (median)`);

    writeReport('dispatch', {
      setup: { partitions: PARTITIONS, dispatchInstances: INSTANCES, smtpPoolConnections: CONNECTIONS, template: TEMPLATE === 'cart-reminder' ? 'cart-reminder (MJML layout, 3 products, tracked links, open pixel, one-click headers)' : TEMPLATE, mailBytesMedian: mailBytes, sink: 'local smtp-server sink, in the benchmark process' },
      saturated: { mails: MAILS, seconds: Number(seconds.toFixed(2)), mailsPerSecond, cpuPerMailMs },
      paced: { requestsPerSecond: RATE, seconds: SECONDS, producedInSeconds: Number(sentIn.toFixed(2)), latencyMs: latency },
      mailsAcceptedTwice: duplicates,
      target: { mailsPerSecond: 1_000, p99Ms: 200 },
      met: { throughput: mailsPerSecond >= 1_000, p99: latency.p99 < 200 },
    });
  } finally {
    await Promise.all(services.map((service) => service.stop()));
    await producer.disconnect();
    await stack.stop();
    await sink.stop();
    rmSync(mailDir, { recursive: true, force: true });
  }
});
