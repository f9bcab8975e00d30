/**
 * Applying an update job on the terminal, step by step, each step reported as a JobProgress
 * (`up/jobs/{jobId}`): downloading (resumable) → verifying (hash, signature with pinned keys,
 * version rules) → installing (side by side in `releases/<version>`) → switching (`current`,
 * atomically) → starting → health-check (injected, within a deadline) → succeeded, or rolled
 * back automatically. In production `start` restarts the service and {@link confirmPending} runs
 * in the new process at boot; in-process (tests, simulators) {@link applyUpdate} does both.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JobProgressMessage } from '@onecard/protocol/fleet';
import { TerminalError } from '../errors.ts';
import { compareSemver } from './semver.ts';
import { downloadWithResume, readBounded } from './download.ts';
import { hashFile, verifyPackageFile } from './verify.ts';
import { commit, currentVersion, initLayout, readPending, releasePath, rollback, switchTo, type PendingUpdate } from './install.ts';
import type { PackageLimits } from '@onecard/protocol/update';

/** What the server's `GET /api/v1/terminal/jobs/{jobId}` says about an update job. */
export interface UpdateJob {
  readonly jobId: string;
  readonly force?: boolean;
  readonly package: {
    readonly id: string;
    readonly name: string;
    readonly version: string;
    readonly minPreviousVersion: string;
    readonly size: number;
    readonly sha256: string;
    /** Absolute, or relative to `baseUrl`. */
    readonly url: string;
    readonly signatureUrl: string;
  };
}

export type JobReporter = (jobId: string, progress: JobProgressMessage) => Promise<void>;

/** Throws (or rejects) when the running release is unhealthy: readers, broker, self-test. */
export type HealthCheck = (release: { dir: string; version: string }, signal: AbortSignal) => Promise<void>;

export interface UpdaterDeps {
  /** Install root holding `releases/`, `current`, `previous` and the markers. */
  readonly root: string;
  /** Public keys pinned in the terminal's configuration. */
  readonly pinnedKeys: readonly string[];
  readonly baseUrl: string;
  /** Terminal credentials for the download (HTTP Basic). */
  readonly auth: { readonly terminalId: string; readonly password: string };
  readonly report: JobReporter;
  readonly healthCheck: HealthCheck;
  readonly healthDeadlineMs: number;
  /** Starts the switched-in release (in production: ends the process so the supervisor restarts it). */
  readonly start: (release: { dir: string; version: string }) => Promise<void>;
  readonly fetchImpl?: typeof fetch;
  readonly now?: () => number;
  readonly limits?: PackageLimits;
}

const msg = (status: JobProgressMessage['status'], step: string, err?: unknown): JobProgressMessage => ({
  v: 1, status, step,
  ...(err !== undefined ? { error: { code: err instanceof TerminalError ? err.code : 'TERM_ERR_UPDATE_INSTALL', message: (err instanceof Error ? err.message : String(err)).slice(0, 1000) } } : {}),
});

/**
 * Downloads, verifies, installs and switches. On any failure before the switch the job is
 * reported `rejected` (verification, version rules) or `failed`, and nothing changes on disk
 * except the download cache.
 * @throws TerminalError the step's code after reporting it
 */
