import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWith } from '../../../test/support/env';
import { parseDerivation, printDerivation } from './aterm';
import { derivationToJson, showDerivation } from './json';
import { makeTextPath } from './store-path';

describe('derivationToJson', () => {
  const out = makeTextPath('x', '4'.repeat(64), []);

  it('lists each output with the fields `nix show-derivation` shows for its kind', () => {
    const base = { inputDrvs: {}, inputSrcs: [], system: 's', builder: '/bin/sh', args: [], env: {} };
    const json = (outputs: Record<string, { path: string; hashAlgo: string; hash: string }>) => derivationToJson({ ...base, outputs }).outputs;
    expect(json({ out: { path: out, hashAlgo: '', hash: '' } })).toEqual({ out: { path: out } });
    expect(json({ out: { path: out, hashAlgo: 'r:sha256', hash: 'a'.repeat(64) } })).toEqual({ out: { path: out, hashAlgo: 'r:sha256', hash: 'a'.repeat(64) } });
    expect(json({ out: { path: '', hashAlgo: 'sha256', hash: '' } })).toEqual({ out: { hashAlgo: 'sha256' } });
    expect(json({ out: { path: '', hashAlgo: '', hash: '' } })).toEqual({ out: {} });
    expect(json({ out: { path: '', hashAlgo: 'r:sha256', hash: 'impure' } })).toEqual({ out: { hashAlgo: 'r:sha256', impure: true } });
  });

  it('keeps "__proto__" as an ordinary environment variable', () => {
    const text = `Derive([("out","${out}","","")],[],[],"s","/bin/sh",[],[("__proto__","p"),("name","x")])`;
    const json = derivationToJson(parseDerivation(text));
    expect(Object.keys(json.env)).toEqual(['__proto__', 'name']);
    expect(JSON.parse(JSON.stringify(json)).env.__proto__).toBe('p');
    expect(printDerivation(parseDerivation(text))).toBe(text);
  });
});

describeWith(['nix-instantiate', 'nix'], 'derivationToJson agrees with `nix show-derivation` (Nix 2.8)', () => {
  it('prints the same JSON text, byte for byte, for an input-addressed and an impure derivation', () => {
    const root = mkdtempSync(join(tmpdir(), 'bg-nix-json-'));
    const features = ['--extra-experimental-features', 'nix-command impure-derivations ca-derivations'];
    const env = { ...process.env, NIX_REMOTE: `local?root=${root}` };
    const run = (cmd: string, args: string[]) => execFileSync(cmd, [...features, ...args], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const drvPaths = run('nix-instantiate', [
        '-E',
        `[ (derivation { name = "ia"; system = "x86_64-linux"; builder = "/bin/sh"; outputs = [ "out" "doc" ]; args = [ "-c" "echo \\"q\\" \\\\ \\t ü 😀" ]; ctl = builtins.fromJSON ''"\\u0001\\b\\f\\u001f"''; "é" = "e"; "10" = "ten"; "9" = "nine"; })
           (derivation { name = "imp"; system = "x86_64-linux"; builder = "/bin/sh"; __impure = true; outputs = [ "out" "dev" ]; }) ]`,
      ])
        .trim()
        .split('\n');
      for (const drvPath of drvPaths) {
        const drv = parseDerivation(readFileSync(join(root, drvPath), 'utf8'));
        const shown = run('nix', ['show-derivation', drvPath]);
        expect(showDerivation(drvPath, drv)).toBe(shown);
        expect(JSON.parse(shown)).toEqual({ [drvPath]: derivationToJson(drv) });
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
