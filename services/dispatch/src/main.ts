import 'reflect-metadata';
import { commonServiceOptions, runAsMain, runService } from '@kairos/service-runtime';
import { loadDispatchConfig } from './dispatch.config';
import { DispatchModule } from './dispatch.module';
import { dispatchMigrations } from './migrations';

export function startDispatch(env: NodeJS.ProcessEnv = process.env) {
  const config = loadDispatchConfig(env);
  return runService({
    ...commonServiceOptions('dispatch', config),
    followDefinitions: true,
    module: DispatchModule,
    http: { port: config.DISPATCH_PORT },
    database: { url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA ?? 'dispatch', migrations: dispatchMigrations },
  });
}

if (require.main === module) runAsMain(() => startDispatch());
