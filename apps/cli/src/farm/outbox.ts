import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CommandName } from '@buildgraph/contracts';
import { CliError } from '../cli-error';

/**
 * The durable outbox: every report is written here (fsynced) before it is sent, and removed only once
 * the service has answered it. A report is identified by the sha256 of its command name and exact
 * body bytes; the same report enqueued twice (Nix running a hook twice, a retried wrapper) is kept
 * once, and one already delivered is not queued again. Several processes (concurrent hooks, a wrapper)
 * may share the file: SQLite's WAL and busy timeout serialise them.
 */
export interface QueuedReport {
  seq: number;
  key: string;
  command: CommandName;
  body: string;
  tries: number;
  /** which key signs it: the farm's (null) or the evaluator key registering derivations ('register') */
  signer: Signer | null;
}

export type Signer = 'register';

export interface RejectedReport {
  key: string;
  command: CommandName;
  body: string;
  code: string;
  message: string;
  rejectedAt: string;
}

/** How long the memory of delivered reports is kept (a hook re-run after this resends; the service answers it as a repeat). */
const DELIVERED_KEEP_DAYS = 30;

/**
 * 'power-loss': each enqueue is fsynced before it returns (the hook: Nix takes its exit 0 as "reported").
 * 'process-crash': commits survive the process dying but may be lost with the machine's power (the
 * wrapper, whose run would be lost with it anyway); much cheaper per report.
 */
export type Durability = 'power-loss' | 'process-crash';

export function reportKey(command: CommandName, body: string): string {
  return createHash('sha256').update(command).update('\n').update(body).digest('hex');
}

export class Outbox {
  private readonly db: Database.Database;

  private constructor(
    readonly file: string,
    private readonly durability: Durability,
  ) {
    this.db = new Database(file, { timeout: 10000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${durability === 'power-loss' ? 'FULL' : 'NORMAL'}`);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, command TEXT NOT NULL,
        body TEXT NOT NULL, enqueued_at TEXT NOT NULL, tries INTEGER NOT NULL DEFAULT 0, last_error TEXT, signer TEXT);
      CREATE TABLE IF NOT EXISTS delivered (key TEXT PRIMARY KEY, command TEXT NOT NULL, delivered_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS rejected (
        key TEXT PRIMARY KEY, command TEXT NOT NULL, body TEXT NOT NULL, code TEXT NOT NULL,
        message TEXT NOT NULL, rejected_at TEXT NOT NULL);
    `);
    // outboxes written before the signer column existed get it (all their reports are the farm's)
    const columns = this.db.prepare('PRAGMA table_info(outbox)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'signer')) this.db.exec('ALTER TABLE outbox ADD COLUMN signer TEXT');
    const cutoff = new Date(Date.now() - DELIVERED_KEEP_DAYS * 86400_000).toISOString();
    this.db.prepare('DELETE FROM delivered WHERE delivered_at < ?').run(cutoff);
  }

  /** Opens (creating) `<stateDir>/outbox.sqlite`; an unusable state dir is a clear error. */
  static open(stateDir: string, durability: Durability = 'power-loss'): Outbox {
    try {
      mkdirSync(stateDir, { recursive: true });
      return new Outbox(join(stateDir, 'outbox.sqlite'), durability);
    } catch (e) {
      throw new CliError(`cannot open the outbox in ${stateDir}: ${(e as Error).message}`);
    }
  }

  /**
   * Appends reports in one transaction, in the given order. Returns how many were new (not already
   * queued and not already delivered).
   */
  enqueue(reports: { command: CommandName; body: string; signer?: Signer }[]): number {
    const now = new Date().toISOString();
    const seen = this.db.prepare('SELECT 1 FROM delivered WHERE key = ?');
    const insert = this.db.prepare('INSERT OR IGNORE INTO outbox (key, command, body, enqueued_at, signer) VALUES (?, ?, ?, ?, ?)');
    return this.db.transaction(() => {
      let added = 0;
      for (const r of reports) {
        const key = reportKey(r.command, r.body);
        if (seen.get(key)) continue;
        added += insert.run(key, r.command, r.body, now, r.signer ?? null).changes;
      }
      return added;
    })();
  }

  /** The queue, oldest first. */
  pending(limit = 1000): QueuedReport[] {
    return this.db.prepare('SELECT seq, key, command, body, tries, signer FROM outbox ORDER BY seq LIMIT ?').all(limit) as QueuedReport[];
  }

  size(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
  }

  /**
   * Never fsynced on its own: losing a delivered mark in a power cut only means the report is sent
   * again, and the service answers a repeat with the original events.
   */
  markDelivered(keys: string[]): void {
    if (this.durability === 'power-loss') this.db.pragma('synchronous = NORMAL');
    try {
      const del = this.db.prepare('DELETE FROM outbox WHERE key = ? RETURNING command');
      const remember = this.db.prepare('INSERT OR REPLACE INTO delivered (key, command, delivered_at) VALUES (?, ?, ?)');
      const now = new Date().toISOString();
      this.db.transaction(() => {
        for (const key of keys) {
          const row = del.get(key) as { command: string } | undefined;
          if (row) remember.run(key, row.command, now);
        }
      })();
    } finally {
      if (this.durability === 'power-loss') this.db.pragma('synchronous = FULL');
    }
  }

  /** The service refused it for good (bad input, conflict, no permission): kept aside for an operator, out of the way of the queue. */
  markRejected(key: string, code: string, message: string): void {
    this.db.transaction(() => {
      const row = this.db.prepare('DELETE FROM outbox WHERE key = ? RETURNING command, body').get(key) as { command: string; body: string } | undefined;
      if (row) {
        this.db
          .prepare('INSERT OR REPLACE INTO rejected (key, command, body, code, message, rejected_at) VALUES (?, ?, ?, ?, ?, ?)')
          .run(key, row.command, row.body, code, message, new Date().toISOString());
      }
    })();
  }

  markTried(key: string, error: string): void {
    this.db.prepare('UPDATE outbox SET tries = tries + 1, last_error = ? WHERE key = ?').run(error.slice(0, 1000), key);
  }

  rejected(): RejectedReport[] {
    return this.db
      .prepare('SELECT key, command, body, code, message, rejected_at AS rejectedAt FROM rejected ORDER BY rejected_at')
      .all() as RejectedReport[];
  }

  close(): void {
    this.db.close();
  }
}
