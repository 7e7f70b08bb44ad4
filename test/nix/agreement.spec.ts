/**
 * libs/nix agrees with real Nix (2.8) on every derivation in the committed vectors: parsing and printing,
 * the .drv path, the output paths, `nix show-derivation`'s JSON, and the hash modulo behind realisation ids.
 */
import {
  derivationPath,
  derivationToJson,
  hashDerivationModulo,
  outputPaths,
  parseDerivation,
  printDerivation,
  realisationIdFromHash,
} from '@buildgraph/nix';
import { drv, lookup, stores, vectors } from './vectors';

const drvPaths = stores.flatMap((s) => Object.keys(s.derivations).map((p) => [p, s] as const));

describe('libs/nix agrees with Nix 2.8 on every derivation it wrote', () => {
  it('has a varied set of vectors to compare with', () => {
    expect(Object.keys(vectors.derivations).length).toBeGreaterThan(50);
    expect(vectors.otherStore.storeDir).not.toBe(vectors.storeDir);
    expect(Object.keys(vectors.resolutions).length).toBeGreaterThan(5);
  });

  it.each(drvPaths)('%s: printing the parsed .drv gives back the same bytes', (drvPath, { storeDir, derivations }) => {
    const aterm = derivations[drvPath].aterm;
    expect(printDerivation(parseDerivation(aterm, { storeDir }))).toBe(aterm);
  });

  it.each(drvPaths)('%s: derivationPath is the path Nix stored it at', (drvPath, { storeDir }) => {
    expect(derivationPath(drv(drvPath), storeDir)).toBe(drvPath);
  });

  it.each(drvPaths)('%s: outputPaths are the ones Nix computed', (drvPath, { storeDir, derivations }) => {
    expect(outputPaths(drv(drvPath), lookup, { storeDir })).toEqual(derivations[drvPath].outputPaths);
  });

  it.each(drvPaths)('%s: derivationToJson is what `nix show-derivation` prints', (drvPath, { derivations }) => {
    expect(derivationToJson(drv(drvPath))).toEqual(derivations[drvPath].json);
  });

  const realised = stores.flatMap((s) => Object.entries(s.realisations).map(([id, r]) => [id, r.id, s.storeDir] as const));
  it.each(realised)('%s: the realisation id Nix recorded is the hash modulo of the derivation', (idByPath, idByHash, storeDir) => {
    const [drvPath, outputName] = idByPath.split('^');
    const { hashes } = hashDerivationModulo(drv(drvPath), lookup, { maskOutputs: true, storeDir });
    expect(realisationIdFromHash(hashes[outputName], outputName)).toBe(idByHash);
  });
});
