import { stateStoreMigrations } from '@kairos/state-store';

/** Applied in order by the runtime at start-up; the schema never comes from synchronize. */
export const segmentationMigrations = [...stateStoreMigrations];
