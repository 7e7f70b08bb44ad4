/**
 * `buildgraph fod verify` re-runs fixed-output fetchers for real and reports what they produce;
 * `buildgraph log` prints a failed attempt's log from the service like `nix log`.
 */
import { createHash } from 'node:crypto';
import { describeWith } from '../support/env';
import { FarmWorld, graphNix, NIX_OPTIONS, nonce, startFarmWorld } from './support';
import { verifyFods } from '../../apps/cli/src/farm/fod';
import { findLog } from '../../apps/cli/src/farm/log';
import { instantiate } from '../../apps/cli/src/farm/nix-store';
import { buildProgram } from '../../apps/cli/src/program';

jest.setTimeout(120_000);

/** Runs the CLI in-process (the service answering it lives in this process too) and returns its stdout lines. */
async function cli(...args: string[]): Promise<string[]> {
  const out: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await buildProgram().exitOverride().parseAsync(['node', 'buildgraph', ...args]);
  } finally {
    write.mockRestore();
    err.mockRestore();
  }
  return out.join('').split('\n').filter(Boolean);
}

const nixOptions = NIX_OPTIONS.flatMap((o) => ['--option', ...o.split(/=(.*)/s).slice(0, 2)]);

/** A "fetcher" that writes `content`, declaring the sha256 of `declared` (flat). */
function fodNix(n: string): string {
  return `
{ content, declared }:
derivation {
  name = "fetched-${n}";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ "-c" "echo \${content} > $out" ];
  outputHashMode = "flat";
  outputHashAlgo = "sha256";
  outputHash = builtins.hashString "sha256" "\${declared}\\n";
}
`;
}

describeWith(['nix-instantiate', 'nix-store', 'nats-server'], 'FOD verification and build logs on a farm', () => {
  let world: FarmWorld;
  beforeAll(async () => {
    world = await startFarmWorld();
  });
  afterAll(async () => world?.close());

  it('a fetcher that produces its declared hash is verified; one that no longer does is a mismatch, even with the output cached', async () => {
    const file = world.writeNix('fod.nix', fodNix(nonce()));
    const [good] = await instantiate(file, ['--argstr', 'content', 'v1', '--argstr', 'declared', 'v1']);
    // same declared hash (so the same output path, already valid once `good` ran), a fetcher that now yields v2
    const [broken] = await instantiate(file, ['--argstr', 'content', 'v2', '--argstr', 'declared', 'v1']);
    const client = world.client();
    const quiet = { info: () => undefined, stdout: () => undefined };

    const [first] = await verifyFods(client, [good], nixOptions, quiet);
    expect(first).toMatchObject({ result: 'verified', expectedHash: `sha256:${createHash('sha256').update('v1\n').digest('hex')}` });
    const [second] = await verifyFods(client, [broken], nixOptions, quiet);
    expect(second.result).toBe('mismatch');
    const v2 = `sha256-${createHash('sha256').update('v2\n').digest('base64')}`;
    expect(second.actualHash).toBe(v2);
    expect(await client.flush()).toMatchObject({ rejected: [], remaining: 0 });

    expect((await world.events(good)).find((e) => e.type === 'FodVerified')?.data).toMatchObject({ attemptId: first.attemptId });
    const mismatch = (await world.events(broken)).find((e) => e.type === 'FodMismatch')!.data;
    expect(mismatch).toMatchObject({ attemptId: second.attemptId, outputHash: { actual: `sha256:${createHash('sha256').update('v2\n').digest('hex')}` } });
    // the two drvs run different fetcher inputs: their fingerprints differ
    const verified = (await world.events(good)).find((e) => e.type === 'FodVerified')!.data;
    expect(mismatch.inputsFingerprint).not.toBe(verified.inputsFingerprint);

    // the ledger now lists the output as due (its current drv mismatched): `fod verify --due` re-runs it
    let lines: string[] = [];
    for (let i = 0; i < 40 && !lines.some((l) => l.includes(broken)); i++) {
      lines = await cli('fod', 'verify', '--due', '--json', ...world.flags(), ...NIX_OPTIONS.flatMap((o) => ['--nix-option', o]));
      if (!lines.some((l) => l.includes(broken))) await new Promise((r) => setTimeout(r, 50));
    }
    expect(lines.map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ drvPath: broken, result: 'mismatch', actualHash: v2 })]);
    expect(process.exitCode).toBe(1);
    process.exitCode = 0;
  });

  it('the log of a failed attempt is printed from the service, in full over HTTP, else its tail', async () => {
    const file = world.writeNix('logs.nix', graphNix(nonce()));
    const [broken] = await instantiate(file, ['-A', 'broken']);
    const client = world.client();
    const built = await world.build(client, { targets: [broken] });
    const attemptId = built.attempts!.find((a) => a.drvPath === broken)!.attemptId;
    const full = await findLog(client, broken, { httpUrl: world.service()!.url });
    expect(full).toMatchObject({ source: 'service', attemptId });
    expect('text' in full && full.text).toContain('compiling\nerror: undefined reference to frobnicate\n');
    const tail = await findLog(client, broken, { attemptId });
    expect(tail).toMatchObject({ source: 'service-tail', attemptId });
    expect(await findLog(client, broken, { attemptId: 'no-such-attempt' })).toEqual({ error: expect.stringContaining('no failed attempt no-such-attempt') });
  });
});
