import { ConfigOf, databaseVariables, integer, kafkaVariables, loadConfig, port, telemetryVariables } from '@kairos/config';

export const ingestionVariables = {
  ...kafkaVariables,
  ...databaseVariables,
  ...telemetryVariables,
  HEALTH_PORT: port(9101, 'Health and metrics port'),
  COLLECTOR_PORT: port(8080, 'Public HTTP port'),
  KAFKA_TOPIC_PARTITIONS: integer({ description: 'Partitions for topics this service creates', default: 6, minimum: 1 }),
};

export type IngestionConfig = ConfigOf<typeof ingestionVariables>;

export function loadIngestionConfig(env: NodeJS.ProcessEnv = process.env): IngestionConfig {
  return loadConfig(ingestionVariables, env);
}
