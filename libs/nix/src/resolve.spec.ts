import fc from 'fast-check';
import { downstreamPlaceholder, hashPlaceholder, NixError, printDerivation, resolveDerivation } from '@buildgraph/nix';
import { drv, lookup, vectors } from '../../../test/nix/vectors';

const ca = vectors.expressions.ca;
const resolutionOf = (attr: string) => vectors.resolutions[ca.attrs[attr]];

describe('resolveDerivation', () => {
  it('turns every input derivation into an input source and leaves no placeholder of an input behind', () => {
    const drvPath = ca.attrs['ca-top'];
    const { inputRealisations } = resolutionOf('ca-top');
    const resolved = resolveDerivation(drv(drvPath), inputRealisations, lookup).drv;

    expect(resolved.inputDrvs).toEqual({});
    const text = printDerivation(resolved);
    for (const [inputDrvPath, outputs] of Object.entries(drv(drvPath).inputDrvs)) {
      for (const out of outputs) {
        expect(resolved.inputSrcs).toContain(inputRealisations[`${inputDrvPath}^${out}`]);
        expect(text).not.toContain(downstreamPlaceholder(inputDrvPath, out));
      }
    }
  });

  it("keeps a content-addressed derivation's placeholder for its own output: that is known only once built", () => {
    const resolved = resolveDerivation(drv(ca.attrs['ca-env']), resolutionOf('ca-env').inputRealisations, lookup).drv;
    expect(resolved.env.self).toBe(hashPlaceholder('out'));
    expect(resolved.outputs.out.path).toBe('');
  });

  it('gives a deferred derivation its output paths, written to the environment too', () => {
    const resolved = resolveDerivation(drv(ca.attrs['deferred-top']), resolutionOf('deferred-top').inputRealisations, lookup).drv;
    for (const [name, out] of Object.entries(resolved.outputs)) {
      expect(out.path).not.toBe('');
      expect(resolved.env[name]).toBe(out.path);
    }
  });

  it('refuses to resolve when the realisation of a content-addressed input is missing, naming it', () => {
    const { inputRealisations } = resolutionOf('ca-mid');
    const missing = `${ca.attrs['ca-leaf']}^out`;
    const { [missing]: _dropped, ...rest } = inputRealisations;

    const attempt = () => resolveDerivation(drv(ca.attrs['ca-mid']), rest, lookup);
    expect(attempt).toThrow(NixError);
    expect(attempt).toThrow(missing);
    try {
      attempt();
    } catch (e) {
      expect((e as NixError).code).toBe('MISSING_REALISATION');
      expect((e as NixError).details).toEqual({ id: missing });
    }
  });

  it('refuses a realisation that is not a store path', () => {
    const realisations = { ...resolutionOf('ca-mid').inputRealisations, [`${ca.attrs['ca-leaf']}^out`]: '/tmp/not-in-the-store' };
    expect(() => resolveDerivation(drv(ca.attrs['ca-mid']), realisations, lookup)).toThrow(expect.objectContaining({ code: 'STORE_PATH' }));
  });

  it('resolves a resolved derivation to itself', () => {
    const { resolvedDrvPath } = resolutionOf('deferred');
    expect(resolveDerivation(drv(resolvedDrvPath), {}, lookup).drvPath).toBe(resolvedDrvPath);
  });

  it('leads a poisoned content-addressed input that rebuilds to the same content back to the same resolved derivation', () => {
    // Nix's own instantiation of ca-mid on top of ca-leaf with buildgraphSerial = "1": a new .drv ...
    const variant = ca.serialVariants.find((v) => JSON.stringify(v.serials) === '{"ca-leaf":1}');
    if (variant === undefined) throw new Error('the vectors lack the ca-leaf serial variant');
    const poisonedMid = variant.attrs['ca-mid'];
    expect(poisonedMid).not.toBe(ca.attrs['ca-mid']);

    // ... but if the poisoned ca-leaf builds to the same output, ca-mid resolves exactly as before
    const sameOutputs = Object.fromEntries(
      Object.entries(resolutionOf('ca-mid').inputRealisations).map(([id, path]) => [
        id === `${ca.attrs['ca-leaf']}^out` ? `${variant.attrs['ca-leaf']}^out` : id,
        path,
      ]),
    );
    expect(resolveDerivation(drv(poisonedMid), sameOutputs, lookup).drvPath).toBe(resolutionOf('ca-mid').resolvedDrvPath);
  });

  it('with any realisations left out, either resolves as Nix did or names a missing content-addressed one', () => {
    const cases = Object.entries(vectors.resolutions);
    const arbitrary = fc.constantFrom(...cases).chain(([drvPath, r]) =>
      fc.record({
        drvPath: fc.constant(drvPath),
        expected: fc.constant(r.resolvedDrvPath),
        given: fc.subarray(Object.keys(r.inputRealisations)).map((ids) => Object.fromEntries(ids.map((id) => [id, r.inputRealisations[id]]))),
        all: fc.constant(r.inputRealisations),
      }),
    );
    fc.assert(
      fc.property(arbitrary, ({ drvPath, expected, given, all }) => {
        const missingFloating = Object.keys(all).filter((id) => {
          const [input, out] = id.split('^');
          return !(id in given) && vectors.derivations[input].outputPaths[out] === null;
        });
        if (missingFloating.length === 0) {
          expect(resolveDerivation(drv(drvPath), given, lookup).drvPath).toBe(expected);
        } else {
          let error: unknown;
          try {
            resolveDerivation(drv(drvPath), given, lookup);
          } catch (e) {
            error = e;
          }
          expect(error).toBeInstanceOf(NixError);
          expect((error as NixError).code).toBe('MISSING_REALISATION');
          expect(missingFloating).toContain((error as NixError).details?.id);
        }
      }),
      { numRuns: 60 },
    );
  });
});
