import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import {
  Derivation,
  DrvParseError,
  NixError,
  derivationName,
  derivationPath,
  hashDerivationModulo,
  outputContentAddressing,
  parseDerivation,
  printDerivation,
  resolveDerivation,
  rewriteWithSerials,
  isStorePath,
} from '@buildgraph/nix';
import { CliError, EXIT_BAD_INPUT } from '../cli-error';

/** One .drv read from a file: the text, what it parses to, and the path recomputed from the text. */
interface LoadedDrv {
  file: string;
  drv: Derivation;
  drvPath: string;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new CliError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, EXIT_BAD_INPUT);
  }
}

export function loadDrv(file: string): LoadedDrv {
  const text = readText(file);
  try {
    const drv = parseDerivation(text);
    return { file, drv, drvPath: derivationPath(drv) };
  } catch (e) {
    if (e instanceof DrvParseError) throw new CliError(`${file}: byte ${e.offset}: ${e.message}`, EXIT_BAD_INPUT);
    if (e instanceof NixError) throw new CliError(`${file}: ${e.message}`, EXIT_BAD_INPUT);
    throw e;
  }
}

/**
 * Input derivations are looked up among the files given on the command line first, then at their
 * store path on this machine (where Nix keeps them).
 */
function lookupFrom(loaded: LoadedDrv[]): (drvPath: string) => Derivation {
  const byPath = new Map(loaded.map((l) => [l.drvPath, l.drv]));
  return (drvPath: string): Derivation => {
    const known = byPath.get(drvPath);
    if (known) return known;
    let text: string;
    try {
      text = readFileSync(drvPath, 'utf8');
    } catch {
      throw new NixError('NOT_A_DERIVATION', `input derivation ${drvPath} is neither given nor readable in the store`);
    }
    const drv = parseDerivation(text);
    byPath.set(drvPath, drv);
    return drv;
  };
}

