import { ConfigOf, serviceVariables, topicConfig } from '@kairos/config';
import { ServiceOptions } from './run-service';

type CommonConfig = ConfigOf<ReturnType<typeof serviceVariables>>;

/** The runService options every service derives the same way from its configuration. */
export function commonServiceOptions(name: string, config: CommonConfig): Pick<ServiceOptions, 'name' | 'kafka' | 'fetch' | 'commitIntervalMs' | 'groupId' | 'telemetry' | 'healthPort' | 'topicSettings' | 'logLevel' | 'logFormat' | 'stopTimeoutMs'> {
  return {
    name,
    kafka: { brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? `kairos-${name}` },
    fetch: { minBytes: config.KAFKA_FETCH_MIN_BYTES, maxWaitMs: config.KAFKA_FETCH_MAX_WAIT_MS },
    commitIntervalMs: config.KAFKA_COMMIT_INTERVAL_MS,
    groupId: config.KAFKA_GROUP_ID,
    telemetry: { exporter: config.TELEMETRY_EXPORTER, otlpEndpoint: config.OTLP_ENDPOINT },
    healthPort: config.HEALTH_PORT,
    topicSettings: topicConfig(config),
    logLevel: config.LOG_LEVEL,
    logFormat: config.LOG_FORMAT,
    stopTimeoutMs: config.STOP_TIMEOUT_SECONDS * 1000,
  };
}
