/**
 * The terminal's job runner (docs/fleet-protocol.md, Jobs). On every `down/jobs/notify` (the
 * retained pointer also arrives again after each reconnect) it lists the terminal's pending jobs
 * with `GET /api/v1/terminal/jobs` — never trusting the broker to have kept anything — and works
 * through them in order, one at a time:
 * - `keys`: fetch the key blocks (`GET …/jobs/{jobId}/key-blocks`, TR-31 `D` under this
 *   terminal's KBPK), load them into the keystore as a whole (MAC, convention and announced KCVs
 *   checked there), and report `{status:'succeeded', kcv}` with the key-set check value computed
 *   from the unwrapped keys — or `rejected`/`failed` with the error code;
 *   The key set is loaded with the `expiresAt` of the key custodian's approval (the keystore
 *   erases it then); a delivery without one is rejected, and a terminal with a physical PSAM
 *   (`hasPsam`) rejects every key job — purse roots have no business there. A refusal by the
 *   server (403: no live approval) reports nothing;
 * - `update`: hand the job to the injected updater (which reports its own progress).
 * Idempotent on retries: a job whose result was already reported is reported again (the first
 * report may have been lost), a key set already loaded under the job's version is not reloaded,
 * and an update already started in this process is not started twice. Transient fetch failures
 * report nothing; the next notification or reconnect retries.
 */
import type { Logger } from 'pino';
import { keySetCheckValue } from '@onecard/protocol/fleet';
import { isProtocolError } from '@onecard/protocol/errors';
import { TerminalError } from '../errors.ts';
import { PURSE_USAGE, type Keystore, type PurseKeyInfo } from './keystore.ts';

/** A pending job as `GET /api/v1/terminal/jobs` lists it. */
export interface ListedJob {
  readonly jobId: string;
  readonly kind: string;
  readonly version: number;
  readonly status: string;
  readonly url: string;
}

export interface JobReport {
  readonly status: 'in-progress' | 'succeeded' | 'failed' | 'rejected';
  readonly step?: string;
  readonly kcv?: string;
  readonly error?: { code: string; message: string };
}

/** Publishes on `up/jobs/{jobId}` (e.g. `FleetAgent.reportJob`). */
export type JobReporter = (jobId: string, body: JobReport) => Promise<void>;

export interface JobRunnerOptions {
  readonly serverUrl: string;
  readonly terminalId: string;
  readonly password: string;
  /** Where `keys` jobs load; without it they are rejected. */
  readonly keystore?: Pick<Keystore, 'version' | 'load' | 'list'>;
  /** The terminal has a physical PSAM: `keys` jobs are rejected (soft-SAM keys are never held). */
  readonly hasPsam?: boolean;
  /** Runs an `update` job (e.g. fetch `job.url` and call the updater's `applyUpdate`). */
  readonly onUpdate?: (job: ListedJob, report: JobReporter) => Promise<void>;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
  readonly logger?: Logger;
}

export interface JobRunnerStats {
  readonly runs: number;
  readonly keysLoaded: number;
  readonly reports: number;
}

/** The key-set check value of what a keystore holds. */
export function keystoreCheckValue(infos: readonly PurseKeyInfo[]): string {
  return keySetCheckValue(infos.map((i) => ({ usage: PURSE_USAGE[i.role], keyVersion: i.keyVersion, algorithmId: i.algorithmId, kcv: i.kcv })));
}

function errorOf(err: unknown): { code: string; message: string } {
  if (err instanceof TerminalError || isProtocolError(err)) return { code: err.code, message: err.message.slice(0, 1024) };
  return { code: 'TERM_ERR_INVALID_ARGUMENT', message: 'job failed' };
}

export class JobRunner {
  readonly #o: JobRunnerOptions;
  readonly #auth: string;
  /** Results already reported, by job id (re-sent when the server still lists the job). */
  readonly #results = new Map<string, JobReport>();
  readonly #updatesStarted = new Set<string>();
  #chain: Promise<void> = Promise.resolve();
  #stats = { runs: 0, keysLoaded: 0, reports: 0 };
  #listeners = new Set<() => void>();

  constructor(options: JobRunnerOptions) {
    this.#o = options;
    this.#auth = `Basic ${Buffer.from(`${options.terminalId}:${options.password}`, 'utf8').toString('base64')}`;
  }

