#!/usr/bin/env node
/*
 * The project's test command (`npm test`): type check, lint, then every Jest suite, and a closing line
 * "tests: N passed, N failed, N skipped" that CI reads. Under CI=true, suites that need nats-server or nix
 * fail when those are missing (see test/support/env.ts); locally they are skipped with a message.
 */
const { spawnSync } = require('node:child_process');
const { readFileSync, mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  return r.status ?? 1;
}

const extra = process.argv.slice(2);
if (run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']) !== 0) {
  console.error('typecheck failed');
  console.log('tests: 0 passed, 1 failed');
  process.exit(1);
}
if (run('npx', ['eslint', '.']) !== 0) {
  console.error('lint failed');
  console.log('tests: 0 passed, 1 failed');
  process.exit(1);
}
const out = join(mkdtempSync(join(tmpdir(), 'bg-jest-')), 'results.json');
const status = run('npx', ['jest', '--json', `--outputFile=${out}`, ...extra]);
let summary = null;
try {
  summary = JSON.parse(readFileSync(out, 'utf8'));
} catch {
  /* jest crashed before writing results; status says so */
}
if (summary) {
  const failed = summary.numFailedTests + (summary.numRuntimeErrorTestSuites || 0);
  console.log(`tests: ${summary.numPassedTests} passed, ${failed} failed, ${summary.numPendingTests} skipped`);
  if (summary.numPassedTests === 0) process.exit(1);
}
process.exit(status);
