import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { stopStale, run, stopChild } from './child-process';

/**
 * Kafka 3.9.x, not 4.x: kafkajs 2.2.4 (the last release) negotiates old protocol versions, several of which
 * Kafka 4.0 removed (KIP-896). 3.9 is the last line that speaks them and runs KRaft without ZooKeeper.
 */
export const KAFKA_VERSION = process.env['KAIROS_KAFKA_VERSION'] ?? '3.9.1';

export interface KafkaBrokerOptions {
  port: number;
  controllerPort: number;
  /** Folder for the log segments; wiped first when `fresh` is set (tests). */
  dataDir: string;
  fresh: boolean;
  /**
   * Run in a process group of its own (the development stack): Ctrl-C in a terminal signals the whole foreground
   * group, and the broker must outlive the services, which leave their consumer groups and flush their producers on
   * the way out; stop() ends it after them, and a broker orphaned by a killed stack is found by its pid file. Test
   * stacks stay in the group, so killing the group leaves no broker behind in a throw-away directory.
   */
  ownProcessGroup?: boolean;
  cacheDir?: string;
  log?: (line: string) => void;
}

export interface RunningKafka {
  brokers: string;
  stop(): Promise<void>;
  /** Stops the broker (SIGTERM, as an operator would), keeps its data, starts it again after `downMs`: fault tests. */
  restart(downMs?: number): Promise<void>;
}

export function defaultCacheDir(): string {
  return process.env['KAIROS_CACHE_DIR'] ?? join(homedir(), '.cache', 'kairos');
}

/**
 * Fetches the broker's jars from Maven Central once (through the machine's Maven) and reuses them afterwards.
 * A marker file is written last, so an interrupted download is redone instead of half-used.
 */
export async function ensureKafkaJars(cacheDir: string, log: (line: string) => void): Promise<string> {
  const home = join(cacheDir, `kafka-${KAFKA_VERSION}`);
  const libs = join(home, 'libs');
  const marker = join(home, '.complete');
  if (existsSync(marker)) return libs;
  log(`fetching Apache Kafka ${KAFKA_VERSION} jars from Maven Central into ${libs} (first run only)…`);
  mkdirSync(home, { recursive: true });
  writeFileSync(
    join(home, 'pom.xml'),
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.kairos</groupId><artifactId>kafka-runtime</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
`,
  );
  const started = Date.now();
  await run('mvn', ['-B', '-q', 'dependency:copy-dependencies', `-DoutputDirectory=${libs}`, '-DincludeScope=runtime'], {
    cwd: home,
  }).catch((error: Error) => {
    throw new Error(`could not fetch Kafka with Maven (JDK 17+ and Maven are prerequisites): ${error.message}`);
  });
  writeFileSync(marker, new Date().toISOString());
  log(`Kafka jars ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return libs;
}

/**
 * What Kafka's own kafka-server-start.sh gives the broker (KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS), except a
 * smaller starting heap: G1 aiming at 20 ms pauses rather than its default 200 ms, which is what keeps produce
 * acknowledgements, and so the collector's answers, free of GC-sized tails.
 */
const KAFKA_JVM_OPTIONS = [
  '-Xms256m',
  '-Xmx1g',
  '-server',
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-XX:InitiatingHeapOccupancyPercent=35',
  '-XX:+ExplicitGCInvokesConcurrent',
  '-XX:MaxInlineLevel=15',
  '-Djava.awt.headless=true',
];

function serverProperties(options: KafkaBrokerOptions): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${options.controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${options.port},CONTROLLER://127.0.0.1:${options.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${options.port}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${join(options.dataDir, 'logs')}`,
    'num.partitions=6',
    // Topics come from the catalogue; a typo in a topic name must fail, not create a topic.
    'auto.create.topics.enable=false',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=6',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'log.retention.hours=168',
    'log.segment.bytes=268435456',
  ].join('\n');
}

const LOG4J = `log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=\${kairos.log.file}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
`;