export async function prepareUpdate(job: UpdateJob, d: UpdaterDeps): Promise<PendingUpdate> {
  const now = d.now ?? Date.now;
  await initLayout(d.root);
  const p = job.package;
  let stepName = 'verifying';
  try {
    const running = await currentVersion(d.root);
    // Version rules first: never a downgrade unless forced. [docs/updates.md "Version rules"]
    if (job.force !== true && running !== null) {
      if (compareSemver(p.version, running) <= 0) throw new TerminalError('TERM_ERR_UPDATE_VERSION', `${p.version} is not above ${running}`);
      if (compareSemver(running, p.minPreviousVersion) < 0) throw new TerminalError('TERM_ERR_UPDATE_VERSION', `${running} is below the minimum previous version ${p.minPreviousVersion}`);
    }
    stepName = 'downloading';
    await d.report(job.jobId, msg('in-progress', 'downloading'));
    const headers = { authorization: `Basic ${Buffer.from(`${d.auth.terminalId}:${d.auth.password}`).toString('base64')}` };
    const f = d.fetchImpl ?? fetch;
    const archive = join(d.root, 'downloads', `${p.sha256}.ocpkg`);
    await downloadWithResume({ url: new URL(p.url, d.baseUrl).href, dest: archive, size: p.size, sha256: p.sha256, headers, fetchImpl: f }).catch(async (err: unknown) => {
      // An archive already complete from an earlier attempt is reused.
      const have = await hashFile(archive).catch(() => undefined);
      if (have?.sha256 !== p.sha256) throw err;
    });
    const sigRes = await f(new URL(p.signatureUrl, d.baseUrl).href, { headers });
    if (!sigRes.ok) throw new TerminalError('TERM_ERR_UPDATE_DOWNLOAD', `signature: HTTP ${sigRes.status}`, { status: sigRes.status });
    const sigText = Buffer.from(await readBounded(sigRes, 64 * 1024, 'signature')).toString('utf8');
    stepName = 'verifying';
    await d.report(job.jobId, msg('in-progress', 'verifying'));
    const dir = releasePath(d.root, p.version);
    if (running === p.version) throw new TerminalError('TERM_ERR_UPDATE_VERSION', `${p.version} is already running`);
    await rm(dir, { recursive: true, force: true });
    const staging = join(d.root, 'releases', `.staging-${randomBytes(4).toString('hex')}`);
    stepName = 'installing';
    try {
      const manifest = await verifyPackageFile(archive, sigText, d.pinnedKeys, staging, d.limits);
      if (manifest.version !== p.version || manifest.name !== p.name) throw new TerminalError('TERM_ERR_UPDATE_SIGNATURE', 'package is not the one the job names');
      await writeFile(join(staging, '.onecard-manifest.json'), `${JSON.stringify(manifest)}\n`);
      await rename(staging, dir);
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      if (err instanceof TerminalError && (err.code === 'TERM_ERR_UPDATE_SIGNATURE' || err.code === 'TERM_ERR_UPDATE_HASH' || err.code === 'TERM_ERR_UPDATE_PACKAGE')) {
        await rm(archive, { force: true }); // a tampered download is not kept for reuse
        stepName = 'verifying';
      }
      throw err;
    }
    await d.report(job.jobId, msg('in-progress', 'installing'));
    stepName = 'switching';
    const pending = await switchTo(d.root, p.version, job.jobId, now());
    await d.report(job.jobId, msg('in-progress', 'switching'));
    await rm(archive, { force: true });
    return pending;
  } catch (err) {
    const rejected = err instanceof TerminalError && ['TERM_ERR_UPDATE_VERSION', 'TERM_ERR_UPDATE_SIGNATURE', 'TERM_ERR_UPDATE_HASH', 'TERM_ERR_UPDATE_PACKAGE'].includes(err.code);
    await d.report(job.jobId, msg(rejected ? 'rejected' : 'failed', stepName, err));
    throw err;
  }
}

/**
 * Runs in the (re)started runtime: when an update is pending, health-checks the current release
 * within the deadline and commits it (reports `succeeded`) or rolls back (reports `failed` with
 * step `rolled-back`). Returns the outcome, or `none` when nothing was pending.
 */
export async function confirmPending(d: Pick<UpdaterDeps, 'root' | 'report' | 'healthCheck' | 'healthDeadlineMs'>): Promise<'none' | 'succeeded' | 'rolled-back'> {
  const pending = await readPending(d.root);
  if (pending === undefined) return 'none';
  const jobId = pending.jobId;
  const report = async (m: JobProgressMessage) => { if (jobId !== null) await d.report(jobId, m); };
  await report(msg('in-progress', 'health-check'));
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      d.healthCheck({ dir: releasePath(d.root, pending.to), version: pending.to }, ac.signal),
      new Promise<never>((_r, reject) => { timer = setTimeout(() => reject(new TerminalError('TERM_ERR_UPDATE_HEALTH', `no healthy state within ${d.healthDeadlineMs} ms`)), d.healthDeadlineMs); }),
    ]);
  } catch (err) {
    ac.abort();
    clearTimeout(timer);
    const e = err instanceof TerminalError ? err : new TerminalError('TERM_ERR_UPDATE_HEALTH', err instanceof Error ? err.message : String(err), {}, { cause: err });
    await rollback(d.root, e.message);
    await report(msg('failed', 'rolled-back', e));
    return 'rolled-back';
  }
  clearTimeout(timer);
  await commit(d.root, pending);
  await report(msg('succeeded', 'committed'));
  return 'succeeded';
}

/** The whole job in one process: prepare, start, confirm. */
export async function applyUpdate(job: UpdateJob, d: UpdaterDeps): Promise<'succeeded' | 'rolled-back'> {
  const pending = await prepareUpdate(job, d);
  await d.report(job.jobId, msg('in-progress', 'starting'));
  try {
    await d.start({ dir: releasePath(d.root, pending.to), version: pending.to });
  } catch (err) {
    await rollback(d.root, 'start failed');
    await d.report(job.jobId, msg('failed', 'rolled-back', new TerminalError('TERM_ERR_UPDATE_HEALTH', 'start failed', {}, { cause: err })));
    return 'rolled-back';
  }
  const r = await confirmPending(d);
  if (r === 'none') throw new TerminalError('TERM_ERR_UPDATE_STATE', 'pending marker vanished');
  return r;
}
