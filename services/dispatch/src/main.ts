import 'reflect-metadata';
import { runAsMain, runService } from '@kairos/service-runtime';
import { dispatchMigrations } from './migrations';
import { DispatchModule } from './dispatch.module';
import { loadDispatchConfig } from './dispatch.config';

export function startDispatch(env: NodeJS.ProcessEnv = process.env) {
  const config = loadDispatchConfig(env);
  return runService({
    name: 'dispatch',
    module: DispatchModule,
    kafka: { brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'kairos-dispatch' },
    telemetry: { exporter: config.TELEMETRY_EXPORTER, otlpEndpoint: config.OTLP_ENDPOINT },
    healthPort: config.HEALTH_PORT,
    topicPartitions: config.KAFKA_TOPIC_PARTITIONS,
    http: { port: config.DISPATCH_PORT },
    database: { url: config.DATABASE_URL, schema: 'dispatch', migrations: dispatchMigrations },
    logLevel: config.LOG_LEVEL,
  });
}

if (require.main === module) runAsMain(() => startDispatch());
