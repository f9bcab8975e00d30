/**
 * The terminal's one durable-replace helper: the new content goes to a temporary file in the same
 * directory (created exclusively, so never through a planted link), is written, given its mode
 * and fsync'd, then renamed over the target and the directory fsync'd, so after a crash the target
 * holds either the old or the new content, never a mix, and the rename itself survives. On any
 * failure the temporary file is removed and the target is untouched.
 */
import { promises as fsp, constants as fsc } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** fsyncs a directory so a rename or create inside it is durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, fsc.O_RDONLY);
  try { await fh.sync(); } finally { await fh.close(); }
}

/**
 * Atomically and durably replaces `path` with `data` (temp file, write, chmod, fsync, rename,
 * directory fsync). `mode` defaults to owner-only 0600 and is applied whatever the umask.
 * Throws the file-system error; the temporary file is gone by then.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await fsp.open(tmp, 'wx', mode);
  try {
    try {
      await fh.writeFile(data);
      await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, path);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dir);
}

/** True when `name` is a temporary file {@link writeFileAtomic} made for a target named `target`. */
export function isAtomicTempFor(target: string, name: string): boolean {
  return name.startsWith(`.${target}.`) && /^\.[^/]+\.[0-9a-f]{8}\.tmp$/.test(name) && name.length === target.length + 14;
}

/** Removes temporary files a crash left behind while replacing `path` (none exist in normal runs). */
export async function removeAtomicTemps(path: string): Promise<void> {
  const dir = dirname(path);
  const target = basename(path);
  for (const name of await fsp.readdir(dir)) {
    if (isAtomicTempFor(target, name)) await fsp.rm(join(dir, name), { force: true });
  }
}
