import { Command } from 'commander';
import { commandSubject, CommandName, parseSecretKey, querySubject, QueryName, signBody, SIGNATURE_HEADER } from '@buildgraph/contracts';
import { isStorePath } from '@buildgraph/nix';
import { connect, headers, NatsError } from 'nats';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliError, EXIT_BAD_INPUT } from '../cli-error';

/**
 * The operator's side of the wire, shared by `report`, `poison`, `clear-failure`, `status` and
 * `should-build`: one signed command or one query, over HTTP (default) or NATS, and its reply.
 */

/** How long one request may take before the CLI gives up (the service replies after a durable append). */
const TIMEOUT_MS = 10000;

export interface SendOptions {
  key?: string;
  url?: string;
  nats?: string;
}

export type Reply = Record<string, unknown> & { ok?: unknown; error?: { code?: string; message?: string } };

/** Adds --url and --nats (and --key for commands) to a subcommand, with the same defaults everywhere. */
export function withServiceOptions(cmd: Command, signed: boolean): Command {
  if (signed) cmd.option('--key <file>', 'secret key to sign with (default: BUILDGRAPH_SECRET_KEY or the local operator key)');
  return cmd
    .option('--url <url>', 'service HTTP URL (default BUILDGRAPH_URL or http://127.0.0.1:8080)')
    .option('--nats <url>', 'use NATS instead (default BUILDGRAPH_NATS_URL when set)');
}

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

/** A .drv store path given on the command line, or exit 2 saying what is wrong with it. */
export function drvPathArg(value: string): { drvPath: string; hashPart: string } {
  if (!isStorePath(value) || !value.endsWith('.drv')) {
    throw new CliError(`not a .drv store path: ${JSON.stringify(value.slice(0, 200))} (expected /nix/store/<hash>-<name>.drv)`, EXIT_BAD_INPUT);
  }
  const base = value.slice(value.lastIndexOf('/') + 1);
  return { drvPath: value, hashPart: base.slice(0, 32) };
}

function natsUrlOf(opts: SendOptions): string | undefined {
  return opts.nats ?? (opts.url ? undefined : process.env.BUILDGRAPH_NATS_URL);
}

function httpBaseOf(opts: SendOptions): string {
  return (opts.url ?? process.env.BUILDGRAPH_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
}

function parseReply(text: string, where: string): Reply {
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Reply;
  } catch {
    /* falls through */
  }
  throw new CliError(`${where} answered something that is not a wire reply: ${text.slice(0, 200)}`);
}

async function natsRequest(url: string, subject: string, body: string, signature?: string): Promise<Reply> {
  const nc = await connect({ servers: url.split(','), timeout: TIMEOUT_MS, reconnect: false }).catch((e: Error) => {
    throw new CliError(`cannot connect to NATS at ${url}: ${e.message}`);
  });
  try {
    const h = headers();
    if (signature) h.set(SIGNATURE_HEADER, signature);
    const msg = await nc.request(subject, Buffer.from(body), { timeout: TIMEOUT_MS, headers: h }).catch((e: Error) => {
      const noService = e instanceof NatsError && e.code === '503';
      throw new CliError(noService ? `no buildgraph service is listening on ${url}` : `${subject}: ${e.message}`);
    });
    return parseReply(Buffer.from(msg.data).toString('utf8'), subject);
  } finally {
    await nc.close();
  }
}

async function httpRequest(url: string, init: RequestInit): Promise<Reply> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (e) {
    // undici hides the socket error in `cause` (an AggregateError when several addresses were tried)
    const cause = (e as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }).cause;
    throw new CliError(`cannot reach the service at ${url}: ${cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? (e as Error).message}`);
  }
  return parseReply(await res.text(), url);
}

/** Signs `body` and sends it as command `name`; returns the reply object. */
export async function sendCommand(name: CommandName, body: string, opts: SendOptions): Promise<Reply> {
  const secret = parseSecretKey(readFileSync(secretKeyFile(opts.key), 'utf8'));
  const signature = signBody(secret, body);
  const natsUrl = natsUrlOf(opts);
  if (natsUrl) return natsRequest(natsUrl, commandSubject(name), body, signature);
  return httpRequest(`${httpBaseOf(opts)}/v1/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature },
    body,
  });
}

/** HTTP routes of the queries the CLI asks (NATS takes the params as the JSON body). */
function queryRoute(name: 'drv' | 'should-build', params: { hashPart: string; force?: boolean }): string {
  const drv = `/v1/drvs/${params.hashPart}`;
  return name === 'drv' ? drv : `${drv}/should-build${params.force ? '?force=true' : ''}`;
}

/** Asks query `name` about one derivation. Queries are not signed. */
export async function sendQuery(name: Extract<QueryName, 'drv' | 'should-build'>, params: { hashPart: string; force?: boolean }, opts: SendOptions): Promise<Reply> {
  const natsUrl = natsUrlOf(opts);
  if (natsUrl) return natsRequest(natsUrl, querySubject(name), JSON.stringify(params));
  return httpRequest(`${httpBaseOf(opts)}${queryRoute(name, params)}`, { method: 'GET' });
}

/** `CODE: message` of a refusal, as the CLI prints it. */
export function describeError(reply: Reply): string {
  return `${reply.error?.code ?? 'UNKNOWN'}: ${reply.error?.message ?? JSON.stringify(reply).slice(0, 200)}`;
}
