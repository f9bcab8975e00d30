/**
 * The transit-keys part of the PostgreSQL store ({@link KeysStore}), with the same behaviour as
 * the SQLite one (both run the keys tests of `test/store/conformance.ts`). Its tables come with
 * the numbered migrations (`postgres-migrations.ts`); it shares the store's pool, so key sets,
 * jobs and approvals survive restarts and are seen by every server of a scaled-out layout.
 */
import type pg from 'pg';
import { ServerError } from '../errors.ts';
import type { JobStatus } from '../jobs/notifier.ts';
import {
  toKeyApproval, toKeyAssign, toKeyEntry, toKeyJob, toKeyVersion,
  type KeyApprovalRow, type KeyAssignRow, type KeyEntryRow, type KeyJobRow, type KeyVersionRow,
} from './rows.ts';
import type { AuditOf, KeyApprovalRecord, KeyAssignmentRecord, KeyCommitResult, KeyJobRecord, KeyJobStatus, KeyJobTerminalRecord, KeySetVersionRecord, KeysStore, KeyWrite } from './types.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

const UNIQUE_VIOLATION = '23505';
const pgCode = (e: unknown): string | undefined => (e as { code?: string }).code;

export class PostgresKeysStore implements KeysStore {
  readonly #pool: pg.Pool;
  constructor(pool: pg.Pool) { this.#pool = pool; }

  async #rows<R extends pg.QueryResultRow>(sql: string, args: unknown[] = [], q: Queryable = this.#pool): Promise<R[]> {
    return (await q.query<R>(sql, args)).rows;
  }

  async init(): Promise<void> {}

