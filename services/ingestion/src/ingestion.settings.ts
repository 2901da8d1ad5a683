import { IntakeLimits } from '@kairos/intake';

export const INGESTION_SETTINGS = Symbol('kairos.ingestion.settings');

/** What the use cases need from the configuration, already interpreted. */
export interface IngestionSettings {
  limits: IntakeLimits;
  rawKafkaSourceId: string | undefined;
  dedupeWindowHours: number;
  maxPendingBytes: number;
}
