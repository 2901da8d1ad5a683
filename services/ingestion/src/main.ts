import 'reflect-metadata';
import { runAsMain, runService } from '@kairos/service-runtime';
import { ingestionMigrations } from './migrations';
import { IngestionModule } from './ingestion.module';
import { loadIngestionConfig } from './ingestion.config';

export function startIngestion(env: NodeJS.ProcessEnv = process.env) {
  const config = loadIngestionConfig(env);
  return runService({
    name: 'ingestion',
    module: IngestionModule,
    kafka: { brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'kairos-ingestion' },
    telemetry: { exporter: config.TELEMETRY_EXPORTER, otlpEndpoint: config.OTLP_ENDPOINT },
    healthPort: config.HEALTH_PORT,
    topicPartitions: config.KAFKA_TOPIC_PARTITIONS,
    http: { port: config.COLLECTOR_PORT },
    database: { url: config.DATABASE_URL, schema: 'ingestion', migrations: ingestionMigrations },
    logLevel: config.LOG_LEVEL,
  });
}

if (require.main === module) runAsMain(() => startIngestion());
