/**
 * A real nats-server for tests and benchmarks: on a free port, with JetStream in a temporary
 * directory, stopped (and its directory removed) at the end. Suites using it wrap themselves in
 * `describeWith(['nats-server'], ...)`.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsServerOptions {
  /** JetStream on (default true) */
  jetstream?: boolean;
  /** max_payload in bytes (nats-server default 1 MiB) */
  maxPayload?: number;
  /** reuse a port, e.g. to restart the server in place */
  port?: number;
  /** reuse a JetStream directory across restarts */
  storeDir?: string;
}

export interface NatsServer {
  url: string;
  port: number;
  storeDir: string;
  /** the nats-server process (benchmarks read its CPU time) */
  pid: number;
  /** SIGTERM and wait for exit; keeps the store directory when `keepStore` */
  stop(keepStore?: boolean): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.connect(port, '127.0.0.1');
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  const port = opts.port ?? (await freePort());
  const dir = opts.storeDir ?? mkdtempSync(join(tmpdir(), 'bg-nats-'));
  const conf = join(dir, 'nats.conf');
  const lines = [`listen: 127.0.0.1:${port}`];
  if (opts.maxPayload) lines.push(`max_payload: ${opts.maxPayload}`);
  if (opts.jetstream !== false) lines.push(`jetstream { store_dir: ${JSON.stringify(join(dir, 'js'))} }`);
  writeFileSync(conf, lines.join('\n') + '\n');
  const child: ChildProcess = spawn('nats-server', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`nats-server exited: ${stderr}`);
      return canConnect(port);
    }, `nats-server on port ${port}`);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir: dir,
    pid: child.pid as number,
    async stop(keepStore = false) {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      if (!keepStore) rmSync(dir, { recursive: true, force: true });
    },
  };
}