/** Polls the broker with the same client the services use until it answers metadata requests. */
async function waitUntilReady(brokers: string, child: ChildProcess, timeoutMs: number, logFile: string): Promise<void> {
  process.env['KAFKAJS_NO_PARTITIONER_WARNING'] ??= '1';
  const kafka = new Kafka({ clientId: 'kairos-readiness', brokers: [brokers], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-3000) : '';
      throw new Error(`Kafka exited with code ${child.exitCode} during start-up. Log tail:\n${tail}`);
    }
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.describeCluster();
      // Creates __consumer_offsets, so the first consumer group does not meet "coordinator not available".
      await admin.describeGroups(['kairos-readiness']);
      await admin.disconnect();
      // Metadata answers before the producer-id manager has loaded; services start producing right away.
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: { retries: 5, initialRetryTime: 100 } });
      await producer.connect();
      await producer.disconnect();
      return;
    } catch {
      await admin.disconnect().catch(() => undefined);
    }
    if (Date.now() > deadline) throw new Error(`Kafka did not become ready on ${brokers} within ${timeoutMs} ms (log: ${logFile})`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** A broker an earlier development stack left running (see ownProcessGroup): stopped as an operator would stop it. */
export async function stopStaleBroker(dataDir: string, log: (line: string) => void): Promise<void> {
  const pidFile = join(dataDir, 'kafka.pid');
  if (existsSync(pidFile)) await stopStale(Number(readFileSync(pidFile, 'utf8')), 'java', 'SIGTERM', 30_000, log);
}

export async function startKafkaBroker(options: KafkaBrokerOptions): Promise<RunningKafka> {
  const log = options.log ?? (() => undefined);
  const libs = await ensureKafkaJars(options.cacheDir ?? defaultCacheDir(), log);
  const pidFile = join(options.dataDir, 'kafka.pid');
  if (options.fresh) rmSync(options.dataDir, { recursive: true, force: true });
  mkdirSync(options.dataDir, { recursive: true });

  const config = join(options.dataDir, 'server.properties');
  const log4j = join(options.dataDir, 'log4j.properties');
  const logFile = join(options.dataDir, 'kafka.log');
  writeFileSync(config, serverProperties(options));
  writeFileSync(log4j, LOG4J);
  const classpath = `${libs}/*`;
  const jvm = [...KAFKA_JVM_OPTIONS, `-Dlog4j.configuration=file:${log4j}`, `-Dkairos.log.file=${logFile}`];

  if (!existsSync(join(options.dataDir, 'logs', 'meta.properties'))) {
    // As Kafka's own Uuid.randomUuid does: an id starting with '-' would be read as an option by the storage tool
    // (one start in 32 failed with "argument --cluster-id: expected one argument").
    let clusterId = randomBytes(16).toString('base64url');
    while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url');
    await run('java', [...jvm, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', config, '--ignore-formatted']);
  }

  const brokers = `127.0.0.1:${options.port}`;
  const launch = async (): Promise<ChildProcess> => {
    const child = spawn('java', [...jvm, '-cp', classpath, 'kafka.Kafka', config], { stdio: ['ignore', 'pipe', 'pipe'], detached: options.ownProcessGroup ?? false });
    const console = createWriteStream(join(options.dataDir, 'kafka.out'), { flags: 'a' });
    child.stdout?.pipe(console);
    child.stderr?.pipe(console);
    writeFileSync(pidFile, String(child.pid));
    try {
      await waitUntilReady(brokers, child, 120_000, logFile);
    } catch (error) {
      await stopChild(child, 5_000);
      throw error;
    }
    return child;
  };
  let child = await launch();
  return {
    brokers,
    async stop() {
      await stopChild(child, 30_000);
      rmSync(pidFile, { force: true });
      if (options.fresh) rmSync(options.dataDir, { recursive: true, force: true });
    },
    async restart(downMs = 0) {
      await stopChild(child, 30_000);
      await new Promise((resolve) => setTimeout(resolve, downMs));
      child = await launch();
    },
  };
}
