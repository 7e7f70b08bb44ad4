/**
 * The real-Nix test vectors (test/fixtures/nix/vectors.json, written by scripts/gen-nix-vectors.js from
 * Debian's nix-bin 2.8) and small helpers to use them as a derivation graph.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Derivation, DrvLookup, NixError, parseDerivation } from '@buildgraph/nix';

export const FIXTURES_DIR = join(__dirname, '..', 'fixtures', 'nix');

export interface DrvVector {
  aterm: string;
  /** what `nix show-derivation` printed under the drv path */
  json: Record<string, unknown>;
  /** Nix's output paths; null where known only once built */
  outputPaths: Record<string, string | null>;
}

export interface ExpressionVector {
  file: string;
  realised: boolean;
  /** attribute name (= derivation name) -> drvPath */
  attrs: Record<string, string>;
  /** attribute -> `nix-store -qR <drvPath>` */
  closures: Record<string, string[]>;
  serialVariants: { serials: Record<string, number>; attrs: Record<string, string> }[];
}

/** What Nix computed in one store. */
export interface StoreVectors {
  storeDir: string;
  expressions: Record<string, ExpressionVector>;
  derivations: Record<string, DrvVector>;
  sources: Record<string, { references: string[] }>;
  /** "<drvPath>^<out>" -> realisation id (sha256:<hashModulo>!<out>) and output path */
  realisations: Record<string, { id: string; outPath: string }>;
  /** unresolved drvPath -> what Nix resolved it to, and the input realisations it used */
  resolutions: Record<string, { resolvedDrvPath: string; inputRealisations: Record<string, string> }>;
}

/** The /nix/store vectors, plus the same expressions in a store with another store dir. */
export interface NixVectors extends StoreVectors {
  nixVersion: string;
  otherStore: StoreVectors;
}

export const vectors: NixVectors = JSON.parse(readFileSync(join(FIXTURES_DIR, 'vectors.json'), 'utf8'));

/** Both stores, for tests that run over each (paths never collide: they start with the store dir). */
export const stores: StoreVectors[] = [vectors, vectors.otherStore];

function storeOf(drvPath: string): StoreVectors | undefined {
  return stores.find((s) => drvPath.startsWith(s.storeDir + '/') && drvPath in s.derivations);
}

const parsed = new Map<string, Derivation>();

/** The vector's derivation, parsed once (tests must not mutate it). */
export function drv(drvPath: string): Derivation {
  let d = parsed.get(drvPath);
  if (d === undefined) {
    const store = storeOf(drvPath);
    if (store === undefined) throw new Error(`no vector for ${drvPath}`);
    d = parseDerivation(store.derivations[drvPath].aterm, { storeDir: store.storeDir });
    parsed.set(drvPath, d);
  }
  return d;
}

export const lookup: DrvLookup = (drvPath) => {
  if (storeOf(drvPath) === undefined) throw new NixError('NOT_A_DERIVATION', `no vector for ${drvPath}`);
  return drv(drvPath);
};

/** drvPath -> derivation for the .drv files among `paths` (e.g. a `nix-store -qR` closure). */
export function graphOf(paths: Iterable<string>): Record<string, Derivation> {
  const graph: Record<string, Derivation> = {};
  for (const p of paths) if (p.endsWith('.drv')) graph[p] = drv(p);
  return graph;
}

/** The graph of everything an expression's attributes need (the union of their closures). */
export function expressionGraph(name: string, store: StoreVectors = vectors): Record<string, Derivation> {
  return graphOf(Object.values(store.expressions[name].closures).flat());
}
