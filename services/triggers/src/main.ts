import 'reflect-metadata';
import { commonServiceOptions, runAsMain, runService } from '@kairos/service-runtime';
import { loadTriggersConfig } from './triggers.config';
import { TriggersModule } from './triggers.module';
import { triggersMigrations } from './migrations';

export function startTriggers(env: NodeJS.ProcessEnv = process.env) {
  const config = loadTriggersConfig(env);
  return runService({
    ...commonServiceOptions('triggers', config),
    followDefinitions: true,
    module: TriggersModule,
    database: { url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA ?? 'triggers', migrations: triggersMigrations },
  });
}

if (require.main === module) runAsMain(() => startTriggers());
