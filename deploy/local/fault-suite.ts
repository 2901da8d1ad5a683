import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import PostalMime from 'postal-mime';
import { deadLetterTopic, Topics } from '@kairos/contracts';
import { publishFolder } from '@kairos/definitions-topic';
import { connectKafka, createCatalogueTopics, endOffsets } from '@kairos/kafka';
import { freePort, RunningSmtpSink, startSmtpSink } from '@kairos/local-stack';
import { ControlledStack, ServiceProcess, startControlledStack, startServiceProcess } from '@kairos/testing';

/**
 * The fault suite: the five services as processes of their own on a broker, a PostgreSQL and an SMTP sink of the
 * suite's own, while a steady stream of "Ledger Ping" events flows through the HTTP collector. Each ping must give
 * exactly one transactional mail naming its number (deploy/local/fault-definitions): the ledger. Meanwhile every
 * service is killed with SIGKILL once at a random moment and restarted, the broker and PostgreSQL are restarted, the
 * SMTP server is stopped for a while, and a second instance of identity, segmentation and triggers joins at the
 * start and is stopped mid-stream. Afterwards the mails received are compared with the ledger.
 *
 *   npm run faults              the full suite (SMTP down 60 s, 3 minutes of stream); reports/faults.json
 *   npm run faults -- --short   the short form CI runs (deploy/local/fault-suite.int-spec.ts)
 */

const SERVICES = ['ingestion', 'identity', 'segmentation', 'triggers', 'dispatch'] as const;
type ServiceName = (typeof SERVICES)[number];
const SCALED: readonly ServiceName[] = ['identity', 'segmentation', 'triggers'];
const PARTITIONS = 2;

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
  drainSeconds: number;
}

interface Instance {
  name: ServiceName;
  label: string;
  process: ServiceProcess;
}

