/**
 * Who signed each fact can be checked offline: every signed event the service stores verifies against
 * the trusted keys with the signed request body kept in the log, and a body that is not UTF-8 (so could
 * not be kept byte for byte) is refused and stores nothing.
 */
import 'reflect-metadata';
import { commandSubject, toPublicKey, type TrustedKey } from '@buildgraph/contracts';
import { parseDerivation } from '@buildgraph/nix';
import { SignatureAuditor } from '@buildgraph/projections';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWith } from '../support/env';
import { Harness, startHarness } from './harness';

const EXPR = `derivation { name = "bg-audit-leaf"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo audit > $out" ]; }`;

describeWith(['nats-server', 'nix-instantiate'], 'the offline signature audit of what the service stored', () => {
  let h: Harness;
  let drvPath: string;
  let aterm: string;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bg-audit-nix-'));
    writeFileSync(join(dir, 'leaf.nix'), EXPR);
    drvPath = execFileSync('nix-instantiate', [join(dir, 'leaf.nix')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    aterm = readFileSync(drvPath, 'utf8');
    h = await startHarness();
  });
  afterAll(async () => h?.stop());

  it('verifies every signed event against its stored body, including the events that share one command', async () => {
    const base = { attemptId: 'a1', drvPath, farm: 'farm1', machine: 'builder-1.example.org' };
    // a success for an attempt never started records the start too: two events of one command
    const ok = await h.request(commandSubject('attempt.succeed'), { ...base, aterm, outputs: { out: parseDerivation(aterm).outputs.out.path } }, h.keys.farm1);
    expect(ok).toMatchObject({ ok: true });
    expect(await h.request(commandSubject('drv.poison'), { drvPath, reason: 'flaky disk' }, h.keys.operator)).toMatchObject({ ok: true });

    const trusted: TrustedKey[] = [
      { ...toPublicKey(h.keys.operator), role: { kind: 'operator' } },
      { ...toPublicKey(h.keys.farm1), role: { kind: 'farm', farm: 'farm1' } },
    ];
    const auditor = new SignatureAuditor(trusted);
    for await (const batch of h.store.readAll()) auditor.check(batch);
    const audit = auditor.result();
    expect(audit.signed).toBeGreaterThanOrEqual(4);
    expect(audit).toMatchObject({ verified: audit.signed, notVerifiable: 0, problemCount: 0 });
  });

  it('refuses a body that is not UTF-8, and stores nothing', async () => {
    const head = await h.head();
    const reply = await h.client.request(commandSubject('drv.poison'), Buffer.from([0x7b, 0xff, 0x7d]), { timeout: 5000 });
    expect(JSON.parse(Buffer.from(reply.data).toString('utf8'))).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(await h.head()).toBe(head);
  });
});
