/**
 * The shape of the generated history's graph (test/support/history.ts streams the farm's events over
 * it): a bootstrap chain ending in a stdenv-like root that nearly every package uses, ~30 levels deep,
 * one input from the level below plus preferential attachment (power-law fan-in), fixed-output
 * sources, multi-output packages, floating content-addressed packages near the top whose dependents
 * are deferred. Real .drv texts and paths from libs/nix, the hash modulo of every drv cached.
 */
import {
  type Derivation,
  type DrvHash,
  derivationName,
  derivationPathFromAterm,
  downstreamPlaceholder,
  fillOutputPaths,
  hashDerivationModulo,
  printDerivation,
  sha256Hex,
} from '@buildgraph/nix';

export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  /** mulberry32: small, fast, good enough for shapes */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)];
  }
}

export interface Node {
  index: number;
  drvPath: string;
  name: string;
  level: number;
  kind: 'fod' | 'ia' | 'ca' | 'deferred';
  /** registered output paths ('' when unknown before building) */
  outputs: Record<string, string>;
  inputs: Record<string, string[]>;
  drv: Derivation;
  /** realised outputs of the current valid result, or undefined (never built, failed, poisoned) */
  valid?: Record<string, string>;
  validAttempt?: string;
  serial: number;
}

export const SYSTEM = 'x86_64-linux';
export const BASH = '/nix/store/0i2jd68mp5g6h2sa5k9c85rb80sn8hi9-bash-5.2-p15';
const NAMES = [
  'zlib',
  'openssl',
  'curl',
  'python3',
  'perl',
  'gettext',
  'ncurses',
  'readline',
  'sqlite',
  'libxml2',
  'glib',
  'gtk3',
  'boost',
  'llvm',
  'rustc',
  'go',
  'nodejs',
  'systemd',
  'dbus',
  'mesa',
  'ffmpeg',
  'qt5',
  'libpng',
  'libjpeg',
  'icu',
  'expat',
  'pcre2',
  'xz',
  'bzip2',
  'gnutls',
];

export const throwingLookup = (drvPath: string): Derivation => {
  throw new Error(`history generator: ${drvPath} not in the hash cache`);
};

export interface GraphOptions {
  seed: number;
  drvs: number;
  depth: number;
  fodFraction: number;
  caFraction: number;
}

/** A registered drv: the node and the DerivationRegistered data (the caller adds ids and metadata). */
export interface Registered {
  node: Node;
  aterm: string;
}

export const BOOTSTRAP_LENGTH = 8;