  get stats(): JobRunnerStats { return { ...this.#stats }; }

  /** The result reported for a job, if any. */
  result(jobId: string): JobReport | undefined { return this.#results.get(jobId); }

  /** Resolves when `predicate` holds (checked after every run and report). */
  waitFor(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve) => {
      const l = (): void => { if (predicate()) { this.#listeners.delete(l); resolve(); } };
      this.#listeners.add(l);
    });
  }

  /** For `FleetAgentOptions.onJobNotify`: any notification (even `next: null`) triggers a reconcile. */
  readonly onJobNotify = async (_next: unknown, agent: { reportJob: JobReporter }): Promise<void> => {
    void this.reconcile((id, body) => agent.reportJob(id, body));
  };

  /** Lists the pending jobs and runs them in order (serialised with earlier calls). */
  reconcile(report: JobReporter): Promise<void> {
    const run = this.#chain.then(() => this.#runAll(report));
    this.#chain = run.catch((err: unknown) => { this.#o.logger?.warn({ code: (err as { code?: unknown }).code }, 'job reconcile failed'); });
    return this.#chain;
  }

  async #get(path: string): Promise<{ status: number; body: unknown }> {
    const f = this.#o.fetch ?? fetch;
    try {
      const res = await f(`${this.#o.serverUrl}${path}`, { headers: { authorization: this.#auth, accept: 'application/json' }, signal: AbortSignal.timeout(this.#o.timeoutMs ?? 30_000) });
      const text = await res.text();
      return { status: res.status, body: text.length > 0 ? JSON.parse(text) as unknown : undefined };
    } catch (cause) {
      throw new TerminalError('TERM_ERR_AGENT_FETCH', path, { path }, { cause });
    }
  }

  async #runAll(report: JobReporter): Promise<void> {
    this.#stats.runs++;
    const r = await this.#get('/api/v1/terminal/jobs');
    if (r.status !== 200) throw new TerminalError('TERM_ERR_AGENT_FETCH', `jobs: HTTP ${r.status}`, { status: r.status });
    const jobs = (r.body as { jobs?: unknown }).jobs;
    if (!Array.isArray(jobs)) throw new TerminalError('TERM_ERR_AGENT_FETCH', 'jobs body', {});
    for (const j of jobs as ListedJob[]) {
      if (typeof j.jobId !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(j.jobId) || typeof j.url !== 'string' || !j.url.startsWith('/api/v1/terminal/')) continue;
      const done = this.#results.get(j.jobId);
      if (done !== undefined) { await this.#report(report, j.jobId, done); continue; }
      if (j.kind === 'keys') await this.#keys(j, report);
      else if (j.kind === 'update') {
        if (this.#o.onUpdate === undefined || this.#updatesStarted.has(j.jobId)) continue;
        this.#updatesStarted.add(j.jobId);
        await this.#o.onUpdate(j, report).catch((err: unknown) => this.#o.logger?.warn({ code: (err as { code?: unknown }).code, jobId: j.jobId }, 'update job failed'));
      }
    }
    this.#changed();
  }

  async #keys(j: ListedJob, report: JobReporter): Promise<void> {
    const ks = this.#o.keystore;
    let result: JobReport;
    if (ks === undefined) {
      result = { status: 'rejected', error: { code: 'TERM_ERR_INVALID_ARGUMENT', message: 'this terminal has no keystore' } };
    } else if (this.#o.hasPsam === true) {
      result = { status: 'rejected', error: { code: 'TERM_ERR_INVALID_ARGUMENT', message: 'this terminal has a physical PSAM and holds no soft-SAM keys' } };
    } else if (ks.version === j.version && ks.list().length > 0 && j.status === 'in-progress') {
      // Already loaded (the report was lost, or we crashed before sending it). A job listed
      // `queued` again under the same version is a re-delivery (a renewed approval): fetch it.
      result = { status: 'succeeded', kcv: keystoreCheckValue(ks.list()) };
    } else {
      const r = await this.#get(j.url);
      if (r.status === 404 || r.status === 409 || r.status === 403) return; // withdrawn, finished meanwhile, or no live approval
      if (r.status !== 200) throw new TerminalError('TERM_ERR_AGENT_FETCH', `key blocks: HTTP ${r.status}`, { status: r.status });
      const body = r.body as { version?: unknown; keys?: unknown; expiresAt?: unknown };
      const keys = Array.isArray(body.keys) ? (body.keys as { block?: unknown; kcv?: unknown }[]) : [];
      try {
        if (body.version !== j.version || keys.length === 0 || !keys.every((k) => typeof k.block === 'string' && (k.kcv === undefined || typeof k.kcv === 'string'))) {
          throw new TerminalError('TERM_ERR_KEY_BLOCK', 'key-blocks body', { field: 'keys' });
        }
        if (typeof body.expiresAt !== 'number' || !Number.isSafeInteger(body.expiresAt)) throw new TerminalError('TERM_ERR_KEY_BLOCK', 'a soft-SAM key set needs its expiry', { field: 'expiresAt' });
        const infos = await ks.load(j.version, keys.map((k) => ({ block: k.block as string, ...(typeof k.kcv === 'string' ? { kcv: k.kcv } : {}) })), { expiresAt: body.expiresAt });
        this.#stats.keysLoaded++;
        result = { status: 'succeeded', kcv: keystoreCheckValue(infos) };
      } catch (err) {
        const e = errorOf(err);
        if (e.code === 'TERM_ERR_KEYSTORE_IO') result = { status: 'failed', error: e };
        else result = { status: e.code === 'TERM_ERR_KEY_BLOCK' || e.code === 'TERM_ERR_KEY_KCV' ? 'rejected' : 'failed', error: e };
      }
    }
    this.#results.set(j.jobId, result);
    await this.#report(report, j.jobId, result);
  }

  async #report(report: JobReporter, jobId: string, body: JobReport): Promise<void> {
    await report(jobId, body);
    this.#stats.reports++;
    this.#changed();
  }

  #changed(): void { for (const l of [...this.#listeners]) l(); }
}
