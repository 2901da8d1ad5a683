export * from './test-stack';
export * from './topic-reader';
export * from './service-lifecycle';
