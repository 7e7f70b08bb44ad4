/**
 * The committed vectors still match real Nix: re-evaluating the fixture expressions (read-only, nothing is
 * written to the store) gives the same .drv paths. A .drv path is the hash of its ATerm and references, so
 * equal paths mean Nix still writes the same derivations. Regenerate with `node scripts/gen-nix-vectors.js`.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describeWith } from '../support/env';
import { FIXTURES_DIR, vectors } from './vectors';

function nixDrvPaths(file: string, serials: Record<string, number>): Record<string, string> {
  const expr = `builtins.mapAttrs (n: v: v.drvPath) (import ${join(FIXTURES_DIR, file)} { serialsJson = ${JSON.stringify(JSON.stringify(serials))}; })`;
  const out = execFileSync(
    'nix-instantiate',
    ['--extra-experimental-features', 'ca-derivations', '--readonly-mode', '--eval', '--strict', '--json', '-E', expr],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return JSON.parse(out);
}

describeWith(['nix-instantiate'], 'the committed Nix test vectors match the installed Nix', () => {
  it.each(Object.entries(vectors.expressions))('%s.nix still instantiates to the recorded derivations', (_name, expr) => {
    expect(nixDrvPaths(expr.file, {})).toEqual(expr.attrs);
  });

  it.each(Object.entries(vectors.expressions))('%s.nix with a serial still instantiates to the recorded derivations', (_name, expr) => {
    const variant = expr.serialVariants[0];
    expect(nixDrvPaths(expr.file, variant.serials)).toEqual(variant.attrs);
  });
});
