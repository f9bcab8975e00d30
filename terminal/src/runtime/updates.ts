/**
 * Software updates in the running terminal (docs/updates.md "On the terminal"): the `update` job
 * handler the job runner calls, and what a (re)started runtime does with the A/B install root.
 *
 * - An update job is fetched (`GET /api/v1/terminal/jobs/{jobId}`), downloaded, verified against
 *   the pinned keys, installed side by side and switched in (`prepareUpdate`); then the release
 *   is started by `startRelease` — under a supervisor (systemd, a test) the process ends and
 *   comes back from `current`; in-process the terminal root restarts its runtime.
 * - At start, a pending update is health-checked (broker reached, readers not in error) within
 *   the deadline and committed, or rolled back (then `startRelease` again, into the previous
 *   release). The outcome in `result.json` — also one written by the systemd pre-start rollback —
 *   is reported on `up/jobs/{jobId}` once the agent is online, then cleared.
 * - A job the server still lists after its outcome was reported (the report was lost) is
 *   answered from the install root instead of being run twice.
 */
import type { Logger } from 'pino';
import type { JobProgressMessage } from '@onecard/protocol/fleet';
import { TerminalError } from '../errors.ts';
import type { ListedJob, JobReporter as RunnerReporter } from '../agent/job-runner.ts';
import { clearResult, confirmPending, currentVersion, prepareUpdate, readPending, readResult, type UpdateJob } from '../updater/index.ts';

export interface RuntimeUpdaterOptions {
  /** The install root (`releases/`, `current`, `previous`, markers). */
  readonly root: string;
  readonly pinnedKeys: readonly string[];
  readonly healthDeadlineMs: number;
  readonly serverUrl: string;
  readonly auth: { readonly terminalId: string; readonly password: string };
  /** Resolves once the running terminal is healthy (throws or never resolves otherwise). */
  readonly healthy: (signal: AbortSignal) => Promise<void>;
  /** Starts the switched-in release (ends this process for the supervisor, or restarts the runtime). */
  readonly startRelease: (release: { dir: string; version: string }) => Promise<void>;
  readonly logger: Logger;
  readonly now: () => number;
  readonly fetchImpl?: typeof fetch;
}

type Report = (jobId: string, m: JobProgressMessage) => Promise<void>;

const progress = (status: JobProgressMessage['status'], step: string, error?: { code: string; message: string }): JobProgressMessage =>
  ({ v: 1, status, step, ...(error === undefined ? {} : { error }) });

/** The version `current` points at, or undefined without an install root / release. */
export async function installedVersion(root: string | undefined): Promise<string | undefined> {
  if (root === undefined) return undefined;
  return (await currentVersion(root)) ?? undefined;
}

async function fetchJob(o: RuntimeUpdaterOptions, job: ListedJob): Promise<UpdateJob> {
  const f = o.fetchImpl ?? fetch;
  const auth = `Basic ${Buffer.from(`${o.auth.terminalId}:${o.auth.password}`, 'utf8').toString('base64')}`;
  let res: Response;
  try {
    res = await f(new URL(job.url, o.serverUrl).href, { headers: { authorization: auth, accept: 'application/json' }, signal: AbortSignal.timeout(30_000) });
  } catch (cause) {
    throw new TerminalError('TERM_ERR_AGENT_FETCH', job.url, { path: job.url }, { cause });
  }
  if (res.status !== 200) throw new TerminalError('TERM_ERR_AGENT_FETCH', `update job: HTTP ${res.status}`, { status: res.status });
  const body = (await res.json()) as Partial<UpdateJob> & { package?: Partial<UpdateJob['package']> };
  const p = body.package;
  const s = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
  if (p === undefined || !s(p.id) || !s(p.name) || !s(p.version) || !s(p.minPreviousVersion) || !s(p.sha256) || !s(p.url) || !s(p.signatureUrl) || typeof p.size !== 'number') {
    throw new TerminalError('TERM_ERR_AGENT_FETCH', 'update job body', {});
  }
  return { jobId: job.jobId, ...(body.force === true ? { force: true } : {}), package: p as UpdateJob['package'] };
}

/**
 * The `update` job handler for the job runner (`JobRunnerOptions.onUpdate`).
 * Without an install root (`undefined` options) jobs are rejected with `TERM_ERR_UPDATE_STATE`.
 */
export function updateJobHandler(o: RuntimeUpdaterOptions | undefined): (job: ListedJob, report: RunnerReporter) => Promise<void> {
  return async (job, runnerReport) => {
    const report: Report = (id, m) => runnerReport(id, { status: m.status, ...(m.step === undefined ? {} : { step: m.step }), ...(m.error === undefined ? {} : { error: m.error }) });
    if (o === undefined) {
      await report(job.jobId, progress('rejected', 'verifying', { code: 'TERM_ERR_UPDATE_STATE', message: 'this terminal has no install root (local file: updates.root, updates.pinnedKeys)' }));
      return;
    }
    const pending = await readPending(o.root);
    if (pending !== undefined && pending.jobId === job.jobId) return; // switched in; confirmed at start
    const details = await fetchJob(o, job);
    const running = await currentVersion(o.root);
    const result = await readResult(o.root);
    if (pending === undefined && running === details.package.version && (result === undefined || result.pending.jobId !== job.jobId || result.status === 'succeeded')) {
      // Installed and confirmed before; the server missed the report.
      await report(job.jobId, progress('succeeded', 'committed'));
      return;
    }
    const release = await prepareUpdate(details, {
      root: o.root, pinnedKeys: o.pinnedKeys, baseUrl: o.serverUrl, auth: o.auth, report,
      healthCheck: async () => undefined, healthDeadlineMs: o.healthDeadlineMs, start: async () => undefined,
      now: o.now, ...(o.fetchImpl === undefined ? {} : { fetchImpl: o.fetchImpl }),
    });
    o.logger.info({ jobId: job.jobId, from: release.from, to: release.to }, 'update installed and switched in; starting it');
    await report(job.jobId, progress('in-progress', 'starting'));
    await o.startRelease({ dir: `${o.root}/current`, version: release.to });
  };
}

/**
 * At start: confirms a pending update (health check within the deadline, then commit or
 * rollback) and reports the outcome kept in `result.json` once `online()` resolves.
 * Returns what happened to a pending update.
 */
export async function settleUpdateAtStart(o: RuntimeUpdaterOptions, report: Report, online: () => Promise<void>): Promise<'none' | 'succeeded' | 'rolled-back'> {
  const outcome = await confirmPending({
    root: o.root, healthDeadlineMs: o.healthDeadlineMs,
    // Only progress goes out from here; the outcome is reported from result.json below.
    report: async (id, m) => { if (m.status === 'in-progress') await report(id, m).catch(() => undefined); },
    healthCheck: async (_release, signal) => { await o.healthy(signal); },
  });
  if (outcome !== 'none') o.logger.info({ outcome, version: await currentVersion(o.root) }, 'pending update settled');
  if (outcome === 'rolled-back') {
    const v = await currentVersion(o.root);
    if (v !== null) await o.startRelease({ dir: `${o.root}/current`, version: v });
    return outcome;
  }
  const result = await readResult(o.root);
  const jobId = result?.pending.jobId;
  if (result !== undefined && jobId !== null && jobId !== undefined) {
    await online();
    await report(jobId, result.status === 'succeeded'
      ? progress('succeeded', 'committed')
      : progress('failed', 'rolled-back', { code: 'TERM_ERR_UPDATE_HEALTH', message: result.reason.slice(0, 1000) }));
  }
  if (result !== undefined) await clearResult(o.root);
  return outcome;
}
