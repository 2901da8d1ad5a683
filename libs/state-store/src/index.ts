export * from './migrations';
export * from './state-store';
export * from './state-transaction';
export * from './stateful-processor';
export * from './timer';
export * from './committed-tally';
export * from './markers';
export * from './partition-passes';
