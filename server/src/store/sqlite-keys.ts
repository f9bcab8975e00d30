/**
 * The transit-keys part of the SQLite store ({@link KeysStore}): key-set versions (each key a
 * TR-31 `D` block under the master key, never a clear key), group assignments, key jobs, their
 * per-terminal entries and the key custodians' approvals. Its tables come with the store's
 * numbered migrations (`SQLITE_MIGRATIONS`); it shares the store's better-sqlite3 handle.
 */
import type Database from 'better-sqlite3';
import { ServerError } from '../errors.ts';
import type { JobStatus } from '../jobs/notifier.ts';
import {
  toKeyApproval, toKeyAssign, toKeyEntry, toKeyJob, toKeyVersion,
  type KeyApprovalRow, type KeyAssignRow, type KeyEntryRow, type KeyJobRow, type KeyVersionRow,
} from './rows.ts';
import type { AuditOf, KeyApprovalRecord, KeyAssignmentRecord, KeyCommitResult, KeyJobRecord, KeyJobStatus, KeyJobTerminalRecord, KeySetVersionRecord, KeysStore, KeyWrite } from './types.ts';

const sqliteCode = (e: unknown): string | undefined => (e as { code?: string }).code;

export class SqliteKeysStore implements KeysStore {
  readonly #db: Database.Database;
  constructor(db: Database.Database) { this.#db = db; }

  async init(): Promise<void> {}

  async addKeySetVersion(rec: KeySetVersionRecord): Promise<void> {
    this.#addKeySetVersion(rec);
  }
  #addKeySetVersion(rec: KeySetVersionRecord): void {
    try {
      this.#db.prepare('INSERT INTO keys_set_versions (key_set_id, version, description, status, deadline, master_kcv, keys, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(rec.keySetId, rec.version, rec.description, rec.status, rec.deadline, rec.masterKcv, JSON.stringify(rec.keys), rec.createdAt, rec.createdBy);
    } catch (err) {
      if (sqliteCode(err) === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new ServerError('SRV_ERR_CONFLICT', `key set ${rec.keySetId} version ${rec.version} exists`);
      throw new ServerError('SRV_ERR_STORE', 'adding a key set version', {}, { cause: err });
    }
  }
  async putKeySetVersion(rec: KeySetVersionRecord): Promise<void> {
    this.#putKeySetVersion(rec);
  }
  #putKeySetVersion(rec: KeySetVersionRecord): void {
    this.#db.prepare(`INSERT INTO keys_set_versions (key_set_id, version, description, status, deadline, master_kcv, keys, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(key_set_id, version) DO UPDATE SET description = excluded.description, status = excluded.status, deadline = excluded.deadline, master_kcv = excluded.master_kcv, keys = excluded.keys`)
      .run(rec.keySetId, rec.version, rec.description, rec.status, rec.deadline, rec.masterKcv, JSON.stringify(rec.keys), rec.createdAt, rec.createdBy);
  }
  async getKeySetVersion(keySetId: string, version: number): Promise<KeySetVersionRecord | undefined> {
    const r = this.#db.prepare('SELECT * FROM keys_set_versions WHERE key_set_id = ? AND version = ?').get(keySetId, version) as KeyVersionRow | undefined;
    return r === undefined ? undefined : toKeyVersion(r);
  }
  async listKeySetVersions(keySetId?: string): Promise<KeySetVersionRecord[]> {
    const rows = keySetId === undefined
      ? this.#db.prepare('SELECT * FROM keys_set_versions ORDER BY key_set_id ASC, version DESC').all()
      : this.#db.prepare('SELECT * FROM keys_set_versions WHERE key_set_id = ? ORDER BY version DESC').all(keySetId);
    return (rows as KeyVersionRow[]).map(toKeyVersion);
  }
  async putAssignment(rec: KeyAssignmentRecord): Promise<void> {
    this.#putAssignment(rec);
  }
  #putAssignment(rec: KeyAssignmentRecord): void {
    this.#db.prepare(`INSERT INTO keys_assignments (group_id, key_set_id, version, assigned_at, assigned_by) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(group_id) DO UPDATE SET key_set_id = excluded.key_set_id, version = excluded.version, assigned_at = excluded.assigned_at, assigned_by = excluded.assigned_by`)
      .run(rec.groupId, rec.keySetId, rec.version, rec.assignedAt, rec.assignedBy);
  }
  async getAssignment(groupId: string): Promise<KeyAssignmentRecord | undefined> {
    const r = this.#db.prepare('SELECT * FROM keys_assignments WHERE group_id = ?').get(groupId) as KeyAssignRow | undefined;
    return r === undefined ? undefined : toKeyAssign(r);
  }
  async deleteAssignment(groupId: string): Promise<boolean> {
    return this.#deleteAssignment(groupId);
  }
  #deleteAssignment(groupId: string): boolean {
    return this.#db.prepare('DELETE FROM keys_assignments WHERE group_id = ?').run(groupId).changes > 0;
  }
  async listAssignments(keySetId?: string): Promise<KeyAssignmentRecord[]> {
    const rows = keySetId === undefined
      ? this.#db.prepare('SELECT * FROM keys_assignments ORDER BY group_id').all()
      : this.#db.prepare('SELECT * FROM keys_assignments WHERE key_set_id = ? ORDER BY group_id').all(keySetId);
    return (rows as KeyAssignRow[]).map(toKeyAssign);
  }
  async addJob(rec: Omit<KeyJobRecord, 'seq'>): Promise<KeyJobRecord> {
    return this.#addJob(rec);
  }
  #addJob(rec: Omit<KeyJobRecord, 'seq'>): KeyJobRecord {
    try {
      const seq = Number(this.#db.prepare('INSERT INTO keys_jobs (id, group_id, key_set_id, version, keys, expected_kcv, status, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(rec.id, rec.groupId, rec.keySetId, rec.version, JSON.stringify(rec.keys), rec.expectedKcv, rec.status, rec.createdAt, rec.createdBy).lastInsertRowid);
      return { ...rec, seq };
    } catch (err) {
      if (sqliteCode(err) === 'SQLITE_CONSTRAINT_UNIQUE') throw new ServerError('SRV_ERR_CONFLICT', `key job ${rec.id} exists`);
      throw new ServerError('SRV_ERR_STORE', 'adding a key job', {}, { cause: err });
    }
  }
  async putJob(rec: KeyJobRecord): Promise<void> {
    this.#putJob(rec);
  }
  #putJob(rec: KeyJobRecord): void {
    this.#db.prepare('UPDATE keys_jobs SET status = ?, keys = ?, expected_kcv = ? WHERE id = ?').run(rec.status, JSON.stringify(rec.keys), rec.expectedKcv, rec.id);
  }
  async getJob(id: string): Promise<KeyJobRecord | undefined> {
    const r = this.#db.prepare('SELECT * FROM keys_jobs WHERE id = ?').get(id) as KeyJobRow | undefined;
    return r === undefined ? undefined : toKeyJob(r);
  }
  async listJobs(filter: { groupId?: string; keySetId?: string; status?: KeyJobStatus } = {}): Promise<KeyJobRecord[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.groupId !== undefined) { where.push('group_id = ?'); args.push(filter.groupId); }
    if (filter.keySetId !== undefined) { where.push('key_set_id = ?'); args.push(filter.keySetId); }
    if (filter.status !== undefined) { where.push('status = ?'); args.push(filter.status); }
    const sql = `SELECT * FROM keys_jobs ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC`;
    return (this.#db.prepare(sql).all(...args) as KeyJobRow[]).map(toKeyJob);
  }
  async putJobTerminal(rec: KeyJobTerminalRecord): Promise<void> {
    this.#putJobTerminal(rec);
  }
  #putJobTerminal(rec: KeyJobTerminalRecord): void {
    this.#db.prepare(`INSERT INTO keys_job_terminals (job_id, terminal_id, status, reported_kcv, error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(job_id, terminal_id) DO UPDATE SET status = excluded.status, reported_kcv = excluded.reported_kcv, error = excluded.error, updated_at = excluded.updated_at`)
      .run(rec.jobId, rec.terminalId, rec.status, rec.reportedKcv, rec.error, rec.createdAt, rec.updatedAt);
  }
  async getJobTerminal(jobId: string, terminalId: string): Promise<KeyJobTerminalRecord | undefined> {
    const r = this.#db.prepare('SELECT * FROM keys_job_terminals WHERE job_id = ? AND terminal_id = ?').get(jobId, terminalId) as KeyEntryRow | undefined;
    return r === undefined ? undefined : toKeyEntry(r);
  }
  async listJobTerminals(jobId: string): Promise<KeyJobTerminalRecord[]> {
    return (this.#db.prepare('SELECT * FROM keys_job_terminals WHERE job_id = ? ORDER BY terminal_id').all(jobId) as KeyEntryRow[]).map(toKeyEntry);
  }
  async listTerminalEntries(terminalId: string, statuses?: readonly JobStatus[]): Promise<KeyJobTerminalRecord[]> {
    if (statuses !== undefined && statuses.length === 0) return [];
    const where = statuses === undefined ? '' : ` AND status IN (${statuses.map(() => '?').join(',')})`;
    return (this.#db.prepare(`SELECT * FROM keys_job_terminals WHERE terminal_id = ?${where} ORDER BY created_at, job_id`).all(terminalId, ...(statuses ?? [])) as KeyEntryRow[]).map(toKeyEntry);
  }
  async putApproval(rec: KeyApprovalRecord): Promise<void> {
    this.#putApproval(rec);
  }
  #putApproval(rec: KeyApprovalRecord): void {
    this.#db.prepare(`INSERT INTO keys_approvals (terminal_id, public_key, approved_by, approved_at, expires_at, revoked_at, revoked_by) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(terminal_id) DO UPDATE SET public_key = excluded.public_key, approved_by = excluded.approved_by, approved_at = excluded.approved_at,
        expires_at = excluded.expires_at, revoked_at = excluded.revoked_at, revoked_by = excluded.revoked_by`)
      .run(rec.terminalId, rec.publicKey, rec.approvedBy, rec.approvedAt, rec.expiresAt, rec.revokedAt, rec.revokedBy);
  }
  async getApproval(terminalId: string): Promise<KeyApprovalRecord | undefined> {
    const r = this.#db.prepare('SELECT * FROM keys_approvals WHERE terminal_id = ?').get(terminalId) as KeyApprovalRow | undefined;
    return r === undefined ? undefined : toKeyApproval(r);
  }
  async listApprovals(): Promise<KeyApprovalRecord[]> {
    return (this.#db.prepare('SELECT * FROM keys_approvals ORDER BY terminal_id').all() as KeyApprovalRow[]).map(toKeyApproval);
  }

  async commit(writes: readonly KeyWrite[], audit?: AuditOf<KeyCommitResult>): Promise<KeyCommitResult> {
    return this.#db.transaction((): KeyCommitResult => {
      const jobs: KeyJobRecord[] = [];
      for (const w of writes) {
        switch (w.op) {
          case 'addKeySetVersion': this.#addKeySetVersion(w.rec); break;
          case 'putKeySetVersion': this.#putKeySetVersion(w.rec); break;
          case 'putAssignment': this.#putAssignment(w.rec); break;
          case 'deleteAssignment':
            if (!this.#deleteAssignment(w.groupId)) throw new ServerError('SRV_ERR_NOT_FOUND', `no key set assigned to ${w.groupId}`);
            break;
          case 'addJob': jobs.push(this.#addJob(w.rec)); break;
          case 'putJob': this.#putJob(w.rec); break;
          case 'putJobTerminal': this.#putJobTerminal(w.rec); break;
          case 'putApproval': this.#putApproval(w.rec); break;
          case 'revokeApproval':
            if (this.#db.prepare('UPDATE keys_approvals SET revoked_at = ?, revoked_by = ? WHERE terminal_id = ? AND revoked_at IS NULL').run(w.at, w.by, w.terminalId).changes !== 1) {
              throw new ServerError('SRV_ERR_NOT_FOUND', `no live key approval for terminal ${w.terminalId}`);
            }
            break;
        }
      }
      const result: KeyCommitResult = { jobs };
      if (audit !== undefined) {
        const st = this.#db.prepare('INSERT INTO audit (ts, actor, action, target, ip, details) VALUES (?, ?, ?, ?, ?, ?)');
        for (const a of audit(result)) st.run(a.ts, a.actor, a.action, a.target, a.ip, JSON.stringify(a.details));
      }
      return result;
    })();
  }
}
