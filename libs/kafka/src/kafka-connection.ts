import { Kafka, logLevel } from 'kafkajs';

export interface KafkaConnectionSettings {
  brokers: string;
  clientId: string;
  /** kafkajs' own log output; it is chatty below WARN. */
  logLevel?: 'nothing' | 'error' | 'warn' | 'info' | 'debug';
}

const LEVELS = { nothing: logLevel.NOTHING, error: logLevel.ERROR, warn: logLevel.WARN, info: logLevel.INFO, debug: logLevel.DEBUG };

export function connectKafka(settings: KafkaConnectionSettings): Kafka {
  // Every Kairos producer keys its records explicitly; the notice about the v2 default partitioner is noise.
  process.env['KAFKAJS_NO_PARTITIONER_WARNING'] ??= '1';
  return new Kafka({
    clientId: settings.clientId,
    brokers: settings.brokers.split(',').map((broker) => broker.trim()),
    logLevel: LEVELS[settings.logLevel ?? 'warn'],
    retry: { initialRetryTime: 200, retries: 8 },
    connectionTimeout: 3_000,
  });
}

/** The connection type, for code outside this library that hands a connection on (kafkajs stays wrapped here). */
export type KafkaClient = Kafka;
