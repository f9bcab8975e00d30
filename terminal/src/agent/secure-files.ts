/**
 * Small durable-file helpers for the terminal's data directory: atomic replace (temp file,
 * fsync, rename, fsync of the directory) with owner-only permissions, and a 0700 directory.
 */
import { promises as fsp } from 'node:fs';

/** Creates `dir` (and parents) and forces mode 0700 on it. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  await fsp.chmod(dir, 0o700);
}

/** The durable-replace helpers, defined once in `fs/atomic.ts`. */
export { fsyncDir, writeFileAtomic } from '../fs/atomic.ts';
