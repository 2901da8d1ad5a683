import 'reflect-metadata';
import { commonServiceOptions, runAsMain, runService } from '@kairos/service-runtime';
import { loadSegmentationConfig } from './segmentation.config';
import { SegmentationModule } from './segmentation.module';
import { segmentationMigrations } from './migrations';

export function startSegmentation(env: NodeJS.ProcessEnv = process.env) {
  const config = loadSegmentationConfig(env);
  return runService({
    ...commonServiceOptions('segmentation', config),
    followDefinitions: true,
    module: SegmentationModule,
    database: { url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA ?? 'segmentation', migrations: segmentationMigrations },
  });
}

if (require.main === module) runAsMain(() => startSegmentation());
