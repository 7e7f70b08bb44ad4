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
import { drv, lookup, vectors } from './vectors';

const drvPaths = Object.keys(vectors.derivations);

describe('libs/nix agrees with Nix 2.8 on every derivation it wrote', () => {
  it('has a varied set of vectors to compare with', () => {
    expect(drvPaths.length).toBeGreaterThan(50);
    expect(Object.keys(vectors.resolutions).length).toBeGreaterThan(5);
  });

  it.each(drvPaths)('%s: printing the parsed .drv gives back the same bytes', (drvPath) => {
    const aterm = vectors.derivations[drvPath].aterm;
    expect(printDerivation(parseDerivation(aterm))).toBe(aterm);
  });

  it.each(drvPaths)('%s: derivationPath is the path Nix stored it at', (drvPath) => {
    expect(derivationPath(drv(drvPath))).toBe(drvPath);
  });

  it.each(drvPaths)('%s: outputPaths are the ones Nix computed', (drvPath) => {
    expect(outputPaths(drv(drvPath), lookup)).toEqual(vectors.derivations[drvPath].outputPaths);
  });

  it.each(drvPaths)('%s: derivationToJson is what `nix show-derivation` prints', (drvPath) => {
    expect(derivationToJson(drv(drvPath))).toEqual(vectors.derivations[drvPath].json);
  });

  const realised = Object.entries(vectors.realisations).map(([id, r]) => [id, r.id] as const);
  it.each(realised)('%s: the realisation id Nix recorded is the hash modulo of the derivation', (idByPath, idByHash) => {
    const [drvPath, outputName] = idByPath.split('^');
    const { hashes } = hashDerivationModulo(drv(drvPath), lookup, { maskOutputs: true });
    expect(realisationIdFromHash(hashes[outputName], outputName)).toBe(idByHash);
  });
});