function emit(json: boolean, value: object, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${human()}\n`);
}

export function inspect(l: LoadedDrv, lookup: (p: string) => Derivation): object {
  const outputs: Record<string, { path: string | null; method?: string; hashAlgo?: string; hash?: string }> = {};
  for (const [name, out] of Object.entries(l.drv.outputs)) {
    const ca = outputContentAddressing(out);
    outputs[name] = { path: out.path === '' ? null : out.path, ...(ca ? { method: ca.method, hashAlgo: ca.hashAlgo } : {}), ...(ca?.hash ? { hash: ca.hash } : {}) };
  }
  let hashModulo: string | null = null;
  try {
    // Masked, as Nix's staticOutputHashes: the hash in realisation ids and in input-addressed output paths.
    const h = hashDerivationModulo(l.drv, lookup, { maskOutputs: true });
    hashModulo = Object.values(h.hashes)[0] ?? null;
  } catch (e) {
    if (!(e instanceof NixError)) throw e;
    process.stderr.write(`buildgraph: ${l.file}: hashModulo unknown: ${e.message}\n`);
  }
  return {
    drvPath: l.drvPath,
    name: derivationName(l.drv),
    system: l.drv.system,
    outputs,
    inputDrvs: l.drv.inputDrvs,
    inputSrcs: l.drv.inputSrcs,
    hashModulo,
  };
}

function parseRealisations(file: string): Record<string, string> {
  let value: unknown;
  try {
    value = JSON.parse(readText(file));
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`${file}: malformed JSON: ${(e as Error).message}`, EXIT_BAD_INPUT);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CliError(`${file}: must be a JSON object mapping "<drvPath>^<out>" to store paths`, EXIT_BAD_INPUT);
  }
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string' || !isStorePath(v)) throw new CliError(`${file}: ${k}: not a store path: ${JSON.stringify(v)}`, EXIT_BAD_INPUT);
  }
  return value as Record<string, string>;
}

function parseSerial(spec: string, acc: Record<string, number>): Record<string, number> {
  const eq = spec.lastIndexOf('=');
  const drvPath = spec.slice(0, eq);
  const n = Number(spec.slice(eq + 1));
  if (eq <= 0 || !isStorePath(drvPath) || !drvPath.endsWith('.drv') || !Number.isSafeInteger(n) || n < 0) {
    throw new CliError(`--serial ${spec}: expected <drvPath>=<non-negative integer>`, EXIT_BAD_INPUT);
  }
  return { ...acc, [drvPath]: n };
}

/** Runs `body`, turning Nix errors into clean one-line CLI errors. */
function nixErrorsAreBadInput<T>(what: string, body: () => T): T {
  try {
    return body();
  } catch (e) {
    if (e instanceof NixError) throw new CliError(`${what}: ${e.message}`, EXIT_BAD_INPUT);
    throw e;
  }
}

export function registerDrv(program: Command): void {
  const drv = program.command('drv').description('inspect, resolve and rewrite Nix derivations (.drv files), offline');

  drv
    .command('inspect')
    .description('print what a derivation is: its path recomputed from the text, outputs, inputs, hashDerivationModulo')
    .argument('<files...>', '.drv files')
    .option('--json', 'one JSON object per line')
    .action((files: string[], opts: { json?: boolean }) => {
      const loaded = files.map(loadDrv);
      const lookup = lookupFrom(loaded);
      for (const l of loaded) {
        const info = inspect(l, lookup) as { drvPath: string; name: string; system: string; outputs: Record<string, { path: string | null }>; hashModulo: string | null };
        emit(!!opts.json, info, () =>
          [
            `${info.drvPath}  (${info.name}, ${info.system})`,
            ...Object.entries(info.outputs).map(([n, o]) => `  ${n}: ${o.path ?? '(unknown until built)'}`),
            `  hashModulo: ${info.hashModulo ?? 'unknown'}`,
          ].join('\n'),
        );
      }
    });

  drv
    .command('resolve')
    .description("resolve a derivation against its inputs' realisations, as Nix does before building a CA derivation")
    .argument('<file>', '.drv file')
    .requiredOption('--realisations <file>', 'JSON mapping "<drvPath>^<out>" to store paths')
    .option('--json', 'one JSON object per line')
    .action((file: string, opts: { realisations: string; json?: boolean }) => {
      const l = loadDrv(file);
      const realisations = parseRealisations(opts.realisations);
      const resolved = nixErrorsAreBadInput(file, () => resolveDerivation(l.drv, realisations, lookupFrom([l])));
      const aterm = printDerivation(resolved.drv);
      emit(!!opts.json, { drvPath: resolved.drvPath, aterm }, () => `${resolved.drvPath}\n${aterm}`);
    });

  drv
    .command('rewrite')
    .description('add buildgraphSerial to poisoned derivations and rewrite everything downstream, as Nix would')
    .argument('<files...>', 'the .drv files of the graph')
    .requiredOption('--serial <drvPath=n>', 'a poisoned derivation and its serial (repeatable)', parseSerial, {} as Record<string, number>)
    .option('--json', 'one JSON object per line')
    .action((files: string[], opts: { serial: Record<string, number>; json?: boolean }) => {
      const loaded = files.map(loadDrv);
      const graph: Record<string, Derivation> = {};
      for (const l of loaded) graph[l.drvPath] = l.drv;
      for (const p of Object.keys(opts.serial)) {
        if (!graph[p]) throw new CliError(`--serial ${p}: not among the given derivations`, EXIT_BAD_INPUT);
      }
      const changed = nixErrorsAreBadInput('rewrite', () => rewriteWithSerials(graph, opts.serial));
      for (const [from, c] of Object.entries(changed)) {
        emit(!!opts.json, { from, to: c.drvPath, aterm: c.aterm }, () => `${from} -> ${c.drvPath}`);
      }
    });
}
