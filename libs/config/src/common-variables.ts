import { ConfigError } from './load-config';
import { ConfigOf, integer, oneOf, port, text } from './variables';

/** Variables every service reads; each service adds its own next to these. */
export const kafkaVariables = {
  KAFKA_BROKERS: text({ description: 'Comma-separated bootstrap brokers', default: '127.0.0.1:9092' }),
  KAFKA_CLIENT_ID: text({ description: 'Client id prefix; defaults to the service name', optional: true }),
  KAFKA_GROUP_ID: text({ description: 'Consumer group; defaults to kairos-<service> (a replay into a fresh schema uses a fresh group)', optional: true }),
  // Measured with `npm run bench:pipeline` and `bench:segmentation` (docs/operations.md, section 3): gathering records
  // for up to 50 ms per fetch lowered CPU at every rate with traffic and the pipeline's p99 under load, for up to 50 ms
  // per stage while traffic is light; 16 KiB rather than 64 KiB ends the wait sooner under moderate load. The consumer
  // gathers between fetches (a small batch is handled at once, the next fetch waits), not at the broker, so an idle
  // consumer does not fetch 20 times a second.
  KAFKA_FETCH_MIN_BYTES: integer({
    description: 'A batch of fewer bytes (keys and values) is handled at once and the consumer\'s next fetch waits until KAFKA_FETCH_MAX_WAIT_MS after the one it came in, so that records gather; 1 fetches again at once',
    default: 16_384,
    minimum: 1,
  }),
  // At most 3 s: the wait holds the consumer's next heartbeat, and the session ends after 10 s without one.
  KAFKA_FETCH_MAX_WAIT_MS: integer({ description: 'How long after a fetch with a small batch arrived the next one waits: about what a stage adds to an event\'s latency while traffic is steady but light', default: 50, minimum: 10, maximum: 3_000 }),
  // An offset commit is a write to the broker's __consumer_offsets log through the group coordinator: committed after
  // every batch they were 102 of the broker's ~390 requests/s at 500 events/s, 4.5/s at one second (docs/operations.md,
  // section 3). Kafka's own client commits every 5 s.
  KAFKA_COMMIT_INTERVAL_MS: integer({
    description: 'Consumed offsets are committed at most this often (and on leaving the group or a rebalance); a crash redelivers what was processed since, which every stage takes as a redelivery. 0 commits after every batch',
    default: 1_000,
    minimum: 0,
    maximum: 60_000,
  }),
};

/** How the topics a service owns are created, and how long it waits for the ones others create. */
export const topicVariables = {
  KAFKA_TOPIC_PARTITIONS: integer({ description: 'Partitions for topics this service creates', default: 6, minimum: 1 }),
  KAFKA_REPLICATION_FACTOR: integer({
    description: 'Copies of each partition of the topics this service creates; at most the number of brokers (1 for a single dev broker)',
    default: 3,
    minimum: 1,
  }),
  KAFKA_MIN_INSYNC_REPLICAS: integer({
    description: 'min.insync.replicas of the topics this service creates: copies that must have a write before it is acknowledged; at most the replication factor',
    default: 2,
    minimum: 1,
  }),
  KAFKA_TOPIC_WAIT_SECONDS: integer({ description: 'How long start-up waits for topics other owners create before it fails', default: 120, minimum: 0 }),
};

export interface TopicConfig {
  partitions: number;
  replicationFactor: number;
  minInsyncReplicas: number;
  waitSeconds: number;
}

/** The topic variables as one value, checked together (each alone was checked by loadConfig). */
export function topicConfig(config: ConfigOf<typeof topicVariables>): TopicConfig {
  if (config.KAFKA_MIN_INSYNC_REPLICAS > config.KAFKA_REPLICATION_FACTOR) {
    throw new ConfigError(
      `invalid configuration: KAFKA_MIN_INSYNC_REPLICAS must be <= KAFKA_REPLICATION_FACTOR (got ${config.KAFKA_MIN_INSYNC_REPLICAS} and ` +
        `${config.KAFKA_REPLICATION_FACTOR}): no write with acks=all could ever be acknowledged`,
    );
  }
  return {
    partitions: config.KAFKA_TOPIC_PARTITIONS,
    replicationFactor: config.KAFKA_REPLICATION_FACTOR,
    minInsyncReplicas: config.KAFKA_MIN_INSYNC_REPLICAS,
    waitSeconds: config.KAFKA_TOPIC_WAIT_SECONDS,
  };
}

/** What a service with a public HTTP API reads (ingestion's collector, dispatch's endpoints). */
export const publicHttpVariables = {
  HTTP_TRUST_PROXY: text({
    description:
      "The proxies in front of the public API whose X-Forwarded-For is believed: 'true' (any), a hop count (1), or addresses and CIDRs, comma-separated (10.0.0.0/8). Unset: none, and the recorded client IP — proof of consent at an unsubscribe or opt-in, an event's context.ip — is the proxy's",
    optional: true,
  }),
};

/** Fastify's trustProxy from HTTP_TRUST_PROXY: true, a hop count, or a list of addresses. */
export function trustProxyOf(value: string | undefined): boolean | number | string | undefined {
  const text = value?.trim() ?? '';
  if (text === '' || text.toLowerCase() === 'false') return undefined;
  if (text.toLowerCase() === 'true') return true;
  return /^\d+$/.test(text) ? Number(text) : text;
}

export const databaseVariables = {
  DATABASE_URL: text({ description: 'PostgreSQL connection URL', default: 'postgres://postgres:postgres@127.0.0.1:5433/kairos' }),
  DATABASE_SCHEMA: text({ description: "The service's own schema; defaults to the service name", optional: true }),
};

export const telemetryVariables = {
  TELEMETRY_EXPORTER: oneOf(['prometheus', 'otlp', 'none'] as const, {
    description: 'prometheus: /metrics on the health port; otlp: push traces and metrics to OTLP_ENDPOINT',
    default: 'prometheus',
  }),
  OTLP_ENDPOINT: text({ description: 'OTLP/HTTP base URL, e.g. http://collector:4318', default: 'http://127.0.0.1:4318' }),
  LOG_LEVEL: oneOf(['debug', 'info', 'warn', 'error'] as const, { description: 'Log level', default: 'info' }),
  LOG_FORMAT: oneOf(['pretty', 'json'] as const, { description: 'pretty: a short line per event, for people; json: a JSON object per line, for collectors. Default: pretty on a terminal outside production, else json', optional: true }),
};

/** What the stateful stages (segmentation, triggers) read besides the common variables. */
export const stateStoreVariables = {
  STATE_MARKERS_KEPT_SECONDS: integer({
    description:
      "How long the redirect of a merged-away profile stays in the stage's store (default 60 days): longer than any topic keeps a record keyed by that profile, dead letters an operator may send again included. Raise it with their retention. An erased profile's marker stays for good",
    default: 60 * 24 * 60 * 60,
    minimum: 1,
  }),
};

/** What every Kairos service reads: Kafka and its topics, PostgreSQL, telemetry, its health port. */
export function serviceVariables(healthPort: number) {
  return {
    ...kafkaVariables,
    ...topicVariables,
    ...databaseVariables,
    ...telemetryVariables,
    HEALTH_PORT: port(healthPort, 'Health and metrics port'),
    STOP_TIMEOUT_SECONDS: integer({
      description: 'How long a graceful stop (SIGTERM) may take before the process says what it waited for and exits with code 1; below the orchestrator\'s grace period (the Helm chart gives 45 s)',
      default: 40,
      minimum: 1,
    }),
  };
}
