import { ConfigOf, databaseVariables, integer, kafkaVariables, loadConfig, port, telemetryVariables } from '@kairos/config';

export const triggersVariables = {
  ...kafkaVariables,
  ...databaseVariables,
  ...telemetryVariables,
  HEALTH_PORT: port(9104, 'Health and metrics port'),

  KAFKA_TOPIC_PARTITIONS: integer({ description: 'Partitions for topics this service creates', default: 6, minimum: 1 }),
};

export type TriggersConfig = ConfigOf<typeof triggersVariables>;

export function loadTriggersConfig(env: NodeJS.ProcessEnv = process.env): TriggersConfig {
  return loadConfig(triggersVariables, env);
}
