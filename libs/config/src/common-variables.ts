import { integer, oneOf, port, text } from './variables';

/** Variables every service reads; each service adds its own next to these. */
export const kafkaVariables = {
  KAFKA_BROKERS: text({ description: 'Comma-separated bootstrap brokers', default: '127.0.0.1:9092' }),
  KAFKA_CLIENT_ID: text({ description: 'Client id prefix; defaults to the service name', optional: true }),
  KAFKA_GROUP_ID: text({ description: 'Consumer group; defaults to kairos-<service> (a replay into a fresh schema uses a fresh group)', optional: true }),
};

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
};

/** What every Kairos service reads: Kafka, PostgreSQL, telemetry, its health port and topic partitions. */
export function serviceVariables(healthPort: number) {
  return {
    ...kafkaVariables,
    ...databaseVariables,
    ...telemetryVariables,
    HEALTH_PORT: port(healthPort, 'Health and metrics port'),
    KAFKA_TOPIC_PARTITIONS: integer({ description: 'Partitions for topics this service creates', default: 6, minimum: 1 }),
  };
}
