/**
 * Tests use real services (nats-server, nix). Locally a missing binary skips the suites that need it,
 * with a message; under CI=true it fails them, because a silent skip there would be a broken promise.
 */
import { execFileSync } from 'node:child_process';

export const inCI = process.env.CI === 'true' || process.env.CI === '1';

export function hasBinary(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * `describe` when the binaries are present; otherwise a failing suite under CI and a skipped one
 * locally (the README says why).
 */
export function describeWith(binaries: string[], title: string, body: () => void): void {
  const missing = binaries.filter((b) => !hasBinary(b));
  if (missing.length === 0) {
    describe(title, body);
  } else if (inCI) {
    describe(title, () => {
      it(`needs ${missing.join(', ')} (missing under CI)`, () => {
        throw new Error(`${missing.join(', ')} not installed; .ci/run must install it`);
      });
    });
  } else {
    process.stderr.write(`skipping "${title}": ${missing.join(', ')} not installed (apt-get install nats-server nix-bin)\n`);
    describe.skip(title, body);
  }
}
