export * from './topic-spec';
export * from './topics';
export * from './dead-letter';
export * from './schema-validator';
export * from './events';
export * from './identity';
export * from './definitions';
export * from './segmentation';
