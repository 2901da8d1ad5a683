export * from './data-source';
export * from './pooled-client';
export * from './grouped-writes';
