import 'reflect-metadata';
import { JourneysTransferRecord, ProfileUpdateRecord, Topics } from '@kairos/contracts';
import { jsonDecoder } from '@kairos/kafka';
import { commonServiceOptions, runAsMain, runService } from '@kairos/service-runtime';
import { MARKERS_KEPT_MS } from '@kairos/state-store';
import { guardRailPolicy, loadTriggersConfig } from './triggers.config';
import { TriggersModule } from './triggers.module';
import { triggersMigrations } from './migrations';
import { DECIDE_SPLITS, TRIGGERS_POLICY } from './journeys/triggers.tokens';

export function startTriggers(env: NodeJS.ProcessEnv = process.env) {
  const config = loadTriggersConfig(env);
  return runService({
    ...commonServiceOptions('triggers', config),
    followDefinitions: true,
    // Segmentation wrote these; the ordered path checks the fields it relies on and dead-letters what lacks them.
    subscriptions: [
      { topic: Topics.profileUpdates.name, decoder: jsonDecoder<ProfileUpdateRecord>() },
      { topic: Topics.journeysTransfers.name, decoder: jsonDecoder<JourneysTransferRecord>() },
    ],
    // updateProfile steps set traits with an identify event through ingestion, as dispatch feeds engagement back.
    produces: [Topics.internal.name],
    module: TriggersModule,
    providers: [
      { provide: TRIGGERS_POLICY, useValue: guardRailPolicy(config) },
      { provide: MARKERS_KEPT_MS, useValue: config.STATE_MARKERS_KEPT_SECONDS * 1000 },
      { provide: DECIDE_SPLITS, useValue: config.TRIGGERS_DECIDE_SPLITS },
    ],
    database: { url: config.DATABASE_URL, schema: config.DATABASE_SCHEMA ?? 'triggers', migrations: triggersMigrations },
  });
}

if (require.main === module) runAsMain(() => startTriggers());
