/**
 * Where the updates feature keeps its records: uploaded packages (metadata; the archive and its
 * signature are files in the package directory) and rollouts (the rollout engine's state as
 * JSON). An interface, an in-memory implementation, and a SQLite one on the main store's
 * better-sqlite3 handle with its own `updates_*` tables; both run `test/updates/store.test.ts`.
 */
import type Database from 'better-sqlite3';
import { ServerError } from '../errors.ts';
import type { RolloutState, RolloutStatus } from './rollout.ts';

export interface PackageRecord {
  readonly id: string;
  /** Upload order, strictly increasing; the `version` number of job notifications. */
  readonly seq: number;
  readonly name: string;
  readonly version: string;
  readonly minPreviousVersion: string;
  readonly size: number;
  readonly sha256: string;
  readonly manifestSha256: string;
  readonly fileCount: number;
  readonly keyId: string;
  readonly alg: string;
  /** The signature file's text, handed to terminals as is. */
  readonly signature: string;
  readonly uploadedAt: number;
  readonly uploadedBy: string;
}

export interface TargetSelector {
  readonly groups?: readonly string[];
  readonly tags?: readonly string[];
  readonly terminals?: readonly string[];
}

export interface RolloutRecord {
  readonly id: string;
  readonly packageId: string;
  readonly target: TargetSelector;
  readonly createdBy: string;
  readonly state: RolloutState;
}

export interface UpdatesStore {
  /** Creates the tables when needed. */
  init(): Promise<void>;
  /** Stores a package, assigning `seq`. @throws ServerError `SRV_ERR_CONFLICT` when id or name+version exists */
  addPackage(rec: Omit<PackageRecord, 'seq'>): Promise<PackageRecord>;
  getPackage(id: string): Promise<PackageRecord | undefined>;
  listPackages(): Promise<PackageRecord[]>;
  /** Inserts or replaces a rollout. */
  putRollout(rec: RolloutRecord): Promise<void>;
  getRollout(id: string): Promise<RolloutRecord | undefined>;
  /** Rollouts, newest first; `status` filters. */
  listRollouts(status?: readonly RolloutStatus[]): Promise<RolloutRecord[]>;
}

export class MemoryUpdatesStore implements UpdatesStore {
  readonly #packages = new Map<string, PackageRecord>();
  readonly #rollouts = new Map<string, RolloutRecord>();
  #seq = 0;

  async init(): Promise<void> {}

