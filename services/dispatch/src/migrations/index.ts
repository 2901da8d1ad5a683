import { CreateDeliveries1795800000000 } from './1795800000000-create-deliveries';
import { IndexDeliveriesByProfile1795900000000 } from './1795900000000-index-deliveries-by-profile';
import { OutboxAgeAndRefused1796000000000 } from './1796000000000-outbox-age-and-refused';
import { HashSuppressedAddresses1796600000000 } from './1796600000000-hash-suppressed-addresses';

/** Applied in order by the runtime at start-up; the schema never comes from synchronize. */
export const dispatchMigrations = [CreateDeliveries1795800000000, IndexDeliveriesByProfile1795900000000, OutboxAgeAndRefused1796000000000, HashSuppressedAddresses1796600000000];
