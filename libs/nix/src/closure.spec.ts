import { Derivation, NixError } from '@buildgraph/nix';
import { buildClosure, topologicalOrder } from './closure';
import { drv, expressionGraph, graphOf, vectors } from '../../../test/nix/vectors';

const basic = vectors.expressions.basic;
const ca = vectors.expressions.ca;

/** The references of source paths, transitively: a store knows them, derivations do not. */
function withSourceReferences(paths: string[]): Set<string> {
  const all = new Set(paths);
  const pending = [...paths];
  while (pending.length > 0) {
    for (const ref of vectors.sources[pending.pop() as string]?.references ?? []) {
      if (!all.has(ref)) {
        all.add(ref);
        pending.push(ref);
      }
    }
  }
  return all;
}

describe('topologicalOrder', () => {
  it.each(Object.keys(vectors.expressions))('puts every input of %s.nix before the derivations that use it', (name) => {
    const graph = expressionGraph(name);
    const order = topologicalOrder(graph);
    expect([...order].sort()).toEqual(Object.keys(graph).sort());
    const position = new Map(order.map((p, i) => [p, i]));
    for (const [drvPath, d] of Object.entries(graph)) {
      for (const input of Object.keys(d.inputDrvs)) expect(position.get(input)).toBeLessThan(position.get(drvPath) as number);
    }
  });

  it('refuses a graph with a cycle, naming the derivations on it', () => {
    const leaf = basic.attrs.leaf;
    const usesDev = basic.attrs['uses-dev'];
    const graph: Record<string, Derivation> = {
      ...expressionGraph('basic'),
      [leaf]: { ...drv(leaf), inputDrvs: { [usesDev]: ['out'] } },
    };
    expect(() => topologicalOrder(graph)).toThrow(NixError);
    expect(() => topologicalOrder(graph)).toThrow(expect.objectContaining({ code: 'CYCLE', message: expect.stringContaining(leaf) }));
  });
});

describe('buildClosure', () => {
  it.each(Object.entries(basic.attrs))('%s: needs the outputs of every derivation in Nix’s closure of its .drv, and its sources', (_attr, drvPath) => {
    const nixClosure = basic.closures[_attr];
    const graph = graphOf(nixClosure);
    const closure = buildClosure(drvPath, graph);

    // every source Nix lists is needed, directly or as a reference of a needed source
    const needed = withSourceReferences(closure);
    for (const p of nixClosure.filter((p) => !p.endsWith('.drv'))) expect(needed).toContain(p);
    // and every derivation Nix lists, other than this one, contributes at least one output
    for (const input of Object.keys(graph).filter((p) => p !== drvPath)) {
      const outs = Object.values(drv(input).outputs).map((o) => o.path);
      expect(outs.some((o) => closure.includes(o))).toBe(true);
    }
    expect(closure).toEqual([...new Set(closure)].sort());
  });

  it('needs only the outputs a derivation uses of a multi-output input', () => {
    const multi = drv(basic.attrs.multi);
    const closure = buildClosure(basic.attrs['uses-dev'], expressionGraph('basic'));
    expect(closure).toContain(multi.outputs.dev.path);
    expect(closure).not.toContain(multi.outputs.out.path);
    expect(closure).not.toContain(multi.outputs.doc.path);
  });

  it('takes content-addressed outputs from the realisations, and names the first one missing', () => {
    const top = ca.attrs['ca-top'];
    const realisations = Object.fromEntries(Object.entries(vectors.realisations).map(([id, r]) => [id, r.outPath]));
    const closure = buildClosure(top, expressionGraph('ca'), realisations);
    expect(closure).toContain(realisations[`${ca.attrs['ca-leaf']}^out`]);
    expect(closure).toContain(realisations[`${ca.attrs['deferred-top']}^bin`]);

    expect(() => buildClosure(top, expressionGraph('ca'))).toThrow(expect.objectContaining({ code: 'MISSING_REALISATION' }));
  });

  it('is empty for a derivation with no inputs, and refuses one outside the graph', () => {
    expect(buildClosure(basic.attrs.leaf, expressionGraph('basic'))).toEqual([]);
    expect(() => buildClosure('/nix/store/00000000000000000000000000000000-x.drv', {})).toThrow(
      expect.objectContaining({ code: 'NOT_A_DERIVATION' }),
    );
  });
});
