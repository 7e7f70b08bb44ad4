/**
 * Resolution agrees with Nix 2.8: for every content-addressed or deferred derivation the generator built,
 * resolving it with the input realisations Nix used gives the resolved derivation Nix wrote (its path and
 * its ATerm, byte for byte).
 */
import { printDerivation, resolveDerivation } from '@buildgraph/nix';
import { drv, lookup, stores, vectors } from './vectors';

const resolutions = stores.flatMap((s) => Object.entries(s.resolutions).map(([p, r]) => [p, r, s] as const));

describe('resolving a derivation with the realisations of its inputs', () => {
  it('has resolutions of floating, multi-output and deferred derivations to compare with', () => {
    const outputs = Object.keys(vectors.resolutions).map((p) => vectors.derivations[p].outputPaths);
    expect(outputs.some((o) => Object.keys(o).length > 1)).toBe(true);
    expect(Object.keys(vectors.resolutions).length).toBeGreaterThanOrEqual(7);
  });

  it.each(resolutions)('%s resolves to the derivation Nix built', (drvPath, { resolvedDrvPath, inputRealisations }, { storeDir, derivations }) => {
    const resolved = resolveDerivation(drv(drvPath), inputRealisations, lookup, { storeDir });
    expect(resolved.drvPath).toBe(resolvedDrvPath);
    expect(printDerivation(resolved.drv)).toBe(derivations[resolvedDrvPath].aterm);
  });

  it.each(resolutions)('%s resolves the same using only the realisations of its content-addressed inputs', (drvPath, { resolvedDrvPath, inputRealisations }, { storeDir, derivations }) => {
    // input-addressed and fixed outputs are known from the input derivation itself, as in Nix's store
    const floatingOnly = Object.fromEntries(
      Object.entries(inputRealisations).filter(([id]) => {
        const [input, out] = id.split('^');
        return derivations[input].outputPaths[out] === null;
      }),
    );
    expect(resolveDerivation(drv(drvPath), floatingOnly, lookup, { storeDir }).drvPath).toBe(resolvedDrvPath);
  });
});
