export * from './invalidation';
export * from './group';
