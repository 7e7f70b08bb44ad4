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

export interface NixVectors {
  nixVersion: string;
  storeDir: string;
  expressions: Record<string, ExpressionVector>;
  derivations: Record<string, DrvVector>;
  sources: Record<string, { references: string[] }>;
  /** "<drvPath>^<out>" -> realisation id (sha256:<hashModulo>!<out>) and output path */
  realisations: Record<string, { id: string; outPath: string }>;
  /** unresolved drvPath -> what Nix resolved it to, and the input realisations it used */
  resolutions: Record<string, { resolvedDrvPath: string; inputRealisations: Record<string, string> }>;
}

export const vectors: NixVectors = JSON.parse(readFileSync(join(FIXTURES_DIR, 'vectors.json'), 'utf8'));

const parsed = new Map<string, Derivation>();

/** The vector's derivation, parsed once (tests must not mutate it). */
export function drv(drvPath: string): Derivation {
  let d = parsed.get(drvPath);
  if (d === undefined) {
    const v = vectors.derivations[drvPath];
    if (v === undefined) throw new Error(`no vector for ${drvPath}`);
    d = parseDerivation(v.aterm);
    parsed.set(drvPath, d);
  }
  return d;
}

export const lookup: DrvLookup = (drvPath) => {
  if (!(drvPath in vectors.derivations)) throw new NixError('NOT_A_DERIVATION', `no vector for ${drvPath}`);
  return drv(drvPath);
};

/** drvPath -> derivation for the .drv files among `paths` (e.g. a `nix-store -qR` closure). */
export function graphOf(paths: Iterable<string>): Record<string, Derivation> {
  const graph: Record<string, Derivation> = {};
  for (const p of paths) if (p.endsWith('.drv')) graph[p] = drv(p);
  return graph;
}

/** The graph of everything an expression's attributes need (the union of their closures). */
export function expressionGraph(name: string): Record<string, Derivation> {
  return graphOf(Object.values(vectors.expressions[name].closures).flat());
}