export async function runFaultSuite(options: FaultSuiteOptions): Promise<FaultSuiteReport> {
  const { log } = options;
  const streamSeconds = options.short ? 60 : 180;
  const rate = options.short ? 10 : 20; // pings/s
  const smtpDownMs = options.short ? 20_000 : 60_000;
  const customers = 100;
  const work = mkdtempSync(join(tmpdir(), 'kairos-faults-'));
  const mailDir = join(work, 'mail');
  mkdirSync(mailDir);

  log('starting a broker and PostgreSQL of the suite’s own…');
  const stack: ControlledStack = await startControlledStack();
  const smtpPort = await freePort();
  const inboxPort = await freePort();
  let sink: RunningSmtpSink | undefined = await startSmtpSink({ smtpPort, httpPort: inboxPort, mailDir });
  const kafka = connectKafka({ brokers: stack.kafkaBrokers, clientId: 'kairos-faults', logLevel: 'nothing' });
  const instances: Instance[] = [];
  const faults: string[] = [];
  const writeKey = `faults_${Date.now()}_write_key`;
  const collectorPort = await freePort();
  try {
    await createCatalogueTopics(kafka, { partitions: PARTITIONS, replicationFactor: 1, minInsyncReplicas: 1 }, SERVICES.map((name) => deadLetterTopic(`kairos-${name}`)));
    const published = await publishFolder(kafka, join(__dirname, 'fault-definitions'), { user: 'faults', host: 'local', tool: 'kairos-faults', directory: 'fault-definitions' }, { write: true });
    if (published.refused) throw new Error(`the ledger definitions were refused: ${published.errors.map((error) => error.message).join('; ')}`);

    const env = async (name: ServiceName): Promise<Record<string, string>> => ({
      KAFKA_BROKERS: stack.kafkaBrokers,
      DATABASE_URL: stack.databaseUrl,
      SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
      KAFKA_TOPIC_PARTITIONS: String(PARTITIONS),
      TELEMETRY_EXPORTER: 'prometheus',
      KAIROS_DEV_WRITE_KEY: writeKey,
      COLLECTOR_PORT: name === 'ingestion' ? String(collectorPort) : String(await freePort()),
      IDENTITY_API_PORT: String(await freePort()),
      DISPATCH_PORT: String(await freePort()),
      KAFKA_CLIENT_ID: `kairos-${name}`,
    });
    const start = async (name: ServiceName, label: string = name) => {
      const process = await startServiceProcess(name, await env(name), await freePort(), label);
      instances.push({ name, label, process });
      log(`  ${label} is ready`);
    };
    const take = (label: string): Instance => {
      const index = instances.findIndex((instance) => instance.label === label);
      if (index < 0) throw new Error(`no running instance ${label}`);
      return instances.splice(index, 1)[0];
    };
    log('starting the five services, and a second instance of identity, segmentation and triggers…');
    for (const name of SERVICES) await start(name);
    for (const name of SCALED) await start(name, `${name}#2`);

    // The ledger: ping n belongs to customer n % customers and must give one mail "Ledger n".
    const pings = streamSeconds * rate;
    const random = (from: number, to: number) => from + Math.random() * (to - from);
    const at = (fraction: number, spread = 0.04) => Math.round(random(fraction - spread, fraction + spread) * streamSeconds * 1000);
    const killAndRestart = (name: ServiceName) => async () => {
      await take(name).process.kill();
      await start(name);
    };
    const schedule: Array<[number, string, () => Promise<void>]> = [
      [at(0.1), 'kill -9 ingestion, restart it', killAndRestart('ingestion')],
      [at(0.2), 'kill -9 identity, restart it', killAndRestart('identity')],
      [at(0.3), 'kill -9 segmentation, restart it', killAndRestart('segmentation')],
      [at(0.4), 'kill -9 triggers, restart it', killAndRestart('triggers')],
      [at(0.5), 'kill -9 dispatch, restart it', killAndRestart('dispatch')],
      [at(0.55, 0.01), 'restart the broker (down 5 s)', () => stack.restart('kafka', 5_000)],
      [at(0.62, 0.01), 'restart PostgreSQL (down 20 s)', () => stack.restart('postgres', 20_000)],
      [at(0.75, 0.01), `stop the SMTP server for ${smtpDownMs / 1000} s`, async () => {
        await sink?.stop();
        sink = undefined;
        await new Promise((resolve) => setTimeout(resolve, smtpDownMs));
        sink = await startSmtpSink({ smtpPort, httpPort: inboxPort, mailDir });
      }],
      [at(0.85, 0.01), 'stop the second instances of identity, segmentation and triggers', async () => {
        for (const name of SCALED) await take(`${name}#2`).process.stop();
      }],
    ].sort((a, b) => (a[0] as number) - (b[0] as number)) as Array<[number, string, () => Promise<void>]>;

    log(`streaming ${pings} pings at ${rate}/s for ${streamSeconds} s through the collector, with ${schedule.length} faults…`);
    const streamStart = Date.now();
    const faultsDone = (async () => {
      for (const [due, what, fault] of schedule) {
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, streamStart + due - Date.now())));
        const begun = Date.now();
        log(`  fault: ${what} at ${((begun - streamStart) / 1000).toFixed(1)} s`);
        await fault();
        faults.push(`${what} at ${((begun - streamStart) / 1000).toFixed(1)} s (recovered in ${((Date.now() - begun) / 1000).toFixed(1)} s)`);
      }
    })();
    let sent = 0;
    for (let tick = 0; sent < pings; tick++) {
      const wait = streamStart + tick * 100 - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const batch = Array.from({ length: Math.min(Math.ceil(rate / 10), pings - sent) }, () => ping(sent++, customers));
      await postUntilAccepted(`http://127.0.0.1:${collectorPort}/v1/batch`, writeKey, batch);
      if (sent % (rate * 10) === 0) log(`  ${sent}/${pings} pings accepted`);
    }
    await faultsDone;

    log('waiting for the ledger’s mails…');
    const drainStart = Date.now();
    const drainDeadline = drainStart + (options.short ? 150_000 : 300_000);
    let mails = await readLedgerMails(mailDir);
    while (mails.size < pings && Date.now() < drainDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      mails = await readLedgerMails(mailDir);
      log(`  ${mails.size}/${pings} ledger entries have their mail`);
    }
    const lost = Array.from({ length: pings }, (_, n) => n).filter((n) => !mails.has(n));
    const duplicates = [...mails]
      .filter(([, copies]) => copies.length > 1)
      .map(([n, copies]) => ({ n, copies: copies.length, sameMessageId: new Set(copies).size === 1 }));
    const deadLettered: Record<string, number> = {};
    for (const topic of [...SERVICES.map((name) => deadLetterTopic(`kairos-${name}`).name), Topics.rejected.name]) {
      const ends = await endOffsets(kafka, topic);
      deadLettered[topic] = Number([...ends.values()].reduce((sum, end) => sum + end, 0n));
    }
    return {
      form: options.short ? 'short' : 'full',
      pings,
      streamSeconds,
      faults,
      mailsReceived: [...mails.values()].reduce((sum, copies) => sum + copies.length, 0),
      lost,
      duplicates,
      deadLettered,
      drainSeconds: Math.round((Date.now() - drainStart) / 1000),
    };
  } finally {
    for (const instance of instances.reverse()) await instance.process.stop().catch(() => undefined);
    await sink?.stop().catch(() => undefined);
    await stack.stop().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
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

/** As an SDK does: retries until the collector accepts the batch (it is down while ingestion restarts). */
async function postUntilAccepted(url: string, writeKey: string, batch: Array<Record<string, unknown>>): Promise<void> {
  const authorization = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body: JSON.stringify({ batch }) });
      if (response.ok) return;
      if (response.status < 500 && response.status !== 429) throw new Error(`the collector refused a ledger batch: ${response.status} ${await response.text()}`);
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('the collector refused')) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 100 * 2 ** attempt)));
  }
}

/** Ledger number -> the Message-IDs of the mails that name it, from the sink's .eml files. */
async function readLedgerMails(mailDir: string): Promise<Map<number, string[]>> {
  const mails = new Map<number, string[]>();
  for (const file of readdirSync(mailDir).filter((name) => name.endsWith('.eml'))) {
    const parsed = await PostalMime.parse(readFileSync(join(mailDir, file)));
    const match = /^Ledger (\d+)$/.exec(parsed.subject ?? '');
    if (!match) continue;
    const n = Number(match[1]);
    mails.set(n, [...(mails.get(n) ?? []), parsed.messageId ?? '']);
  }
  return mails;
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
      log('  report: reports/faults.json');
      process.exit(report.lost.length === 0 && report.duplicates.every((d) => d.sameMessageId) && deadLettered === 0 ? 0 : 1);
    },
    (error: Error) => {
      console.error(`fault suite failed: ${error.stack ?? error.message}`);
      process.exit(2);
    },
  );
}
