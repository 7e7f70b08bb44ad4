#!/usr/bin/env node
/*
 * Generates test/fixtures/nix/vectors.json: what real Nix (Debian's nix-bin 2.8) computes for the
 * expressions in test/fixtures/nix/*.nix. Tests compare libs/nix with it; nothing in it is typed by hand.
 *
 *   node scripts/gen-nix-vectors.js            # needs nix-instantiate, nix-store, nix; writes to /nix/store
 *
 * Re-runnable and deterministic: the same expressions give the same file (keys are sorted, and
 * resolutions are captured with `--check`, which re-resolves even when the outputs are already valid).
 * Builds are trivial /bin/sh builders, run without sandbox and without substituters.
 */
const { execFileSync } = require('node:child_process');
const { readFileSync, rmSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const FIXTURES = join(__dirname, '..', 'test', 'fixtures', 'nix');
const OUT = join(FIXTURES, 'vectors.json');
const XP = ['--extra-experimental-features', 'nix-command ca-derivations'];
const BUILD_OPTS = ['--option', 'sandbox', 'false', '--option', 'substituters', ''];
/** A second, throw-away store with another store dir, so storeDir handling is checked against Nix too. */
const OTHER_STORE_DIR = '/tmp/buildgraph-nix-vectors/store';
const OTHER_STORE = `local?store=${OTHER_STORE_DIR}&state=/tmp/buildgraph-nix-vectors/state&log=/tmp/buildgraph-nix-vectors/log`;

/** The expressions, whether to build them, and which derivations (by name) to poison in each variant. */
const EXPRESSIONS = [
  {
    name: 'basic',
    realise: false,
    serialVariants: [{ leaf: 1 }, { 'fod-flat': 2 }, { multi: 1, strings: 5 }, { structured: 3 }, { top: 7 }, { 'fod-sha1': 4, leaf: 2 }],
  },
  {
    name: 'ca',
    realise: true,
    serialVariants: [{ 'ca-leaf': 1 }, { 'ia-base': 3 }, { 'ca-fod': 1 }, { deferred: 2 }, { 'ca-mid': 1, 'deferred-top': 9 }],
  },
];

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

/** Like run, but returns stdout and stderr (Nix reports resolutions on stderr). */
function runBoth(cmd, args) {
  const { spawnSync } = require('node:child_process');
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

/** attribute name -> drvPath, evaluated read-only (no store writes). */
function evalDrvPaths(file, serials, S) {
  const expr = `builtins.mapAttrs (n: v: v.drvPath) (import ${file} { serialsJson = ${JSON.stringify(JSON.stringify(serials))}; })`;
  return JSON.parse(run('nix-instantiate', [...S, ...XP, '--eval', '--strict', '--json', '-E', expr]));
}

/** Writes every attribute's .drv to the store and returns the drv paths. */
function instantiate(file, serials, S) {
  const out = run('nix-instantiate', [...S, ...XP, '--argstr', 'serialsJson', JSON.stringify(serials), file]);
  return out.split('\n').filter(Boolean);
}

function requisites(paths, S) {
  return run('nix-store', [...S, '-qR', ...paths]).split('\n').filter(Boolean).sort();
}

function showDerivations(drvPaths, S) {
  return JSON.parse(run('nix', [...S, ...XP, 'show-derivation', ...drvPaths]));
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    // Nix's own JSON (show-derivation) is kept as printed: its key order is part of what it computed.
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, k === 'json' ? value[k] : sortKeys(value[k])]),
    );
  }
  return value;
}

