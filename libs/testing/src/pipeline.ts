import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import PostalMime from 'postal-mime';
import { deadLetterTopic } from '@kairos/contracts';
import { connectKafka, createCatalogueTopics, KafkaClient } from '@kairos/kafka';
import { freePort } from '@kairos/local-stack';
import { ControlledStack, startControlledStack } from './controlled-stack';
import { ServiceProcess, startServiceProcess } from './service-process';
import { startSmtpSinkProcess } from './smtp-sink-process';

export const PIPELINE_SERVICES = ['ingestion', 'identity', 'segmentation', 'triggers', 'dispatch'] as const;
export type PipelineService = (typeof PIPELINE_SERVICES)[number];

export interface PipelineInstance {
  name: PipelineService;
  label: string;
  process: ServiceProcess;
  /** Where its /health and /metrics answer. */
  healthPort: number;
}

export interface Pipeline {
  stack: ControlledStack;
  kafka: KafkaClient;
  collectorUrl: string;
  writeKey: string;
  /** Where the SMTP sink keeps every mail as an .eml file (it outlives a stop of the sink). */
  mailDir: string;
  /** The SMTP sink's process (its CPU is the relay's, not the benchmark's). */
  smtpSinkPid: number;
  instances: PipelineInstance[];
  /**
   * Starts one more instance of a service (label "identity#2" for a second one) and waits until it is ready; `env`
   * adds to its environment (a replay's own consumer group and schema).
   */
  start(name: PipelineService, label?: string, env?: Record<string, string>): Promise<PipelineInstance>;
  /** Removes the running instance with this label from `instances` and returns it (to kill or stop it). */
  take(label: string): PipelineInstance;
  stopSmtp(): Promise<void>;
  startSmtp(): Promise<void>;
  stop(): Promise<void>;
}

export interface PipelineOptions {
  /** Runs once the topics exist, before the services start: publish the definitions the run needs. */
  prepare(kafka: KafkaClient): Promise<void>;
  partitions: number;
  log: (line: string) => void;
  /** Extra environment for every service. */
  env?: Record<string, string>;
}

/**
 * The whole pipeline for the fault suite and the pipeline benchmark: a broker and a PostgreSQL of its own (restartable,
 * see startControlledStack), an SMTP sink in a process of its own (stoppable), the catalogue topics, what `prepare` does (publish
 * definitions), and the five services as processes of their own, as in production.
 */
export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const work = mkdtempSync(join(tmpdir(), 'kairos-pipeline-'));
  const mailDir = join(work, 'mail');
  mkdirSync(mailDir);
  const stack = await startControlledStack();
  const smtpPort = await freePort();
  const inboxPort = await freePort();
  // A second's grace for open connections when the SMTP server is stopped: an outage, not a drain.
  const sink = await startSmtpSinkProcess({ smtpPort, httpPort: inboxPort, mailDir, closeTimeoutMs: 1_000 });
  const kafka = connectKafka({ brokers: stack.kafkaBrokers, clientId: 'kairos-pipeline', logLevel: 'nothing' });
  const instances: PipelineInstance[] = [];
  const writeKey = `pipeline_${Date.now()}_write_key`;
  const collectorPort = await freePort();

  const pipeline: Pipeline = {
    stack,
    kafka,
    collectorUrl: `http://127.0.0.1:${collectorPort}`,
    writeKey,
    mailDir,
    smtpSinkPid: sink.pid,
    instances,
    async start(name, label = name, extra = {}) {
      const env: Record<string, string> = {
        KAFKA_BROKERS: stack.kafkaBrokers,
        DATABASE_URL: stack.databaseUrl,
        SMTP_URL: `smtp://127.0.0.1:${smtpPort}`,
        KAFKA_TOPIC_PARTITIONS: String(options.partitions),
        TELEMETRY_EXPORTER: 'prometheus',
        KAIROS_DEV_WRITE_KEY: writeKey,
        COLLECTOR_PORT: name === 'ingestion' ? String(collectorPort) : String(await freePort()),
        IDENTITY_API_PORT: String(await freePort()),
        DISPATCH_PORT: String(await freePort()),
        KAFKA_CLIENT_ID: `kairos-${name}`,
        ...options.env,
        ...extra,
      };
      const healthPort = await freePort();
      const instance = { name, label, healthPort, process: await startServiceProcess(name, env, healthPort, label) };
      instances.push(instance);
      options.log(`  ${label} is ready`);
      return instance;
    },
    take(label) {
      const index = instances.findIndex((instance) => instance.label === label);
      if (index < 0) throw new Error(`no running instance ${label}`);
      return instances.splice(index, 1)[0];
    },
    stopSmtp: () => sink.stopSmtp(),
    startSmtp: () => sink.startSmtp(),
    async stop() {
      for (const instance of instances.splice(0).reverse()) await instance.process.stop().catch(() => undefined);
      await sink.stop().catch(() => undefined);
      await stack.stop().catch(() => undefined);
      rmSync(work, { recursive: true, force: true });
    },
  };
  try {
    await createCatalogueTopics(kafka, { partitions: options.partitions, replicationFactor: 1, minInsyncReplicas: 1 }, PIPELINE_SERVICES.map((name) => deadLetterTopic(`kairos-${name}`)));
    await options.prepare(kafka);
    options.log('starting the five services…');
    for (const name of PIPELINE_SERVICES) await pipeline.start(name);
    return pipeline;
  } catch (error) {
    await pipeline.stop();
    throw error;
  }
}

/** As an SDK does: posts a batch to the collector and retries until it is accepted (it is down while ingestion restarts). */
export async function postUntilAccepted(pipeline: Pick<Pipeline, 'collectorUrl' | 'writeKey'>, batch: ReadonlyArray<Record<string, unknown>>): Promise<void> {
  const authorization = `Basic ${Buffer.from(`${pipeline.writeKey}:`).toString('base64')}`;
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(`${pipeline.collectorUrl}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body: JSON.stringify({ batch }) }).catch(() => undefined);
    if (response?.ok) return;
    if (response && response.status < 500 && response.status !== 429) throw new Error(`the collector refused a batch: ${response.status} ${await response.text()}`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 100 * 2 ** attempt)));
  }
}

/**
 * The mails in the sink's folder whose subject matches `subject` (and, if given, sent to `to`): first capture group ->
 * the Message-IDs of its copies.
 */
export async function readMails(mailDir: string, subject: RegExp, to?: string): Promise<Map<string, string[]>> {
  const mails = new Map<string, string[]>();
  for (const file of readdirSync(mailDir).filter((name) => name.endsWith('.eml'))) {
    const parsed = await PostalMime.parse(readFileSync(join(mailDir, file)));
    const match = subject.exec(parsed.subject ?? '');
    if (!match || (to !== undefined && !(parsed.to ?? []).some((recipient) => recipient.address === to))) continue;
    mails.set(match[1], [...(mails.get(match[1]) ?? []), parsed.messageId ?? '']);
  }
  return mails;
}
