/**
 * `buildgraph drv inspect|resolve|rewrite` agrees with real Nix on every generated vector
 * (test/fixtures/nix/vectors.json, from scripts/gen-nix-vectors.js), and answers malformed input with
 * exit code 2 and a message naming the file and byte offset.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { buildProgram } from '../../apps/cli/src/program';
import { derivationName, derivationType, makeOutputPath } from '@buildgraph/nix';
import { drv, vectors } from '../nix/vectors';

const ROOT = join(__dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'bg-cli-'));

/** Writes a vector's ATerm to a file named like its store path, as `nix-store` would have it. */
function drvFile(drvPath: string): string {
  const file = join(dir, basename(drvPath));
  writeFileSync(file, vectors.derivations[drvPath].aterm);
  return file;
}

/** Runs the CLI in-process and returns the JSON lines it printed. */
async function cli(...args: string[]): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    await buildProgram().exitOverride().parseAsync(['node', 'buildgraph', ...args]);
  } finally {
    write.mockRestore();
  }
  return lines.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** Runs the CLI as a process, the way a user does. */
function cliProcess(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-r', '@swc-node/register', join(ROOT, 'apps/cli/src/main.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, SWC_NODE_PROJECT: join(ROOT, 'tsconfig.json') },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const drvPaths = Object.keys(vectors.derivations);

describe('buildgraph drv inspect', () => {
  it('reports what nix show-derivation reports, for every vector derivation', async () => {
    const files = drvPaths.map(drvFile);
    const out = await cli('drv', 'inspect', '--json', ...files);
    expect(out).toHaveLength(drvPaths.length);
    out.forEach((info, i) => {
      const drvPath = drvPaths[i];
      const nix = vectors.derivations[drvPath].json as {
        outputs: Record<string, { path?: string; hashAlgo?: string; hash?: string }>;
        inputDrvs: unknown;
        inputSrcs: unknown;
        system: string;
        env: Record<string, string>;
      };
      expect(info.drvPath).toBe(drvPath);
      expect(info.system).toBe(nix.system);
      expect(info.inputDrvs).toEqual(nix.inputDrvs);
      expect(info.inputSrcs).toEqual(nix.inputSrcs);
      const outputs = info.outputs as Record<string, { path: string | null; method?: string; hashAlgo?: string; hash?: string }>;
      expect(Object.keys(outputs)).toEqual(Object.keys(nix.outputs));
      for (const [name, o] of Object.entries(outputs)) {
        const n = nix.outputs[name];
        expect(o.path).toBe(n.path ? n.path : null);
        const prefix = o.method === 'nar' ? 'r:' : o.method === 'text' ? 'text:' : '';
        expect(o.hashAlgo === undefined ? undefined : prefix + o.hashAlgo).toBe(n.hashAlgo || undefined);
        expect(o.hash).toBe(n.hash || undefined);
      }
    });
  });

  it('prints the hashModulo Nix used in realisation ids and input-addressed output paths', async () => {
    const realised = Object.entries(vectors.realisations);
    expect(realised.length).toBeGreaterThan(0);
    const out = await cli('drv', 'inspect', '--json', ...drvPaths.map(drvFile));
    const byPath = new Map(out.map((o) => [o.drvPath as string, o.hashModulo]));
    for (const [key, { id }] of realised) {
      const drvPath = key.slice(0, key.lastIndexOf('^'));
      const nixHash = /^sha256:([0-9a-f]{64})!/.exec(id)?.[1];
      expect(byPath.get(drvPath)).toBe(nixHash);
    }
    let inputAddressed = 0;
    for (const drvPath of drvPaths) {
      const d = drv(drvPath);
      if (derivationType(d) !== 'input-addressed') continue;
      inputAddressed++;
      for (const [name, o] of Object.entries(d.outputs)) {
        expect(makeOutputPath(name, byPath.get(drvPath) as string, derivationName(d))).toBe(o.path);
      }
    }
    expect(inputAddressed).toBeGreaterThan(5);
  });
});

describe('buildgraph drv resolve', () => {
  const resolutions = Object.entries(vectors.resolutions);

  it.each(resolutions)('resolves %s to the derivation Nix resolved it to', async (drvPath, r) => {
    const realisations = join(dir, `${basename(drvPath)}.realisations.json`);
    writeFileSync(realisations, JSON.stringify(r.inputRealisations));
    const [out] = await cli('drv', 'resolve', '--json', drvFile(drvPath), '--realisations', realisations);
    expect(out.drvPath).toBe(r.resolvedDrvPath);
    expect(out.aterm).toBe(vectors.derivations[r.resolvedDrvPath].aterm);
  });
});

describe('buildgraph drv rewrite', () => {
  const cases = Object.entries(vectors.expressions).flatMap(([name, expr]) =>
    expr.serialVariants.map((v) => [name, JSON.stringify(v.serials), v] as const),
  );

  it.each(cases)('%s: poisoning %s gives the derivations Nix gives with buildgraphSerial set', async (name, _serials, variant) => {
    const expr = vectors.expressions[name];
    const graph = [...new Set(Object.values(expr.closures).flat().filter((p) => p.endsWith('.drv')))];
    const serialFlags = Object.entries(variant.serials).flatMap(([attr, n]) => ['--serial', `${expr.attrs[attr]}=${n}`]);
    const out = await cli('drv', 'rewrite', '--json', ...serialFlags, ...graph.map(drvFile));
    const to = new Map(out.map((o) => [o.from as string, o]));
    for (const [attr, before] of Object.entries(expr.attrs)) {
      const after = variant.attrs[attr];
      if (after === before) {
        expect(to.has(before)).toBe(false);
      } else {
        expect(to.get(before)?.to).toBe(after);
        expect(to.get(before)?.aterm).toBe(vectors.derivations[after].aterm);
      }
    }
  });
});

describe('buildgraph drv on malformed input', () => {
  it('exits 2 naming the file and the byte offset, without a stack trace', () => {
    const good = vectors.derivations[drvPaths[0]].aterm;
    const file = join(dir, 'broken.drv');
    writeFileSync(file, good.slice(0, 40) + '\u0000' + good.slice(41));
    const r = cliProcess('drv', 'inspect', '--json', file);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toMatch(/byte \d+/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  });

  it('exits 2 for a missing file and for realisations that are not JSON', () => {
    expect(cliProcess('drv', 'inspect', join(dir, 'nope.drv')).status).toBe(2);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{not json');
    const r = cliProcess('drv', 'resolve', drvFile(drvPaths[0]), '--realisations', bad);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('malformed JSON');
  });
});
