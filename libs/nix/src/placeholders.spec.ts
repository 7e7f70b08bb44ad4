import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWith } from '../../../test/support/env';
import { parseDerivation } from './aterm';
import { derivationType } from './derivation';
import { downstreamPlaceholder, hashPlaceholder } from './placeholders';
import { makeTextPath } from './store-path';

const vectors = JSON.parse(readFileSync(join(__dirname, '../../../test/fixtures/nix/vectors.json'), 'utf8')) as {
  derivations: Record<string, { aterm: string }>;
};

describe('placeholders', () => {
  it('are "/" and 52 nix-base32 characters, distinct per output and per input derivation', () => {
    const drvA = makeTextPath('a.drv', '1'.repeat(64), []);
    const drvB = makeTextPath('b.drv', '2'.repeat(64), []);
    const all = [hashPlaceholder('out'), hashPlaceholder('dev'), downstreamPlaceholder(drvA, 'out'), downstreamPlaceholder(drvA, 'dev'), downstreamPlaceholder(drvB, 'out')];
    for (const p of all) expect(p).toMatch(/^\/[0-9abcdfghijklmnpqrsvwxyz]{52}$/);
    expect(new Set(all).size).toBe(all.length);
  });

  it('refuse a downstream placeholder for a path that is not a .drv', () => {
    expect(() => downstreamPlaceholder(makeTextPath('a', '1'.repeat(64), []), 'out')).toThrow(/not a \.drv/);
    expect(() => downstreamPlaceholder('/tmp/x.drv', 'out')).toThrow(/not in the Nix store/);
  });

  it('every placeholder Nix wrote into a derivation is its own output placeholder or a downstream placeholder of one of its inputs', () => {
    const placeholder = /\/[0-9abcdfghijklmnpqrsvwxyz]{52}(?![0-9a-z])/g;
    let checked = 0;
    for (const { aterm } of Object.values(vectors.derivations)) {
      const drv = parseDerivation(aterm);
      const known = new Set(Object.keys(drv.outputs).map(hashPlaceholder));
      for (const [input, outputs] of Object.entries(drv.inputDrvs)) for (const o of outputs) known.add(downstreamPlaceholder(input, o));
      for (const value of [...Object.values(drv.env), ...drv.args]) {
        for (const found of value.match(placeholder) ?? []) {
          expect(known).toContain(found);
          checked++;
        }
      }
      if (derivationType(drv) === 'floating') for (const o of Object.keys(drv.outputs)) expect(drv.env[o]).toBe(hashPlaceholder(o));
    }
    expect(checked).toBeGreaterThan(5);
  });
});

describeWith(['nix-instantiate'], 'placeholders agree with Nix 2.8', () => {
  it('hashPlaceholder is builtins.placeholder', () => {
    const names = ['out', 'dev', 'bin', 'lib'];
    const fromNix = JSON.parse(
      execFileSync('nix-instantiate', ['--eval', '--strict', '--json', '--readonly-mode', '-E', `map builtins.placeholder ${JSON.stringify(names).replace(/,/g, ' ')}`], {
        encoding: 'utf8',
      }),
    ) as string[];
    expect(names.map(hashPlaceholder)).toEqual(fromNix);
  });
});
