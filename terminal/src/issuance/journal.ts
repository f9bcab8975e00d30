/**
 * The issuance journal: one record per job, persisted before and after every step so that a power
 * cut or a kill at any point resumes where it stopped [issuance §9.3 "each step is flagged done in
 * a progress file"; §11 item 10]. {@link JobStore} is the seam: a durable file store (one JSON file
 * per job, replaced atomically with `writeFileAtomic`) and an in-memory store for tests share one
 * conformance suite. Personal data (the application and the card data) stay in the record only
 * while the job runs and are dropped when it ends (§9.3 step 7 "delete the local card data").
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { CardData, IssuanceApplication } from '@onecard/protocol/issuance';
import { TerminalError } from '../errors.ts';
import { writeFileAtomic, removeAtomicTemps } from '../fs/atomic.ts';

/** Steps of an issuance, in order [issuance §9.3]. */
export const ISSUANCE_STEPS = ['mark', 'cardData', 'dispense', 'write', 'print', 'returnData', 'enable', 'eject'] as const;
export type IssuanceStep = (typeof ISSUANCE_STEPS)[number];

/** How a job ended (or why it waits). */
export type JobStatus = 'running' | 'held' | 'issued' | 'failed';

/** One job's journal record. */
export interface JobRecord {
  readonly version: 1;
  readonly jobId: string;
  readonly region: string;
  readonly kind: IssuanceApplication['kind'];
  /** The step in progress and whether it has started (`before`) or finished (`after`). */
  step: IssuanceStep;
  phase: 'before' | 'after';
  status: JobStatus;
  /** Present while the job runs (personal data). */
  application?: IssuanceApplication;
  batch?: string;
  /** Present while the job runs (personal data). */
  cardData?: CardData;
  cardNumber?: string;
  /** Card identification code (hex) of the card this job writes, once known. */
  cardId?: string;
  atr?: string;
  /** Whether the card ended in the retain bin. */
  retained?: boolean;
  /** Whether 回盘 of a failure reached the back office. */
  failureReported?: boolean;
  /** Stable error code and message of the failure or hold. */
  error?: { readonly code: string; readonly message: string };
  /** Step transitions with ISO times, for the operator and the audit. */
  readonly history: { readonly step: IssuanceStep; readonly phase: 'before' | 'after'; readonly at: string }[];
}

/** Where job records live. */
export interface JobStore {
  load(jobId: string): Promise<JobRecord | undefined>;
  /** Durably replaces the record. */
  save(record: JobRecord): Promise<void>;
  /** Records whose status is `running` or `held`. */
  unfinished(): Promise<JobRecord[]>;
}

const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** True when `jobId` is safe as a file name and an identifier. */
export function isJobId(jobId: string): boolean {
  return JOB_ID.test(jobId);
}

const clone = (r: JobRecord): JobRecord => structuredClone(r);

/** In-memory store (tests, and a terminal without a state directory). */
export function memoryJobStore(): JobStore {
  const m = new Map<string, JobRecord>();
  return {
    async load(id) {
      const r = m.get(id);
      return r === undefined ? undefined : clone(r);
    },
    async save(r) {
      m.set(r.jobId, clone(r));
    },
    async unfinished() {
      return [...m.values()].filter((r) => r.status === 'running' || r.status === 'held').map(clone);
    },
  };
}

/**
 * File store: `<dir>/<jobId>.json`, mode 0600, replaced atomically and durably.
 * @throws TerminalError `TERM_ERR_ISSUANCE_JOURNAL` when a record cannot be read, parsed or written,
 *   `TERM_ERR_ISSUANCE_JOB` on a job ID that is not a safe name.
 */
export function fileJobStore(dir: string): JobStore {
  const path = (id: string): string => {
    if (!isJobId(id)) throw new TerminalError('TERM_ERR_ISSUANCE_JOB', 'job id', { field: 'jobId' });
    return join(dir, `${id}.json`);
  };
  const read = async (p: string): Promise<JobRecord | undefined> => {
    let text: string;
    try {
      text = await fsp.readFile(p, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new TerminalError('TERM_ERR_ISSUANCE_JOURNAL', 'read', {}, { cause: e });
    }
    try {
      const r = JSON.parse(text) as JobRecord;
      if (r.version !== 1 || !isJobId(r.jobId) || !(ISSUANCE_STEPS as readonly string[]).includes(r.step)) throw new Error('not a job record');
      return r;
    } catch (e) {
      throw new TerminalError('TERM_ERR_ISSUANCE_JOURNAL', 'parse', {}, { cause: e });
    }
  };
  return {
    load: (id) => read(path(id)),
    async save(r) {
      const p = path(r.jobId);
      try {
        await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
        await writeFileAtomic(p, JSON.stringify(r));
      } catch (e) {
        throw new TerminalError('TERM_ERR_ISSUANCE_JOURNAL', 'write', {}, { cause: e });
      }
    },
    async unfinished() {
      let names: string[];
      try {
        names = await fsp.readdir(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw new TerminalError('TERM_ERR_ISSUANCE_JOURNAL', 'list', {}, { cause: e });
      }
      const out: JobRecord[] = [];
      for (const n of names) {
        if (!n.endsWith('.json')) continue;
        await removeAtomicTemps(join(dir, n));
        const r = await read(join(dir, n));
        if (r !== undefined && (r.status === 'running' || r.status === 'held')) out.push(r);
      }
      return out;
    },
  };
}
