import 'reflect-metadata';
import { ResolvedEvent, Topics } from '@kairos/contracts';
import { jsonDecoder } from '@kairos/kafka';
import { commonServiceOptions, runAsMain, runService } from '@kairos/service-runtime';
import { loadSegmentationConfig } from './segmentation.config';
import { SegmentationModule } from './segmentation.module';
import { segmentationMigrations } from './migrations';

export function startSegmentation(env: NodeJS.ProcessEnv = process.env) {
  const config = loadSegmentationConfig(env);
  return runService({
    ...commonServiceOptions('segmentation', config),
    followDefinitions: true,
    // Identity validated these; the profiles' ordered path reads them as they are.
    subscriptions: [{ topic: Topics.resolved.name, decoder: jsonDecoder<ResolvedEvent>() }],
    module: SegmentationModule,
    database: { url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA ?? 'segmentation', migrations: segmentationMigrations },
  });
}

if (require.main === module) runAsMain(() => startSegmentation());
