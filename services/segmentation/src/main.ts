import 'reflect-metadata';
import { ProfileErasure, ProfileMerge, ProfileTransferRecord, ResolvedEvent, Topics } from '@kairos/contracts';
import { jsonDecoder, RecordDecoder } from '@kairos/kafka';
import { commonServiceOptions, runAsMain, runService } from '@kairos/service-runtime';
import { MARKERS_KEPT_MS } from '@kairos/state-store';
import { loadSegmentationConfig } from './segmentation.config';
import { SegmentationModule } from './segmentation.module';
import { segmentationMigrations } from './migrations';

/** The merges topic is compacted: an erasure leaves tombstones on it, which are no merge and no poison either. */
const mergeDecoder: RecordDecoder<ProfileMerge | null> = (record) => (record.value === null ? { ok: true, data: null } : jsonDecoder<ProfileMerge>()(record));

export function startSegmentation(env: NodeJS.ProcessEnv = process.env) {
  const config = loadSegmentationConfig(env);
  return runService({
    ...commonServiceOptions('segmentation', config),
    followDefinitions: true,
    // Identity validated these (and segmentation wrote the transfers); the profiles' ordered path reads them as they are.
    subscriptions: [
      { topic: Topics.resolved.name, decoder: jsonDecoder<ResolvedEvent>() },
      { topic: Topics.merges.name, decoder: mergeDecoder },
      { topic: Topics.erasures.name, decoder: jsonDecoder<ProfileErasure>() },
      { topic: Topics.profileTransfers.name, decoder: jsonDecoder<ProfileTransferRecord>() },
    ],
    module: SegmentationModule,
    providers: [{ provide: MARKERS_KEPT_MS, useValue: config.STATE_MARKERS_KEPT_SECONDS * 1000 }],
    database: { url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA ?? 'segmentation', migrations: segmentationMigrations },
  });
}

if (require.main === module) runAsMain(() => startSegmentation());
