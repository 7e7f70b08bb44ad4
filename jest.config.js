/** Unit, contract and end-to-end tests. Type checking is `npm run typecheck`; swc only strips types here. */
const swc = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', swc] },
  moduleNameMapper: {
    '^@buildgraph/(nix|domain|eventstore|contracts|projections)$': '<rootDir>/libs/$1/src',
    '^@buildgraph/(nix|domain|eventstore|contracts|projections)/(.*)$': '<rootDir>/libs/$1/src/$2',
  },
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '\\.esdb\\.spec\\.ts$'],
  maxWorkers: 2,
  testTimeout: 30000,
};
