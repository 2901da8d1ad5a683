import { DynamicModule, Global, INestApplication, INestMicroservice, LoggerService, Module, Provider, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { ALL_TOPICS, deadLetterTopic, Topics, TopicSpec } from '@kairos/contracts';
import { connectKafka, KafkaBatchTransport, KafkaConnectionSettings, KafkaHandlerErrorsFilter, PartitionOwnership, RecordProducer, TopicSettings, TopicSubscription } from '@kairos/kafka';
import { DefinitionsFollower } from '@kairos/definitions-topic';
import { connectAndMigrate, DatabaseOptions } from '@kairos/persistence';
import { Telemetry, TelemetryOptions } from '@kairos/telemetry';
import { DataSource } from 'typeorm';
import { HealthServer } from './health-server';
import { defaultLogFormat, LogFormat, ServiceLogger } from './service-logger';
import { CONSUMER_GROUP, KAFKA, SERVICE_NAME } from './runtime.tokens';
import { prepareServiceTopics } from './service-topics';

export interface ServiceOptions {
  name: string;
  /** The service's own Nest module: its consumers (@EventPattern), controllers, use cases, repositories. */
  module: Type<unknown> | DynamicModule;
  kafka: KafkaConnectionSettings;
  /** When the broker answers the consumer's fetches (BatchConsumerOptions.fetch); answer at once unless said. */
  fetch?: { minBytes: number; maxWaitMs: number };
  /** How often consumed offsets are committed (BatchConsumerOptions.commitIntervalMs); after every batch unless said. */
  commitIntervalMs?: number;
  telemetry: Omit<TelemetryOptions, 'serviceName'>;
  healthPort: number;
  /** Topics consumed; each needs exactly one @EventPattern handler. */
  subscriptions?: readonly TopicSubscription[];
  /** The consumer group; kairos-<name> unless said otherwise (a replay into a fresh store uses a fresh group). */
  groupId?: string;
  /** Topics created at start-up when missing (with the dead-letter topic): the catalogue's topics this service owns unless said otherwise. */
  ownedTopics?: readonly TopicSpec[];
  /** Topics written to that another owner creates: start-up waits for them, as for subscribed topics it does not own. */
  produces?: readonly string[];
  /** How owned topics are created, and how long start-up waits for others' topics (120 s unless said otherwise). */
  topicSettings?: TopicSettings & { waitSeconds?: number };
  /** Where a consumer group without committed offsets starts; the beginning (replay) unless said otherwise. */
  fromBeginning?: boolean;
  /** A public HTTP API (collector, dispatch endpoints); absent for services that only consume. */
  http?: {
    port: number;
    host?: string;
    bodyLimit?: number;
    /** Longest path parameter (Fastify's default is 100 characters; signed tokens in paths are longer). */
    maxParamLength?: number;
    /** false: Nest registers no body parsers, so `configure` can install its own (the collector reads raw bytes). */
    bodyParser?: boolean;
    /** Which proxies' X-Forwarded-For to believe (HTTP_TRUST_PROXY, see trustProxyOf): the client's IP is proof of consent. */
    trustProxy?: boolean | string | number;
    configure?: (app: NestFastifyApplication) => void;
  };
  database?: DatabaseOptions;
  /** Extra providers made available to the service module, typically its validated configuration. */
  providers?: Provider[];
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** pretty (a line per event, for people) or json (for collectors); defaultLogFormat() when absent. */
  logFormat?: LogFormat;
  /** How long a stop may take under runAsMain before the process exits anyway (40 s when absent). */
  stopTimeoutMs?: number;
  /**
   * Follow the published definitions (segments, journeys, templates): the topic is read to its end before the service
   * starts consuming, then changes apply live. The follower is injectable as DefinitionsFollower.
   */
  followDefinitions?: boolean;
}

export interface RunningService {
  logger: LoggerService;
  health: HealthServer;
  producer: RecordProducer;
  app: INestApplication | INestMicroservice;
  transport: KafkaBatchTransport;
  dataSource?: DataSource;
  /** Graceful stop: drain readiness, finish and commit the batch in hand, leave the group, flush the producer. */
  stop(): Promise<void>;
  /** What a stop in progress is waiting for (undefined when none is). */
  stopWaitingFor(): string | undefined;
  /** How long runAsMain lets a stop take before it exits anyway. */
  stopTimeoutMs: number;
}

/**
 * Starts one Kairos service: telemetry, Kafka topics and producer, database migrations, the Nest module with its
 * Kafka handlers (and public HTTP API, if any), and the health server. Every step logs what it did; a failure at any
 * step undoes the steps before it and rejects, so a service that cannot work does not pretend to.
 */
export async function runService(options: ServiceOptions): Promise<RunningService> {
  const logger = new ServiceLogger(options.name, { level: options.logLevel ?? 'info', format: options.logFormat ?? defaultLogFormat() });
  // Named, so that a stop that overruns its deadline can say what it was waiting for.
  const undo: Array<[string, () => Promise<unknown>]> = [];
  let undoing: string | undefined;
  const rollback = async () => {
    for (const [name, step] of undo.reverse()) {
      undoing = name;
      await step().catch(() => undefined);
    }
    undoing = undefined;
  };
  try {
    const started = Date.now();
    const telemetry = Telemetry.start({ serviceName: options.name, ...options.telemetry });
    undo.push(['telemetry to flush', () => telemetry.shutdown()]);
    const health = new HealthServer(options.name, telemetry.metricsHandler);
    await health.listen(options.healthPort);
    undo.push(['the health server to close', () => health.close()]);

    const logAt = (level: 'debug' | 'info' | 'warn' | 'error', message: string) => (level === 'info' ? logger.log(message) : logger[level](message));
    const kafka = connectKafka({ ...options.kafka, log: logAt });
    const groupId = options.groupId ?? `kairos-${options.name}`;
    await prepareServiceTopics(kafka, {
      owned: [...(options.ownedTopics ?? ALL_TOPICS.filter((topic) => topic.owner === options.name)), deadLetterTopic(groupId)],
      used: [...(options.subscriptions ?? []).map((subscription) => subscription.topic), ...(options.produces ?? []), ...(options.followDefinitions ? [Topics.definitions.name] : [])],
      settings: options.topicSettings ?? {},
      waitSeconds: options.topicSettings?.waitSeconds ?? 120,
      log: (message) => logger.log(message),
      warn: (message) => logger.warn(message),
    });
    const producer = new RecordProducer(kafka);
    await producer.connect();
    undo.push(['the producer to flush to the broker', () => producer.disconnect()]);

    let dataSource: DataSource | undefined;
    let databaseCheck: (() => Promise<string | undefined>) | undefined;
    if (options.database) {
      const database = await connectAndMigrate(options.database);
      dataSource = database.dataSource;
      undo.push(['the database pool to close', () => database.dataSource.destroy()]);
      logger.log(database.applied.length > 0 ? `applied migrations: ${database.applied.join(', ')}` : 'database schema up to date');
      // One probe for readiness and for the consumer's "is it an outage?" question.
      databaseCheck = () => probeDatabase(database.dataSource);
      health.register('database', async () => (await probeDatabase(database.dataSource)) ?? true);
    }

    let definitions: DefinitionsFollower | undefined;
    if (options.followDefinitions) {
      const follower = new DefinitionsFollower(kafka, { log: logAt });
      undo.push(['the definitions follower to stop', () => follower.stop()]);
      await follower.start();
      definitions = follower;
      health.register('definitions', () => follower.notFollowing() ?? true);
      health.registerLiveness('definitions', () => follower.wedged() ?? true);
    }

    // Whoever keeps state per partition (state stores) listens here; the consumer awaits them before each batch.
    const ownership = new PartitionOwnership();

    const transport = new KafkaBatchTransport({
      kafka,
      groupId,
      producer,
      subscriptions: options.subscriptions ?? [],
      fromBeginning: options.fromBeginning,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      commitIntervalMs: options.commitIntervalMs,
      ownership,
      // A handler failure while the database does not answer is an outage to wait out, never a poison record.
      dependencyCheck: databaseCheck,
      log: logAt,
    });
    const root = rootModule(options, groupId, kafka, producer, ownership, health, dataSource, definitions);
    let app: INestApplication | INestMicroservice;
    if (options.http) {
      const adapter = new FastifyAdapter({
        bodyLimit: options.http.bodyLimit ?? 1024 * 1024,
        keepAliveTimeout: 65_000,
        ...(options.http.maxParamLength ? { routerOptions: { maxParamLength: options.http.maxParamLength } } : {}),
        ...(options.http.trustProxy !== undefined ? { trustProxy: options.http.trustProxy } : {}),
      });
      const httpApp = await NestFactory.create<NestFastifyApplication>(root, adapter, { logger, abortOnError: false, bodyParser: options.http.bodyParser ?? true });
      undo.push(['the HTTP server to answer its requests', () => httpApp.close()]);
      options.http.configure?.(httpApp);
      // Before connecting: the Kafka transport inherits the app's global filters when its handlers are registered.
      httpApp.useGlobalFilters(new KafkaHandlerErrorsFilter(httpApp.getHttpAdapter()));
      httpApp.connectMicroservice({ strategy: transport }, { inheritAppConfig: true });
      // Its own step, before the HTTP server's (the app closing it again is a no-op): a stop that overruns says which.
      undo.push(['the consumer to finish its batch', () => transport.close()]);
      // Listen first: the public API (the collector) need not wait for the consumer group to form.
      await httpApp.listen(options.http.port, options.http.host ?? '0.0.0.0');
      await httpApp.startAllMicroservices();
      app = httpApp;
    } else {
      const microservice = await NestFactory.createMicroservice(root, { strategy: transport, logger, abortOnError: false });
      undo.push(['the consumer to finish its batch', () => microservice.close()]);
      microservice.useGlobalFilters(new KafkaHandlerErrorsFilter());
      await microservice.listen();
      app = microservice;
    }
    health.register('kafka', () => {
      const consumer = transport.batchConsumer;
      if (!consumer) return (options.subscriptions ?? []).length === 0 ? true : 'consumer not running';
      return consumer.notRunning() ?? true;
    });
    health.registerLiveness('kafka', () => transport.batchConsumer?.wedged() ?? true);
    // Not ready while any partition waits for a dependency: lag grows, nothing is dead-lettered, and this says why.
    health.register('processing', () => {
      const stalls = transport.batchConsumer?.stalls() ?? [];
      if (stalls.length === 0) return true;
      const oldest = Math.min(...stalls.map((stall) => stall.since));
      return `${stalls.length} partition(s) waiting for a dependency for ${Math.round((Date.now() - oldest) / 1000)} s: ${stalls[0].reason}`;
    });
    health.markStarted();
    logger.log(
      `started in ${Date.now() - started} ms: health http://127.0.0.1:${options.healthPort}/health/ready` +
        (options.http ? `, api http://127.0.0.1:${options.http.port}` : '') +
        `, consuming ${(options.subscriptions ?? []).map((subscription) => subscription.topic).join(', ') || 'nothing'}`,
    );

    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        const begun = Date.now();
        logger.log('stopping');
        health.markStopping();
        // undo runs in reverse: the Nest app (consumer finishes its batch, commits, leaves the group; HTTP stops),
        // then the database, the producer (flushing what is queued), the health server and telemetry.
        await rollback();
        logger.log(`stopped in ${Date.now() - begun} ms`);
      })());
    return { logger, health, producer, app, transport, dataSource, stop, stopWaitingFor: () => undoing, stopTimeoutMs: options.stopTimeoutMs ?? 40_000 };
  } catch (error) {
    await rollback();
    throw error;
  }
}

