/**
 * libs/nix speed: parse + print (byte-exact check) + drv path + hashDerivationModulo (with the drvHashes cache,
 * as Nix does) over a synthetic nixpkgs-shaped graph, against the raw limit beneath it: sha256 of the same
 * .drv texts with node's crypto. The graph is made in-process (seeded, so every run sees the same bytes):
 * stdenv-style derivations with several inputDrvs, long env values and scripts, 1-4 outputs, ~10% fixed-output
 * fetches, inputs drawn from earlier derivations so the hash modulo has a deep DAG to walk.
 */
import { hash } from 'node:crypto';
import {
  Derivation,
  DrvHash,
  derivationPath,
  derivationPathFromAterm,
  fillOutputPaths,
  hashDerivationModulo,
  lookupIn,
  makeFixedOutputPath,
  makeTextPath,
  parseDerivation,
  printDerivation,
} from '@buildgraph/nix';
import { BenchSuite, round, secondsSince } from '../harness';

/** mulberry32: a small seeded generator, so the synthetic graph is the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Synthetic {
  /** .drv texts in topological order (inputs first) */
  texts: string[];
  drvPaths: string[];
  bytes: number;
}

const WORDS = ['lib', 'gtk', 'python3', 'perl', 'zlib', 'openssl', 'curl', 'glib', 'libxml2', 'boost', 'qt', 'rust', 'go', 'ncurses', 'sqlite', 'pcre', 'icu', 'gmp', 'mpfr', 'xz'];
const OUTPUT_SETS = [['out'], ['out'], ['out'], ['out', 'dev'], ['out', 'dev'], ['out', 'dev', 'lib'], ['out', 'bin', 'dev', 'man'], ['out', 'doc', 'man']];
const SCRIPT_LINES = [
  'substituteInPlace Makefile --replace "/usr/bin/env" "$(type -P env)"',
  'wrapProgram $out/bin/$pname --prefix PATH : "${lib.makeBinPath [ coreutils ]}"',
  'for f in $out/share/man/man1/*.1; do gzip -9n "$f"; done',
  'patchShebangs --build scripts/ tools/',
  'install -Dm644 LICENSE "$out/share/licenses/$pname/LICENSE"',
  'rm -rf $out/lib/*.la $out/share/info/dir',
  'export HOME=$TMPDIR\nmkdir -p $out/etc/\tcp -r conf/* "$out/etc/"',
];

