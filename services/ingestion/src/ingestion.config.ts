import { boolean, ConfigOf, integer, loadConfig, oneOf, port, publicHttpVariables, serviceVariables, text } from '@kairos/config';

export const ingestionVariables = {
  ...serviceVariables(9101),
  ...publicHttpVariables,
  COLLECTOR_PORT: port(8080, 'Public HTTP port of the Segment-compatible collector'),
  KAIROS_SOURCES: text({
    description: 'Sources as JSON: [{"id":"web","writeKey":"…","collectIp":false}]. Production has no default source.',
    optional: true,
  }),
  KAIROS_DEV_WRITE_KEY: text({ description: 'Write key of the development source "dev" (set by the local stack only)', optional: true }),
  RAW_KAFKA_SOURCE_ID: text({
    description: 'Source of raw-topic records that carry neither kairos-source-id nor kairos-write-key; empty to refuse them (not "kairos", the internal topic\'s)',
    default: 'kafka',
  }),
  DEDUPE_WINDOW_HOURS: integer({ description: 'How long a messageId is remembered per source (at least 24)', default: 48, minimum: 24 }),
  COLLECTOR_MAX_PENDING_MB: integer({ description: 'Bytes waiting for the broker above which the collector answers 429', default: 32, minimum: 1 }),
  INGESTION_ROLE: oneOf(['all', 'collector', 'intake'] as const, {
    description: 'collector: HTTP only; intake: consumer of the raw and internal topics only; all: both (default). Lets each scale on its own.',
    default: 'all',
  }),
  INTAKE_FROM_BEGINNING: boolean({ description: 'A new consumer group starts at the beginning of the raw topic (of the internal topic it always does)', default: true }),
};

export type IngestionConfig = ConfigOf<typeof ingestionVariables>;

export function loadIngestionConfig(env: NodeJS.ProcessEnv = process.env): IngestionConfig {
  return loadConfig(ingestionVariables, env);
}