  async addPackage(rec: Omit<PackageRecord, 'seq'>): Promise<PackageRecord> {
    if (this.#packages.has(rec.id) || [...this.#packages.values()].some((p) => p.name === rec.name && p.version === rec.version)) {
      throw new ServerError('SRV_ERR_CONFLICT', `package ${rec.name} ${rec.version} exists`);
    }
    const full = { ...rec, seq: ++this.#seq };
    this.#packages.set(rec.id, full);
    return full;
  }

  async getPackage(id: string): Promise<PackageRecord | undefined> {
    return this.#packages.get(id);
  }

  async listPackages(): Promise<PackageRecord[]> {
    return [...this.#packages.values()].sort((a, b) => b.seq - a.seq);
  }

  async putRollout(rec: RolloutRecord): Promise<void> {
    this.#rollouts.set(rec.id, structuredClone(rec));
  }

  async getRollout(id: string): Promise<RolloutRecord | undefined> {
    const r = this.#rollouts.get(id);
    return r === undefined ? undefined : structuredClone(r);
  }

  async listRollouts(status?: readonly RolloutStatus[]): Promise<RolloutRecord[]> {
    return [...this.#rollouts.values()]
      .filter((r) => status === undefined || status.includes(r.state.status))
      .sort((a, b) => b.state.createdAt - a.state.createdAt || (a.id < b.id ? 1 : -1))
      .map((r) => structuredClone(r));
  }
}

/** DDL of the updates tables (idempotent); the lead may fold it into the numbered migrations. */
export const UPDATES_SQLITE_DDL = `
CREATE TABLE IF NOT EXISTS updates_packages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  min_previous_version TEXT NOT NULL,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  manifest_sha256 TEXT NOT NULL,
  file_count INTEGER NOT NULL,
  key_id TEXT NOT NULL,
  alg TEXT NOT NULL,
  signature TEXT NOT NULL,
  uploaded_at INTEGER NOT NULL,
  uploaded_by TEXT NOT NULL,
  UNIQUE (name, version)
);
CREATE TABLE IF NOT EXISTS updates_rollouts (
  id TEXT PRIMARY KEY,
  package_id TEXT NOT NULL REFERENCES updates_packages(id),
  status TEXT NOT NULL,
  target TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS updates_rollouts_status ON updates_rollouts(status);
`;

interface PackageRow {
  seq: number; id: string; name: string; version: string; min_previous_version: string; size: number; sha256: string; manifest_sha256: string;
  file_count: number; key_id: string; alg: string; signature: string; uploaded_at: number; uploaded_by: string;
}

const toPackage = (r: PackageRow): PackageRecord => ({
  id: r.id, seq: r.seq, name: r.name, version: r.version, minPreviousVersion: r.min_previous_version, size: r.size, sha256: r.sha256,
  manifestSha256: r.manifest_sha256, fileCount: r.file_count, keyId: r.key_id, alg: r.alg, signature: r.signature, uploadedAt: r.uploaded_at, uploadedBy: r.uploaded_by,
});

interface RolloutRow { id: string; package_id: string; target: string; created_by: string; state: string }

const toRollout = (r: RolloutRow): RolloutRecord => ({ id: r.id, packageId: r.package_id, target: JSON.parse(r.target) as TargetSelector, createdBy: r.created_by, state: JSON.parse(r.state) as RolloutState });

export class SqliteUpdatesStore implements UpdatesStore {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  async init(): Promise<void> {
    this.#db.exec(UPDATES_SQLITE_DDL);
  }

  async addPackage(rec: Omit<PackageRecord, 'seq'>): Promise<PackageRecord> {
    try {
      const seq = Number(this.#db.prepare(`INSERT INTO updates_packages (id, name, version, min_previous_version, size, sha256, manifest_sha256, file_count, key_id, alg, signature, uploaded_at, uploaded_by)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(rec.id, rec.name, rec.version, rec.minPreviousVersion, rec.size, rec.sha256, rec.manifestSha256, rec.fileCount, rec.keyId, rec.alg, rec.signature, rec.uploadedAt, rec.uploadedBy).lastInsertRowid);
      return { ...rec, seq };
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new ServerError('SRV_ERR_CONFLICT', `package ${rec.name} ${rec.version} exists`);
      throw new ServerError('SRV_ERR_STORE', 'adding a package', {}, { cause: err });
    }
  }

  async getPackage(id: string): Promise<PackageRecord | undefined> {
    const r = this.#db.prepare('SELECT * FROM updates_packages WHERE id = ?').get(id) as PackageRow | undefined;
    return r === undefined ? undefined : toPackage(r);
  }

  async listPackages(): Promise<PackageRecord[]> {
    return (this.#db.prepare('SELECT * FROM updates_packages ORDER BY seq DESC').all() as PackageRow[]).map(toPackage);
  }

  async putRollout(rec: RolloutRecord): Promise<void> {
    this.#db.prepare(`INSERT INTO updates_rollouts (id, package_id, status, target, created_by, created_at, updated_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET status = excluded.status, updated_at = excluded.updated_at, state = excluded.state`)
      .run(rec.id, rec.packageId, rec.state.status, JSON.stringify(rec.target), rec.createdBy, rec.state.createdAt, rec.state.updatedAt, JSON.stringify(rec.state));
  }

  async getRollout(id: string): Promise<RolloutRecord | undefined> {
    const r = this.#db.prepare('SELECT id, package_id, target, created_by, state FROM updates_rollouts WHERE id = ?').get(id) as RolloutRow | undefined;
    return r === undefined ? undefined : toRollout(r);
  }

  async listRollouts(status?: readonly RolloutStatus[]): Promise<RolloutRecord[]> {
    const where = status === undefined ? '' : `WHERE status IN (${status.map(() => '?').join(',')})`;
    if (status !== undefined && status.length === 0) return [];
    return (this.#db.prepare(`SELECT id, package_id, target, created_by, state FROM updates_rollouts ${where} ORDER BY created_at DESC, id DESC`).all(...(status ?? [])) as RolloutRow[]).map(toRollout);
  }
}

/** The SQLite updates store when the main store exposes a better-sqlite3 `db`, else an in-memory one. */
export function updatesStoreFor(store: unknown): UpdatesStore {
  const db = (store as { db?: unknown }).db;
  if (db !== undefined && db !== null && typeof (db as { prepare?: unknown }).prepare === 'function') return new SqliteUpdatesStore(db as Database.Database);
  return new MemoryUpdatesStore();
}