function rootModule(options: ServiceOptions, groupId: string, kafka: unknown, producer: RecordProducer, ownership: PartitionOwnership, health: HealthServer, dataSource: DataSource | undefined, definitions: DefinitionsFollower | undefined): DynamicModule {
  @Global()
  @Module({})
  class KairosRuntimeModule {}

  const providers: Provider[] = [
    { provide: SERVICE_NAME, useValue: options.name },
    { provide: CONSUMER_GROUP, useValue: groupId },
    { provide: KAFKA, useValue: kafka },
    { provide: RecordProducer, useValue: producer },
    { provide: PartitionOwnership, useValue: ownership },
    // A provider that follows a topic of its own (as the definitions follower does) reports on readiness and liveness.
    { provide: HealthServer, useValue: health },
    ...(dataSource ? [{ provide: DataSource, useValue: dataSource }] : []),
    ...(definitions ? [{ provide: DefinitionsFollower, useValue: definitions }] : []),
    ...(options.providers ?? []),
  ];
  const runtime: DynamicModule = { module: KairosRuntimeModule, providers, exports: providers };
  return { module: class KairosServiceRoot {}, imports: [runtime, options.module] };
}

/** Undefined when the database answers within 3 s; otherwise why not. */
async function probeDatabase(dataSource: DataSource): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('database did not answer within 3 s'), 3_000)));
  try {
    return await Promise.race([dataSource.query('SELECT 1').then(() => undefined, (error: Error) => `database unavailable: ${error.message}`), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a service as the process's main program: stops gracefully on SIGTERM/SIGINT, exits non-zero on failure. */
export function runAsMain(start: () => Promise<RunningService>): void {
  start().then(
    (service) => {
      const onSignal = (signal: string) => {
        service.logger.log(`received ${signal}`);
        // A stop that hangs (a broker that does not answer a flush, a request that never ends) would be killed by the
        // orchestrator without a word; it says what it waited for first.
        setTimeout(() => {
          service.logger.error(`stop did not finish within ${service.stopTimeoutMs / 1000} s, waiting for ${service.stopWaitingFor() ?? 'nothing the runtime knows of'}; exiting`);
          process.exit(1);
        }, service.stopTimeoutMs).unref();
        service.stop().then(
          () => process.exit(0),
          (error: Error) => {
            service.logger.error(`stop failed: ${error.message}`);
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', () => onSignal('SIGTERM'));
      process.once('SIGINT', () => onSignal('SIGINT'));
    },
    (error: Error) => {
      console.error(`failed to start: ${error.message}`);
      process.exit(1);
    },
  );
}
