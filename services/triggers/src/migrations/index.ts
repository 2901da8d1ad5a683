import { stateStoreMigrations } from '@kairos/state-store';
import { CreateJourneyVersions1795800000000 } from './1795800000000-create-journey-versions';
import { CreateSplitWinners1796400000000 } from './1796400000000-create-split-winners';

/** Applied in order by the runtime at start-up; the schema never comes from synchronize. */
export const triggersMigrations = [...stateStoreMigrations, CreateJourneyVersions1795800000000, CreateSplitWinners1796400000000];
