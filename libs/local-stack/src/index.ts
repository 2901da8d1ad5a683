export { startLocalStack } from './local-stack';
export type { LocalStack, LocalStackOptions, StackComponent, StackPurpose } from './local-stack';
export { startKafkaBroker, ensureKafkaJars, KAFKA_VERSION, defaultCacheDir } from './kafka-broker';
export { startEmbeddedDatabase } from './embedded-database';
export { startSmtpSink, SINK_REJECTS } from './smtp-sink';
export type { RunningSmtpSink, SmtpSinkOptions, StoredMessage } from './smtp-sink';
export { freePort } from './ports';
export { stopChild, waitUntilHealthy } from './child-process';
