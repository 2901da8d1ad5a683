import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { Topics } from '@kairos/contracts';
import { publishFolder } from '@kairos/definitions-topic';
import { ConsumedRecord, followTopic, KafkaClient, TopicFollower, withAdmin } from '@kairos/kafka';
import { histogramBetween, MetricSample, metricValue, PipelineInstance, postUntilAccepted, quantilesBetween, readMetrics, startPipeline } from '@kairos/testing';
import { describePhases, phasesBetween } from './batch-phases';
import { measurePassthrough, percentile } from './passthrough';
import { runBenchmark, writeReport } from './report';
import { machineBusySeconds, processCpuSeconds } from './service-process';

/**
 * npm run bench:pipeline — the whole pipeline in one run, on this machine's broker, PostgreSQL and SMTP sink, the five
 * services each a process of its own (as in production):
 * 1. the passthrough ceiling (BENCH_CEILING_RECORDS, 200,000);
 * 2. BENCH_PROFILES (20,000) customers identified through the collector, and the pipeline drained;
 * 3. a shop mix at BENCH_RATE (1,000) events/s for BENCH_SECONDS (30) through the collector: one in ten a "Ledger
 *    Ping" whose journey (definitions/ledger) sends a transactional mail; per ping, the time from the collector's
 *    answer to the dispatch request and to the SMTP sink's acceptance (the 'sent' outcome) — p50/p95/p99;
 * 4. the shop mix without ledger pings (so no mail) as fast as the collector takes it for BENCH_SECONDS, from
 *    BENCH_SENDERS (8) concurrent senders: events/s accepted, and events/s through each stage up to triggers (the
 *    consumer groups' committed offsets), as a ratio of the ceiling;
 * throughout, every 2 s: each stage's consumer lag, and each service's RSS and CPU.
 * Dispatch uses BENCH_SMTP_CONNECTIONS (20) pooled connections to the sink (a process of its own, as a relay is):
 * each connection carries one mail at a time. The paced phase also prints each stage's share of the latency (a
 * record's age once the stage was done with it, overall and per 10 s) and the stateful stages' batch phases.
 */

const PROFILES = Number(process.env['BENCH_PROFILES'] ?? 20_000);
const RATE = Number(process.env['BENCH_RATE'] ?? 1_000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 30);
const SENDERS = Number(process.env['BENCH_SENDERS'] ?? 8);
const SMTP_CONNECTIONS = Number(process.env['BENCH_SMTP_CONNECTIONS'] ?? 20);
const PARTITIONS = 4;
/** kairos_dispatch_step_duration_seconds' steps (services/dispatch/src/dispatch-metrics.ts). */
const DISPATCH_STEPS = ['receive', 'suppressions', 'mark-sending', 'record-answer'] as const;
const ROOT = join(__dirname, '..', '..');

/** The stages as consumer groups and the topic each reads. */
const STAGES = [
  { stage: 'identity', group: 'kairos-identity', topic: Topics.accepted.name },
  { stage: 'segmentation', group: 'kairos-segmentation', topic: Topics.resolved.name },
  { stage: 'triggers', group: 'kairos-triggers', topic: Topics.profileUpdates.name },
  { stage: 'dispatch', group: 'kairos-dispatch', topic: Topics.dispatchRequests.name },
] as const;

let sequence = 0;
function shopEvent(customer: number, ping?: number): Record<string, unknown> {
  const base = { messageId: `bench-${Date.now()}-${sequence++}`, userId: `customer-${customer}`, timestamp: new Date().toISOString(), context: { locale: 'de-CH', timezone: 'Europe/Zurich' } };
  if (ping !== undefined) return { ...base, type: 'track', event: 'Ledger Ping', properties: { n: ping } };
  const roll = sequence % 10;
  if (roll < 5) return { ...base, type: 'track', event: 'Product Viewed', properties: { product_id: `p-${sequence % 500}`, name: 'Gooseneck kettle', price: 79.9, currency: 'CHF' } };
  if (roll < 8) return { ...base, type: 'page', name: 'Category', properties: { path: '/c/brewing' } };
  return { ...base, type: 'track', event: 'Cart Updated', properties: { cartId: `cart-${customer}`, currency: 'CHF', products: [{ product_id: 'p-kettle', name: 'Gooseneck kettle', price: 79.9, quantity: 1 }] } };
}

