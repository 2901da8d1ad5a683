export * from './definitions-folder';
export * from './definition-records';
export * from './definitions-follower';
export * from './definitions-topic';
export * from './folder-release';
