/**
 * Reading Nix's machine-readable log (`--log-format internal-json`): the parser is fed what the real
 * nix-store 2.8 prints while it builds, and must find each build, its log lines and its failure with
 * the status Nix gives it. Anything else on stderr is passed on, never thrown on.
 */
import fc from 'fast-check';
import { describeWith } from '../support/env';
import { graphNix, NIX_OPTIONS, nonce } from './support';
import { NixLogEvent, NixLogParser } from '../../apps/cli/src/farm/nix-log';
import { instantiate, run } from '../../apps/cli/src/farm/nix-store';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

jest.setTimeout(60_000);

const nixOptions = NIX_OPTIONS.flatMap((o) => ['--option', ...o.split(/=(.*)/s).slice(0, 2)]);

async function realise(drvs: string[], fixed: (p: string) => boolean = () => false): Promise<{ code: number; events: NixLogEvent[] }> {
  const r = await run('nix-store', ['--realise', ...drvs, '--keep-going', '--log-format', 'internal-json', '-v', ...nixOptions]);
  const parser = new NixLogParser(fixed);
  return { code: r.code, events: r.stderr.split('\n').flatMap((l) => parser.parse(l)) };
}

describeWith(['nix-instantiate', 'nix-store'], "Nix's internal-json log, as nix-store 2.8 prints it", () => {
  const dir = mkdtempSync(join(tmpdir(), 'bg-nixlog-'));

  it('names every build, its log lines, and the failure of the one whose builder exited 1', async () => {
    const file = join(dir, 'graph.nix');
    writeFileSync(file, graphNix(nonce()));
    const [lib] = await instantiate(file, ['-A', 'lib']);
    const [broken] = await instantiate(file, ['-A', 'broken']);
    const { code, events } = await realise([broken]);
    expect(code).not.toBe(0);
    expect(events.filter((e) => e.type === 'build-started').map((e) => (e as { drvPath: string }).drvPath)).toEqual([lib, broken]);
    expect(events).toContainEqual({ type: 'build-log', drvPath: lib, line: 'building lib' });
    expect(events).toContainEqual({ type: 'build-log', drvPath: broken, line: 'error: undefined reference to frobnicate' });
    const failed = events.filter((e) => e.type === 'build-failed');
    expect(failed).toEqual([expect.objectContaining({ drvPath: broken, status: 'PermanentFailure', exitCode: 1 })]);
    expect(events.filter((e) => e.type === 'build-stopped').map((e) => (e as { drvPath: string }).drvPath).sort()).toEqual([lib, broken].sort());
  });

  it('a fixed-output derivation whose builder fails is a TransientFailure, as Nix classifies it', async () => {
    const file = join(dir, 'fod.nix');
    writeFileSync(
      file,
      `derivation { name = "fetch-${nonce()}"; system = builtins.currentSystem; builder = "/bin/sh"; args = [ "-c" "echo 'curl: (6) Could not resolve host: example.org' >&2; exit 6" ]; outputHashMode = "flat"; outputHashAlgo = "sha256"; outputHash = "${'0'.repeat(64)}"; }`,
    );
    const [fod] = await instantiate(file, []);
    const { events } = await realise([fod], (p) => p === fod);
    expect(events.filter((e) => e.type === 'build-failed')).toEqual([expect.objectContaining({ drvPath: fod, status: 'TransientFailure', exitCode: 6 })]);
  });
});

describe('lines that are not what Nix usually prints', () => {
  it('never throw: anything unreadable is passed on as a message', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string().map((s) => `@nix ${s}`), fc.json().map((j) => `@nix ${j}`)), (line) => {
        const events = new NixLogParser().parse(line);
        for (const e of events) expect(['message', 'build-started', 'build-log', 'build-stopped', 'build-failed', 'resolved']).toContain(e.type);
      }),
    );
  });
});
