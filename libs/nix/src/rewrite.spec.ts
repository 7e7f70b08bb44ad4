import fc from 'fast-check';
import { Derivation, downstreamPlaceholder, NixError } from '@buildgraph/nix';
import { RewrittenDerivation, rewriteWithSerials } from './rewrite';
import { drv, expressionGraph, vectors } from '../../../test/nix/vectors';

const basic = vectors.expressions.basic;
const ca = vectors.expressions.ca;

describe('rewriteWithSerials', () => {
  it('changes nothing when nothing is poisoned', () => {
    expect(rewriteWithSerials(expressionGraph('basic'), {})).toEqual({});
  });

  it('keeps the output path of a poisoned fixed-output derivation, so its dependents keep theirs but get new .drv paths', () => {
    const fod = basic.attrs['fod-flat'];
    const dependent = basic.attrs['fod-dependent'];
    const rewritten = rewriteWithSerials(expressionGraph('basic'), { [fod]: 2 });

    expect(rewritten[fod].drv.outputs.out.path).toBe(drv(fod).outputs.out.path);
    expect(rewritten[fod].drv.env.buildgraphSerial).toBe('2');
    expect(rewritten[dependent].drvPath).not.toBe(dependent);
    expect(rewritten[dependent].drv.outputs).toEqual(drv(dependent).outputs);
    expect(Object.keys(rewritten[dependent].drv.inputDrvs)).toContain(rewritten[fod].drvPath);
  });

  it('gives an input-addressed dependent new output paths that embed the poisoned input’s new ones', () => {
    const leaf = basic.attrs.leaf;
    const usesDev = basic.attrs['uses-dev'];
    const rewritten = rewriteWithSerials(expressionGraph('basic'), { [leaf]: 1 });

    const newLeafOut = rewritten[leaf].drv.outputs.out.path;
    expect(newLeafOut).not.toBe(drv(leaf).outputs.out.path);
    expect(rewritten[usesDev].drv.args.join(' ')).toContain(newLeafOut);
    expect(rewritten[usesDev].drv.outputs.out.path).not.toBe(drv(usesDev).outputs.out.path);
  });

  it('names a poisoned content-addressed input in its dependents by the placeholder of its new .drv', () => {
    const leaf = ca.attrs['ca-leaf'];
    const mid = ca.attrs['ca-mid'];
    const rewritten = rewriteWithSerials(expressionGraph('ca'), { [leaf]: 1 });

    const text = rewritten[mid].aterm;
    expect(text).toContain(downstreamPlaceholder(rewritten[leaf].drvPath, 'out'));
    expect(text).not.toContain(downstreamPlaceholder(leaf, 'out'));
  });

  it('is idempotent: poisoning the rewritten derivation with the same serial changes nothing more', () => {
    const leaf = basic.attrs.leaf;
    const first = rewriteWithSerials(expressionGraph('basic'), { [leaf]: 1 });
    const graph: Record<string, Derivation> = { ...expressionGraph('basic') };
    for (const [old, r] of Object.entries(first)) {
      delete graph[old];
      graph[r.drvPath] = r.drv;
    }
    expect(rewriteWithSerials(graph, { [first[leaf].drvPath]: 1 })).toEqual({});
  });

  it('refuses a serial for a derivation outside the graph, and one that is not a non-negative integer', () => {
    const graph = expressionGraph('basic');
    expect(() => rewriteWithSerials(graph, { '/nix/store/00000000000000000000000000000000-x.drv': 1 })).toThrow(
      expect.objectContaining({ code: 'NOT_A_DERIVATION' }),
    );
    expect(() => rewriteWithSerials(graph, { [basic.attrs.leaf]: -1 })).toThrow(NixError);
    expect(() => rewriteWithSerials(graph, { [basic.attrs.leaf]: 1.5 })).toThrow(expect.objectContaining({ code: 'INVALID_SERIAL' }));
  });

  describe('laws, over random poisonings of the vector graphs', () => {
    const graphs = { basic: expressionGraph('basic'), ca: expressionGraph('ca') };
    const poisoning = fc.constantFrom<keyof typeof graphs>('basic', 'ca').chain((name) =>
      fc.record({
        name: fc.constant(name),
        serials: fc.dictionary(fc.constantFrom(...Object.keys(graphs[name])), fc.nat(1000), { minKeys: 1, maxKeys: 4 }),
      }),
    );

    function apply(graph: Record<string, Derivation>, changed: Record<string, RewrittenDerivation>): Record<string, Derivation> {
      const next = { ...graph };
      for (const [old, r] of Object.entries(changed)) {
        delete next[old];
        next[r.drvPath] = r.drv;
      }
      return next;
    }

    it('changes exactly the poisoned derivations and everything built on top of them', () => {
      fc.assert(
        fc.property(poisoning, ({ name, serials }) => {
          const graph = graphs[name];
          const downstream = new Set(Object.keys(serials));
          let grew = true;
          while (grew) {
            grew = false;
            for (const [p, d] of Object.entries(graph)) {
              if (!downstream.has(p) && Object.keys(d.inputDrvs).some((i) => downstream.has(i))) {
                downstream.add(p);
                grew = true;
              }
            }
          }
          expect(Object.keys(rewriteWithSerials(graph, serials)).sort()).toEqual([...downstream].sort());
        }),
        { numRuns: 25 },
      );
    });

    it('gives the same graph whether serials are applied at once or one after the other', () => {
      fc.assert(
        fc.property(poisoning, ({ name, serials }) => {
          const graph = graphs[name];
          const atOnce = apply(graph, rewriteWithSerials(graph, serials));
          let stepwise = graph;
          let renamed: Record<string, string> = {};
          for (const [drvPath, serial] of Object.entries(serials)) {
            const current = renamed[drvPath] ?? drvPath;
            const step = rewriteWithSerials(stepwise, { [current]: serial });
            renamed = Object.fromEntries(
              Object.keys(graph).map((p) => [p, step[renamed[p] ?? p]?.drvPath ?? renamed[p] ?? p]),
            );
            stepwise = apply(stepwise, step);
          }
          expect(Object.keys(stepwise).sort()).toEqual(Object.keys(atOnce).sort());
        }),
        { numRuns: 25 },
      );
    });
  });
});
