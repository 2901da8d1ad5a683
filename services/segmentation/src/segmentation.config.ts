import { ConfigOf, databaseVariables, integer, kafkaVariables, loadConfig, port, telemetryVariables } from '@kairos/config';

export const segmentationVariables = {
  ...kafkaVariables,
  ...databaseVariables,
  ...telemetryVariables,
  HEALTH_PORT: port(9103, 'Health and metrics port'),

  KAFKA_TOPIC_PARTITIONS: integer({ description: 'Partitions for topics this service creates', default: 6, minimum: 1 }),
};

export type SegmentationConfig = ConfigOf<typeof segmentationVariables>;

export function loadSegmentationConfig(env: NodeJS.ProcessEnv = process.env): SegmentationConfig {
  return loadConfig(segmentationVariables, env);
}
