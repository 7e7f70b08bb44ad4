export * from './errors';
export * from './canonical-json';
export * from './projection';
export * from './read-store';
export * from './runner';
export * from './models';
export * from './queries';
export * from './policies';
