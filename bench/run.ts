/**
 * `npm run bench -- SUITE [--quick]`: runs bench/suites/SUITE.ts and writes bench/results/SUITE.json
 * as {suite, quick, machine, metrics, limits, ratios}. Each suite measures, in the same run, the raw
 * limit beneath it and reports the ratio, because these machines are noisy.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BenchResult, BenchSuite } from './harness';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const available = readdirSync(join(__dirname, 'suites'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.replace(/\.ts$/, ''))
    .sort();
  const names = args.filter((a) => !a.startsWith('--'));
  if (names.length === 0) {
    process.stderr.write(`usage: npm run bench -- SUITE [--quick]\nsuites: ${available.join(', ')}\n`);
    process.exit(2);
  }
  for (const name of names) {
    if (!available.includes(name)) {
      process.stderr.write(`unknown suite '${name}'; suites: ${available.join(', ')}\n`);
      process.exit(2);
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const suite = require(join(__dirname, 'suites', name)) as { default: BenchSuite };
    const started = Date.now();
    const result: BenchResult = await suite.default({ quick });
    const out = {
      suite: name,
      quick,
      date: new Date().toISOString(),
      seconds: Math.round((Date.now() - started) / 100) / 10,
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
      ...result,
    };
    mkdirSync(join(__dirname, 'results'), { recursive: true });
    writeFileSync(join(__dirname, 'results', `${name}.json`), JSON.stringify(out, null, 2) + '\n');
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
