/**
 * Crash safety, part of the contract: a child process (crash-child.ts) appends 3-event batches and
 * prints an ack only after each append resolved; it is SIGKILLed after some acks. After reopening,
 * every acknowledged event is present and every batch is whole (no partial append).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { EventStore } from '@buildgraph/eventstore';

export function crashSafety(crashUrl: () => string, openUrl: (url: string) => Promise<EventStore>): void {
  it('keeps every acknowledged event and no partial append when the writer is killed with SIGKILL', async () => {
    const url = crashUrl();
    const crashStream = `group-crash-${randomUUID().slice(0, 8)}`;
    const acked = await runUntilKilled(url, crashStream, 40);
    const reopened = await openUrl(url);
    try {
      const events = await reopened.readStream(crashStream);
      const ids = new Set(events.map((e) => e.id));
      expect(acked.flatMap((a) => a.ids).filter((id) => !ids.has(id))).toEqual([]);
      // All-or-nothing per append: 3 events per batch, parts 0..2, revisions dense.
      expect(events.length % 3).toBe(0);
      events.forEach((e, i) => {
        expect(e.revision).toBe(BigInt(i));
        expect(e.data).toMatchObject({ batch: Math.floor(i / 3), part: i % 3 });
      });
      expect(events.length).toBeGreaterThanOrEqual(acked.length * 3);
    } finally {
      await reopened.close();
    }
  });
}

/** Spawns crash-child.ts, records its acks, and SIGKILLs it once `acks` appends were acknowledged. */
async function runUntilKilled(url: string, stream: string, acks: number): Promise<{ revision: bigint; ids: string[] }[]> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', join(__dirname, 'crash-child.ts'), url, stream], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const acked: { revision: bigint; ids: string[] }[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  for await (const line of createInterface({ input: child.stdout })) {
    const [word, revision, ids] = line.split(' ');
    if (word !== 'ack') continue;
    acked.push({ revision: BigInt(revision), ids: ids.split(',') });
    if (acked.length === acks) child.kill('SIGKILL');
  }
  const how = await exited;
  if (how !== 'SIGKILL') throw new Error(`crash child ended with ${String(how)} before being killed: ${stderr}`);
  return acked;
}
