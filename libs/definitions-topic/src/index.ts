export * from './definitions-folder';
