export * from './data-source';
export * from './pooled-client';
