import { Derivation, downstreamPlaceholder, NixError } from '@buildgraph/nix';
import { rewriteWithSerials } from './rewrite';
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
});
