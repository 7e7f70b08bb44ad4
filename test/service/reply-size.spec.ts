/**
 * Replies over NATS are bounded by the connected server's max_payload: a reply that would not fit is
 * answered with PAYLOAD_TOO_LARGE (naming HTTP), never a publish that fails and leaves the requester
 * to time out; the same query over HTTP answers in full, and the service keeps serving.
 */
import 'reflect-metadata';
import { commandSubject, querySubject } from '@buildgraph/contracts';
import { parseDerivation } from '@buildgraph/nix';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWith } from '../support/env';
import { Harness, startHarness } from './harness';

const MAX_PAYLOAD = 64 * 1024;

describeWith(['nats-server', 'nix-instantiate'], 'reply size over NATS', () => {
  let h: Harness;
  let dir: string;
  let drv: { drvPath: string; aterm: string; hashPart: string };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bg-reply-size-'));
    writeFileSync(join(dir, 'd.nix'), 'derivation { name = "bg-reply-size"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "exit 1" ]; }');
    const drvPath = execFileSync('nix-instantiate', [join(dir, 'd.nix')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const aterm = readFileSync(drvPath, 'utf8');
    expect(parseDerivation(aterm).outputs.out).toBeDefined();
    drv = { drvPath, aterm, hashPart: drvPath.slice('/nix/store/'.length, '/nix/store/'.length + 32) };
    h = await startHarness({ maxPayload: MAX_PAYLOAD });
  });
  afterAll(async () => {
    await h?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a history too big for the bus is PAYLOAD_TOO_LARGE over NATS and whole over HTTP', async () => {
    // each failure keeps a 4 KiB log tail in its event: 20 of them make a history over 64 KiB
    for (let i = 0; i < 20; i++) {
      const log = `attempt ${i}\n${'x'.repeat(80)}\n`.repeat(60);
      const reply = await h.request(
        commandSubject('attempt.fail'),
        { attemptId: `big-${i}`, drvPath: drv.drvPath, farm: 'farm1', machine: 'm1', status: 'TransientFailure', log, ...(i === 0 ? { aterm: drv.aterm } : {}) },
        h.keys.farm1,
      );
      expect(reply).toMatchObject({ ok: true });
    }
    const overNats = await h.request(querySubject('events'), { hashPart: drv.hashPart }, null);
    expect(overNats).toMatchObject({ ok: false, error: { code: 'PAYLOAD_TOO_LARGE', details: { limit: MAX_PAYLOAD - 1024 } } });
    expect((overNats.error as { details: { bytes: number } }).details.bytes).toBeGreaterThan(MAX_PAYLOAD);
    const overHttp = await h.http('GET', `/v1/drvs/${drv.hashPart}/events`);
    expect(overHttp.status).toBe(200);
    // the registration, and for each report the attempt's start (recorded with its end) and its failure
    expect((overHttp.body.events as unknown[]).length).toBe(41);
    // and the bus still answers what fits
    expect(await h.request(querySubject('drv'), { hashPart: drv.hashPart }, null)).toMatchObject({ ok: true });
  });
});
