/**
 * The serial rewrite agrees with Nix 2.8: poisoning derivations with rewriteWithSerials gives exactly the
 * derivations Nix instantiates when the expressions add `buildgraphSerial = "<n>"` to them.
 */
import { Derivation } from '@buildgraph/nix';
import { rewriteWithSerials } from '@buildgraph/nix/rewrite';
import { expressionGraph, stores } from './vectors';

const cases = stores.flatMap((store) =>
  Object.entries(store.expressions).flatMap(([name, expr]) =>
    expr.serialVariants.map((variant) => [`${store.storeDir} ${name}: poisoning ${JSON.stringify(variant.serials)}`, name, variant, store] as const),
  ),
);

describe('poisoning derivations by serial, as Nix would with buildgraphSerial set', () => {
  it.each(cases)('%s changes exactly the derivations Nix changes, to the same .drv', (_title, name, variant, store) => {
    const expr = store.expressions[name];
    const graph: Record<string, Derivation> = expressionGraph(name, store);
    const serials = Object.fromEntries(Object.entries(variant.serials).map(([attr, n]) => [expr.attrs[attr], n]));

    const rewritten = rewriteWithSerials(graph, serials, { storeDir: store.storeDir });

    const expected: Record<string, string> = {};
    for (const [attr, before] of Object.entries(expr.attrs)) {
      if (variant.attrs[attr] !== before) expected[before] = variant.attrs[attr];
    }
    const actual = Object.fromEntries(Object.entries(rewritten).map(([before, r]) => [before, r.drvPath]));
    expect(actual).toEqual(expected);
    for (const r of Object.values(rewritten)) {
      expect(r.aterm).toBe(store.derivations[r.drvPath].aterm);
    }
  });
});
