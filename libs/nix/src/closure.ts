/**
 * Graph walks over a set of derivations: the order to rewrite them in, and the store paths one of them
 * needs before it can be built. See docs/nix-vectors.md for the exact meaning of the build closure.
 */
import { compareUtf8, Derivation } from './derivation';
import { NixError } from './errors';

/**
 * Every drvPath of `graph`, inputs before the derivations that use them; ties broken by path, so the order
 * is deterministic. Inputs outside the graph are treated as already present and skipped.
 * Throws NixError 'CYCLE' naming the derivations on the cycle.
 */
export function topologicalOrder(graph: Record<string, Derivation>): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  // Iterative depth-first search: real graphs are deep enough (bootstrap chains) to overflow recursion.
  for (const root of Object.keys(graph).sort(compareUtf8)) {
    if (state.has(root)) continue;
    const stack: { drvPath: string; inputs: string[]; next: number }[] = [];
    const enter = (drvPath: string) => {
      state.set(drvPath, 'visiting');
      stack.push({ drvPath, inputs: Object.keys(graph[drvPath].inputDrvs).sort(compareUtf8), next: 0 });
    };
    enter(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next < top.inputs.length) {
        const input = top.inputs[top.next++];
        if (!(input in graph)) continue;
        const s = state.get(input);
        if (s === 'visiting') {
          const cycle = [...stack.slice(stack.findIndex((f) => f.drvPath === input)).map((f) => f.drvPath), input];
          throw new NixError('CYCLE', `derivations depend on each other: ${cycle.join(' -> ')}`, { cycle });
        }
        if (s === undefined) enter(input);
      } else {
        stack.pop();
        state.set(top.drvPath, 'done');
        order.push(top.drvPath);
      }
    }
  }
  return order;
}

/**
 * The store paths that must be present to build `drvPath` from scratch: its input sources, the outputs it
 * uses of its input derivations, and the same for each of those input derivations, transitively (building
 * an input needs all of that input's own inputs, whichever of its outputs is used).
 *
 * An input's output path comes from `realisations` ("<drvPath>^<out>" -> store path) when given, else from
 * the input derivation itself; an output known only after a build (floating CA, deferred) with no
 * realisation throws NixError 'MISSING_REALISATION' naming it. The derivation's own outputs, .drv files,
 * and references between input sources (known only to a store) are not included. Sorted by path.
 */
export function buildClosure(drvPath: string, graph: Record<string, Derivation>, realisations: Record<string, string> = {}): string[] {
  const paths = new Set<string>();
  const seen = new Set<string>([drvPath]);
  const pending = [drvPath];
  while (pending.length > 0) {
    const current = pending.pop() as string;
    const drv = graph[current];
    if (drv === undefined) throw new NixError('NOT_A_DERIVATION', `derivation '${current}' is not in the graph`, { drvPath: current });
    for (const src of drv.inputSrcs) paths.add(src);
    for (const [inputDrvPath, outputNames] of Object.entries(drv.inputDrvs)) {
      const input = graph[inputDrvPath];
      if (input === undefined) {
        throw new NixError('NOT_A_DERIVATION', `input derivation '${inputDrvPath}' of '${current}' is not in the graph`, { drvPath: inputDrvPath });
      }
      for (const outputName of outputNames) paths.add(inputOutputPath(inputDrvPath, input, outputName, realisations));
      if (!seen.has(inputDrvPath)) {
        seen.add(inputDrvPath);
        pending.push(inputDrvPath);
      }
    }
  }
  return [...paths].sort(compareUtf8);
}

function inputOutputPath(drvPath: string, drv: Derivation, outputName: string, realisations: Record<string, string>): string {
  const id = `${drvPath}^${outputName}`;
  const realised = realisations[id];
  if (realised !== undefined) return realised;
  const output = drv.outputs[outputName];
  if (output === undefined) throw new NixError('INVALID_DERIVATION', `derivation '${drvPath}' has no output '${outputName}'`, { drvPath, outputName });
  if (output.path === '') throw new NixError('MISSING_REALISATION', `output '${id}' is known only once built: no realisation given`, { id });
  return output.path;
}
