import { CreateStateStore1795600000000 } from './create-state-store.migration';
import { IndexStateEntriesByPartition1796000000000 } from './index-state-entries-by-partition.migration';
import { TuneStateEntries1796200000000 } from './tune-state-entries.migration';
import { ExpireExistingRedirects1796500000000 } from './expire-existing-redirects.migration';

/** The state store's migrations, in order: a service that keeps state lists them with its own. */
export const stateStoreMigrations = [CreateStateStore1795600000000, IndexStateEntriesByPartition1796000000000, TuneStateEntries1796200000000, ExpireExistingRedirects1796500000000];
