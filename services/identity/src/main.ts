import 'reflect-metadata';
import { runAsMain, runService } from '@kairos/service-runtime';
import { identityMigrations } from './migrations';
import { IdentityModule } from './identity.module';
import { loadIdentityConfig } from './identity.config';

export function startIdentity(env: NodeJS.ProcessEnv = process.env) {
  const config = loadIdentityConfig(env);
  return runService({
    name: 'identity',
    module: IdentityModule,
    kafka: { brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'kairos-identity' },
    telemetry: { exporter: config.TELEMETRY_EXPORTER, otlpEndpoint: config.OTLP_ENDPOINT },
    healthPort: config.HEALTH_PORT,
    topicPartitions: config.KAFKA_TOPIC_PARTITIONS,

    database: { url: config.DATABASE_URL, schema: 'identity', migrations: identityMigrations },
    logLevel: config.LOG_LEVEL,
  });
}

if (require.main === module) runAsMain(() => startIdentity());
