import { Command } from 'commander';
import { COMMANDS, commandSubject, isCommandName, parseSecretKey, signBody, SIGNATURE_HEADER } from '@buildgraph/contracts';
import { connect, headers } from 'nats';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliError, EXIT_BAD_INPUT } from '../cli-error';

/**
 * The secret key the CLI signs with: --key, else BUILDGRAPH_SECRET_KEY, else the local operator key the
 * service created on first start in its data dir (BUILDGRAPH_DATA_DIR or ./data).
 */
export function secretKeyFile(explicit?: string): string {
  const file =
    explicit ?? process.env.BUILDGRAPH_SECRET_KEY ?? join(resolve(process.env.BUILDGRAPH_DATA_DIR ?? './data'), 'keys', 'local-operator.secret');
  if (!existsSync(file)) {
    throw new CliError(`no signing key at ${file}: start the service once (it creates a local operator key), or pass --key FILE`, EXIT_BAD_INPUT);
  }
  return file;
}

export interface SendOptions {
  key?: string;
  url?: string;
  nats?: string;
}

/** Signs and sends one command over HTTP (default) or NATS; returns the reply object. */
export async function sendCommand(name: string, body: string, opts: SendOptions): Promise<Record<string, unknown>> {
  if (!isCommandName(name)) throw new CliError(`unknown command ${name}; commands are ${COMMANDS.join(', ')}`, EXIT_BAD_INPUT);
  const secret = parseSecretKey(readFileSync(secretKeyFile(opts.key), 'utf8'));
  const signature = signBody(secret, body);
  const natsUrl = opts.nats ?? (opts.url ? undefined : process.env.BUILDGRAPH_NATS_URL);
  if (natsUrl) {
    const nc = await connect({ servers: natsUrl.split(',') });
    try {
      const h = headers();
      h.set(SIGNATURE_HEADER, signature);
      const msg = await nc.request(commandSubject(name), Buffer.from(body), { timeout: 10000, headers: h });
      return JSON.parse(Buffer.from(msg.data).toString('utf8')) as Record<string, unknown>;
    } finally {
      await nc.close();
    }
  }
  const base = opts.url ?? process.env.BUILDGRAPH_URL ?? 'http://127.0.0.1:8080';
  const res = await fetch(`${base.replace(/\/$/, '')}/v1/${name}`, { method: 'POST', headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature }, body });
  return (await res.json()) as Record<string, unknown>;
}

/** `buildgraph report COMMAND [BODY|-]`: send any wire command, signed, and print the reply. */
export function registerReport(program: Command): void {
  program
    .command('report')
    .argument('<command>', `one of ${COMMANDS.join(', ')}`)
    .argument('[body]', 'the JSON body, or - for stdin', '-')
    .option('--key <file>', 'secret key to sign with (default: BUILDGRAPH_SECRET_KEY or the local operator key)')
    .option('--url <url>', 'service HTTP URL (default BUILDGRAPH_URL or http://127.0.0.1:8080)')
    .option('--nats <url>', 'send over NATS instead (default BUILDGRAPH_NATS_URL when set)')
    .description('send a signed command (same body as the NATS subject buildgraph.v1.<command>) and print the reply')
    .action(async (name: string, bodyArg: string, opts: SendOptions) => {
      const body = bodyArg === '-' ? readFileSync(0, 'utf8') : bodyArg;
      const reply = await sendCommand(name, body, opts);
      process.stdout.write(JSON.stringify(reply) + '\n');
      if (reply.ok !== true) process.exitCode = 1;
    });
}