interface Sample {
  atSeconds: number;
  phase: string;
  lag: Record<string, number>;
  committed: Record<string, number>;
  services: Record<string, { rssMb: number; cpuPercent: number }>;
  /** Percent of one core: this benchmark's own process (the collector's client, the topic followers). */
  benchCpuPercent: number;
  /** Percent of one core: the SMTP sink, in its own process. */
  smtpSinkCpuPercent: number;
  /** Percent of the whole machine (every core) busy: with the broker, PostgreSQL and the kernel. */
  machineBusyPercent: number;
}

runBenchmark(async () => {
  const log = (line: string) => console.log(line);
  const pipeline = await startPipeline({
    partitions: PARTITIONS,
    log,
    env: { SMTP_POOL_CONNECTIONS: String(SMTP_CONNECTIONS) },
    prepare: async (kafka) => {
      for (const folder of ['shop', 'ledger']) {
        const directory = join(ROOT, 'definitions', folder);
        const result = await publishFolder(kafka, directory, { user: 'bench', host: 'local', tool: 'bench-pipeline', directory }, { write: true });
        if (result.refused) throw new Error(`definitions/${folder} refused`);
      }
    },
  });
  const followers: TopicFollower[] = [];
  let sampling: NodeJS.Timeout | undefined;
  try {
    const ceiling = await measurePassthrough({ brokers: pipeline.stack.kafkaBrokers, records: Number(process.env['BENCH_CEILING_RECORDS'] ?? 200_000), partitions: PARTITIONS, latencySeconds: 5, log });

    // Per ping: when the collector answered, when its dispatch request was written, when its mail was accepted.
    const pings = new Map<number, { acceptedAt: number; requestedAt?: number; queuedAt?: number; sentAt?: number; dispatchId?: string }>();
    const byDispatchId = new Map<string, number>();
    const queuedAt = new Map<string, number>();
    followers.push(
      await followTopic(pipeline.kafka, {
        topic: Topics.dispatchRequests.name,
        onRecords: (records) => {
          for (const record of records) {
            const request = json(record);
            const n = Number(findKey(request?.['context'], 'n'));
            const ping = pings.get(n);
            if (!ping || ping.requestedAt !== undefined) continue;
            ping.requestedAt = Number(record.timestamp);
            ping.dispatchId = String(request?.['dispatchId']);
            byDispatchId.set(ping.dispatchId, n);
          }
        },
      }),
      await followTopic(pipeline.kafka, {
        topic: Topics.deliveryOutcomes.name,
        onRecords: (records) => {
          for (const record of records) {
            const outcome = json(record);
            const kind = outcome?.['kind'];
            if (kind !== 'sent' && kind !== 'queued') continue;
            const n = byDispatchId.get(String(outcome?.['dispatchId']));
            const ping = n === undefined ? undefined : pings.get(n);
            if (kind === 'queued') {
              // It may be read before its request (the two topics are followed apart): matched by dispatch id later.
              queuedAt.set(String(outcome?.['dispatchId']), Date.parse(String(outcome?.['at'])));
              continue;
            }
            // The outcome's time is when dispatch recorded the server's 250 answer; the record's own timestamp would add
            // the outbox relay's turn, which is after the mail left.
            if (ping && ping.sentAt === undefined) ping.sentAt = Date.parse(String(outcome?.['at']));
          }
        },
      }),
    );

    const started = Date.now();
    let phase = 'profiles';
    const samples: Sample[] = [];
    let previousCpu = cpuTimes(pipeline.instances);
    let previousBench = process.cpuUsage();
    let previousSink = processCpuSeconds(pipeline.smtpSinkPid);
    let previousMachine = { busy: machineBusySeconds(), at: performance.now() };
    sampling = setInterval(async () => {
      const [lag, committed] = await groupPositions(pipeline.kafka).catch(() => [{}, {}]);
      const cpu = cpuTimes(pipeline.instances);
      const bench = process.cpuUsage(previousBench);
      const machine = { busy: machineBusySeconds(), at: performance.now() };
      const wallSeconds = (machine.at - previousMachine.at) / 1000;
      const benchCpuPercent = Math.round(((bench.user + bench.system) / 1e6 / wallSeconds) * 100);
      const sink = processCpuSeconds(pipeline.smtpSinkPid);
      const smtpSinkCpuPercent = Math.round(((sink - previousSink) / wallSeconds) * 100);
      previousSink = sink;
      const machineBusyPercent = Math.round(((machine.busy - previousMachine.busy) / wallSeconds / cpus().length) * 100);
      previousBench = process.cpuUsage();
      previousMachine = machine;
      const services: Sample['services'] = {};
      for (const instance of pipeline.instances) {
        const before = previousCpu.get(instance.label);
        const now = cpu.get(instance.label);
        services[instance.label] = { rssMb: rssMb(instance), cpuPercent: before !== undefined && now !== undefined ? Math.round(((now - before) / 100 / wallSeconds) * 100) : 0 };
      }
      previousCpu = cpu;
      samples.push({ atSeconds: Math.round((Date.now() - started) / 1000), phase, lag, committed, services, benchCpuPercent, smtpSinkCpuPercent, machineBusyPercent });
    }, 2_000);

    log(`loading ${PROFILES.toLocaleString()} customers through the collector…`);
    for (let from = 0; from < PROFILES; from += 500 * SENDERS) {
      await Promise.all(
        Array.from({ length: SENDERS }, (_, sender) => {
          const first = from + sender * 500;
          const batch = Array.from({ length: Math.max(0, Math.min(500, PROFILES - first)) }, (_, index) => ({
            type: 'identify',
            userId: `customer-${first + index}`,
            messageId: `bench-identify-${first + index}`,
            traits: { email: `customer-${first + index}@bench.example`, firstName: 'Anna' },
          }));
          return batch.length > 0 ? postUntilAccepted(pipeline, batch) : Promise.resolve();
        }),
      );
    }
    await drained(pipeline.kafka, log);

    phase = `paced ${RATE}/s`;
    log(`paced: ${RATE} events/s for ${SECONDS} s, one in ten a ledger ping…`);
    // Dispatch is left out of the reads between (`withDispatch` false): its event-loop delay is measured since the last read.
    const stageMetrics = (withDispatch = true) =>
      Promise.all(
        STAGES.map(({ stage }) => {
          const instance = pipeline.instances.find((candidate) => candidate.name === stage);
          return instance && (withDispatch || stage !== 'dispatch') ? readMetrics(`http://127.0.0.1:${instance.healthPort}/metrics`).catch((): MetricSample[] => []) : Promise.resolve([]);
        }),
      );
    const stagesBefore = await stageMetrics();
    const windowReads: Array<Promise<MetricSample[][]>> = [];
    // With KAIROS_CPU_PROFILE_DIR, the services' V8 profiles are timed on this clock (microseconds): cut them to the phase.
    const pacedFromUs = process.hrtime.bigint() / 1000n;
    const benchLoop = monitorEventLoopDelay({ resolution: 5 });
    benchLoop.enable();
    let ping = 0;
    const pacedStart = Date.now();
    const inFlight: Array<Promise<void>> = [];
    for (let tick = 0; tick < SECONDS * 10; tick++) {
      const wait = pacedStart + tick * 100 - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      if (tick > 0 && tick % 100 === 0) windowReads.push(stageMetrics(false));
      const batch = Array.from({ length: RATE / 10 }, (_, index) => (index % 10 === 0 ? shopEvent((ping * 7919) % PROFILES, ping++) : shopEvent(Math.floor(Math.random() * PROFILES))));
      const numbers = batch.map((event) => findKey(event['properties'], 'n')).filter((n): n is number => typeof n === 'number');
      inFlight.push(
        postUntilAccepted(pipeline, batch).then(() => {
          const acceptedAt = Date.now();
          for (const n of numbers) pings.set(n, { acceptedAt });
        }),
      );
    }
    await Promise.all(inFlight);
    const paceDeadline = Date.now() + 60_000;
    while ([...pings.values()].some((entry) => entry.sentAt === undefined) && Date.now() < paceDeadline) await new Promise((resolve) => setTimeout(resolve, 500));
    const toRequest = [...pings.values()].filter((entry) => entry.requestedAt !== undefined).map((entry) => (entry.requestedAt ?? 0) - entry.acceptedAt).sort((a, b) => a - b);
    const toSmtp = [...pings.values()].filter((entry) => entry.sentAt !== undefined).map((entry) => (entry.sentAt ?? 0) - entry.acceptedAt).sort((a, b) => a - b);
    // Dispatch's share, split at the `queued` outcome (stamped as the receiving statement starts).
    for (const entry of pings.values()) if (entry.dispatchId !== undefined) entry.queuedAt = queuedAt.get(entry.dispatchId);
    const between = (from: 'requestedAt' | 'queuedAt', to: 'queuedAt' | 'sentAt') =>
      summary([...pings.values()].flatMap((entry) => (entry[from] !== undefined && entry[to] !== undefined ? [(entry[to] ?? 0) - (entry[from] ?? 0)] : [])).sort((a, b) => a - b));
    const paced = {
      eventsPerSecond: RATE,
      seconds: SECONDS,
      pings: pings.size,
      withRequest: toRequest.length,
      withMail: toSmtp.length,
      acceptedToDispatchRequestMs: summary(toRequest),
      acceptedToSmtpAcceptanceMs: summary(toSmtp),
      dispatchRequestToQueuedMs: between('requestedAt', 'queuedAt'),
      queuedToSmtpAcceptanceMs: between('queuedAt', 'sentAt'),
      dispatchStepsMs: {} as ReturnType<typeof stepsBetween>,
      stageRecordAgeMs: {} as Record<string, { p50: number; p99: number }>,
      stageRecordAgeP99MsPer10s: {} as Record<string, number[]>,
      statefulPhases: {} as Record<string, ReturnType<typeof phasesBetween>>,
    };
    log(`paced: accepted -> dispatch request p50 ${paced.acceptedToDispatchRequestMs.p50} ms, p99 ${paced.acceptedToDispatchRequestMs.p99} ms; -> SMTP acceptance p50 ${paced.acceptedToSmtpAcceptanceMs.p50} ms, p99 ${paced.acceptedToSmtpAcceptanceMs.p99} ms (${toSmtp.length}/${pings.size} mails)`);
    log(`paced, in dispatch: request -> queued p50 ${paced.dispatchRequestToQueuedMs.p50} ms, p99 ${paced.dispatchRequestToQueuedMs.p99} ms; queued -> SMTP acceptance p50 ${paced.queuedToSmtpAcceptanceMs.p50} ms, p99 ${paced.queuedToSmtpAcceptanceMs.p99} ms`);
    benchLoop.disable();
    if (process.env['KAIROS_CPU_PROFILE_DIR']) log(`paced phase on the profiles' clock: ${pacedFromUs}-${process.hrtime.bigint() / 1000n} µs`);
    const stagesAfter = await stageMetrics();
    const dispatchAfter = stagesAfter[STAGES.length - 1];
    const dispatchSteps = stepsBetween(stagesBefore[STAGES.length - 1], dispatchAfter);
    // Each stage's share of the latency: a record's age (since the stage before stamped it) once its batch was done.
    const stageAgesMs = Object.fromEntries(
      STAGES.map(({ stage, group, topic }, index) => {
        const [p50, p99] = quantilesBetween(stagesBefore[index], stagesAfter[index], 'kairos_kafka_record_age_seconds', { group, topic }, [0.5, 0.99]);
        return [stage, { p50, p99 }];
      }),
    );
    log(`paced, a record's age when its stage was done with it, p50/p99 ms (from buckets): ${Object.entries(stageAgesMs).map(([stage, { p50, p99 }]) => `${stage} ${p50}/${p99}`).join(', ')}`);
    // The same p99 per 10 s of the phase (the last window runs on until every ping's mail is in): a tail that is a
    // transient shows in one window, a steady one in all.
    const reads = [stagesBefore, ...(await Promise.all(windowReads)), stagesAfter];
    const windowedP99 = Object.fromEntries(
      STAGES.flatMap(({ stage, group, topic }, index) =>
        stage === 'dispatch' ? [] : [[stage, reads.slice(1).map((read, window) => quantilesBetween(reads[window][index], read[index], 'kairos_kafka_record_age_seconds', { group, topic }, [0.99])[0])]],
      ),
    );
    log(`paced, p99 ms of a record's age per 10 s window: ${Object.entries(windowedP99).map(([stage, p99s]) => `${stage} ${p99s.join(' | ')}`).join(', ')}`);
    const statefulPhases = Object.fromEntries(
      STAGES.flatMap(({ stage }, index) => (stage === 'segmentation' || stage === 'triggers' ? [[stage, phasesBetween({ samples: stagesBefore[index] }, { samples: stagesAfter[index] })]] : [])),
    );
    for (const [stage, phases] of Object.entries(statefulPhases)) log(`paced, ${stage}: ${describePhases(phases)}`);
    // The services' event-loop delay since the previous read of their metrics (here: since the paced phase began).
    const loopDelay = (samples: MetricSample[]) => ['0.5', '0.99', '1'].map((quantile) => Math.round((metricValue(samples, 'kairos_event_loop_delay_seconds', { quantile }) ?? NaN) * 1000));
    log(`paced, in dispatch, mean ms per step: ${Object.entries(dispatchSteps).map(([step, { meanMs, count }]) => `${step} ${meanMs} (${count})`).join(', ')}`);
    log(`paced, event-loop delay p50/p99/max ms: dispatch ${loopDelay(dispatchAfter).join('/')}, this benchmark ${[50, 99].map((p) => Math.round(benchLoop.percentile(p) / 1e6)).join('/')}/${Math.round(benchLoop.max / 1e6)}`);
    paced.dispatchStepsMs = dispatchSteps;
    paced.stageRecordAgeMs = stageAgesMs;
    paced.stageRecordAgeP99MsPer10s = windowedP99;
    paced.statefulPhases = statefulPhases;
    const pacedSamples = samples.filter((sample) => sample.phase === phase);
    const meanOf = (pick: (sample: Sample) => number) => Math.round(pacedSamples.reduce((sum, sample) => sum + pick(sample), 0) / Math.max(1, pacedSamples.length));
    log(
      `paced, CPU (mean of ${pacedSamples.length} samples): machine ${meanOf((sample) => sample.machineBusyPercent)}% busy; % of a core: ${pipeline.instances.map((instance) => `${instance.label} ${meanOf((sample) => sample.services[instance.label]?.cpuPercent ?? 0)}`).join(', ')}, this benchmark ${meanOf((sample) => sample.benchCpuPercent)}, the SMTP sink ${meanOf((sample) => sample.smtpSinkCpuPercent)}`,
    );
    await drained(pipeline.kafka, log);

    phase = 'saturated';
    log(`saturated: ${SENDERS} senders as fast as the collector answers, for ${SECONDS} s…`);
    const [, before] = await groupPositions(pipeline.kafka);
    const saturatedStart = Date.now();
    let accepted = 0;
    await Promise.all(
      Array.from({ length: SENDERS }, async () => {
        while (Date.now() - saturatedStart < SECONDS * 1000) {
          const batch = Array.from({ length: 200 }, () => shopEvent(Math.floor(Math.random() * PROFILES)));
          await postUntilAccepted(pipeline, batch);
          accepted += batch.length;
        }
      }),
    );
    const [, after] = await groupPositions(pipeline.kafka);
    const elapsed = (Date.now() - saturatedStart) / 1000;
    const stages = Object.fromEntries(
      // Dispatch has nothing to do in this phase: the mix carries no ledger ping.
      STAGES.filter(({ stage }) => stage !== 'dispatch').map(({ stage }) => {
        const perSecond = Math.round(((after[stage] ?? 0) - (before[stage] ?? 0)) / elapsed);
        return [stage, { recordsPerSecond: perSecond, ratioToCeiling: round(perSecond / ceiling.passthroughRecordsPerSecond) }];
      }),
    );
    const saturated = { seconds: round(elapsed), acceptedEventsPerSecond: Math.round(accepted / elapsed), stages };
    log(`saturated: ${saturated.acceptedEventsPerSecond} events/s accepted; ${Object.entries(stages).map(([stage, figures]) => `${stage} ${figures.recordsPerSecond}/s (${figures.ratioToCeiling} of the ceiling)`).join(', ')}`);
    clearInterval(sampling);
    sampling = undefined;

    writeReport('pipeline', {
      profiles: PROFILES,
      partitions: PARTITIONS,
      ceiling,
      paced,
      saturated,
      finalServices: samples.at(-1)?.services,
      samples,
    });
  } finally {
    if (sampling) clearInterval(sampling);
    for (const follower of followers) await follower.stop();
    await pipeline.stop();
  }
});

