import { ConfigOf, databaseVariables, integer, kafkaVariables, loadConfig, port, telemetryVariables } from '@kairos/config';

export const dispatchVariables = {
  ...kafkaVariables,
  ...databaseVariables,
  ...telemetryVariables,
  HEALTH_PORT: port(9105, 'Health and metrics port'),
  DISPATCH_PORT: port(8083, 'Public HTTP port'),
  KAFKA_TOPIC_PARTITIONS: integer({ description: 'Partitions for topics this service creates', default: 6, minimum: 1 }),
};

export type DispatchConfig = ConfigOf<typeof dispatchVariables>;

export function loadDispatchConfig(env: NodeJS.ProcessEnv = process.env): DispatchConfig {
  return loadConfig(dispatchVariables, env);
}
