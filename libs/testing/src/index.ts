export * from './test-stack';
export * from './topic-reader';
export * from './service-lifecycle';
export * from './service-process';
export * from './controlled-stack';
export * from './pipeline';
export * from './metrics-reader';