  async addKeySetVersion(rec: KeySetVersionRecord, q: Queryable = this.#pool): Promise<void> {
    try {
      await q.query('INSERT INTO keys_set_versions (key_set_id, version, description, status, deadline, master_kcv, keys, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
        [rec.keySetId, rec.version, rec.description, rec.status, rec.deadline, rec.masterKcv, JSON.stringify(rec.keys), rec.createdAt, rec.createdBy]);
    } catch (err) {
      if (pgCode(err) === UNIQUE_VIOLATION) throw new ServerError('SRV_ERR_CONFLICT', `key set ${rec.keySetId} version ${rec.version} exists`);
      throw new ServerError('SRV_ERR_STORE', 'adding a key set version', {}, { cause: err });
    }
  }
  async putKeySetVersion(rec: KeySetVersionRecord, q: Queryable = this.#pool): Promise<void> {
    await q.query(`INSERT INTO keys_set_versions (key_set_id, version, description, status, deadline, master_kcv, keys, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
      ON CONFLICT (key_set_id, version) DO UPDATE SET description = excluded.description, status = excluded.status, deadline = excluded.deadline, master_kcv = excluded.master_kcv, keys = excluded.keys`,
    [rec.keySetId, rec.version, rec.description, rec.status, rec.deadline, rec.masterKcv, JSON.stringify(rec.keys), rec.createdAt, rec.createdBy]);
  }
  async getKeySetVersion(keySetId: string, version: number): Promise<KeySetVersionRecord | undefined> {
    const r = (await this.#rows<KeyVersionRow>('SELECT * FROM keys_set_versions WHERE key_set_id = $1 AND version = $2', [keySetId, version]))[0];
    return r === undefined ? undefined : toKeyVersion(r);
  }
  async listKeySetVersions(keySetId?: string): Promise<KeySetVersionRecord[]> {
    const rows = keySetId === undefined
      ? await this.#rows<KeyVersionRow>('SELECT * FROM keys_set_versions ORDER BY key_set_id ASC, version DESC')
      : await this.#rows<KeyVersionRow>('SELECT * FROM keys_set_versions WHERE key_set_id = $1 ORDER BY version DESC', [keySetId]);
    return rows.map(toKeyVersion);
  }
  async putAssignment(rec: KeyAssignmentRecord, q: Queryable = this.#pool): Promise<void> {
    await q.query(`INSERT INTO keys_assignments (group_id, key_set_id, version, assigned_at, assigned_by) VALUES ($1, $2, $3, $4, $5)
      ON CONFLICT (group_id) DO UPDATE SET key_set_id = excluded.key_set_id, version = excluded.version, assigned_at = excluded.assigned_at, assigned_by = excluded.assigned_by`,
    [rec.groupId, rec.keySetId, rec.version, rec.assignedAt, rec.assignedBy]);
  }
  async getAssignment(groupId: string): Promise<KeyAssignmentRecord | undefined> {
    const r = (await this.#rows<KeyAssignRow>('SELECT * FROM keys_assignments WHERE group_id = $1', [groupId]))[0];
    return r === undefined ? undefined : toKeyAssign(r);
  }
  async deleteAssignment(groupId: string, q: Queryable = this.#pool): Promise<boolean> {
    return ((await q.query('DELETE FROM keys_assignments WHERE group_id = $1', [groupId])).rowCount ?? 0) > 0;
  }
  async listAssignments(keySetId?: string): Promise<KeyAssignmentRecord[]> {
    const rows = keySetId === undefined
      ? await this.#rows<KeyAssignRow>('SELECT * FROM keys_assignments ORDER BY group_id')
      : await this.#rows<KeyAssignRow>('SELECT * FROM keys_assignments WHERE key_set_id = $1 ORDER BY group_id', [keySetId]);
    return rows.map(toKeyAssign);
  }
  async addJob(rec: Omit<KeyJobRecord, 'seq'>, q: Queryable = this.#pool): Promise<KeyJobRecord> {
    try {
      const r = await this.#rows<{ seq: number }>('INSERT INTO keys_jobs (id, group_id, key_set_id, version, keys, expected_kcv, status, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq',
        [rec.id, rec.groupId, rec.keySetId, rec.version, JSON.stringify(rec.keys), rec.expectedKcv, rec.status, rec.createdAt, rec.createdBy], q);
      return { ...rec, seq: r[0]!.seq };
    } catch (err) {
      if (pgCode(err) === UNIQUE_VIOLATION) throw new ServerError('SRV_ERR_CONFLICT', `key job ${rec.id} exists`);
      throw new ServerError('SRV_ERR_STORE', 'adding a key job', {}, { cause: err });
    }
  }
  async putJob(rec: KeyJobRecord, q: Queryable = this.#pool): Promise<void> {
    await q.query('UPDATE keys_jobs SET status = $1, keys = $2, expected_kcv = $3 WHERE id = $4', [rec.status, JSON.stringify(rec.keys), rec.expectedKcv, rec.id]);
  }
  async getJob(id: string): Promise<KeyJobRecord | undefined> {
    const r = (await this.#rows<KeyJobRow>('SELECT * FROM keys_jobs WHERE id = $1', [id]))[0];
    return r === undefined ? undefined : toKeyJob(r);
  }
  async listJobs(filter: { groupId?: string; keySetId?: string; status?: KeyJobStatus } = {}): Promise<KeyJobRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (col: string, v: unknown): void => { args.push(v); where.push(`${col} = $${args.length}`); };
    if (filter.groupId !== undefined) add('group_id', filter.groupId);
    if (filter.keySetId !== undefined) add('key_set_id', filter.keySetId);
    if (filter.status !== undefined) add('status', filter.status);
    return (await this.#rows<KeyJobRow>(`SELECT * FROM keys_jobs ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC`, args)).map(toKeyJob);
  }
  async putJobTerminal(rec: KeyJobTerminalRecord, q: Queryable = this.#pool): Promise<void> {
    await q.query(`INSERT INTO keys_job_terminals (job_id, terminal_id, status, reported_kcv, error, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
      ON CONFLICT (job_id, terminal_id) DO UPDATE SET status = excluded.status, reported_kcv = excluded.reported_kcv, error = excluded.error, updated_at = excluded.updated_at`,
    [rec.jobId, rec.terminalId, rec.status, rec.reportedKcv, rec.error, rec.createdAt, rec.updatedAt]);
  }
  async getJobTerminal(jobId: string, terminalId: string): Promise<KeyJobTerminalRecord | undefined> {
    const r = (await this.#rows<KeyEntryRow>('SELECT * FROM keys_job_terminals WHERE job_id = $1 AND terminal_id = $2', [jobId, terminalId]))[0];
    return r === undefined ? undefined : toKeyEntry(r);
  }
  async listJobTerminals(jobId: string): Promise<KeyJobTerminalRecord[]> {
    return (await this.#rows<KeyEntryRow>('SELECT * FROM keys_job_terminals WHERE job_id = $1 ORDER BY terminal_id', [jobId])).map(toKeyEntry);
  }
  async listTerminalEntries(terminalId: string, statuses?: readonly JobStatus[]): Promise<KeyJobTerminalRecord[]> {
    if (statuses !== undefined && statuses.length === 0) return [];
    const rows = statuses === undefined
      ? await this.#rows<KeyEntryRow>('SELECT * FROM keys_job_terminals WHERE terminal_id = $1 ORDER BY created_at, job_id', [terminalId])
      : await this.#rows<KeyEntryRow>('SELECT * FROM keys_job_terminals WHERE terminal_id = $1 AND status = ANY($2::text[]) ORDER BY created_at, job_id', [terminalId, [...statuses]]);
    return rows.map(toKeyEntry);
  }
  async putApproval(rec: KeyApprovalRecord, q: Queryable = this.#pool): Promise<void> {
    await q.query(`INSERT INTO keys_approvals (terminal_id, public_key, approved_by, approved_at, expires_at, revoked_at, revoked_by) VALUES ($1, $2, $3, $4, $5, $6, $7)
      ON CONFLICT (terminal_id) DO UPDATE SET public_key = excluded.public_key, approved_by = excluded.approved_by, approved_at = excluded.approved_at,
        expires_at = excluded.expires_at, revoked_at = excluded.revoked_at, revoked_by = excluded.revoked_by`,
    [rec.terminalId, rec.publicKey, rec.approvedBy, rec.approvedAt, rec.expiresAt, rec.revokedAt, rec.revokedBy]);
  }
  async getApproval(terminalId: string): Promise<KeyApprovalRecord | undefined> {
    const r = (await this.#rows<KeyApprovalRow>('SELECT * FROM keys_approvals WHERE terminal_id = $1', [terminalId]))[0];
    return r === undefined ? undefined : toKeyApproval(r);
  }
  async listApprovals(): Promise<KeyApprovalRecord[]> {
    return (await this.#rows<KeyApprovalRow>('SELECT * FROM keys_approvals ORDER BY terminal_id')).map(toKeyApproval);
  }

  async commit(writes: readonly KeyWrite[], audit?: AuditOf<KeyCommitResult>): Promise<KeyCommitResult> {
    const c = await this.#pool.connect();
    try {
      await c.query('BEGIN');
      const jobs: KeyJobRecord[] = [];
      for (const w of writes) {
        switch (w.op) {
          case 'addKeySetVersion': await this.addKeySetVersion(w.rec, c); break;
          case 'putKeySetVersion': await this.putKeySetVersion(w.rec, c); break;
          case 'putAssignment': await this.putAssignment(w.rec, c); break;
          case 'deleteAssignment':
            if (!(await this.deleteAssignment(w.groupId, c))) throw new ServerError('SRV_ERR_NOT_FOUND', `no key set assigned to ${w.groupId}`);
            break;
          case 'addJob': jobs.push(await this.addJob(w.rec, c)); break;
          case 'putJob': await this.putJob(w.rec, c); break;
          case 'putJobTerminal': await this.putJobTerminal(w.rec, c); break;
          case 'putApproval': await this.putApproval(w.rec, c); break;
          case 'revokeApproval':
            if ((await c.query('UPDATE keys_approvals SET revoked_at = $1, revoked_by = $2 WHERE terminal_id = $3 AND revoked_at IS NULL', [w.at, w.by, w.terminalId])).rowCount !== 1) {
              throw new ServerError('SRV_ERR_NOT_FOUND', `no live key approval for terminal ${w.terminalId}`);
            }
            break;
        }
      }
      const result: KeyCommitResult = { jobs };
      for (const a of audit?.(result) ?? []) {
        await c.query('INSERT INTO audit (ts, actor, action, target, ip, details) VALUES ($1, $2, $3, $4, $5, $6)', [a.ts, a.actor, a.action, a.target, a.ip, JSON.stringify(a.details)]);
      }
      await c.query('COMMIT');
      return result;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }
}
