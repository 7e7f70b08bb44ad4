import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { NixError } from './errors';
import { parseRealisationId, realisationIdFromHash, realisationIdFromPath } from './realisation';
import { makeTextPath } from './store-path';

const vectors = JSON.parse(readFileSync(join(__dirname, '../../../test/fixtures/nix/vectors.json'), 'utf8')) as {
  realisations: Record<string, { id: string }>;
};

describe('realisation ids', () => {
  it('parse back to what they were made from, in both forms', () => {
    const outputName = fc.constantFrom('out', 'dev', 'bin', 'lib-x');
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), outputName, (bytes, out) => {
        const hex = Buffer.from(bytes).toString('hex');
        expect(parseRealisationId(realisationIdFromHash(hex, out))).toEqual({ hashModulo: hex, outputName: out });
        const drvPath = makeTextPath('x.drv', hex, []);
        expect(parseRealisationId(realisationIdFromPath(drvPath, out))).toEqual({ drvPath, outputName: out });
      }),
      { numRuns: 50 },
    );
  });

  it('read every id Nix recorded in both forms', () => {
    const entries = Object.entries(vectors.realisations);
    expect(entries.length).toBeGreaterThan(0);
    for (const [byPath, { id }] of entries) {
      const a = parseRealisationId(byPath) as { drvPath: string; outputName: string };
      const b = parseRealisationId(id) as { hashModulo: string; outputName: string };
      expect(a.outputName).toBe(b.outputName);
      expect(realisationIdFromPath(a.drvPath, a.outputName)).toBe(byPath);
      expect(realisationIdFromHash(b.hashModulo, b.outputName)).toBe(id);
    }
  });

  it.each([
    ['', /expected/],
    ['sha256:abc!out', /64 lowercase hex/],
    [`sha256:${'a'.repeat(64)}!`, /no output name/],
    [`md5:${'a'.repeat(32)}!out`, /sha256/],
    ['/nix/store/x.drv^out', /too short/],
    [`${makeTextPath('x', '1'.repeat(64), [])}^out`, /not a \.drv/],
    [`${makeTextPath('x.drv', '1'.repeat(64), [])}^`, /no output name/],
  ])('refuses %j with a REALISATION_ID error', (id, why) => {
    expect(() => parseRealisationId(id)).toThrow(NixError);
    expect(() => parseRealisationId(id)).toThrow(why);
  });
});