export function synthesize(count: number): Synthetic {
  const rand = seeded(20251121);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const hex = (n: number) => {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdef'[Math.floor(rand() * 16)];
    return s;
  };
  const graph: Record<string, Derivation> = {};
  const lookup = lookupIn(graph);
  const cache = new Map<string, DrvHash>();
  const texts: string[] = [];
  const drvPaths: string[] = [];
  const bash = makeFixedOutputPath('bash-5.2-p15', 'nar', 'sha256', hex(64));
  const builderSh = makeTextPath('default-builder.sh', hex(64), []);
  const sources = Array.from({ length: 200 }, (_, i) => makeTextPath(`${pick(WORDS)}-fix-${i}.patch`, hex(64), []));
  let bytes = 0;

  for (let i = 0; i < count; i++) {
    const name = `${pick(WORDS)}-${pick(WORDS)}-${Math.floor(rand() * 20)}.${Math.floor(rand() * 10)}.${i}`;
    // inputs: a few from a "stdenv" core, the rest from recent derivations (a DAG, never a cycle)
    const inputDrvs: Record<string, string[]> = {};
    const nInputs = i === 0 ? 0 : Math.min(i, 3 + Math.floor(rand() * 6));
    for (let k = 0; k < nInputs; k++) {
      const j = k < 2 ? Math.floor(rand() * Math.min(i, 50)) : i - 1 - Math.floor(rand() * Math.min(i, 3000));
      const dep = drvPaths[j];
      const outs = Object.keys(graph[dep].outputs);
      inputDrvs[dep] = [...new Set(['out', pick(outs)].filter((o) => outs.includes(o)))].sort();
    }
    const depPaths = Object.keys(inputDrvs).flatMap((d) => inputDrvs[d].map((o) => graph[d].outputs[o].path || `/${hex(52)}`));
    const fixed = i > 50 && rand() < 0.1;
    const env: Record<string, string> = { builder: `${bash}/bin/bash`, name, system: 'x86_64-linux' };
    let outputs: Record<string, { path: string; hashAlgo: string; hash: string }>;
    if (fixed) {
      const recursive = rand() < 0.5;
      outputs = { out: { path: '', hashAlgo: recursive ? 'r:sha256' : 'sha256', hash: hex(64) } };
      Object.assign(env, {
        impureEnvVars: 'http_proxy https_proxy ftp_proxy all_proxy no_proxy NIX_CURL_FLAGS NIX_HASHED_MIRRORS NIX_CONNECT_TIMEOUT NIX_MIRRORS_alsa NIX_MIRRORS_apache NIX_MIRRORS_gnu NIX_MIRRORS_sourceforge',
        nativeBuildInputs: depPaths.slice(0, 2).join(' '),
        outputHash: outputs.out.hash,
        outputHashAlgo: 'sha256',
        outputHashMode: recursive ? 'recursive' : 'flat',
        urls: `https://github.com/${pick(WORDS)}/${pick(WORDS)}/archive/v${i}.tar.gz`,
      });
    } else {
      const outs = pick(OUTPUT_SETS);
      outputs = {};
      for (const o of outs) outputs[o] = { path: '', hashAlgo: '', hash: '' };
      const script = Array.from({ length: Math.floor(rand() * 8) }, () => pick(SCRIPT_LINES)).join('\n');
      Object.assign(env, {
        buildInputs: depPaths.slice(2).join(' '),
        cmakeFlags: rand() < 0.3 ? '-DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release -DENABLE_STATIC=OFF' : '',
        configureFlags: `--enable-shared --disable-static --with-${pick(WORDS)}=${depPaths[0] ?? ''}`,
        depsBuildBuild: '',
        depsBuildTarget: '',
        depsHostHost: '',
        depsTargetTarget: '',
        doCheck: rand() < 0.5 ? '1' : '',
        mesonFlags: '',
        nativeBuildInputs: depPaths.slice(0, 2).join(' '),
        outputs: outs.join(' '),
        patches: rand() < 0.4 ? pick(sources) : '',
        pname: name.split('-')[0],
        postInstall: script,
        propagatedBuildInputs: depPaths.slice(3, 5).join(' '),
        src: depPaths[depPaths.length - 1] ?? '',
        stdenv: depPaths[0] ?? '',
        strictDeps: '1',
        version: `${Math.floor(rand() * 20)}.${i}`,
      });
    }
    const drv: Derivation = {
      outputs,
      inputDrvs,
      inputSrcs: fixed ? [] : [builderSh, ...(env.patches ? [env.patches] : [])].sort(),
      system: 'x86_64-linux',
      builder: `${bash}/bin/bash`,
      args: ['-e', fixed ? makeTextPath('builder.sh', '9'.repeat(64), []) : builderSh],
      env,
    };
    const filled = fillOutputPaths(drv, lookup, { cache });
    const text = printDerivation(filled);
    const drvPath = derivationPath(filled);
    graph[drvPath] = filled;
    texts.push(text);
    drvPaths.push(drvPath);
    bytes += Buffer.byteLength(text);
  }
  return { texts, drvPaths, bytes };
}

/** One pass of what a consumer of .drv files does: parse, print back (checked), drv path, hash modulo. */
/** CPU seconds of this process: steadier than wall time on a shared machine; the work is single-threaded. */
function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

interface Timing {
  wall: number;
  cpu: number;
}

