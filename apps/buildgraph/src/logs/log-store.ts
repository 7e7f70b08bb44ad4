import { Inject, Injectable } from '@nestjs/common';
import { LIMITS } from '@buildgraph/contracts';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { SERVICE_CONFIG, ServiceConfig } from '../config/config';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

export interface StoredLog {
  sha256: string;
  bytes: number;
  /** the last LIMITS.logTailBytes bytes, cut at a UTF-8 character boundary */
  tail: string;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** The last `max` bytes of a UTF-8 buffer, not starting in the middle of a character. */
export function utf8Tail(bytes: Buffer, max: number): string {
  let start = Math.max(0, bytes.length - max);
  while (start < bytes.length && (bytes[start] & 0xc0) === 0x80) start++;
  return bytes.subarray(start).toString('utf8');
}

/**
 * Build logs, content-addressed by the sha256 of their bytes, gzipped under `<dataDir>/logs/ab/<sha256>.gz`.
 * Written and fsynced before the event that names them is appended, so an event never points at a
 * missing log. The same log sent twice is stored once.
 */
@Injectable()
export class LogStore {
  private readonly dir: string;

  constructor(@Inject(SERVICE_CONFIG) config: ServiceConfig) {
    this.dir = join(config.BUILDGRAPH_DATA_DIR, 'logs');
  }

  private pathOf(sha256: string): string {
    return join(this.dir, sha256.slice(0, 2), `${sha256}.gz`);
  }

  async put(log: string): Promise<StoredLog> {
    const bytes = Buffer.from(log, 'utf8');
    if (bytes.length > LIMITS.logBytes) throw new Error(`log is ${bytes.length} bytes; the limit is ${LIMITS.logBytes}`);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const target = this.pathOf(sha256);
    const exists = await stat(target).then(
      () => true,
      () => false,
    );
    if (!exists) {
      await mkdir(join(this.dir, sha256.slice(0, 2)), { recursive: true });
      const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(await gzipAsync(bytes));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, target);
    }
    return { sha256, bytes: bytes.length, tail: utf8Tail(bytes, LIMITS.logTailBytes) };
  }

  /** The log's bytes, or undefined when no log with that hash is stored (or the hash is malformed). */
  async get(sha256: string): Promise<Buffer | undefined> {
    if (!SHA256.test(sha256)) return undefined;
    try {
      return await gunzipAsync(await readFile(this.pathOf(sha256)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }
}
