import 'reflect-metadata';
import { runAsMain, runService } from '@kairos/service-runtime';
import { segmentationMigrations } from './migrations';
import { SegmentationModule } from './segmentation.module';
import { loadSegmentationConfig } from './segmentation.config';

export function startSegmentation(env: NodeJS.ProcessEnv = process.env) {
  const config = loadSegmentationConfig(env);
  return runService({
    name: 'segmentation',
    module: SegmentationModule,
    kafka: { brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID ?? 'kairos-segmentation' },
    telemetry: { exporter: config.TELEMETRY_EXPORTER, otlpEndpoint: config.OTLP_ENDPOINT },
    healthPort: config.HEALTH_PORT,
    topicPartitions: config.KAFKA_TOPIC_PARTITIONS,

    database: { url: config.DATABASE_URL, schema: 'segmentation', migrations: segmentationMigrations },
    logLevel: config.LOG_LEVEL,
  });
}

if (require.main === module) runAsMain(() => startSegmentation());
