import { TrustedKey } from '@buildgraph/contracts';
import { Worker } from 'node:worker_threads';

/**
 * ed25519 verification on worker threads, so it does not hold the event loop (it is the largest
 * single CPU cost of a command). Requests are batched per turn of the event loop and spread over the
 * workers; each worker keeps the trusted keys as KeyObjects.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const keys = new Map(workerData.keys.map(([name, raw]) => [name, createPublicKey({ key: Buffer.concat([SPKI, Buffer.from(raw)]), format: 'der', type: 'spki' })]));
parentPort.on('message', ({ id, items }) => {
  const results = items.map(([name, body, sig]) => {
    const key = keys.get(name);
    try { return !!key && sig.byteLength === 64 && verify(null, body, key, sig); } catch { return false; }
  });
  parentPort.postMessage({ id, results });
});
`;

type Item = [keyName: string, body: Uint8Array, signature: Uint8Array];

export class VerifyPool {
  private readonly workers: Worker[];
  private next = 0;
  private seq = 0;
  private readonly waiting = new Map<number, (results: boolean[]) => void>();
  private batch: { items: Item[]; resolvers: ((ok: boolean) => void)[] } | undefined;

  constructor(keys: TrustedKey[], threads: number) {
    const raw = keys.map((k) => [k.name, new Uint8Array(k.key)]);
    this.workers = Array.from({ length: threads }, () => {
      const w = new Worker(WORKER, { eval: true, workerData: { keys: raw } });
      w.unref();
      w.on('message', ({ id, results }: { id: number; results: boolean[] }) => {
        this.waiting.get(id)?.(results);
        this.waiting.delete(id);
      });
      return w;
    });
  }

  verify(keyName: string, body: Uint8Array | string, signature: Buffer): Promise<boolean> {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    if (!this.batch) {
      this.batch = { items: [], resolvers: [] };
      setImmediate(() => this.flush());
    }
    this.batch.items.push([keyName, bytes, signature]);
    return new Promise((resolve) => this.batch?.resolvers.push(resolve));
  }

  private flush(): void {
    const batch = this.batch;
    this.batch = undefined;
    if (!batch) return;
    const id = ++this.seq;
    this.waiting.set(id, (results) => batch.resolvers.forEach((r, i) => r(results[i] === true)));
    this.workers[this.next++ % this.workers.length].postMessage({ id, items: batch.items });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
