/**
 * The per-terminal job model shared by every feature that asks terminals to do something
 * (software updates, transit keys, …) and the one owner of each terminal's retained
 * `t/{id}/down/jobs/notify` pointer. Features register a {@link JobSource} that lists a
 * terminal's pending jobs; the notifier merges the lists, orders them (in progress first, then
 * priority, then creation) and publishes the first as `{v:1, next:{jobId, kind, version}}`, or
 * `{v:1, next:null}` when nothing is pending. Publishes for one terminal are serialised, so the
 * retained pointer always reflects the latest refresh.
 */
import { downTopic, encodeFleetMessage, type FleetMessage } from '@onecard/protocol/fleet';

/** Per-terminal job status: queued → in-progress → succeeded | failed | timed-out | rejected (or cancelled when superseded). */
export const JOB_STATUSES = ['queued', 'in-progress', 'succeeded', 'failed', 'timed-out', 'rejected', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
/** Statuses in which a job still waits for the terminal. */
export const PENDING_JOB_STATUSES: readonly JobStatus[] = ['queued', 'in-progress'];

export type JobKind = NonNullable<FleetMessage<'jobs/notify'>['next']>['kind'];

/** One job a terminal still has to do. */
export interface PendingJob {
  readonly jobId: string;
  readonly kind: JobKind;
  /** The version the job brings (key delivery sequence, package sequence, …). */
  readonly version: number;
  readonly status: 'queued' | 'in-progress';
  /** Higher first (keys 10, updates 0). */
  readonly priority: number;
  readonly createdAt: number;
  /** Where the terminal fetches what the job asks of it (relative URL). */
  readonly url: string;
}

/** A feature's jobs, as the notifier asks for them. */
export interface JobSource {
  readonly kind: JobKind;
  /** The terminal's pending jobs of this kind. */
  pending(terminalId: string): Promise<readonly PendingJob[]>;
}

/** The order terminals work through jobs: in progress first, then priority (high first), then oldest, then id. */
export function orderJobs(jobs: readonly PendingJob[]): PendingJob[] {
  return [...jobs].sort((a, b) =>
    (a.status === b.status ? 0 : a.status === 'in-progress' ? -1 : 1)
    || b.priority - a.priority || a.createdAt - b.createdAt || (a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0));
}

export type Publish = (topic: string, payload: Uint8Array, retain: boolean) => Promise<void>;

type Next = FleetMessage<'jobs/notify'>['next'];

/** Owner of the `down/jobs/notify` pointers; see the file comment. */
export class JobsNotifier {
  readonly #publish: Publish;
  readonly #sources: JobSource[] = [];
  readonly #chains = new Map<string, Promise<void>>();
  /** What was last published per terminal (`null` = an explicit "nothing"). */
  readonly #last = new Map<string, string | null>();

  constructor(publish: Publish) {
    this.#publish = publish;
  }

  register(source: JobSource): void {
    this.#sources.push(source);
  }

  /** Every pending job of the terminal, in the order it should do them. */
  async pending(terminalId: string): Promise<PendingJob[]> {
    const all: PendingJob[] = [];
    for (const s of this.#sources) all.push(...await s.pending(terminalId));
    return orderJobs(all);
  }

  /**
   * Recomputes the terminal's next job and publishes the retained pointer. With `onlyIfNeeded`
   * (used on births) nothing is published when the terminal has no pending job and none was
   * announced before.
   */
  refresh(terminalId: string, onlyIfNeeded = false): Promise<void> {
    const prev = this.#chains.get(terminalId) ?? Promise.resolve();
    const run = prev.then(async () => {
      const first = (await this.pending(terminalId))[0];
      const next: Next = first === undefined ? null : { jobId: first.jobId, kind: first.kind, version: first.version };
      const key = next === null ? null : JSON.stringify(next);
      if (onlyIfNeeded && key === null && (this.#last.get(terminalId) ?? null) === null) return;
      await this.#publish(downTopic(terminalId, 'jobs/notify'), encodeFleetMessage('jobs/notify', { v: 1, next }), true);
      this.#last.set(terminalId, key);
    });
    const tail = run.catch(() => undefined).finally(() => { if (this.#chains.get(terminalId) === tail) this.#chains.delete(terminalId); });
    this.#chains.set(terminalId, tail);
    return run;
  }

  /** {@link refresh} for many terminals, one after the other. */
  async refreshMany(terminalIds: Iterable<string>): Promise<void> {
    for (const id of terminalIds) await this.refresh(id);
  }
}
