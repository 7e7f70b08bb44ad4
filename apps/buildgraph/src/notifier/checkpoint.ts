import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** A position kept in a small file, replaced atomically (write + rename) so a crash leaves the old or the new one. */
export class FileCheckpoint {
  constructor(private readonly file: string) {}

  read(): bigint {
    try {
      const text = readFileSync(this.file, 'utf8').trim();
      return /^\d+$/.test(text) ? BigInt(text) : 0n;
    } catch {
      return 0n;
    }
  }

  write(position: bigint): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, `${position}\n`);
    renameSync(tmp, this.file);
  }
}
