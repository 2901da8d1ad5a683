import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeadLetterHeaders, deadLetterTopic, RejectedEvent, Topics } from '@kairos/contracts';
import { publishFolder } from '@kairos/definitions-topic';
import { ConsumedRecord, endOffsets, KafkaClient } from '@kairos/kafka';
import { Client } from 'pg';
import { ReplayComparison, replayIntoEmptyStores } from './fault-replay';
import { Pipeline, PIPELINE_SERVICES, PipelineService, postUntilAccepted, readMails, readTopic, startPipeline } from '@kairos/testing';

/**
 * The fault suite: the five services as processes of their own on a broker, a PostgreSQL and an SMTP sink of the
 * suite's own, while a steady stream of "Ledger Ping" events flows through the HTTP collector. Each ping must give
 * exactly one transactional mail naming its number (definitions/ledger): the ledger. Meanwhile every
 * service is killed with SIGKILL once at a random moment and restarted, the broker and PostgreSQL are restarted, the
 * SMTP server is stopped for a while, and a second instance of identity, segmentation and triggers joins at the
 * start and is stopped mid-stream. Afterwards the mails received are compared with the ledger.
 *
 *   npm run faults              the full suite (SMTP down 60 s, 3 minutes of stream); reports/faults.json
 *   npm run faults -- --short   the short form CI runs (deploy/local/fault-suite.int-spec.ts)
 */

const SCALED: readonly PipelineService[] = ['identity', 'segmentation', 'triggers'];

export interface FaultSuiteOptions {
  short: boolean;
  log: (line: string) => void;
}

export interface FaultSuiteReport {
  form: 'short' | 'full';
  pings: number;
  streamSeconds: number;
  faults: string[];
  mailsReceived: number;
  lost: number[];
  /** Ledger numbers that arrived more than once, with whether every copy carried the same Message-ID. */
  duplicates: Array<{ n: number; copies: number; sameMessageId: boolean }>;
  deadLettered: Record<string, number>;
  /** Every dead-lettered or rejected record, with its reason and where it came from (must be none for valid input). */
  deadLetters: Array<{ topic: string; reason: string; detail: string; from?: string }>;
  drainSeconds: number;
  /** The accepted topic replayed into empty stores, compared with the live run; and mails the replay caused (must be 0). */
  replay: ReplayComparison & { mailsSentAgain: number };
}

