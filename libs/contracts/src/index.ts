export * from './errors';
export * from './subjects';
export * from './limits';
export * from './validators';
export * from './commands';
export * from './validate';
export * from './signing';
export * from './trust';
