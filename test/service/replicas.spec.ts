/**
 * Two replicas of the service on one event store: whichever replica a command reaches, it decides on
 * the current state of the stream, including what the other replica appended since it last looked.
 */
import 'reflect-metadata';
import { formatPublicKey, generateSecretKey, SecretKey, signBody, SIGNATURE_HEADER } from '@buildgraph/contracts';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../apps/buildgraph/src/config/config';
import { RunningService, startService } from '../../apps/buildgraph/src/service';
import { describeWith } from '../support/env';

describeWith(['nix-instantiate'], 'two replicas on one store', () => {
  let dir: string;
  let a: RunningService;
  let b: RunningService;
  const operator = generateSecretKey('ops-1');
  const farm = generateSecretKey('farm1-1');
  let drvPath: string;
  let aterm: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bg-replicas-'));
    writeFileSync(join(dir, 'trusted'), `operator ${formatPublicKey(operator)}\nfarm:farm1 ${formatPublicKey(farm)}\n`);
    writeFileSync(join(dir, 'd.nix'), 'derivation { name = "bg-replica-leaf"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "exit 1" ]; }');
    drvPath = execFileSync('nix-instantiate', [join(dir, 'd.nix')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    aterm = readFileSync(drvPath, 'utf8');
    const config = (name: string) =>
      loadConfig({
        BUILDGRAPH_DATA_DIR: join(dir, name),
        BUILDGRAPH_STORE: `sqlite:${join(dir, 'shared.sqlite')}`,
        BUILDGRAPH_TRUSTED_KEYS: join(dir, 'trusted'),
        BUILDGRAPH_HTTP_PORT: '0',
        BUILDGRAPH_LOG_LEVEL: 'silent',
      });
    a = await startService(config('a'), { logger: false });
    b = await startService(config('b'), { logger: false });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = async (to: RunningService, name: string, body: object, key: SecretKey) => {
    const text = JSON.stringify(body);
    const res = await fetch(`${to.url}/v1/${name}`, { method: 'POST', headers: { [SIGNATURE_HEADER]: signBody(key, text) }, body: text });
    return (await res.json()) as Record<string, unknown>;
  };

  it('a replica that saw the stream earlier still decides on what the other appended since', async () => {
    // b has the drv's stream in memory from an earlier attempt
    expect(await post(b, 'attempt.start', { attemptId: 'r-1', drvPath, farm: 'farm1', machine: 'm1', aterm }, farm)).toMatchObject({ ok: true });
    // then the failure is reported to a
    const fail = { attemptId: 'r-2', drvPath, farm: 'farm1', machine: 'm2', status: 'PermanentFailure', exitCode: 1, log: 'exit 1\n' };
    expect(await post(a, 'attempt.fail', fail, farm)).toMatchObject({ ok: true });
    // clearing it through b clears that failure (not "no cached failure"), and a retry through a gets the same answer
    const cleared = await post(b, 'drv.clear-failure', { drvPath, reason: 'the builder was fixed' }, operator);
    expect(cleared).toMatchObject({ ok: true, repeat: false, events: [{ type: 'FailureCleared' }] });
    const again = await post(a, 'drv.clear-failure', { drvPath, reason: 'the builder was fixed' }, operator);
    expect(again).toMatchObject({ ok: true, repeat: true, positions: cleared.positions });
    // and b answers a retry of a's report with a's positions
    const retried = await post(b, 'attempt.fail', fail, farm);
    expect(retried).toMatchObject({ ok: true, repeat: true });
    const history = (await (await fetch(`${a.url}/v1/drvs/${drvPath.slice(11, 43)}/events`)).json()) as { events: { type: string }[] };
    expect(history.events.map((e) => e.type)).toEqual(['DerivationRegistered', 'AttemptStarted', 'AttemptStarted', 'AttemptFailed', 'FailureCleared']);
  });
});