export async function runFaultSuite(options: FaultSuiteOptions): Promise<FaultSuiteReport> {
  const { log } = options;
  const streamSeconds = options.short ? 60 : 180;
  const rate = options.short ? 10 : 20; // pings/s
  const smtpDownMs = options.short ? 20_000 : 60_000;
  const customers = 100;
  const faults: string[] = [];

  log('starting a broker, PostgreSQL and SMTP sink of the suite’s own, and the five services…');
  const pipeline: Pipeline = await startPipeline({
    prepare: (kafka) => publishDefinitions(kafka, join(__dirname, '..', '..', 'definitions', 'ledger')),
    partitions: 2,
    log,
    // Dispatch's crash window recovers within the run: a row left `sending` by the kill -9 is taken back after a 30 s
    // lease (longer than SMTP_TIMEOUT_MS, so no live attempt loses its lease) and retried 2 s later, not after the
    // defaults' 120 s and 60 s, which could leave it open past the final wait for an empty delivery table.
    env: { DISPATCH_LEASE_SECONDS: '30', DISPATCH_RETRY_INITIAL_MS: '2000' },
  });
  try {
    log('and a second instance of identity, segmentation and triggers…');
    for (const name of SCALED) await pipeline.start(name, `${name}#2`);

    // The ledger: ping n belongs to customer n % customers and must give one mail "Ledger n".
    const at = (fraction: number, spread = 0.04) => Math.round((fraction - spread + Math.random() * 2 * spread) * streamSeconds * 1000);
    const killAndRestart = (name: PipelineService) => async () => {
      await pipeline.take(name).process.kill();
      await pipeline.start(name);
    };
    const schedule: Array<[number, string, () => Promise<void>]> = [
      [at(0.1), 'kill -9 ingestion, restart it', killAndRestart('ingestion')],
      [at(0.2), 'kill -9 identity, restart it', killAndRestart('identity')],
      [at(0.3), 'kill -9 segmentation, restart it', killAndRestart('segmentation')],
      [at(0.4), 'kill -9 triggers, restart it', killAndRestart('triggers')],
      [at(0.5), 'kill -9 dispatch, restart it', killAndRestart('dispatch')],
      [at(0.55, 0.01), 'restart the broker (down 5 s)', () => pipeline.stack.restart('kafka', 5_000)],
      [at(0.62, 0.01), 'restart PostgreSQL (down 20 s)', () => pipeline.stack.restart('postgres', 20_000)],
      [at(0.75, 0.01), `stop the SMTP server for ${smtpDownMs / 1000} s`, async () => {
        await pipeline.stopSmtp();
        await new Promise((resolve) => setTimeout(resolve, smtpDownMs));
        await pipeline.startSmtp();
      }],
      [at(0.85, 0.01), 'stop the second instances of identity, segmentation and triggers', async () => {
        for (const name of SCALED) await pipeline.take(`${name}#2`).process.stop();
      }],
    ];
    schedule.sort((a, b) => a[0] - b[0]);

    log(`streaming pings at ${rate}/s through the collector for at least ${streamSeconds} s and until ${schedule.length} faults are done…`);
    const streamStart = Date.now();
    let faultsFinished = false;
    const faultsDone = (async () => {
      for (const [due, what, fault] of schedule) {
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, streamStart + due - Date.now())));
        const begun = Date.now();
        log(`  fault: ${what} at ${((begun - streamStart) / 1000).toFixed(1)} s`);
        await fault();
        faults.push(`${what} at ${((begun - streamStart) / 1000).toFixed(1)} s (recovered in ${((Date.now() - begun) / 1000).toFixed(1)} s)`);
      }
    })().finally(() => (faultsFinished = true));
    // The stream goes on until the last fault is over, so every fault meets traffic (a restart slows the stream down).
    let pings = 0;
    for (let tick = 0; !faultsFinished || pings < streamSeconds * rate; tick++) {
      const wait = streamStart + tick * 100 - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const batch = Array.from({ length: Math.ceil(rate / 10) }, () => ping(pings++, customers));
      await postUntilAccepted(pipeline, batch);
      if (pings % (rate * 10) === 0) log(`  ${pings} pings accepted`);
    }
    await faultsDone;
    const streamedSeconds = Math.round((Date.now() - streamStart) / 1000);

    log('waiting for the ledger’s mails…');
    const drainStart = Date.now();
    const drainDeadline = drainStart + (options.short ? 150_000 : 300_000);
    let mails = await readMails(pipeline.mailDir, LEDGER_SUBJECT);
    while (mails.size < pings && Date.now() < drainDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      mails = await readMails(pipeline.mailDir, LEDGER_SUBJECT);
      log(`  ${mails.size}/${pings} ledger entries have their mail`);
    }
    const lost = Array.from({ length: pings }, (_, n) => n).filter((n) => !mails.has(String(n)));
    const duplicates = [...mails]
      .filter(([, copies]) => copies.length > 1)
      .map(([n, copies]) => ({ n: Number(n), copies: copies.length, sameMessageId: new Set(copies).size === 1 }));
    const deadLettered: Record<string, number> = {};
    for (const topic of [...PIPELINE_SERVICES.map((name) => deadLetterTopic(`kairos-${name}`).name), Topics.rejected.name]) {
      const ends = await endOffsets(pipeline.kafka, topic);
      deadLettered[topic] = Number([...ends.values()].reduce((sum, end) => sum + end, 0n));
    }
    const deadLetters = (
      await Promise.all(Object.entries(deadLettered).map(async ([topic, count]) => (count === 0 ? [] : (await readTopic(pipeline.stack.kafkaBrokers, topic, count, 30_000)).map((record) => deadLetterOf(topic, record)))))
    ).flat();
    const drainSeconds = Math.round((Date.now() - drainStart) / 1000);

    log('replaying the accepted topic into empty stores: identity, segmentation and triggers with fresh groups and schemas…');
    const comparison = await replayIntoEmptyStores(pipeline, log, options.short ? 120_000 : 240_000);
    // Dispatch reads the replay's requests too, and must send none of them again: once it has read them all and holds
    // no delivery still to send, the mails are counted again.
    await consumedToEnd(pipeline.kafka, 'kairos-dispatch', Topics.dispatchRequests.name, 60_000);
    await noOpenDeliveries(pipeline.stack.databaseUrl, 60_000);
    const mailsAfter = await readMails(pipeline.mailDir, LEDGER_SUBJECT);
    const copies = (list: Map<string, string[]>) => [...list.values()].reduce((sum, ids) => sum + ids.length, 0);
    return {
      form: options.short ? 'short' : 'full',
      pings,
      streamSeconds: streamedSeconds,
      faults,
      mailsReceived: copies(mails),
      lost,
      duplicates,
      deadLettered,
      deadLetters,
      drainSeconds,
      replay: { ...comparison, mailsSentAgain: copies(mailsAfter) - copies(mails) },
    };
  } finally {
    await pipeline.stop();
  }
}

const LEDGER_SUBJECT = /^Ledger (\d+)$/;

