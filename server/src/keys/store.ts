/**
 * Where the transit-keys feature keeps its records: key-set versions (metadata plus each key as
 * a TR-31 version `D` block wrapped under the server master key — never a clear key, and never
 * the master key), group assignments, key jobs (one per assignment change; a fleet-wide `seq`
 * is the job's version) and per-terminal job entries. An interface, an in-memory implementation,
 * and a SQLite one on the main store's better-sqlite3 handle with its own `keys_*` tables
 * (CREATE TABLE IF NOT EXISTS, to be folded into the numbered migrations later); both run
 * `test/keys/store.test.ts`.
 */
import type Database from 'better-sqlite3';
import { ServerError } from '../errors.ts';
import type { JobStatus } from '../jobs/notifier.ts';

/** One key of a key-set version, at rest. */
export interface StoredKey {
  /** TR-31 key usage: `61` purchase root (MPK), `62` TAC root (MTK). */
  readonly usage: string;
  /** Card key version byte (INITIALIZE FOR PURCHASE). */
  readonly keyVersion: number;
  /** Algorithm identifier byte (INITIALIZE FOR PURCHASE). */
  readonly algorithmId: number;
  /** Dispersion levels of the root (1 or 2). */
  readonly levels: number;
  /** Legacy 3-byte KCV, uppercase hex. */
  readonly kcv: string;
  /** The key wrapped under the master key (TR-31 `D`, key context 1 = storage); null once purged. */
  readonly block: string | null;
}

export type KeySetVersionStatus = 'active' | 'retiring' | 'purged';

export interface KeySetVersionRecord {
  readonly keySetId: string;
  readonly version: number;
  readonly description: string;
  readonly status: KeySetVersionStatus;
  /** When a retiring version is purged (ms), else null. */
  readonly deadline: number | null;
  /** CMAC KCV of the master key the blocks are wrapped under (detects a wrong master key). */
  readonly masterKcv: string;
  readonly keys: readonly StoredKey[];
  readonly createdAt: number;
  readonly createdBy: string;
}

export interface KeyAssignmentRecord {
  readonly groupId: string;
  readonly keySetId: string;
  readonly version: number;
  readonly assignedAt: number;
  readonly assignedBy: string;
}

/** Which stored key a job delivers. */
export interface KeyRef { readonly version: number; readonly index: number }

export type KeyJobStatus = 'active' | 'superseded';

export interface KeyJobRecord {
  readonly id: string;
  /** Fleet-wide increasing; the `version` of the job notification and of the terminal's keystore. */
  readonly seq: number;
  readonly groupId: string;
  readonly keySetId: string;
  /** The assigned version; `keys` may add keys of older versions still retiring. */
  readonly version: number;
  readonly keys: readonly KeyRef[];
  /** Key-set check value the terminals must report. */
  readonly expectedKcv: string;
  readonly status: KeyJobStatus;
  readonly createdAt: number;
  readonly createdBy: string;
}

