/** The event-store contract suite against a running EventStoreDB (EVENTSTORE_URL). See README. */
const base = require('./jest.config.js');
module.exports = {
  ...base,
  testMatch: ['**/*.esdb.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};
