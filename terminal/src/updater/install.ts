/**
 * The side-by-side (A/B) install layout under the terminal's install root, and its markers:
 *
 *   releases/<version>/   one directory per installed release
 *   current  → releases/<v>   the release the service starts (switched atomically by rename)
 *   previous → releases/<v>   the release to fall back to
 *   pending.json             an update switched in but not yet confirmed healthy
 *   boot-attempts            starts of the pending release so far (pre-start counts them)
 *   rollback-requested       an operator asked for a rollback
 *   result.json              the outcome of the last update, until the agent reported it
 *
 * deploy/systemd/onecard-terminal-rollback implements {@link preStart} in sh with the same
 * files, so a broken release cannot break its own rollback.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readlink, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TerminalError } from '../errors.ts';
import { writeFileAtomic } from '../fs/atomic.ts';

export interface PendingUpdate {
  readonly jobId: string | null;
  readonly from: string | null;
  readonly to: string;
  readonly at: number;
}

export interface UpdateResult {
  readonly status: 'succeeded' | 'rolled-back';
  readonly reason: string;
  readonly pending: PendingUpdate;
}

export const RELEASES = 'releases';

/** Version directory name check (semver characters only). */
function releaseDir(root: string, version: string): string {
  if (!/^[0-9A-Za-z.+-]{1,64}$/.test(version) || version.startsWith('.')) throw new TerminalError('TERM_ERR_UPDATE_STATE', 'bad version for a release directory');
  return join(root, RELEASES, version);
}

export { releaseDir as releasePath };

async function readLinkVersion(root: string, name: 'current' | 'previous'): Promise<string | null> {
  try {
    const target = await readlink(join(root, name));
    const m = /^releases\/([^/]+)\/?$/.exec(target);
    return m === null ? null : m[1]!;
  } catch {
    return null;
  }
}

/** Version `current` points at, or null. */
export function currentVersion(root: string): Promise<string | null> {
  return readLinkVersion(root, 'current');
}

/** Version `previous` points at, or null. */
export function previousVersion(root: string): Promise<string | null> {
  return readLinkVersion(root, 'previous');
}

/** Points `name` at `releases/<version>` atomically (new link, then rename over the old one). */
export async function pointAt(root: string, name: 'current' | 'previous', version: string): Promise<void> {
  releaseDir(root, version);
  const tmp = join(root, `.${name}.${randomBytes(4).toString('hex')}`);
  await symlink(`${RELEASES}/${version}`, tmp);
  await rename(tmp, join(root, name));
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export const readPending = (root: string) => readJson<PendingUpdate>(join(root, 'pending.json'));
export const readResult = (root: string) => readJson<UpdateResult>(join(root, 'result.json'));

/** Durable replace (temp file, fsync, rename, directory fsync), readable by the rollback unit. */
const writeAtomic = (path: string, text: string): Promise<void> => writeFileAtomic(path, text, 0o644);

/** Clears the reported outcome (after the agent delivered it). */
export async function clearResult(root: string): Promise<void> {
  await rm(join(root, 'result.json'), { force: true });
}

/**
 * Switches `current` to `to` and `previous` to the old current, recording the pending update.
 * @throws TerminalError `TERM_ERR_UPDATE_STATE` when an update is already pending
 */
export async function switchTo(root: string, to: string, jobId: string | null, now: number): Promise<PendingUpdate> {
  if (await readPending(root) !== undefined) throw new TerminalError('TERM_ERR_UPDATE_STATE', 'an update is already pending');
  const from = await currentVersion(root);
  const pending: PendingUpdate = { jobId, from, to, at: now };
  await writeAtomic(join(root, 'pending.json'), `${JSON.stringify(pending)}\n`);
  await rm(join(root, 'boot-attempts'), { force: true });
  if (from !== null) await pointAt(root, 'previous', from);
  await pointAt(root, 'current', to);
  return pending;
}

/** Confirms the pending update: clears the markers, records success, prunes old releases. */
export async function commit(root: string, pending: PendingUpdate): Promise<void> {
  await writeAtomic(join(root, 'result.json'), `${JSON.stringify({ status: 'succeeded', reason: 'health check passed', pending } satisfies UpdateResult)}\n`);
  await rm(join(root, 'pending.json'), { force: true });
  await rm(join(root, 'boot-attempts'), { force: true });
  await pruneReleases(root);
}

/**
 * Switches back to `previous` and records why. With a pending update, its release is removed.
 * @throws TerminalError `TERM_ERR_UPDATE_STATE` when there is no previous release
 */
export async function rollback(root: string, reason: string): Promise<UpdateResult | undefined> {
  const prev = await previousVersion(root);
  if (prev === null) throw new TerminalError('TERM_ERR_UPDATE_STATE', 'no previous release to roll back to');
  const pending = await readPending(root);
  const failed = await currentVersion(root);
  await pointAt(root, 'current', prev);
  await rm(join(root, 'previous'), { force: true });
  let result: UpdateResult | undefined;
  if (pending !== undefined) {
    result = { status: 'rolled-back', reason, pending };
    await writeAtomic(join(root, 'result.json'), `${JSON.stringify(result)}\n`);
  }
  await rm(join(root, 'pending.json'), { force: true });
  await rm(join(root, 'boot-attempts'), { force: true });
  await rm(join(root, 'rollback-requested'), { force: true });
  if (failed !== null && failed !== prev) await rm(join(root, RELEASES, failed), { recursive: true, force: true });
  return result;
}

/** Removes releases other than current and previous. */
export async function pruneReleases(root: string): Promise<void> {
  const keep = new Set([await currentVersion(root), await previousVersion(root)]);
  for (const name of await readdir(join(root, RELEASES)).catch(() => [] as string[])) {
    if (!keep.has(name)) await rm(join(root, RELEASES, name), { recursive: true, force: true });
  }
}

/** Asks for a rollback at the next start (what `onecard-terminal update rollback` does). */
export async function requestRollback(root: string): Promise<void> {
  await writeFile(join(root, 'rollback-requested'), `${Date.now()}\n`);
}

/**
 * The service's pre-start step: honours a rollback request, and counts starts of a pending
 * release; once it has been started `maxAttempts` times without being confirmed, switches back.
 * Returns what it did.
 */
export async function preStart(root: string, maxAttempts: number): Promise<'none' | 'counted' | 'rolled-back'> {
  let requested = false;
  try { await readFile(join(root, 'rollback-requested')); requested = true; } catch { /* none */ }
  if (requested) {
    await rollback(root, 'rollback requested');
    return 'rolled-back';
  }
  if (await readPending(root) === undefined) return 'none';
  const n = Number.parseInt(await readFile(join(root, 'boot-attempts'), 'utf8').catch(() => '0'), 10) || 0;
  if (n >= maxAttempts) {
    await rollback(root, `not confirmed after ${n} start(s)`);
    return 'rolled-back';
  }
  await writeAtomic(join(root, 'boot-attempts'), `${n + 1}\n`);
  return 'counted';
}

/** Creates the layout with an initial release directory name (for first installs and tests). */
export async function initLayout(root: string): Promise<void> {
  await mkdir(join(root, RELEASES), { recursive: true, mode: 0o755 });
  await mkdir(join(root, 'downloads'), { recursive: true, mode: 0o700 });
}
