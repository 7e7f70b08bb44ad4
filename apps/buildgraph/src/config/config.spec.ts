import { ConfigError, loadConfig } from './config';

describe('service configuration', () => {
  it('starts with no settings at all: embedded SQLite under ./data, HTTP on 8080, no NATS', () => {
    const c = loadConfig({});
    expect(c.BUILDGRAPH_STORE).toMatch(/^sqlite:.*\/data\/buildgraph\.sqlite$/);
    expect(c.BUILDGRAPH_HTTP_PORT).toBe(8080);
    expect(c.BUILDGRAPH_NATS_URL).toBeUndefined();
  });

  it.each([
    ['BUILDGRAPH_HTTP_PORT', 'eighty'],
    ['BUILDGRAPH_HTTP_PORT', '70000'],
    ['BUILDGRAPH_STORE', 'postgres://db/buildgraph'],
    ['BUILDGRAPH_NATS_URL', 'localhost:4222'],
    ['BUILDGRAPH_FAILURE_TTL_SECONDS', '-1'],
    ['BUILDGRAPH_LOG_LEVEL', 'loud'],
    ['BUILDGRAPH_NATS_QUEUE', 'has spaces'],
  ])('a bad %s=%s stops start-up with a message naming it', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).setting).toBe(name);
    expect((error as ConfigError).message).toContain(name);
  });
});
