import type { Logger } from '@nestjs/common';
import { Worker } from 'node:worker_threads';
import type { MetricsService } from '../metrics/metrics.service';

/**
 * Loads a module in a worker thread and calls one of its exports with (data, parentPort): the compiled
 * .js in production, the .ts source under swc (the bench, `npm run start:dev`, Jest), whose register
 * hook the thread needs too.
 */
const BOOT = `
const { parentPort, workerData } = require('node:worker_threads');
if (workerData.module.endsWith('.ts')) require('@swc-node/register');
require(workerData.module)[workerData.entry](workerData.data, parentPort);
`;

export function startThread(module: string, entry: string, data: unknown): Worker {
  return new Worker(BOOT, { eval: true, workerData: { module, entry, data } });
}

/** A log line a thread asks the service to write (threads have no Nest logger of their own). */
export interface ThreadLog {
  type: 'log';
  level: 'log' | 'warn' | 'error';
  message: string;
  details?: Record<string, unknown>;
}

/** What every supervised thread says besides its own messages. */
export type LifecycleMessage = { type: 'ready' } | { type: 'failed'; message: string } | { type: 'stopped' };

/** What /health shows of a supervised thread. */
export interface ThreadStatus {
  readonly up: boolean;
  readonly restarts: number;
}

export interface SupervisedThreadOptions<M extends { type: string }> {
  /** for log lines and the `thread` label of the metrics: 'projections', 'notifier' */
  name: string;
  module: string;
  entry: string;
  data: unknown;
  /** the thread's own messages (not ready/failed/stopped, and not log lines, which go to `log`) */
  onMessage?(m: M): void;
  log: Pick<Logger, 'log' | 'warn' | 'error'>;
  metrics: Pick<MetricsService, 'threadUp' | 'threadRestarts'>;
  /** first restart delay, doubled each time up to maxBackoffMs; reset once a thread has stayed up a minute */
  backoffMs?: number;
  maxBackoffMs?: number;
}

/**
 * A worker thread that is restarted when it dies. A failure before the first `ready` is a start-up
 * failure and rejects `start()` (a bad setting stops the service). After that, an exit, an error or a
 * `failed` message (its work stopped on a store or NATS error it cannot get past) is logged and the
 * thread is started again after a backoff, resuming from its own checkpoint; nothing is lost because
 * every thread re-reads the log from its checkpoint.
 */
export class SupervisedThread<M extends { type: string }> implements ThreadStatus {
  private worker?: Worker;
  private stopping = false;
  private delay: number;
  private upSince = 0;
  private restartTimer?: NodeJS.Timeout;
  private exited: Promise<void> = Promise.resolve();
  up = false;
  restarts = 0;

  constructor(private readonly opts: SupervisedThreadOptions<M>) {
    this.delay = opts.backoffMs ?? 500;
  }

  /** Starts the thread; resolves when it says ready, rejects if it fails first. */
  start(): Promise<void> {
    return this.launch(true);
  }

  /** The running thread (tests use it to kill the thread as a crash would). */
  get thread(): Worker | undefined {
    return this.worker;
  }

  private launch(first: boolean): Promise<void> {
    const worker = startThread(this.opts.module, this.opts.entry, this.opts.data);
    this.worker = worker;
    let ready = false;
    let down = false;
    this.exited = new Promise((r) => worker.once('exit', () => r()));
    return new Promise<void>((resolve, reject) => {
      const fail = (reason: string, err?: unknown): void => {
        if (down) return;
        down = true;
        if (!ready) {
          void worker.terminate();
          if (first) return reject(err instanceof Error ? err : new Error(`${this.opts.name}: ${reason}`));
        }
        this.markDown();
        if (this.stopping) return;
        this.opts.log.error({ err }, `${this.opts.name} thread went down (${reason}); restarting it in ${this.delay} ms`);
        void worker.terminate();
        this.scheduleRestart();
        resolve(); // a restart's promise settles either way: the supervisor retries
      };
      worker.on('message', (m: M | LifecycleMessage) => {
        if (m.type === 'ready') {
          ready = true;
          this.up = true;
          this.upSince = Date.now();
          this.opts.metrics.threadUp.set({ thread: this.opts.name }, 1);
          if (!first) this.opts.log.log(`${this.opts.name} thread is back`);
          resolve();
        } else if (m.type === 'failed') fail((m as { message: string }).message);
        else if (m.type === 'log') {
          const line = m as unknown as ThreadLog;
          this.opts.log[line.level]({ ...line.details }, line.message);
        } else if (m.type !== 'stopped') this.opts.onMessage?.(m as M);
      });
      worker.once('error', (e) => fail(e.message, e));
      worker.once('exit', (code) => fail(`exited with ${code}`));
    });
  }

  private markDown(): void {
    if (!this.up) return;
    this.up = false;
    this.opts.metrics.threadUp.set({ thread: this.opts.name }, 0);
  }

  private scheduleRestart(): void {
    // a thread that had stayed up for a minute starts again from the shortest delay
    if (this.upSince && Date.now() - this.upSince > 60_000) this.delay = this.opts.backoffMs ?? 500;
    const delay = this.delay;
    this.delay = Math.min(this.delay * 2, this.opts.maxBackoffMs ?? 30_000);
    this.restartTimer = setTimeout(() => {
      if (this.stopping) return;
      this.restarts++;
      this.opts.metrics.threadRestarts.inc({ thread: this.opts.name });
      void this.launch(false);
    }, delay);
    this.restartTimer.unref();
  }

  /** Asks the thread to stop (it finishes its batch and checkpoints), terminating it after `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) return;
    worker.postMessage({ type: 'stop' });
    const late = setTimeout(() => void worker.terminate(), graceMs);
    await this.exited;
    clearTimeout(late);
  }
}