/** Why a record was dead-lettered (the DLQ headers) or rejected (the rejected event's own fields), and where it came from. */
export function deadLetterOf(topic: string, record: ConsumedRecord): FaultSuiteReport['deadLetters'][number] {
  const headers = record.headers;
  if (headers[DeadLetterHeaders.reason] !== undefined) {
    const from = headers[DeadLetterHeaders.topic] === undefined ? undefined : `${headers[DeadLetterHeaders.topic]}#${headers[DeadLetterHeaders.partition]}@${headers[DeadLetterHeaders.offset]}`;
    return { topic, reason: headers[DeadLetterHeaders.reason], detail: headers[DeadLetterHeaders.detail] ?? '', ...(from ? { from } : {}) };
  }
  const rejected = JSON.parse(record.value?.toString() ?? '{}') as Partial<RejectedEvent>;
  const origin = rejected.origin;
  return { topic, reason: String(rejected.reason ?? 'unknown'), detail: String(rejected.detail ?? ''), ...(origin ? { from: `${origin.topic}#${origin.partition}@${origin.offset}` } : rejected.via ? { from: rejected.via } : {}) };
}

/** Waits (bounded) until dispatch holds no delivery that is still to be sent (received, sending or retrying). */
async function noOpenDeliveries(databaseUrl: string, timeoutMs: number): Promise<void> {
  const database = new Client({ connectionString: databaseUrl });
  await database.connect();
  try {
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 1_000))) {
      const { rows } = await database.query<{ open: string }>("SELECT count(*) AS open FROM dispatch.deliveries WHERE status IN ('received', 'rendering', 'sending', 'retrying')");
      if (Number(rows[0]?.open) === 0) return;
    }
    throw new Error(`dispatch still holds deliveries to send after ${timeoutMs / 1000} s`);
  } finally {
    await database.end();
  }
}

/** Waits (bounded) until the group's committed offsets reach the topic's end as of now. */
async function consumedToEnd(kafka: KafkaClient, groupId: string, topic: string, timeoutMs: number): Promise<void> {
  const ends = await endOffsets(kafka, topic);
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 1_000))) {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const at = new Map(committed.partitions.map((partition) => [partition.partition, BigInt(partition.offset)]));
      if ([...ends].every(([partition, end]) => end === 0n || (at.get(partition) ?? -1n) >= end)) return;
    }
    throw new Error(`${groupId} has not consumed ${topic} to its end within ${timeoutMs / 1000} s`);
  } finally {
    await admin.disconnect();
  }
}

/** Publishes a definitions folder as `kairos publish` does; the ledger's journey and template, or the benchmark's. */
export async function publishDefinitions(kafka: KafkaClient, directory: string): Promise<void> {
  const published = await publishFolder(kafka, directory, { user: 'faults', host: 'local', tool: 'kairos-faults', directory }, { write: true });
  if (published.refused) throw new Error(`the definitions in ${directory} were refused: ${published.errors.map((error) => error.message).join('; ')}`);
}

function ping(n: number, customers: number): Record<string, unknown> {
  const customer = n % customers;
  return {
    type: 'track',
    messageId: `ledger-${n}`,
    userId: `ledger-customer-${customer}`,
    event: 'Ledger Ping',
    properties: { n },
    context: { traits: { email: `customer-${customer}@ledger.example` } },
    timestamp: new Date().toISOString(),
  };
}

if (require.main === module) {
  const short = process.argv.includes('--short');
  const log = (line: string) => console.log(line);
  runFaultSuite({ short, log }).then(
    (report) => {
      mkdirSync('reports', { recursive: true });
      writeFileSync(join('reports', 'faults.json'), `${JSON.stringify(report, null, 2)}\n`);
      const deadLettered = Object.values(report.deadLettered).reduce((sum, count) => sum + count, 0);
      log('');
      log(`fault suite (${report.form}): ${report.pings} ledger pings, ${report.mailsReceived} mails received`);
      for (const fault of report.faults) log(`  ${fault}`);
      log(`  lost ${report.lost.length}, duplicated ${report.duplicates.length} (same Message-ID: ${report.duplicates.filter((d) => d.sameMessageId).length}), dead-lettered ${deadLettered}`);
      for (const letter of report.deadLetters) log(`    ${letter.topic}: ${letter.reason}: ${letter.detail}${letter.from ? ` (from ${letter.from})` : ''}`);
      const { replay } = report;
      const parts = [replay.profiles, replay.memberships, replay.decisions];
      log(
        `  replay into empty stores (${replay.seconds} s): ${replay.profiles.replayed}/${replay.profiles.live} identity links, ${replay.memberships.replayed}/${replay.memberships.live} profiles' memberships, ` +
          `${replay.decisions.replayed}/${replay.decisions.live} journey decisions; differing ${parts.reduce((sum, part) => sum + part.differing.length, 0)}, mails sent again ${replay.mailsSentAgain}, dead-lettered ${replay.deadLettered}`,
      );
      log('  report: reports/faults.json');
      const replayed = parts.every((part) => part.live > 0 && part.differing.length === 0) && report.replay.mailsSentAgain === 0 && report.replay.deadLettered === 0;
      process.exit(report.lost.length === 0 && report.duplicates.every((d) => d.sameMessageId) && deadLettered === 0 && replayed ? 0 : 1);
    },
    (error: Error) => {
      console.error(`fault suite failed: ${error.stack ?? error.message}`);
      process.exit(2);
    },
  );
}
