/**
 * The updates part of the PostgreSQL store ({@link UpdatesStore}), with the same behaviour as the
 * SQLite one (both run the updates tests of `test/store/conformance.ts`). Its tables come with the
 * numbered migrations; it shares the store's pool.
 */
import type pg from 'pg';
import { ServerError } from '../errors.ts';
import type { RolloutStatus } from '../updates/rollout.ts';
import { toPackage, toRollout, type PackageRow, type RolloutRow } from './rows.ts';
import { auditEntriesOf, insertAudit, withTransaction } from './pg-tx.ts';
import type { AuditOf, PackageRecord, RolloutRecord, UpdatesStore } from './types.ts';

const UNIQUE_VIOLATION = '23505';

export class PostgresUpdatesStore implements UpdatesStore {
  readonly #pool: pg.Pool;
  constructor(pool: pg.Pool) { this.#pool = pool; }

  async init(): Promise<void> {}

  /** Runs `fn` in one transaction with the audit entries it returns (see `AuditOf`). */
  #audited<R>(fn: (c: pg.PoolClient) => Promise<R>, audit: AuditOf<R> | undefined): Promise<R> {
    return withTransaction(this.#pool, async (c) => {
      const r = await fn(c);
      await insertAudit(c, auditEntriesOf(audit, r));
      return r;
    });
  }

  async addPackage(rec: Omit<PackageRecord, 'seq'>, audit?: AuditOf<PackageRecord>): Promise<PackageRecord> {
    return this.#audited((c) => this.#addPackage(c, rec), audit);
  }
  async #addPackage(c: pg.PoolClient, rec: Omit<PackageRecord, 'seq'>): Promise<PackageRecord> {
    try {
      const r = await c.query<{ seq: number }>(`INSERT INTO updates_packages (id, name, version, min_previous_version, size, sha256, manifest_sha256, file_count, key_id, alg, signature, uploaded_at, uploaded_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING seq`,
      [rec.id, rec.name, rec.version, rec.minPreviousVersion, rec.size, rec.sha256, rec.manifestSha256, rec.fileCount, rec.keyId, rec.alg, rec.signature, rec.uploadedAt, rec.uploadedBy]);
      return { ...rec, seq: r.rows[0]!.seq };
    } catch (err) {
      if ((err as { code?: string }).code === UNIQUE_VIOLATION) throw new ServerError('SRV_ERR_CONFLICT', `package ${rec.name} ${rec.version} exists`);
      throw new ServerError('SRV_ERR_STORE', 'adding a package', {}, { cause: err });
    }
  }
  async getPackage(id: string): Promise<PackageRecord | undefined> {
    const r = (await this.#pool.query<PackageRow>('SELECT * FROM updates_packages WHERE id = $1', [id])).rows[0];
    return r === undefined ? undefined : toPackage(r);
  }
  async listPackages(): Promise<PackageRecord[]> {
    return (await this.#pool.query<PackageRow>('SELECT * FROM updates_packages ORDER BY seq DESC')).rows.map(toPackage);
  }
  async putRollout(rec: RolloutRecord, audit?: AuditOf<void>): Promise<void> {
    const q = `INSERT INTO updates_rollouts (id, package_id, status, target, created_by, created_at, updated_at, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
      ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, state = excluded.state`;
    const args = [rec.id, rec.packageId, rec.state.status, JSON.stringify(rec.target), rec.createdBy, rec.state.createdAt, rec.state.updatedAt, JSON.stringify(rec.state)];
    if (audit === undefined) await this.#pool.query(q, args);
    else await this.#audited(async (c) => { await c.query(q, args); }, audit);
  }
  async getRollout(id: string): Promise<RolloutRecord | undefined> {
    const r = (await this.#pool.query<RolloutRow>('SELECT id, package_id, target, created_by, state FROM updates_rollouts WHERE id = $1', [id])).rows[0];
    return r === undefined ? undefined : toRollout(r);
  }
  async listRollouts(status?: readonly RolloutStatus[]): Promise<RolloutRecord[]> {
    if (status !== undefined && status.length === 0) return [];
    const rows = status === undefined
      ? (await this.#pool.query<RolloutRow>('SELECT id, package_id, target, created_by, state FROM updates_rollouts ORDER BY created_at DESC, id DESC')).rows
      : (await this.#pool.query<RolloutRow>('SELECT id, package_id, target, created_by, state FROM updates_rollouts WHERE status = ANY($1::text[]) ORDER BY created_at DESC, id DESC', [[...status]])).rows;
    return rows.map(toRollout);
  }
}
