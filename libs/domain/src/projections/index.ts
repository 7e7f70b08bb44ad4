export * from './read-model';
export * from './drv-state';
export * from './negative-cache';
export * from './group-outcome';
export * from './build-trace';
export * from './graph';
export * from './fod-ledger';
export * from './models';