function json(record: ConsumedRecord): Record<string, unknown> | undefined {
  try {
    return record.value ? (JSON.parse(record.value.toString()) as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The first value under `key` anywhere in a JSON value (the ping's number, wherever the request's context keeps it). */
function findKey(value: unknown, key: string): unknown {
  if (value === null || typeof value !== 'object') return undefined;
  if (key in value) return (value as Record<string, unknown>)[key];
  for (const child of Object.values(value)) {
    const found = findKey(child, key);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Dispatch's steps between two reads of its metrics (the SMTP hand-over as `attempt`): how many, and the mean ms of each. */
function stepsBetween(before: MetricSample[], after: MetricSample[]): Record<string, { count: number; meanMs: number }> {
  const steps = Object.fromEntries(DISPATCH_STEPS.map((step) => [step, histogramBetween(before, after, 'kairos_dispatch_step_duration_seconds', { step })]));
  return { attempt: histogramBetween(before, after, 'kairos_dispatch_attempt_duration_seconds'), ...steps };
}

function summary(sorted: number[]): { p50: number; p95: number; p99: number; max: number } {
  if (sorted.length === 0) return { p50: NaN, p95: NaN, p99: NaN, max: NaN };
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] };
}

const round = (value: number) => Math.round(value * 100) / 100;

/** Per stage: records its group has yet to read (lag), and its committed position summed over partitions. */
async function groupPositions(kafka: KafkaClient): Promise<[Record<string, number>, Record<string, number>]> {
  return withAdmin(kafka, async (admin) => {
    const lag: Record<string, number> = {};
    const committed: Record<string, number> = {};
    for (const { stage, group, topic } of STAGES) {
      const ends = await admin.fetchTopicOffsets(topic);
      const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      const end = ends.reduce((sum, partition) => sum + Number(partition.high), 0);
      const position = (offsets?.partitions ?? []).reduce((sum, partition) => sum + Math.max(0, Number(partition.offset)), 0);
      lag[stage] = end - position;
      committed[stage] = position;
    }
    return [lag, committed];
  });
}

async function drained(kafka: KafkaClient, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const [lag] = await groupPositions(kafka);
    const total = Object.values(lag).reduce((sum, value) => sum + value, 0);
    if (total === 0) return;
    if (Date.now() > deadline) throw new Error(`the pipeline did not drain in 5 minutes: ${JSON.stringify(lag)}`);
    log(`  draining: ${Object.entries(lag).map(([stage, value]) => `${stage} ${value}`).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
}

function cpuTimes(instances: readonly PipelineInstance[]): Map<string, number> {
  const times = new Map<string, number>();
  for (const instance of instances) {
    const seconds = processCpuSeconds(instance.process.child.pid ?? 0);
    if (!Number.isNaN(seconds)) times.set(instance.label, seconds * 100); // in clock ticks (100/s); NaN: the process is gone
  }
  return times;
}

function rssMb(instance: PipelineInstance): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${instance.process.child.pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