/** Adds drvs one at a time, in topological order; draws from the shared generator so histories stay reproducible. */
export class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly byPath = new Map<string, Node>();
  private readonly hashCache = new Map<string, DrvHash>();
  /** node indexes, each once per referrer + once: uniform picks are proportional to fan-in + 1 */
  private readonly attach: number[] = [];
  private readonly levelStart: number[] = [];

  constructor(
    private readonly o: GraphOptions,
    private readonly rng: Rng,
  ) {}

  private levelOf(i: number): number {
    const o = this.o;
    if (i < BOOTSTRAP_LENGTH + 2) return Math.min(i, BOOTSTRAP_LENGTH);
    // packages spread over the levels above stdenv, thinning towards the top as in nixpkgs
    const x = (i - BOOTSTRAP_LENGTH - 2) / Math.max(1, o.drvs - BOOTSTRAP_LENGTH - 2);
    return BOOTSTRAP_LENGTH + 1 + Math.floor((o.depth - BOOTSTRAP_LENGTH - 1) * Math.pow(x, 0.8));
  }

  register(index: number): Registered {
    const { o, rng, nodes, byPath, attach, levelStart, hashCache } = this;
    const bootstrapLen = BOOTSTRAP_LENGTH;
    const level = this.levelOf(index);
    while (levelStart.length <= level) levelStart.push(index);
    const stdenv = nodes[bootstrapLen];
    let kind: Node['kind'];
    const inputs: Record<string, string[]> = {};
    let base: string;
    if (index === 0 || (index > bootstrapLen + 1 && rng.chance(o.fodFraction))) {
      kind = 'fod';
      base =
        index === 0 ? 'bootstrap-tools.tar.xz' : `${rng.pick(NAMES)}-${1 + rng.int(9)}.${rng.int(20)}.tar.gz`;
    } else if (index <= bootstrapLen) {
      kind = 'ia';
      base = index === bootstrapLen ? 'stdenv-linux' : `bootstrap-stage${index}`;
      inputs[nodes[index - 1].drvPath] = ['out'];
    } else {
      base = `${rng.pick(NAMES)}-${index}`;
      kind = level >= o.depth - 4 && rng.chance(o.caFraction) ? 'ca' : 'ia';
      if (rng.chance(0.97)) inputs[stdenv.drvPath] = ['out'];
      // one input from the level below keeps the graph deep; the rest by preferential attachment
      const below = levelStart[level - 1] ?? 0;
      const belowEnd = levelStart[level] ?? index;
      const candidates = [below + rng.int(Math.max(1, belowEnd - below))];
      const extra = rng.int(4) + (rng.chance(0.2) ? rng.int(8) : 0);
      for (let k = 0; k < extra; k++) candidates.push(attach[rng.int(attach.length)]);
      for (const c of candidates) {
        const dep = nodes[c];
        if (!dep || dep.index === index || dep.index <= bootstrapLen - 1) continue;
        const outs = Object.keys(dep.outputs);
        inputs[dep.drvPath] = outs.length > 1 && rng.chance(0.5) ? [...outs].sort() : ['out'];
      }
      if (
        kind === 'ia' &&
        Object.keys(inputs).some((d) => byPath.get(d)!.kind === 'ca' || byPath.get(d)!.kind === 'deferred')
      )
        kind = 'deferred';
    }
    const outputNames = kind === 'fod' ? ['out'] : rng.chance(0.2) ? ['dev', 'out'] : ['out'];
    const env: Record<string, string> = { builder: `${BASH}/bin/bash`, name: base, system: SYSTEM };
    const inputRefs: string[] = [];
    for (const [dep, outs] of Object.entries(inputs)) {
      const d = byPath.get(dep)!;
      for (const out of outs) inputRefs.push(d.outputs[out] || downstreamPlaceholder(dep, out));
    }
    if (inputRefs.length > 0) env.buildInputs = inputRefs.join(' ');
    const outputs: Derivation['outputs'] = {};
    if (kind === 'fod') {
      env.urls = `https://example.org/${base}`;
      env.outputHashMode = 'flat';
      env.outputHashAlgo = 'sha256';
      outputs.out = { path: '', hashAlgo: 'sha256', hash: sha256Hex(`${o.seed}/${base}/${index}`) };
    } else {
      for (const n of outputNames)
        outputs[n] =
          kind === 'ca' ? { path: '', hashAlgo: 'r:sha256', hash: '' } : { path: '', hashAlgo: '', hash: '' };
      if (kind === 'ca') {
        env.__contentAddressed = '1';
        env.outputHashMode = 'recursive';
        env.outputHashAlgo = 'sha256';
      }
    }
    env.outputs = outputNames.join(' ');
    const bare: Derivation = {
      outputs,
      inputDrvs: inputs,
      inputSrcs: [`${BASH}`],
      system: SYSTEM,
      builder: `${BASH}/bin/bash`,
      args: ['-e', '/builder.sh'],
      env,
    };
    const drv = fillOutputPaths(bare, throwingLookup, { cache: hashCache });
    const aterm = printDerivation(drv);
    const drvPath = derivationPathFromAterm(aterm, drv);
    hashCache.set(drvPath, hashDerivationModulo(drv, throwingLookup, { cache: hashCache }));
    const node: Node = {
      index,
      drvPath,
      name: derivationName(drv),
      level,
      kind,
      outputs: Object.fromEntries(Object.entries(drv.outputs).map(([n, out]) => [n, out.path])),
      inputs,
      drv,
      serial: 0,
    };
    nodes.push(node);
    byPath.set(drvPath, node);
    attach.push(index);
    for (const dep of Object.keys(inputs)) attach.push(byPath.get(dep)!.index);
    return { node, aterm };
  }
}
