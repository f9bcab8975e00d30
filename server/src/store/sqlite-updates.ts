/**
 * The updates part of the SQLite store ({@link UpdatesStore}): uploaded packages (metadata; the
 * archive and its signature are files in the package directory) and rollouts (the rollout
 * engine's state as JSON). Its tables come with the store's numbered migrations.
 */
import type Database from 'better-sqlite3';
import { ServerError } from '../errors.ts';
import type { RolloutStatus } from '../updates/rollout.ts';
import { toPackage, toRollout, type PackageRow, type RolloutRow } from './rows.ts';
import type { AuditOf, PackageRecord, RolloutRecord, UpdatesStore } from './types.ts';

export class SqliteUpdatesStore implements UpdatesStore {
  readonly #db: Database.Database;
  constructor(db: Database.Database) { this.#db = db; }

  async init(): Promise<void> {}

  /** Inside a transaction: the audit entries of a mutation (see `AuditOf`). */
  #audit<R>(audit: AuditOf<R> | undefined, result: R): void {
    if (audit === undefined) return;
    const st = this.#db.prepare('INSERT INTO audit (ts, actor, action, target, ip, details) VALUES (?, ?, ?, ?, ?, ?)');
    for (const a of audit(result)) st.run(a.ts, a.actor, a.action, a.target, a.ip, JSON.stringify(a.details));
  }

  async addPackage(rec: Omit<PackageRecord, 'seq'>, audit?: AuditOf<PackageRecord>): Promise<PackageRecord> {
    return this.#db.transaction(() => {
      const added = this.#addPackageSync(rec);
      this.#audit(audit, added);
      return added;
    })();
  }
  #addPackageSync(rec: Omit<PackageRecord, 'seq'>): PackageRecord {
    let seq: number;
    try {
      seq = Number(this.#db.prepare(`INSERT INTO updates_packages (id, name, version, min_previous_version, size, sha256, manifest_sha256, file_count, key_id, alg, signature, uploaded_at, uploaded_by)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(rec.id, rec.name, rec.version, rec.minPreviousVersion, rec.size, rec.sha256, rec.manifestSha256, rec.fileCount, rec.keyId, rec.alg, rec.signature, rec.uploadedAt, rec.uploadedBy).lastInsertRowid);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new ServerError('SRV_ERR_CONFLICT', `package ${rec.name} ${rec.version} exists`);
      throw new ServerError('SRV_ERR_STORE', 'adding a package', {}, { cause: err });
    }
    return { ...rec, seq };
  }
  async getPackage(id: string): Promise<PackageRecord | undefined> {
    const r = this.#db.prepare('SELECT * FROM updates_packages WHERE id = ?').get(id) as PackageRow | undefined;
    return r === undefined ? undefined : toPackage(r);
  }
  async listPackages(): Promise<PackageRecord[]> {
    return (this.#db.prepare('SELECT * FROM updates_packages ORDER BY seq DESC').all() as PackageRow[]).map(toPackage);
  }
  async putRollout(rec: RolloutRecord, audit?: AuditOf<void>): Promise<void> {
    this.#db.transaction(() => {
      this.#db.prepare(`INSERT INTO updates_rollouts (id, package_id, status, target, created_by, created_at, updated_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, state = excluded.state`)
        .run(rec.id, rec.packageId, rec.state.status, JSON.stringify(rec.target), rec.createdBy, rec.state.createdAt, rec.state.updatedAt, JSON.stringify(rec.state));
      this.#audit(audit, undefined);
    })();
  }
  async getRollout(id: string): Promise<RolloutRecord | undefined> {
    const r = this.#db.prepare('SELECT id, package_id, target, created_by, state FROM updates_rollouts WHERE id = ?').get(id) as RolloutRow | undefined;
    return r === undefined ? undefined : toRollout(r);
  }
  async listRollouts(status?: readonly RolloutStatus[]): Promise<RolloutRecord[]> {
    if (status !== undefined && status.length === 0) return [];
    const where = status === undefined ? '' : `WHERE status IN (${status.map(() => '?').join(',')})`;
    return (this.#db.prepare(`SELECT id, package_id, target, created_by, state FROM updates_rollouts ${where} ORDER BY created_at DESC, id DESC`).all(...(status ?? [])) as RolloutRow[]).map(toRollout);
  }
}
