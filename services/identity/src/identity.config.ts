import { ConfigOf, databaseVariables, integer, kafkaVariables, loadConfig, port, telemetryVariables } from '@kairos/config';

export const identityVariables = {
  ...kafkaVariables,
  ...databaseVariables,
  ...telemetryVariables,
  HEALTH_PORT: port(9102, 'Health and metrics port'),

  KAFKA_TOPIC_PARTITIONS: integer({ description: 'Partitions for topics this service creates', default: 6, minimum: 1 }),
};

export type IdentityConfig = ConfigOf<typeof identityVariables>;

export function loadIdentityConfig(env: NodeJS.ProcessEnv = process.env): IdentityConfig {
  return loadConfig(identityVariables, env);
}