/** Everything Nix computes for the expressions in one store; S = the store arguments for Nix commands. */
function generate(storeDir, S) {
  const derivations = {}; // drvPath -> { aterm, json, outputPaths }
  const sources = {}; // non-drv store path -> references (input sources can refer to other sources)
  const realisations = {}; // "<drvPath>^<out>" -> { id, outPath }
  const resolutions = {}; // drvPath -> { resolvedDrvPath, inputRealisations }
  const expressions = {};

  const record = (paths) => {
    const drvs = paths.filter((p) => p.endsWith('.drv') && !derivations[p]);
    if (drvs.length > 0) {
      const shown = showDerivations(drvs, S);
      for (const p of drvs) {
        const json = shown[p];
        const outputPaths = Object.fromEntries(Object.entries(json.outputs).map(([o, v]) => [o, v.path ?? null]));
        derivations[p] = { aterm: readFileSync(p, 'utf8'), json, outputPaths };
      }
    }
    for (const p of paths.filter((p) => !p.endsWith('.drv') && !sources[p])) {
      sources[p] = { references: run('nix-store', [...S, '-q', '--references', p]).split('\n').filter(Boolean).sort() };
    }
  };

  for (const expr of EXPRESSIONS) {
    const file = join(FIXTURES, `${expr.name}.nix`);
    instantiate(file, {}, S);
    const attrs = evalDrvPaths(file, {}, S);
    const closures = {};
    for (const [attr, drvPath] of Object.entries(attrs)) {
      closures[attr] = requisites([drvPath], S);
      record(closures[attr]);
    }

    if (expr.realise) {
      const all = Object.values(attrs);
      runBoth('nix-store', [...S, ...XP, ...BUILD_OPTS, '--realise', '--no-build-output', ...all]);
      // `--check` rebuilds and re-resolves each one even though its outputs are valid: deterministic logs.
      const needResolving = all.filter((p) => {
        const d = derivations[p].json;
        const floatingOrDeferred = Object.values(d.outputs).some((o) => !o.path && !o.hash);
        return floatingOrDeferred && Object.keys(d.inputDrvs).length > 0;
      });
      const { stderr } = runBoth('nix-store', [...S, ...XP, ...BUILD_OPTS, '--realise', '--check', ...needResolving]);
      const resolvedPairs = [...stderr.matchAll(/resolved derivation: '([^']+)' -> '([^']+)'/g)].map((m) => [m[1], m[2]]);
      for (const p of needResolving) {
        if (!resolvedPairs.some(([a]) => a === p)) throw new Error(`Nix did not report resolving ${p}:\n${stderr}`);
      }
      for (const p of all) {
        const d = derivations[p].json;
        if (!Object.values(d.outputs).some((o) => !o.path && !o.hash)) continue;
        const info = JSON.parse(run('nix', [...S, ...XP, 'realisation', 'info', '--json', p]));
        for (const r of info) {
          const outputName = r.id.slice(r.id.indexOf('!') + 1);
          realisations[`${p}^${outputName}`] = { id: r.id, outPath: `${storeDir}/${r.outPath}` };
        }
      }
      const outputOf = (drvPath, out) => derivations[drvPath].outputPaths[out] ?? realisations[`${drvPath}^${out}`]?.outPath;
      for (const [from, to] of resolvedPairs) {
        const inputRealisations = {};
        for (const [inputDrv, outs] of Object.entries(derivations[from].json.inputDrvs)) {
          for (const out of outs) {
            const path = outputOf(inputDrv, out);
            if (!path) throw new Error(`no realisation of ${inputDrv}^${out}`);
            inputRealisations[`${inputDrv}^${out}`] = path;
          }
        }
        resolutions[from] = { resolvedDrvPath: to, inputRealisations };
        record(requisites([to], S));
      }
    }

    const serialVariants = expr.serialVariants.map((serials) => {
      instantiate(file, serials, S);
      const variantAttrs = evalDrvPaths(file, serials, S);
      record(requisites(Object.values(variantAttrs), S));
      return { serials, attrs: variantAttrs };
    });

    expressions[expr.name] = { file: `${expr.name}.nix`, realised: expr.realise, attrs, closures, serialVariants };
  }

  return { storeDir, expressions, derivations, sources, realisations, resolutions };
}

function main() {
  const nixVersion = run('nix', ['--version']).trim();
  const main = generate('/nix/store', []);
  // starts empty each run, so its contents (and the file) do not depend on earlier runs
  rmSync('/tmp/buildgraph-nix-vectors', { recursive: true, force: true });
  const otherStore = generate(OTHER_STORE_DIR, ['--store', OTHER_STORE]);
  const vectors = sortKeys({ generatedBy: 'scripts/gen-nix-vectors.js', nixVersion, ...main, otherStore });
  writeFileSync(OUT, JSON.stringify(vectors, null, 1) + '\n');
  const kb = Math.round(readFileSync(OUT).length / 1024);
  const count = (v) => `${Object.keys(v.derivations).length} derivations, ${Object.keys(v.resolutions).length} resolutions`;
  console.log(`wrote ${OUT} (${kb} KiB): ${main.storeDir}: ${count(main)}; ${OTHER_STORE_DIR}: ${count(otherStore)}`);
}

main();
