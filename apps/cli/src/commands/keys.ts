import { Command } from 'commander';
import { formatPublicKey, formatSecretKey, generateSecretKey, KeyFormatError, parseSecretKey } from '@buildgraph/contracts';
import { readFileSync, writeFileSync } from 'node:fs';
import { CliError, EXIT_BAD_INPUT } from '../cli-error';

/**
 * `buildgraph keys generate NAME`: an ed25519 key pair in Nix's format (the same bytes as
 * `nix key generate-secret --key-name NAME`). Trust the public half on the service with a line
 * `<role> <public key>` in BUILDGRAPH_TRUSTED_KEYS.
 */
export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('ed25519 signing keys in Nix\'s name:base64 format');
  keys
    .command('generate')
    .argument('<name>', 'key name, e.g. farm1-1 (Nix convention: <host>-<n>)')
    .option('--secret-file <path>', 'write the secret key here (mode 0600) and print only the public key')
    .description('make a key pair: prints the secret key (or writes it to --secret-file) and the public key')
    .action((name: string, opts: { secretFile?: string }) => {
      let secret;
      try {
        secret = generateSecretKey(name);
      } catch (e) {
        if (e instanceof KeyFormatError) throw new CliError(e.message, EXIT_BAD_INPUT);
        throw e;
      }
      if (opts.secretFile) {
        writeFileSync(opts.secretFile, formatSecretKey(secret) + '\n', { mode: 0o600, flag: 'wx' });
        process.stdout.write(formatPublicKey(secret) + '\n');
      } else {
        process.stdout.write(formatSecretKey(secret) + '\n');
        process.stderr.write(`public key: ${formatPublicKey(secret)}\n`);
      }
    });
  keys
    .command('public')
    .argument('[secret-file]', 'a secret key file (default: stdin)')
    .description('print the public key of a secret key (like nix key convert-secret-to-public)')
    .action((file?: string) => {
      const text = readFileSync(file ?? 0, 'utf8');
      try {
        process.stdout.write(formatPublicKey(parseSecretKey(text)) + '\n');
      } catch (e) {
        if (e instanceof KeyFormatError) throw new CliError(e.message, EXIT_BAD_INPUT);
        throw e;
      }
    });
}
