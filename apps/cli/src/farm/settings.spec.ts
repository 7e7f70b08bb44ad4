/**
 * Farm settings: a farm operator who forgets or mistypes one gets a message naming the flag and the
 * environment variable, with exit code 2, never a stack trace.
 */
import { formatSecretKey, generateSecretKey } from '@buildgraph/contracts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CliError } from '../cli-error';
import { loadFarmSettings } from './settings';

describe('farm settings', () => {
  let dir: string;
  let keyFile: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'bg-settings-'));
    keyFile = join(dir, 'farm.sec');
    writeFileSync(keyFile, formatSecretKey(generateSecretKey('farm1-1')));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const env = (over: Record<string, string | undefined> = {}): NodeJS.ProcessEnv => ({
    HOME: dir,
    BUILDGRAPH_SERVICE: 'nats://127.0.0.1:4222',
    BUILDGRAPH_FARM: 'farm1',
    BUILDGRAPH_KEY_FILE: keyFile,
    ...over,
  });

  const failure = (f: () => unknown): CliError => {
    try {
      f();
    } catch (e) {
      return e as CliError;
    }
    throw new Error('expected an error');
  };

  it('come from the environment, with the state dir under ~/.cache/buildgraph by default', () => {
    const s = loadFarmSettings({}, env({ BUILDGRAPH_MACHINE: 'builder-7' }));
    expect(s).toMatchObject({ serviceUrl: 'nats://127.0.0.1:4222', farm: 'farm1', machine: 'builder-7', stateDir: join(dir, '.cache', 'buildgraph'), timeoutMs: 5000 });
    expect(s.key.name).toBe('farm1-1');
  });

  it('flags win over the environment', () => {
    expect(loadFarmSettings({ farm: 'farm2', stateDir: join(dir, 's') }, env())).toMatchObject({ farm: 'farm2', stateDir: join(dir, 's') });
  });

  it('a missing service names both the flag and the variable', () => {
    const e = failure(() => loadFarmSettings({}, env({ BUILDGRAPH_SERVICE: undefined })));
    expect(e).toBeInstanceOf(CliError);
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe('missing setting: pass --service or set BUILDGRAPH_SERVICE');
  });

  it.each([
    [{ BUILDGRAPH_SERVICE: 'redis://x' }, /BUILDGRAPH_SERVICE/],
    [{ BUILDGRAPH_FARM: 'farm one' }, /BUILDGRAPH_FARM/],
    [{ BUILDGRAPH_MACHINE: 'a/b' }, /BUILDGRAPH_MACHINE/],
    [{ BUILDGRAPH_TIMEOUT_MS: 'soon' }, /BUILDGRAPH_TIMEOUT_MS/],
  ])('a bad value (%j) is refused with the setting named', (over, named) => {
    const e = failure(() => loadFarmSettings({}, env(over)));
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(named);
  });

  it('an unreadable or malformed key file is named, with why', () => {
    expect(failure(() => loadFarmSettings({}, env({ BUILDGRAPH_KEY_FILE: join(dir, 'nope') }))).message).toMatch(/nope: cannot read the farm key: ENOENT/);
    const bad = join(dir, 'bad.sec');
    writeFileSync(bad, 'farm1-1:notbase64!!');
    expect(failure(() => loadFarmSettings({}, env({ BUILDGRAPH_KEY_FILE: bad }))).message).toMatch(/bad\.sec: secret key farm1-1/);
  });
});
