export * from './state-store';
export * from './state-transaction';
export * from './stateful-processor';
export * from './timer';
export { CreateStateStore1795600000000 } from './create-state-store.migration';
export { IndexStateEntriesByPartition1796000000000 } from './index-state-entries-by-partition.migration';
