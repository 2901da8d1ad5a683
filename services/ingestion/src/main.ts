import 'reflect-metadata';
import { trustProxyOf } from '@kairos/config';
import { DEFAULT_LIMITS } from '@kairos/intake';
import { rawDecoder } from '@kairos/kafka';
import { Topics } from '@kairos/contracts';
import { commonServiceOptions, runAsMain, runService } from '@kairos/service-runtime';
import { configureCollectorHttp } from './collector/http-setup';
import { loadIngestionConfig } from './ingestion.config';
import { IngestionModule } from './ingestion.module';
import { INGESTION_SETTINGS, IngestionSettings } from './ingestion.settings';
import { ingestionMigrations } from './migrations';
import { INTERNAL_SOURCE_ID, SourceRegistry } from './sources/source-registry';

export async function startIngestion(env: NodeJS.ProcessEnv = process.env) {
  const config = loadIngestionConfig(env);
  const sources = SourceRegistry.fromConfig(config.KAIROS_SOURCES, config.KAIROS_DEV_WRITE_KEY);
  // The internal topic's source shares de-duplication with no other: raw records must not pass as Kairos' own.
  if (config.RAW_KAFKA_SOURCE_ID === INTERNAL_SOURCE_ID) throw new Error(`RAW_KAFKA_SOURCE_ID: ${INTERNAL_SOURCE_ID} is reserved for Kairos' own events (${Topics.internal.name})`);
  const settings: IngestionSettings = {
    limits: DEFAULT_LIMITS,
    rawKafkaSourceId: config.RAW_KAFKA_SOURCE_ID,
    dedupeWindowHours: config.DEDUPE_WINDOW_HOURS,
    maxPendingBytes: config.COLLECTOR_MAX_PENDING_MB * 1024 * 1024,
  };
  const collector = config.INGESTION_ROLE !== 'intake';
  const intake = config.INGESTION_ROLE !== 'collector';
  const service = await runService({
    ...commonServiceOptions('ingestion', config),
    module: IngestionModule.forRole(config.INGESTION_ROLE),
    // Raw bytes, not JSON: the intake itself judges bad input and answers with the rejected topic, not the DLQ.
    // Kairos' own events are never skipped: a group new to the internal topic (an upgrade) reads it from the start.
    subscriptions: intake ? [{ topic: Topics.raw.name, decoder: rawDecoder }, { topic: Topics.internal.name, decoder: rawDecoder, fromBeginning: true }] : [],
    fromBeginning: config.INTAKE_FROM_BEGINNING,
    // Gzipped batches are bounded after decompression by the collector; this bounds what is read at all.
    http: collector ? { port: config.COLLECTOR_PORT, bodyLimit: 5 * 1024 * 1024, bodyParser: false, trustProxy: trustProxyOf(config.HTTP_TRUST_PROXY), configure: configureCollectorHttp } : undefined,
    // Only the intake keeps state (the seen messageIds); a collector-only replica needs no database.
    database: intake ? { url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA ?? 'ingestion', migrations: ingestionMigrations } : undefined,
    providers: [
      { provide: SourceRegistry, useValue: sources },
      { provide: INGESTION_SETTINGS, useValue: settings },
    ],
  });
  if (collector && sources.size === 0) service.logger.warn('no sources are configured (KAIROS_SOURCES): the collector answers 401 to every request');
  return service;
}

if (require.main === module) runAsMain(() => startIngestion());
