export * from './rule';
export * from './comparison';
export * from './profile-model';
export * from './profile-state';
export * from './consent';
export * from './series';
export * from './derived';
export * from './apply-event';