function timed(f: () => void): Timing {
  const cpu0 = cpuSeconds();
  const start = process.hrtime.bigint();
  f();
  return { wall: secondsSince(start), cpu: cpuSeconds() - cpu0 };
}

export function pipeline(s: Synthetic): Timing {
  // like Nix reading the store: a lookup parses the .drv text again (only on a cache miss)
  const textOf = new Map<string, string>();
  const lookup = (drvPath: string) => parseDerivation(textOf.get(drvPath) as string);
  const cache = new Map<string, DrvHash>();
  return timed(() => {
    for (let i = 0; i < s.texts.length; i++) {
    const text = s.texts[i];
    const drv = parseDerivation(text);
    if (printDerivation(drv) !== text) throw new Error(`round trip failed for ${s.drvPaths[i]}`);
    const drvPath = derivationPathFromAterm(text, drv);
    if (drvPath !== s.drvPaths[i]) throw new Error(`drv path mismatch for ${s.drvPaths[i]}`);
    textOf.set(drvPath, text);
    // Nix's pathDerivationModulo: each drv's hash modulo once, remembered for its dependents
    cache.set(drvPath, hashDerivationModulo(drv, lookup, { cache, aterm: text }));
    }
  });
}

/** Parsing alone, then printing alone: where the pipeline's time goes. */
function stages(s: Synthetic): { parse: Timing; print: Timing } {
  const drvs: Derivation[] = new Array(s.texts.length);
  const parse = timed(() => {
    for (let i = 0; i < s.texts.length; i++) drvs[i] = parseDerivation(s.texts[i]);
  });
  const print = timed(() => {
    for (let i = 0; i < drvs.length; i++) printDerivation(drvs[i]);
  });
  return { parse, print };
}

/** The raw limit: node's one-shot sha256 over each .drv text (what derivationPath must do at least). */
export function rawSha256(s: Synthetic): Timing {
  return timed(() => {
    for (const text of s.texts) hash('sha256', text, 'hex');
  });
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const suite: BenchSuite = async ({ quick }) => {
  const count = quick ? 20_000 : 100_000;
  const rounds = quick ? 3 : 5;
  const s = synthesize(count);
  pipeline(s); // warm-up: JIT and allocation
  rawSha256(s);
  const runs: Timing[] = [];
  const rawRuns: Timing[] = [];
  for (let r = 0; r < rounds; r++) {
    runs.push(pipeline(s));
    rawRuns.push(rawSha256(s));
  }
  // medians; CPU time is the headline because the machines these run on are shared
  const cpu = median(runs.map((r) => r.cpu));
  const wall = median(runs.map((r) => r.wall));
  const rawCpu = median(rawRuns.map((r) => r.cpu));
  const rawWall = median(rawRuns.map((r) => r.wall));
  const mb = s.bytes / 1e6;
  const parts = stages(s);
  const fixed = s.texts.filter((x) => /^Derive\(\[\("out","[^"]+","(r:)?sha256","[0-9a-f]{64}"\)\]/.test(x)).length;
  return {
    metrics: {
      derivations: count,
      avg_drv_bytes: Math.round(s.bytes / count),
      fixed_output_share: round(fixed / count),
      derivations_per_s: Math.round(count / cpu),
      mb_per_s: round(mb / cpu),
      wall_derivations_per_s: Math.round(count / wall),
      wall_mb_per_s: round(mb / wall),
      parse_only_mb_per_s: round(mb / parts.parse.cpu),
      print_only_mb_per_s: round(mb / parts.print.cpu),
    },
    limits: {
      sha256_mb_per_s: round(mb / rawCpu),
      sha256_derivations_per_s: Math.round(count / rawCpu),
      wall_sha256_mb_per_s: round(mb / rawWall),
    },
    ratios: {
      mb_per_s_vs_sha256: round(rawCpu / cpu),
      wall_mb_per_s_vs_sha256: round(rawWall / wall),
    },
  };
};

export default suite;