export interface KeyJobTerminalRecord {
  readonly jobId: string;
  readonly terminalId: string;
  readonly status: JobStatus;
  readonly reportedKcv: string | null;
  /** Error code of a failed/rejected/timed-out job. */
  readonly error: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface KeysStore {
  init(): Promise<void>;
  /** @throws ServerError `SRV_ERR_CONFLICT` when (keySetId, version) exists */
  addKeySetVersion(rec: KeySetVersionRecord): Promise<void>;
  putKeySetVersion(rec: KeySetVersionRecord): Promise<void>;
  getKeySetVersion(keySetId: string, version: number): Promise<KeySetVersionRecord | undefined>;
  /** By key set id ascending, then version descending. */
  listKeySetVersions(keySetId?: string): Promise<KeySetVersionRecord[]>;
  putAssignment(rec: KeyAssignmentRecord): Promise<void>;
  getAssignment(groupId: string): Promise<KeyAssignmentRecord | undefined>;
  deleteAssignment(groupId: string): Promise<boolean>;
  listAssignments(keySetId?: string): Promise<KeyAssignmentRecord[]>;
  /** Stores a job, assigning `seq`. */
  addJob(rec: Omit<KeyJobRecord, 'seq'>): Promise<KeyJobRecord>;
  putJob(rec: KeyJobRecord): Promise<void>;
  getJob(id: string): Promise<KeyJobRecord | undefined>;
  /** Newest first. */
  listJobs(filter?: { groupId?: string; keySetId?: string; status?: KeyJobStatus }): Promise<KeyJobRecord[]>;
  putJobTerminal(rec: KeyJobTerminalRecord): Promise<void>;
  getJobTerminal(jobId: string, terminalId: string): Promise<KeyJobTerminalRecord | undefined>;
  listJobTerminals(jobId: string): Promise<KeyJobTerminalRecord[]>;
  /** A terminal's entries, optionally only those in `statuses`. */
  listTerminalEntries(terminalId: string, statuses?: readonly JobStatus[]): Promise<KeyJobTerminalRecord[]>;
}

const byVersion = (a: KeySetVersionRecord, b: KeySetVersionRecord): number => (a.keySetId < b.keySetId ? -1 : a.keySetId > b.keySetId ? 1 : b.version - a.version);

export class MemoryKeysStore implements KeysStore {
  readonly #versions = new Map<string, KeySetVersionRecord>();
  readonly #assignments = new Map<string, KeyAssignmentRecord>();
  readonly #jobs = new Map<string, KeyJobRecord>();
  readonly #entries = new Map<string, KeyJobTerminalRecord>();
  #seq = 0;

  async init(): Promise<void> {}

