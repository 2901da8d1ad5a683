import 'reflect-metadata';
import { runAsMain, runService } from '@kairos/service-runtime';
import { triggersMigrations } from './migrations';
import { TriggersModule } from './triggers.module';
import { loadTriggersConfig } from './triggers.config';

export function startTriggers(env: NodeJS.ProcessEnv = process.env) {
  const config = loadTriggersConfig(env);
  return runService({
    name: 'triggers',
    module: TriggersModule,
    kafka: { brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'kairos-triggers' },
    telemetry: { exporter: config.TELEMETRY_EXPORTER, otlpEndpoint: config.OTLP_ENDPOINT },
    healthPort: config.HEALTH_PORT,
    topicPartitions: config.KAFKA_TOPIC_PARTITIONS,

    database: { url: config.DATABASE_URL, schema: 'triggers', migrations: triggersMigrations },
    logLevel: config.LOG_LEVEL,
  });
}

if (require.main === module) runAsMain(() => startTriggers());
