/**
 * Content-addressed derivations through `buildgraph nix-build`: Nix resolves a CA derivation whose
 * inputs are CA, builds the resolved twin, and the farm reports the resolution on the unresolved
 * derivation's attempt. The resolved drv path the service derives must be the one Nix printed.
 */
import { describeWith } from '../support/env';
import { FarmWorld, NIX_OPTIONS, nonce, startFarmWorld } from './support';
import { instantiate, run } from '../../apps/cli/src/farm/nix-store';

jest.setTimeout(120_000);

const CA = ['--option', 'experimental-features', 'nix-command ca-derivations'];

function caNix(n: string): string {
  return `
let
  mk = name: deps: script: derivation {
    inherit name deps;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" script ];
    nonce = "${n}";
    __contentAddressed = true;
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
  };
  a = mk "ca-a" [] "echo a > $out";
in { inherit a; b = mk "ca-b" [ a ] "read x < \${a}; echo $x b > $out"; }
`;
}

describeWith(['nix-instantiate', 'nix-store', 'nats-server'], 'CA derivations built on a farm', () => {
  let world: FarmWorld;
  beforeAll(async () => {
    world = await startFarmWorld();
  });
  afterAll(async () => world?.close());

  it('the resolved derivation recorded for an attempt is the one Nix printed, with the realisations it consumed', async () => {
    const file = world.writeNix('ca.nix', caNix(nonce()));
    const client = world.client();
    const r = await world.build(client, { targets: [file], instantiateArgs: [...CA, '-A', 'b'], realiseArgs: CA });
    expect(r.exitCode).toBe(0);
    const [a] = await instantiate(file, [...CA, '-A', 'a']);
    const [b] = await instantiate(file, [...CA, '-A', 'b']);
    const printed = r.info.map((l) => /building '(\/nix\/store\/[^']+-ca-b\.drv)'/.exec(l)?.[1]).find(Boolean);
    expect(printed).toBeDefined();
    expect(printed).not.toBe(b);
    const events = await world.events(b);
    expect(events.map((e) => e.type)).toEqual(['DerivationRegistered', 'AttemptStarted', 'AttemptResolved', 'AttemptSucceeded']);
    expect(events[2].data.resolvedDrvPath).toBe(printed);
    const aOut = ((await world.events(a)).find((e) => e.type === 'AttemptSucceeded')!.data.outputs as Record<string, string>).out;
    expect(events[2].data.inputRealisations).toEqual({ [`${a}^out`]: aOut });
    expect(events[3].data.outputs).toEqual({ out: r.stdout.trim() });
  });

  it('plain nix-build with the hook: Nix runs it for the resolved and the unresolved derivation, and the resolution is recorded once', async () => {
    const file = world.writeNix('ca-hook.nix', caNix(nonce()));
    const options = [...NIX_OPTIONS, `post-build-hook=${world.hookScript()}`].flatMap((o) => ['--option', ...o.split(/=(.*)/s).slice(0, 2)]);
    const r = await run('nix-build', [file, '-A', 'b', '--no-out-link', ...CA, ...options]);
    expect(r.stderr).not.toContain('buildgraph:');
    expect(r.code).toBe(0);
    const [b] = await instantiate(file, [...CA, '-A', 'b']);
    const built = /building '(\/nix\/store\/[^']+-ca-b\.drv)'/.exec(r.stderr)?.[1];
    expect(built).toBeDefined();
    expect(built).not.toBe(b);
    const events = await world.events(b);
    expect(events.map((e) => e.type)).toEqual(['DerivationRegistered', 'AttemptStarted', 'AttemptResolved', 'AttemptSucceeded']);
    expect(events[2].data.resolvedDrvPath).toBe(built);
    expect(events[3].data.outputs).toEqual({ out: r.stdout.trim() });
    // the resolved derivation's own run, on its own stream, with the same output
    const resolved = await world.events(built!);
    expect(resolved.find((e) => e.type === 'AttemptSucceeded')?.data.outputs).toEqual({ out: r.stdout.trim() });
  });
});