  async addKeySetVersion(rec: KeySetVersionRecord): Promise<void> {
    const k = `${rec.keySetId}\u0000${rec.version}`;
    if (this.#versions.has(k)) throw new ServerError('SRV_ERR_CONFLICT', `key set ${rec.keySetId} version ${rec.version} exists`);
    this.#versions.set(k, structuredClone(rec));
  }
  async putKeySetVersion(rec: KeySetVersionRecord): Promise<void> { this.#versions.set(`${rec.keySetId}\u0000${rec.version}`, structuredClone(rec)); }
  async getKeySetVersion(keySetId: string, version: number): Promise<KeySetVersionRecord | undefined> {
    const r = this.#versions.get(`${keySetId}\u0000${version}`);
    return r === undefined ? undefined : structuredClone(r);
  }
  async listKeySetVersions(keySetId?: string): Promise<KeySetVersionRecord[]> {
    return [...this.#versions.values()].filter((r) => keySetId === undefined || r.keySetId === keySetId).sort(byVersion).map((r) => structuredClone(r));
  }
  async putAssignment(rec: KeyAssignmentRecord): Promise<void> { this.#assignments.set(rec.groupId, { ...rec }); }
  async getAssignment(groupId: string): Promise<KeyAssignmentRecord | undefined> { const a = this.#assignments.get(groupId); return a === undefined ? undefined : { ...a }; }
  async deleteAssignment(groupId: string): Promise<boolean> { return this.#assignments.delete(groupId); }
  async listAssignments(keySetId?: string): Promise<KeyAssignmentRecord[]> {
    return [...this.#assignments.values()].filter((a) => keySetId === undefined || a.keySetId === keySetId).sort((a, b) => (a.groupId < b.groupId ? -1 : 1)).map((a) => ({ ...a }));
  }
  async addJob(rec: Omit<KeyJobRecord, 'seq'>): Promise<KeyJobRecord> {
    if (this.#jobs.has(rec.id)) throw new ServerError('SRV_ERR_CONFLICT', `key job ${rec.id} exists`);
    const full = { ...structuredClone(rec), seq: ++this.#seq };
    this.#jobs.set(rec.id, full);
    return structuredClone(full);
  }
  async putJob(rec: KeyJobRecord): Promise<void> { this.#jobs.set(rec.id, structuredClone(rec)); }
  async getJob(id: string): Promise<KeyJobRecord | undefined> { const j = this.#jobs.get(id); return j === undefined ? undefined : structuredClone(j); }
  async listJobs(filter: { groupId?: string; keySetId?: string; status?: KeyJobStatus } = {}): Promise<KeyJobRecord[]> {
    return [...this.#jobs.values()]
      .filter((j) => (filter.groupId === undefined || j.groupId === filter.groupId) && (filter.keySetId === undefined || j.keySetId === filter.keySetId) && (filter.status === undefined || j.status === filter.status))
      .sort((a, b) => b.seq - a.seq).map((j) => structuredClone(j));
  }
  async putJobTerminal(rec: KeyJobTerminalRecord): Promise<void> { this.#entries.set(`${rec.jobId}\u0000${rec.terminalId}`, { ...rec }); }
  async getJobTerminal(jobId: string, terminalId: string): Promise<KeyJobTerminalRecord | undefined> {
    const e = this.#entries.get(`${jobId}\u0000${terminalId}`);
    return e === undefined ? undefined : { ...e };
  }
  async listJobTerminals(jobId: string): Promise<KeyJobTerminalRecord[]> {
    return [...this.#entries.values()].filter((e) => e.jobId === jobId).sort((a, b) => (a.terminalId < b.terminalId ? -1 : 1)).map((e) => ({ ...e }));
  }
  async listTerminalEntries(terminalId: string, statuses?: readonly JobStatus[]): Promise<KeyJobTerminalRecord[]> {
    return [...this.#entries.values()].filter((e) => e.terminalId === terminalId && (statuses === undefined || statuses.includes(e.status)))
      .sort((a, b) => a.createdAt - b.createdAt || (a.jobId < b.jobId ? -1 : 1)).map((e) => ({ ...e }));
  }
}

/** DDL of the keys tables (idempotent); to be folded into the numbered migrations. */
export const KEYS_SQLITE_DDL = `
CREATE TABLE IF NOT EXISTS keys_set_versions (
  key_set_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  description TEXT NOT NULL,
  status TEXT NOT NULL,
  deadline INTEGER,
  master_kcv TEXT NOT NULL,
  keys TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  PRIMARY KEY (key_set_id, version)
);
CREATE TABLE IF NOT EXISTS keys_assignments (
  group_id TEXT PRIMARY KEY,
  key_set_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  assigned_at INTEGER NOT NULL,
  assigned_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS keys_jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  group_id TEXT NOT NULL,
  key_set_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  keys TEXT NOT NULL,
  expected_kcv TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS keys_jobs_group ON keys_jobs(group_id, status);
CREATE TABLE IF NOT EXISTS keys_job_terminals (
  job_id TEXT NOT NULL,
  terminal_id TEXT NOT NULL,
  status TEXT NOT NULL,
  reported_kcv TEXT,
  error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (job_id, terminal_id)
);
CREATE INDEX IF NOT EXISTS keys_job_terminals_terminal ON keys_job_terminals(terminal_id, status);
`;

interface VersionRow { key_set_id: string; version: number; description: string; status: string; deadline: number | null; master_kcv: string; keys: string; created_at: number; created_by: string }
const toVersion = (r: VersionRow): KeySetVersionRecord => ({
  keySetId: r.key_set_id, version: r.version, description: r.description, status: r.status as KeySetVersionStatus, deadline: r.deadline,
  masterKcv: r.master_kcv, keys: JSON.parse(r.keys) as StoredKey[], createdAt: r.created_at, createdBy: r.created_by,
});
interface AssignRow { group_id: string; key_set_id: string; version: number; assigned_at: number; assigned_by: string }
const toAssign = (r: AssignRow): KeyAssignmentRecord => ({ groupId: r.group_id, keySetId: r.key_set_id, version: r.version, assignedAt: r.assigned_at, assignedBy: r.assigned_by });
interface JobRow { seq: number; id: string; group_id: string; key_set_id: string; version: number; keys: string; expected_kcv: string; status: string; created_at: number; created_by: string }
const toJob = (r: JobRow): KeyJobRecord => ({
  id: r.id, seq: r.seq, groupId: r.group_id, keySetId: r.key_set_id, version: r.version, keys: JSON.parse(r.keys) as KeyRef[], expectedKcv: r.expected_kcv,
  status: r.status as KeyJobStatus, createdAt: r.created_at, createdBy: r.created_by,
});
interface EntryRow { job_id: string; terminal_id: string; status: string; reported_kcv: string | null; error: string | null; created_at: number; updated_at: number }
const toEntry = (r: EntryRow): KeyJobTerminalRecord => ({ jobId: r.job_id, terminalId: r.terminal_id, status: r.status as JobStatus, reportedKcv: r.reported_kcv, error: r.error, createdAt: r.created_at, updatedAt: r.updated_at });

export class SqliteKeysStore implements KeysStore {
  readonly #db: Database.Database;
  constructor(db: Database.Database) { this.#db = db; }

  async init(): Promise<void> { this.#db.exec(KEYS_SQLITE_DDL); }

  async addKeySetVersion(rec: KeySetVersionRecord): Promise<void> {
    try {
      this.#db.prepare('INSERT INTO keys_set_versions (key_set_id, version, description, status, deadline, master_kcv, keys, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(rec.keySetId, rec.version, rec.description, rec.status, rec.deadline, rec.masterKcv, JSON.stringify(rec.keys), rec.createdAt, rec.createdBy);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new ServerError('SRV_ERR_CONFLICT', `key set ${rec.keySetId} version ${rec.version} exists`);
      throw new ServerError('SRV_ERR_STORE', 'adding a key set version', {}, { cause: err });
    }
  }
  async putKeySetVersion(rec: KeySetVersionRecord): Promise<void> {
    this.#db.prepare(`INSERT INTO keys_set_versions (key_set_id, version, description, status, deadline, master_kcv, keys, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(key_set_id, version) DO UPDATE SET description = excluded.description, status = excluded.status, deadline = excluded.deadline, master_kcv = excluded.master_kcv, keys = excluded.keys`)
      .run(rec.keySetId, rec.version, rec.description, rec.status, rec.deadline, rec.masterKcv, JSON.stringify(rec.keys), rec.createdAt, rec.createdBy);
  }
  async getKeySetVersion(keySetId: string, version: number): Promise<KeySetVersionRecord | undefined> {
    const r = this.#db.prepare('SELECT * FROM keys_set_versions WHERE key_set_id = ? AND version = ?').get(keySetId, version) as VersionRow | undefined;
    return r === undefined ? undefined : toVersion(r);
  }
  async listKeySetVersions(keySetId?: string): Promise<KeySetVersionRecord[]> {
    const rows = keySetId === undefined
      ? this.#db.prepare('SELECT * FROM keys_set_versions ORDER BY key_set_id ASC, version DESC').all()
      : this.#db.prepare('SELECT * FROM keys_set_versions WHERE key_set_id = ? ORDER BY version DESC').all(keySetId);
    return (rows as VersionRow[]).map(toVersion);
  }
  async putAssignment(rec: KeyAssignmentRecord): Promise<void> {
    this.#db.prepare(`INSERT INTO keys_assignments (group_id, key_set_id, version, assigned_at, assigned_by) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(group_id) DO UPDATE SET key_set_id = excluded.key_set_id, version = excluded.version, assigned_at = excluded.assigned_at, assigned_by = excluded.assigned_by`)
      .run(rec.groupId, rec.keySetId, rec.version, rec.assignedAt, rec.assignedBy);
  }
  async getAssignment(groupId: string): Promise<KeyAssignmentRecord | undefined> {
    const r = this.#db.prepare('SELECT * FROM keys_assignments WHERE group_id = ?').get(groupId) as AssignRow | undefined;
    return r === undefined ? undefined : toAssign(r);
  }
  async deleteAssignment(groupId: string): Promise<boolean> {
    return this.#db.prepare('DELETE FROM keys_assignments WHERE group_id = ?').run(groupId).changes > 0;
  }
  async listAssignments(keySetId?: string): Promise<KeyAssignmentRecord[]> {
    const rows = keySetId === undefined
      ? this.#db.prepare('SELECT * FROM keys_assignments ORDER BY group_id').all()
      : this.#db.prepare('SELECT * FROM keys_assignments WHERE key_set_id = ? ORDER BY group_id').all(keySetId);
    return (rows as AssignRow[]).map(toAssign);
  }
  async addJob(rec: Omit<KeyJobRecord, 'seq'>): Promise<KeyJobRecord> {
    try {
      const seq = Number(this.#db.prepare('INSERT INTO keys_jobs (id, group_id, key_set_id, version, keys, expected_kcv, status, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(rec.id, rec.groupId, rec.keySetId, rec.version, JSON.stringify(rec.keys), rec.expectedKcv, rec.status, rec.createdAt, rec.createdBy).lastInsertRowid);
      return { ...rec, seq };
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new ServerError('SRV_ERR_CONFLICT', `key job ${rec.id} exists`);
      throw new ServerError('SRV_ERR_STORE', 'adding a key job', {}, { cause: err });
    }
  }
  async putJob(rec: KeyJobRecord): Promise<void> {
    this.#db.prepare('UPDATE keys_jobs SET status = ?, keys = ?, expected_kcv = ? WHERE id = ?').run(rec.status, JSON.stringify(rec.keys), rec.expectedKcv, rec.id);
  }
  async getJob(id: string): Promise<KeyJobRecord | undefined> {
    const r = this.#db.prepare('SELECT * FROM keys_jobs WHERE id = ?').get(id) as JobRow | undefined;
    return r === undefined ? undefined : toJob(r);
  }
  async listJobs(filter: { groupId?: string; keySetId?: string; status?: KeyJobStatus } = {}): Promise<KeyJobRecord[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.groupId !== undefined) { where.push('group_id = ?'); args.push(filter.groupId); }
    if (filter.keySetId !== undefined) { where.push('key_set_id = ?'); args.push(filter.keySetId); }
    if (filter.status !== undefined) { where.push('status = ?'); args.push(filter.status); }
    const sql = `SELECT * FROM keys_jobs ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC`;
    return (this.#db.prepare(sql).all(...args) as JobRow[]).map(toJob);
  }
  async putJobTerminal(rec: KeyJobTerminalRecord): Promise<void> {
    this.#db.prepare(`INSERT INTO keys_job_terminals (job_id, terminal_id, status, reported_kcv, error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(job_id, terminal_id) DO UPDATE SET status = excluded.status, reported_kcv = excluded.reported_kcv, error = excluded.error, updated_at = excluded.updated_at`)
      .run(rec.jobId, rec.terminalId, rec.status, rec.reportedKcv, rec.error, rec.createdAt, rec.updatedAt);
  }
  async getJobTerminal(jobId: string, terminalId: string): Promise<KeyJobTerminalRecord | undefined> {
    const r = this.#db.prepare('SELECT * FROM keys_job_terminals WHERE job_id = ? AND terminal_id = ?').get(jobId, terminalId) as EntryRow | undefined;
    return r === undefined ? undefined : toEntry(r);
  }
  async listJobTerminals(jobId: string): Promise<KeyJobTerminalRecord[]> {
    return (this.#db.prepare('SELECT * FROM keys_job_terminals WHERE job_id = ? ORDER BY terminal_id').all(jobId) as EntryRow[]).map(toEntry);
  }
  async listTerminalEntries(terminalId: string, statuses?: readonly JobStatus[]): Promise<KeyJobTerminalRecord[]> {
    if (statuses !== undefined && statuses.length === 0) return [];
    const where = statuses === undefined ? '' : ` AND status IN (${statuses.map(() => '?').join(',')})`;
    return (this.#db.prepare(`SELECT * FROM keys_job_terminals WHERE terminal_id = ?${where} ORDER BY created_at, job_id`).all(terminalId, ...(statuses ?? [])) as EntryRow[]).map(toEntry);
  }
}

/** The SQLite keys store when the main store exposes a better-sqlite3 `db`, else an in-memory one. */
export function keysStoreFor(store: unknown): KeysStore {
  const db = (store as { db?: unknown }).db;
  if (db !== undefined && db !== null && typeof (db as { prepare?: unknown }).prepare === 'function') return new SqliteKeysStore(db as Database.Database);
  return new MemoryKeysStore();
}
