/**
 * The default server store: one SQLite file in the data directory through better-sqlite3, in WAL
 * mode, with numbered migrations applied in a transaction at open. Implements {@link Store}.
 */
import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { ServerError } from '../errors.ts';
import { SqliteKeysStore } from './sqlite-keys.ts';
import { SqliteOidcStore } from './sqlite-oidc.ts';
import { SqliteUpdatesStore } from './sqlite-updates.ts';
import { REGISTRY_SQLITE_MIGRATION, SqliteRegistryStore } from './sqlite-registry.ts';
import { VENUES_SQLITE_MIGRATION } from '../venues/store.ts';
import {
  toAssignment, toAudit, toDoc, toEff, toEnrol, toEvent, toGroup, toHot, toStatus, toTele, toTerminal, toToken, toVersion, toVersionMeta,
  type AssignmentRow, type AuditRow, type DocRow, type EffRow, type EnrolRow, type EventRow, type GroupRow, type HotlistRow, type StatusRow, type TeleRow, type TerminalRow, type TokenRow, type StaffRow, toStaff, STAFF_COLUMNS, type VersionRow, DOC_SELECT, EFFECTIVE_SQL,
} from './rows.ts';
import { foldHotlistSteps, hotlistSteps, type AppliedHotlistChanges } from './hotlist-changes.ts';
import type { AdminRecovery, AuditOf, StaffCredentialRecord, IngestBatch } from './types.ts';
import type {
  AdminTokenRecord, AuditRecord, EnrolmentTokenRecord, GroupRecord, NewEnrolmentToken, NewAuditRecord, PresenceUpdate, Role, Store,
  TerminalFilter, TerminalPatch, TerminalRecord,
  ConfigAssignment, ConfigDocRecord, ConfigScope, ConfigStatusRecord, ConfigVersionRecord, EffectiveConfig, EventFilter, EventRecord,
  HotlistAdd, HotlistChange, HotlistChangeResult, HotlistDelta, HotlistEntry, IngestResult, NewEvent, TelemetryRecord, TerminalConfigState,
} from './types.ts';

/** Schema migrations, applied in order; the applied count is kept in `PRAGMA user_version`. */
export const SQLITE_MIGRATIONS: readonly string[] = [
  `CREATE TABLE admin_tokens (
     id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL, revoked_at INTEGER);
   CREATE TABLE groups (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL);
   CREATE TABLE enrolment_tokens (
     id TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, group_id TEXT NOT NULL REFERENCES groups(id),
     tags TEXT NOT NULL, expires_at INTEGER NOT NULL, created_at INTEGER NOT NULL, created_by TEXT NOT NULL,
     used_at INTEGER, used_by TEXT, for_terminal TEXT);
   CREATE TABLE terminals (
     id TEXT PRIMARY KEY, group_id TEXT NOT NULL REFERENCES groups(id), tags TEXT NOT NULL, kind TEXT NOT NULL,
     public_key TEXT NOT NULL, credential_hash TEXT NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL,
     last_seen INTEGER, online INTEGER NOT NULL DEFAULT 0, epoch INTEGER NOT NULL DEFAULT 0, reported TEXT NOT NULL DEFAULT '{}');
   CREATE INDEX terminals_group ON terminals(group_id);
   CREATE TABLE audit (
     id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
     target TEXT NOT NULL, ip TEXT NOT NULL, details TEXT NOT NULL);
   CREATE INDEX audit_actor ON audit(actor);`,
  // 2: configuration, hotlist, events, telemetry; bearer lookup of terminal credentials.
  `CREATE INDEX terminals_credential ON terminals(credential_hash);
   CREATE TABLE config_docs (
     id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL, version INTEGER NOT NULL,
     updated_at INTEGER NOT NULL, updated_by TEXT NOT NULL);
   CREATE TABLE config_versions (
     version INTEGER PRIMARY KEY AUTOINCREMENT, doc_id TEXT NOT NULL REFERENCES config_docs(id) DEFERRABLE INITIALLY DEFERRED,
     sha256 TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL, created_by TEXT NOT NULL);
   CREATE INDEX config_versions_doc ON config_versions(doc_id);
   CREATE TABLE config_assignments (
     scope TEXT NOT NULL, target TEXT NOT NULL, doc_id TEXT NOT NULL REFERENCES config_docs(id), PRIMARY KEY (scope, target)) WITHOUT ROWID;
   CREATE INDEX config_assignments_doc ON config_assignments(doc_id);
   CREATE TABLE terminal_config_status (
     terminal_id TEXT PRIMARY KEY, version INTEGER NOT NULL, status TEXT NOT NULL, error_code TEXT, error_message TEXT,
     at INTEGER NOT NULL, applied_version INTEGER) WITHOUT ROWID;
   CREATE TABLE hotlist (
     card_number TEXT PRIMARY KEY, version INTEGER NOT NULL, reported_at INTEGER NOT NULL, reported_by TEXT NOT NULL,
     source TEXT NOT NULL, reason TEXT NOT NULL) WITHOUT ROWID;
   CREATE TABLE hotlist_log (
     version INTEGER NOT NULL, card_number TEXT NOT NULL, op TEXT NOT NULL, at INTEGER NOT NULL, by TEXT NOT NULL,
     PRIMARY KEY (version, card_number)) WITHOUT ROWID;
   CREATE TABLE hotlist_meta (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, log_floor INTEGER NOT NULL);
   INSERT INTO hotlist_meta (id, version, log_floor) VALUES (1, 0, 0);
   CREATE TABLE events (
     id INTEGER PRIMARY KEY, terminal_id TEXT NOT NULL, event_id TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER NOT NULL,
     type TEXT NOT NULL, body TEXT NOT NULL, received_at INTEGER NOT NULL, UNIQUE (terminal_id, event_id));
   CREATE INDEX events_terminal_ts ON events(terminal_id, ts);
   CREATE INDEX events_type_ts ON events(type, ts);
   CREATE TABLE telemetry (
     terminal_id TEXT PRIMARY KEY, ts INTEGER NOT NULL, received_at INTEGER NOT NULL, epoch INTEGER NOT NULL, health TEXT NOT NULL,
     readers TEXT NOT NULL, counters TEXT NOT NULL, outbox TEXT) WITHOUT ROWID;`,
  // 3: transit keys (key-set versions, assignments, key jobs and their terminals, custodian approvals)
  // and software updates (packages, rollouts). IF NOT EXISTS: earlier builds created some of these
  // tables outside the migrations, with the same columns.
  `CREATE TABLE IF NOT EXISTS keys_set_versions (
     key_set_id TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL, status TEXT NOT NULL, deadline INTEGER,
     master_kcv TEXT NOT NULL, keys TEXT NOT NULL, created_at INTEGER NOT NULL, created_by TEXT NOT NULL, PRIMARY KEY (key_set_id, version));
   CREATE TABLE IF NOT EXISTS keys_assignments (
     group_id TEXT PRIMARY KEY, key_set_id TEXT NOT NULL, version INTEGER NOT NULL, assigned_at INTEGER NOT NULL, assigned_by TEXT NOT NULL);
   CREATE TABLE IF NOT EXISTS keys_jobs (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, group_id TEXT NOT NULL, key_set_id TEXT NOT NULL,
     version INTEGER NOT NULL, keys TEXT NOT NULL, expected_kcv TEXT NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL, created_by TEXT NOT NULL);
   CREATE INDEX IF NOT EXISTS keys_jobs_group ON keys_jobs(group_id, status);
   CREATE TABLE IF NOT EXISTS keys_job_terminals (
     job_id TEXT NOT NULL, terminal_id TEXT NOT NULL, status TEXT NOT NULL, reported_kcv TEXT, error TEXT,
     created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (job_id, terminal_id));
   CREATE INDEX IF NOT EXISTS keys_job_terminals_terminal ON keys_job_terminals(terminal_id, status);
   CREATE TABLE keys_approvals (
     terminal_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, approved_by TEXT NOT NULL, approved_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL, revoked_at INTEGER, revoked_by TEXT);
   CREATE TABLE IF NOT EXISTS updates_packages (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, version TEXT NOT NULL,
     min_previous_version TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, manifest_sha256 TEXT NOT NULL, file_count INTEGER NOT NULL,
     key_id TEXT NOT NULL, alg TEXT NOT NULL, signature TEXT NOT NULL, uploaded_at INTEGER NOT NULL, uploaded_by TEXT NOT NULL, UNIQUE (name, version));
   CREATE TABLE IF NOT EXISTS updates_rollouts (
     id TEXT PRIMARY KEY, package_id TEXT NOT NULL REFERENCES updates_packages(id), status TEXT NOT NULL, target TEXT NOT NULL,
     created_by TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, state TEXT NOT NULL);
   CREATE INDEX IF NOT EXISTS updates_rollouts_status ON updates_rollouts(status);`,
  // 4: per-field effects of the last configuration status report (JSON)
  `ALTER TABLE terminal_config_status ADD COLUMN changes TEXT;`,
  // 5: human terminal names (set at enrolment or by an admin), shown beside the id.
  `ALTER TABLE terminals ADD COLUMN name TEXT;`,
  // 6: staff credentials for the counter desk (hash only; groups as a JSON array).
  `CREATE TABLE staff_credentials (
     id TEXT PRIMARY KEY, staff_id TEXT NOT NULL, name TEXT NOT NULL, groups TEXT NOT NULL, credential_hash TEXT NOT NULL UNIQUE,
     created_at INTEGER NOT NULL, created_by TEXT NOT NULL, revoked_at INTEGER);`,
  // 7: card registry (sealed personal data, keyed hashes, history, status feed) and the departments' data sharing (registry/, sharing/).
  REGISTRY_SQLITE_MIGRATION,
  // 8: card login (docs/login.md): relying parties, login transactions, provider signing keys (sealed),
  // terminal groups allowed to authenticate, the e-card key registry, accounts (claims sealed) and the
  // OpenID Provider's artefacts (sessions, grants, codes, interactions).
  `CREATE TABLE oidc_relying_parties (id TEXT PRIMARY KEY, body TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
   CREATE TABLE oidc_logins (code TEXT PRIMARY KEY, uid TEXT NOT NULL, status TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
   CREATE INDEX oidc_logins_uid ON oidc_logins(uid);
   CREATE TABLE oidc_provider_keys (kid TEXT PRIMARY KEY, status TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL);
   CREATE TABLE oidc_login_groups (group_id TEXT PRIMARY KEY, allowed INTEGER NOT NULL, updated_at INTEGER NOT NULL, updated_by TEXT NOT NULL);
   CREATE TABLE oidc_ecard_holders (holder_ref TEXT PRIMARY KEY, body TEXT NOT NULL, registered_at INTEGER NOT NULL, revoked_at INTEGER);
   CREATE TABLE oidc_accounts (account_id TEXT PRIMARY KEY, sealed TEXT NOT NULL, updated_at INTEGER NOT NULL);
   CREATE TABLE oidc_payloads (
     model TEXT NOT NULL, id TEXT NOT NULL, payload TEXT NOT NULL, grant_id TEXT, uid TEXT, user_code TEXT,
     expires_at INTEGER, consumed_at INTEGER, PRIMARY KEY (model, id));
   CREATE INDEX oidc_payloads_grant ON oidc_payloads(grant_id);
   CREATE INDEX oidc_payloads_uid ON oidc_payloads(uid);`,
  // venue events and their registrations (holder keys only; venues/store.ts).
  VENUES_SQLITE_MIGRATION,
];


/** How often `ping()` (behind `/ready`) re-runs `PRAGMA quick_check`; an `ok` result is kept in between. */
export const SQLITE_INTEGRITY_INTERVAL_MS = 60_000;

export interface SqliteStoreOptions {
  /** Period of the integrity check behind `ping()` (default {@link SQLITE_INTEGRITY_INTERVAL_MS}; 0: every call). */
  readonly integrityIntervalMs?: number;
}

/** Owner-only: the database holds token hashes, terminal credentials and personal data. */
const DB_FILE_MODE = 0o600;

const isCorruption = (e: unknown): boolean => {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB'));
};

/** Sets the database file and its WAL/shared-memory companions to owner-only, where they exist. */
function restrictFiles(path: string): void {
  for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, DB_FILE_MODE);
}

/**
 * Opens a SQLite store at `path` (`:memory:` for tests) and migrates it. A fresh install happens
 * only when the file is absent: the file is then created with mode 0600 before SQLite opens it. An
 * existing file must be a sound database: a zero-length file (a failed copy or restore, a full
 * disk) or one `PRAGMA quick_check` finds corrupt is refused rather than silently replaced by an
 * empty store with a new admin token. Existing files (and `-wal`/`-shm`) are set to mode 0600.
 * @throws ServerError `SRV_ERR_STORE_CORRUPT` (details: path, reason `empty` | `corrupt`),
 *   `SRV_ERR_MIGRATION` when a migration fails or the file is newer than this code.
 */
export function openSqliteStore(path: string, opts: SqliteStoreOptions = {}): SqliteStore {
  if (path === ':memory:' || path === '') return new SqliteStore(new Database(path), opts);
  let fresh = false;
  try {
    if (statSync(path).size === 0) throw new ServerError('SRV_ERR_STORE_CORRUPT', `${path} is empty`, { path, reason: 'empty' });
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
    fresh = true;
    closeSync(openSync(path, 'wx', DB_FILE_MODE));
  }
  if (!fresh) restrictFiles(path);
  let db: Database.Database | undefined;
  try {
    db = new Database(path);
    if (!fresh) {
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new ServerError('SRV_ERR_STORE_CORRUPT', `${path}: ${String(check).slice(0, 200)}`, { path, reason: 'corrupt' });
    }
    const store = new SqliteStore(db, opts);
    restrictFiles(path);
    return store;
  } catch (e) {
    db?.close();
    if (e instanceof ServerError) throw e;
    if (isCorruption(e)) throw new ServerError('SRV_ERR_STORE_CORRUPT', path, { path, reason: 'corrupt' }, { cause: e });
    throw e;
  }
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly #db: Database.Database;
  readonly keys: SqliteKeysStore;
  readonly oidc: SqliteOidcStore;
  readonly updates: SqliteUpdatesStore;
  readonly registry: SqliteRegistryStore;

  readonly #integrityIntervalMs: number;

  constructor(db: Database.Database, opts: SqliteStoreOptions = {}) {
    this.#db = db;
    this.#integrityIntervalMs = opts.integrityIntervalMs ?? SQLITE_INTEGRITY_INTERVAL_MS;
    this.keys = new SqliteKeysStore(db);
    this.oidc = new SqliteOidcStore(db);
    this.updates = new SqliteUpdatesStore(db);
    this.registry = new SqliteRegistryStore(db);
    db.pragma('journal_mode = WAL');
    // FULL: every commit (an ingested batch before its ack, an audited mutation) is on disk before
    // the call returns; NORMAL in WAL mode may lose the last commits on power loss.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    this.#migrate();
  }

  /** Compiled statements by SQL text: the hot paths (auth, presence, config status, ingest) reuse them. */
  readonly #stmts = new Map<string, Database.Statement>();

  /** A cached prepared statement for `sql` (the cache is bounded; the SQL texts used here are a small fixed set). */
  #prep(sql: string): Database.Statement {
    let st = this.#stmts.get(sql);
    if (st === undefined) {
      st = this.#db.prepare(sql);
      if (this.#stmts.size >= 512) this.#stmts.clear();
      this.#stmts.set(sql, st);
    }
    return st;
  }

  /** The underlying handle, for feature modules that add their own tables through {@link migrate}. */
  get db(): Database.Database {
    return this.#db;
  }

  #migrate(): void {
    const current = this.#db.pragma('user_version', { simple: true }) as number;
    if (current > SQLITE_MIGRATIONS.length) {
      throw new ServerError('SRV_ERR_MIGRATION', `database is at version ${current}, this server knows ${SQLITE_MIGRATIONS.length}`);
    }
    for (let v = current; v < SQLITE_MIGRATIONS.length; v++) {
      try {
        this.#db.transaction(() => {
          this.#db.exec(SQLITE_MIGRATIONS[v]!);
          this.#db.pragma(`user_version = ${v + 1}`);
        })();
      } catch (cause) {
        throw new ServerError('SRV_ERR_MIGRATION', `migration ${v + 1}`, { version: v + 1 }, { cause });
      }
    }
  }

  /** Inside a transaction: writes the audit entries `audit` builds from `result`. */
  #audit<R>(audit: AuditOf<R> | undefined, result: R): void {
    if (audit === undefined) return;
    const st = this.#prep('INSERT INTO audit (ts, actor, action, target, ip, details) VALUES (?, ?, ?, ?, ?, ?)');
    for (const rec of audit(result)) st.run(rec.ts, rec.actor, rec.action, rec.target, rec.ip, JSON.stringify(rec.details));
  }

  async createAdminToken(rec: { id: string; name: string; role: Role; tokenHash: string; createdAt: number }, audit?: AuditOf<void>): Promise<void> {
    this.#db.transaction(() => {
      this.#prep('INSERT INTO admin_tokens (id, name, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?)').run(rec.id, rec.name, rec.role, rec.tokenHash, rec.createdAt);
      this.#audit(audit, undefined);
    })();
  }

  async findAdminTokenByHash(tokenHash: string): Promise<AdminTokenRecord | undefined> {
    const r = this.#prep('SELECT id, name, role, created_at, revoked_at FROM admin_tokens WHERE token_hash = ?').get(tokenHash) as TokenRow | undefined;
    return r === undefined ? undefined : toToken(r);
  }

  async listAdminTokens(): Promise<AdminTokenRecord[]> {
    return (this.#prep('SELECT id, name, role, created_at, revoked_at FROM admin_tokens ORDER BY created_at, id').all() as TokenRow[]).map(toToken);
  }

  async countActiveAdminTokens(): Promise<number> {
    return (this.#prep('SELECT count(*) AS n FROM admin_tokens WHERE revoked_at IS NULL').get() as { n: number }).n;
  }

  async revokeAdminToken(id: string, at: number, audit?: AuditOf<boolean>): Promise<boolean> {
    return this.#db.transaction(() => {
      const row = this.#prep('SELECT role, revoked_at FROM admin_tokens WHERE id = ?').get(id) as { role: string; revoked_at: number | null } | undefined;
      if (row === undefined || row.revoked_at !== null) return false;
      if (row.role === 'admin' && (this.#prep("SELECT count(*) AS n FROM admin_tokens WHERE role = 'admin' AND revoked_at IS NULL").get() as { n: number }).n <= 1) {
        throw new ServerError('SRV_ERR_LAST_ADMIN', id, { id });
      }
      this.#prep('UPDATE admin_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id);
      this.#audit(audit, true);
      return true;
    })();
  }

  async recoverAdminToken(rec: { id: string; name: string; tokenHash: string; createdAt: number }, audit?: AuditOf<AdminRecovery>): Promise<AdminRecovery> {
    return this.#db.transaction((): AdminRecovery => {
      const row = this.#prep('SELECT id, role, revoked_at FROM admin_tokens WHERE token_hash = ?').get(rec.tokenHash) as { id: string; role: string; revoked_at: number | null } | undefined;
      let done: AdminRecovery;
      if (row === undefined) {
        this.#prep("INSERT INTO admin_tokens (id, name, role, token_hash, created_at) VALUES (?, ?, 'admin', ?, ?)").run(rec.id, rec.name, rec.tokenHash, rec.createdAt);
        done = 'created';
      } else if (row.role === 'admin' && row.revoked_at === null) {
        return 'unchanged';
      } else {
        this.#prep("UPDATE admin_tokens SET role = 'admin', revoked_at = NULL WHERE id = ?").run(row.id);
        done = 'restored';
      }
      this.#audit(audit, done);
      return done;
    })();
  }

  async createStaffCredential(rec: Omit<StaffCredentialRecord, 'revokedAt'> & { readonly credentialHash: string }, audit?: AuditOf<void>): Promise<void> {
    this.#db.transaction(() => {
      this.#prep('INSERT INTO staff_credentials (id, staff_id, name, groups, credential_hash, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(rec.id, rec.staffId, rec.name, JSON.stringify(rec.groups), rec.credentialHash, rec.createdAt, rec.createdBy);
      this.#audit(audit, undefined);
    })();
  }

  async findStaffCredentialByHash(credentialHash: string): Promise<StaffCredentialRecord | undefined> {
    const r = this.#prep(`SELECT ${STAFF_COLUMNS} FROM staff_credentials WHERE credential_hash = ?`).get(credentialHash) as StaffRow | undefined;
    return r === undefined ? undefined : toStaff(r);
  }

  async listStaffCredentials(): Promise<StaffCredentialRecord[]> {
    return (this.#prep(`SELECT ${STAFF_COLUMNS} FROM staff_credentials ORDER BY created_at, id`).all() as StaffRow[]).map(toStaff);
  }

  async revokeStaffCredential(id: string, at: number, audit?: AuditOf<boolean>): Promise<boolean> {
    return this.#db.transaction(() => {
      const changed = this.#prep('UPDATE staff_credentials SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id).changes > 0;
      if (changed) this.#audit(audit, true);
      return changed;
    })();
  }

  async createGroup(rec: { id: string; name: string; createdAt: number }, audit?: AuditOf<void>): Promise<void> {
    this.#db.transaction(() => {
      try {
        this.#prep('INSERT INTO groups (id, name, created_at) VALUES (?, ?, ?)').run(rec.id, rec.name, rec.createdAt);
      } catch (cause) {
        throw new ServerError('SRV_ERR_CONFLICT', `group ${rec.id} exists`, { id: rec.id }, { cause });
      }
      this.#audit(audit, undefined);
    })();
  }

  async getGroup(id: string): Promise<GroupRecord | undefined> {
    const r = this.#prep('SELECT id, name, created_at FROM groups WHERE id = ?').get(id) as GroupRow | undefined;
    return r === undefined ? undefined : toGroup(r);
  }

  async listGroups(): Promise<GroupRecord[]> {
    return (this.#prep('SELECT id, name, created_at FROM groups ORDER BY id').all() as GroupRow[]).map(toGroup);
  }

  async createEnrolmentToken(rec: NewEnrolmentToken, audit?: AuditOf<void>): Promise<void> {
    this.#db.transaction(() => {
      this.#prep('INSERT INTO enrolment_tokens (id, token_hash, group_id, tags, expires_at, created_at, created_by, for_terminal) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(rec.id, rec.tokenHash, rec.groupId, JSON.stringify(rec.tags), rec.expiresAt, rec.createdAt, rec.createdBy, rec.forTerminal ?? null);
      this.#audit(audit, undefined);
    })();
  }

  async revokeEnrolmentToken(id: string, audit?: AuditOf<boolean>): Promise<boolean> {
    return this.#db.transaction(() => {
      const ok = this.#prep('UPDATE enrolment_tokens SET expires_at = 0 WHERE id = ? AND used_at IS NULL AND expires_at > 0').run(id).changes === 1;
      if (ok) this.#audit(audit, true);
      return ok;
    })();
  }

  async consumeEnrolmentToken(tokenHash: string, terminalId: string, now: number): Promise<EnrolmentTokenRecord | undefined> {
    return this.#db.transaction(() => {
      const changed = this.#prep('UPDATE enrolment_tokens SET used_at = ?, used_by = coalesce(for_terminal, ?) WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?').run(now, terminalId, tokenHash, now).changes;
      if (changed !== 1) return undefined;
      const r = this.#prep('SELECT id, group_id, tags, expires_at, created_at, created_by, used_at, used_by, for_terminal FROM enrolment_tokens WHERE token_hash = ?').get(tokenHash) as EnrolRow;
      return toEnrol(r);
    })();
  }

  async listEnrolmentTokens(): Promise<EnrolmentTokenRecord[]> {
    return (this.#prep('SELECT id, group_id, tags, expires_at, created_at, created_by, used_at, used_by, for_terminal FROM enrolment_tokens ORDER BY created_at, id').all() as EnrolRow[]).map(toEnrol);
  }

  async createTerminal(rec: { id: string; groupId: string; tags: readonly string[]; kind: string; publicKey: string; credentialHash: string; createdAt: number; name?: string }): Promise<void> {
    try {
      this.#prep("INSERT INTO terminals (id, group_id, tags, kind, public_key, credential_hash, status, created_at, name) VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?)")
        .run(rec.id, rec.groupId, JSON.stringify(rec.tags), rec.kind, rec.publicKey, rec.credentialHash, rec.createdAt, rec.name ?? null);
    } catch (cause) {
      throw new ServerError('SRV_ERR_CONFLICT', `terminal ${rec.id} exists`, { id: rec.id }, { cause });
    }
  }

  async getTerminal(id: string): Promise<TerminalRecord | undefined> {
    const r = this.#prep('SELECT * FROM terminals WHERE id = ?').get(id) as TerminalRow | undefined;
    return r === undefined ? undefined : toTerminal(r);
  }

  async listTerminals(filter: TerminalFilter = {}): Promise<TerminalRecord[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.groupId !== undefined) { where.push('group_id = ?'); args.push(filter.groupId); }
    if (filter.status !== undefined) { where.push('status = ?'); args.push(filter.status); }
    if (filter.online !== undefined) { where.push('online = ?'); args.push(filter.online ? 1 : 0); }
    if (filter.tag !== undefined) { where.push('EXISTS (SELECT 1 FROM json_each(terminals.tags) WHERE value = ?)'); args.push(filter.tag); }
    if (filter.afterId !== undefined) { where.push('id > ?'); args.push(filter.afterId); }
    const sql = `SELECT * FROM terminals ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`;
    args.push(Math.min(Math.max(filter.limit ?? 1000, 1), 100000));
    return (this.#prep(sql).all(...args) as TerminalRow[]).map(toTerminal);
  }

  async updateTerminal(id: string, patch: TerminalPatch, audit?: AuditOf<TerminalRecord>): Promise<TerminalRecord | undefined> {
    return this.#db.transaction((): TerminalRecord | undefined => {
      const t = this.#updateTerminalSync(id, patch);
      if (t !== undefined) this.#audit(audit, t);
      return t;
    })();
  }

  #updateTerminalSync(id: string, patch: TerminalPatch): TerminalRecord | undefined {
    const sets: string[] = [];
    const args: (string | number | null)[] = [];
    if (patch.status !== undefined) { sets.push('status = ?'); args.push(patch.status); }
    if (patch.publicKey !== undefined) { sets.push('public_key = ?'); args.push(patch.publicKey); }
    if (patch.credentialHash !== undefined) { sets.push('credential_hash = ?'); args.push(patch.credentialHash); }
    if (patch.groupId !== undefined) { sets.push('group_id = ?'); args.push(patch.groupId); }
    if (patch.tags !== undefined) { sets.push('tags = ?'); args.push(JSON.stringify(patch.tags)); }
    if (patch.name !== undefined) { sets.push('name = ?'); args.push(patch.name); }
    if (sets.length > 0) this.#prep(`UPDATE terminals SET ${sets.join(', ')} WHERE id = ?`).run(...args, id);
    const r = this.#prep('SELECT * FROM terminals WHERE id = ?').get(id) as TerminalRow | undefined;
    return r === undefined ? undefined : toTerminal(r);
  }

  async updatePresence(id: string, u: PresenceUpdate): Promise<boolean> {
    return this.#presence(id, u);
  }

  async updatePresences(updates: readonly { readonly id: string; readonly update: PresenceUpdate }[]): Promise<boolean[]> {
    // One transaction: one WAL sync for the whole group instead of one per birth.
    return this.#db.transaction(() => updates.map((x) => this.#presence(x.id, x.update)))();
  }

  #presence(id: string, u: PresenceUpdate): boolean {
    // Online: accept the same or a newer epoch. Offline: only for the current epoch, so a late
    // Last Will from a previous connection never marks a reconnected terminal offline.
    const sql = u.online
      ? 'UPDATE terminals SET online = 1, epoch = ?, last_seen = max(coalesce(last_seen, 0), ?), reported = coalesce(?, reported) WHERE id = ? AND epoch <= ?'
      : 'UPDATE terminals SET online = 0, epoch = ?, last_seen = max(coalesce(last_seen, 0), ?), reported = coalesce(?, reported) WHERE id = ? AND epoch = ?';
    const reported = u.reported === undefined ? null : JSON.stringify(u.reported);
    return this.#prep(sql).run(u.epoch, u.at, reported, id, u.epoch).changes === 1;
  }

  async findTerminalByCredentialHash(credentialHash: string): Promise<TerminalRecord | undefined> {
    const r = this.#prep('SELECT * FROM terminals WHERE credential_hash = ?').get(credentialHash) as TerminalRow | undefined;
    return r === undefined ? undefined : toTerminal(r);
  }

  // ── configuration ───────────────────────────────────────────────────────────────────────────

  async createConfigDoc(rec: { id: string; name: string; body: string; sha256: string; at: number; by: string }, audit?: AuditOf<ConfigDocRecord>): Promise<ConfigDocRecord> {
    return this.#db.transaction(() => {
      if (this.#prep('SELECT 1 FROM config_docs WHERE id = ?').get(rec.id) !== undefined) throw new ServerError('SRV_ERR_CONFLICT', `config ${rec.id} exists`, { id: rec.id });
      const version = Number(this.#prep('INSERT INTO config_versions (doc_id, sha256, body, created_at, created_by) VALUES (?, ?, ?, ?, ?)').run(rec.id, rec.sha256, rec.body, rec.at, rec.by).lastInsertRowid);
      this.#prep('INSERT INTO config_docs (id, name, created_at, version, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?)').run(rec.id, rec.name, rec.at, version, rec.at, rec.by);
      const doc = toDoc(this.#prep(`${DOC_SELECT} WHERE d.id = ?`).get(rec.id) as DocRow);
      this.#audit(audit, doc);
      return doc;
    })();
  }

  async updateConfigDoc(id: string, rec: { body: string; sha256: string; at: number; by: string; expectedVersion?: number }, audit?: AuditOf<ConfigDocRecord>): Promise<ConfigDocRecord> {
    return this.#db.transaction(() => {
      const cur = this.#prep('SELECT version FROM config_docs WHERE id = ?').get(id) as { version: number } | undefined;
      if (cur === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `config ${id}`, { id });
      if (rec.expectedVersion !== undefined && rec.expectedVersion !== cur.version) {
        throw new ServerError('SRV_ERR_VERSION_MISMATCH', `config ${id} is at version ${cur.version}`, { expected: rec.expectedVersion, actual: cur.version });
      }
      const version = Number(this.#prep('INSERT INTO config_versions (doc_id, sha256, body, created_at, created_by) VALUES (?, ?, ?, ?, ?)').run(id, rec.sha256, rec.body, rec.at, rec.by).lastInsertRowid);
      this.#prep('UPDATE config_docs SET version = ?, updated_at = ?, updated_by = ? WHERE id = ?').run(version, rec.at, rec.by, id);
      const doc = toDoc(this.#prep(`${DOC_SELECT} WHERE d.id = ?`).get(id) as DocRow);
      this.#audit(audit, doc);
      return doc;
    })();
  }

  async getConfigDoc(id: string): Promise<ConfigDocRecord | undefined> {
    const r = this.#prep(`${DOC_SELECT} WHERE d.id = ?`).get(id) as DocRow | undefined;
    return r === undefined ? undefined : toDoc(r);
  }

  async listConfigDocs(): Promise<ConfigDocRecord[]> {
    return (this.#prep(`${DOC_SELECT} ORDER BY d.id`).all() as DocRow[]).map(toDoc);
  }

  async getConfigVersion(version: number): Promise<ConfigVersionRecord | undefined> {
    const r = this.#prep('SELECT version, doc_id, sha256, body, created_at, created_by FROM config_versions WHERE version = ?').get(version) as VersionRow | undefined;
    return r === undefined ? undefined : toVersion(r);
  }

  async listConfigVersions(docId: string): Promise<Omit<ConfigVersionRecord, 'body'>[]> {
    return (this.#prep('SELECT version, doc_id, sha256, created_at, created_by FROM config_versions WHERE doc_id = ? ORDER BY version DESC').all(docId) as VersionRow[])
      .map(toVersionMeta);
  }

  async rewriteConfigVersions(rows: readonly { readonly version: number; readonly body: string; readonly sha256: string; readonly previousSha256: string }[], audit?: AuditOf<number>): Promise<number> {
    return this.#db.transaction(() => {
      let n = 0;
      for (const r of rows) n += this.#prep('UPDATE config_versions SET body = ?, sha256 = ? WHERE version = ? AND sha256 = ?').run(r.body, r.sha256, r.version, r.previousSha256).changes;
      this.#audit(audit, n);
      return n;
    })();
  }

  async assignConfig(a: ConfigAssignment, audit?: AuditOf<void>): Promise<void> {
    this.#db.transaction(() => {
      if (this.#prep('SELECT 1 FROM config_docs WHERE id = ?').get(a.docId) === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `config ${a.docId}`);
      const exists = a.scope === 'group' ? this.#prep('SELECT 1 FROM groups WHERE id = ?').get(a.target) : this.#prep('SELECT 1 FROM terminals WHERE id = ?').get(a.target);
      if (exists === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `${a.scope} ${a.target}`);
      this.#prep('INSERT INTO config_assignments (scope, target, doc_id) VALUES (?, ?, ?) ON CONFLICT (scope, target) DO UPDATE SET doc_id = excluded.doc_id').run(a.scope, a.target, a.docId);
      this.#audit(audit, undefined);
    })();
  }

  async unassignConfig(scope: ConfigScope, target: string, audit?: AuditOf<boolean>): Promise<boolean> {
    return this.#db.transaction(() => {
      const removed = this.#prep('DELETE FROM config_assignments WHERE scope = ? AND target = ?').run(scope, target).changes === 1;
      if (removed) this.#audit(audit, true);
      return removed;
    })();
  }

  async listConfigAssignments(docId?: string): Promise<ConfigAssignment[]> {
    const rows = (docId === undefined
      ? this.#prep('SELECT scope, target, doc_id FROM config_assignments ORDER BY scope, target').all()
      : this.#prep('SELECT scope, target, doc_id FROM config_assignments WHERE doc_id = ? ORDER BY scope, target').all(docId)) as AssignmentRow[];
    return rows.map(toAssignment);
  }

  async listEffectiveConfigs(filter: { terminalIds?: readonly string[]; docId?: string; groupId?: string }): Promise<EffectiveConfig[]> {
    const where: string[] = [];
    const args: string[] = [];
    if (filter.terminalIds !== undefined) { where.push('t.id IN (SELECT value FROM json_each(?))'); args.push(JSON.stringify(filter.terminalIds)); }
    if (filter.docId !== undefined) { where.push('d.id = ?'); args.push(filter.docId); }
    if (filter.groupId !== undefined) { where.push('t.group_id = ?'); args.push(filter.groupId); }
    const sql = `${EFFECTIVE_SQL} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY t.id`;
    return (this.#prep(sql).all(...args) as EffRow[]).map(toEff);
  }

  async recordConfigStatus(rec: ConfigStatusRecord): Promise<void> {
    this.#configStatus(rec);
  }

  async recordConfigStatuses(recs: readonly ConfigStatusRecord[]): Promise<void> {
    // One transaction: one WAL sync for the whole group instead of one per report.
    this.#db.transaction(() => { for (const r of recs) this.#configStatus(r); })();
  }

  #configStatus(rec: ConfigStatusRecord): void {
    this.#prep(`INSERT INTO terminal_config_status (terminal_id, version, status, error_code, error_message, at, applied_version, changes)
      VALUES (@terminalId, @version, @status, @errorCode, @errorMessage, @at, CASE WHEN @status = 'applied' THEN @version END, @changes)
      ON CONFLICT (terminal_id) DO UPDATE SET version = excluded.version, status = excluded.status, error_code = excluded.error_code,
        error_message = excluded.error_message, at = excluded.at, changes = excluded.changes,
        applied_version = CASE WHEN excluded.status = 'applied' THEN excluded.version ELSE terminal_config_status.applied_version END`)
      .run({ terminalId: rec.terminalId, version: rec.version, status: rec.status, errorCode: rec.errorCode, errorMessage: rec.errorMessage, at: rec.at, changes: rec.changes === undefined ? null : JSON.stringify(rec.changes) });
  }

  async getTerminalConfigState(terminalId: string): Promise<TerminalConfigState> {
    const eff = this.#prep(`${EFFECTIVE_SQL} WHERE t.id = ?`).get(terminalId) as EffRow | undefined;
    const st = this.#prep('SELECT * FROM terminal_config_status WHERE terminal_id = ?').get(terminalId) as StatusRow | undefined;
    return { terminalId, desired: eff === undefined ? null : toEff(eff), reported: st === undefined ? null : toStatus(st), appliedVersion: st?.applied_version ?? null };
  }

  async configRolloutSummary(docId: string): Promise<{ terminals: number; applied: number; rejected: number; pending: number }> {
    const r = this.#prep(`SELECT count(*) AS terminals,
        coalesce(sum(CASE WHEN s.applied_version = e.version THEN 1 ELSE 0 END), 0) AS applied,
        coalesce(sum(CASE WHEN s.status = 'rejected' AND s.version = e.version THEN 1 ELSE 0 END), 0) AS rejected
      FROM (${EFFECTIVE_SQL} WHERE d.id = ?) e LEFT JOIN terminal_config_status s ON s.terminal_id = e.terminal_id`).get(docId) as { terminals: number; applied: number; rejected: number };
    return { ...r, pending: r.terminals - r.applied - r.rejected };
  }

  // ── hotlist ─────────────────────────────────────────────────────────────────────────────────

  async hotlistVersion(): Promise<number> {
    return (this.#prep('SELECT version FROM hotlist_meta WHERE id = 1').get() as { version: number }).version;
  }

  #hotlistAddSync(adds: readonly HotlistAdd[], at: number): HotlistChangeResult {
    const cur = (this.#prep('SELECT version FROM hotlist_meta WHERE id = 1').get() as { version: number }).version;
    const next = cur + 1;
    const ins = this.#prep('INSERT OR IGNORE INTO hotlist (card_number, version, reported_at, reported_by, source, reason) VALUES (?, ?, ?, ?, ?, ?)');
    const log = this.#prep("INSERT INTO hotlist_log (version, card_number, op, at, by) VALUES (?, ?, 'add', ?, ?)");
    const changed: string[] = [];
    for (const a of adds) {
      if (ins.run(a.cardNumber, next, at, a.reportedBy, a.source, a.reason).changes === 1) {
        log.run(next, a.cardNumber, at, a.reportedBy);
        changed.push(a.cardNumber);
      }
    }
    if (changed.length === 0) return { version: cur, changed };
    this.#prep('UPDATE hotlist_meta SET version = ? WHERE id = 1').run(next);
    return { version: next, changed };
  }

  async hotlistAdd(adds: readonly HotlistAdd[], at: number, audit?: AuditOf<HotlistChangeResult>): Promise<HotlistChangeResult> {
    return this.#db.transaction(() => {
      const r = this.#hotlistAddSync(adds, at);
      this.#audit(audit, r);
      return r;
    })();
  }

  async hotlistRemove(cardNumbers: readonly string[], at: number, by: string, audit?: AuditOf<HotlistChangeResult>): Promise<HotlistChangeResult> {
    return this.#db.transaction(() => {
      const r = this.#hotlistRemoveSync(cardNumbers, at, by);
      this.#audit(audit, r);
      return r;
    })();
  }

  #hotlistRemoveSync(cardNumbers: readonly string[], at: number, by: string): HotlistChangeResult {
    const cur = (this.#prep('SELECT version FROM hotlist_meta WHERE id = 1').get() as { version: number }).version;
    const next = cur + 1;
    const del = this.#prep('DELETE FROM hotlist WHERE card_number = ?');
    const log = this.#prep("INSERT INTO hotlist_log (version, card_number, op, at, by) VALUES (?, ?, 'remove', ?, ?)");
    const changed: string[] = [];
    for (const c of cardNumbers) {
      if (del.run(c).changes === 1) {
        log.run(next, c, at, by);
        changed.push(c);
      }
    }
    if (changed.length === 0) return { version: cur, changed };
    this.#prep('UPDATE hotlist_meta SET version = ? WHERE id = 1').run(next);
    return { version: next, changed };
  }

  /** Applies terminal hotlist changes in order: runs of reports as one version, each cancellation as its own. */
  #hotlistChangesSync(changes: readonly HotlistChange[], at: number): AppliedHotlistChanges {
    const version = (this.#prep('SELECT version FROM hotlist_meta WHERE id = 1').get() as { version: number }).version;
    return foldHotlistSteps(version, hotlistSteps(changes).map((s) => ({
      op: s.op,
      result: s.op === 'add' ? this.#hotlistAddSync(s.adds, at) : this.#hotlistRemoveSync([s.cardNumber], at, s.by),
    })));
  }

  async getHotlistEntry(cardNumber: string): Promise<HotlistEntry | undefined> {
    const r = this.#prep('SELECT * FROM hotlist WHERE card_number = ?').get(cardNumber) as HotlistRow | undefined;
    return r === undefined ? undefined : toHot(r);
  }

  async listHotlist(opts: { prefix?: string; afterCard?: string; limit?: number } = {}): Promise<HotlistEntry[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (opts.prefix !== undefined) { where.push('card_number >= ? AND card_number < ?'); args.push(opts.prefix, `${opts.prefix}\uffff`); }
    if (opts.afterCard !== undefined) { where.push('card_number > ?'); args.push(opts.afterCard); }
    args.push(Math.min(Math.max(opts.limit ?? 100, 1), 10000));
    return (this.#prep(`SELECT * FROM hotlist ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY card_number LIMIT ?`).all(...args) as HotlistRow[]).map(toHot);
  }

  async hotlistSince(since: number | undefined): Promise<HotlistDelta> {
    return this.#db.transaction((): HotlistDelta => {
      const meta = this.#prep('SELECT version, log_floor FROM hotlist_meta WHERE id = 1').get() as { version: number; log_floor: number };
      const full = (): HotlistDelta => ({ kind: 'full', version: meta.version, cards: this.#prep('SELECT card_number FROM hotlist ORDER BY card_number').pluck().all() as string[] });
      if (since === undefined || since < meta.log_floor || since > meta.version) return full();
      const touched = this.#prep(`SELECT l.card_number AS c, h.card_number IS NOT NULL AS listed
        FROM (SELECT DISTINCT card_number FROM hotlist_log WHERE version > ?) l LEFT JOIN hotlist h ON h.card_number = l.card_number
        ORDER BY l.card_number`).all(since) as { c: string; listed: number }[];
      if (touched.length > 0) {
        const total = (this.#prep('SELECT count(*) AS n FROM hotlist').get() as { n: number }).n;
        if (touched.length > total) return full(); // the snapshot is smaller than the delta
      }
      return { kind: 'delta', fromVersion: since, version: meta.version, add: touched.filter((x) => x.listed === 1).map((x) => x.c), remove: touched.filter((x) => x.listed !== 1).map((x) => x.c) };
    })();
  }

  async compactHotlistLog(keepFromVersion: number): Promise<void> {
    this.#db.transaction(() => {
      const meta = this.#prep('SELECT version, log_floor FROM hotlist_meta WHERE id = 1').get() as { version: number; log_floor: number };
      const floor = Math.min(Math.max(meta.log_floor, keepFromVersion), meta.version);
      this.#prep('DELETE FROM hotlist_log WHERE version <= ?').run(floor);
      this.#prep('UPDATE hotlist_meta SET log_floor = ? WHERE id = 1').run(floor);
    })();
  }

  // ── ingest ──────────────────────────────────────────────────────────────────────────────────

  /** Rows per multi-row INSERT (7 parameters each, well under SQLite's parameter limit). */
  static readonly #INGEST_CHUNK = 200;
  /** Multi-row `INSERT OR IGNORE` statements by row count (and whether inserted ids are returned). */
  readonly #insertEvents = new Map<string, Database.Statement>();

  #insertEventsStmt(rows: number, returning: boolean): Database.Statement {
    const key = `${rows}:${returning ? 'r' : ''}`;
    let st = this.#insertEvents.get(key);
    if (st === undefined) {
      const values = Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?, ?)').join(', ');
      st = this.#prep(`INSERT OR IGNORE INTO events (terminal_id, event_id, seq, ts, type, body, received_at) VALUES ${values}${returning ? ' RETURNING event_id' : ''}`);
      if (returning) st.pluck();
      this.#insertEvents.set(key, st);
    }
    return st;
  }

  async ingestEvents(terminalId: string, records: readonly NewEvent[], receivedAt: number, hotlistAdds?: ReadonlyMap<string, HotlistChange>, audit?: AuditOf<IngestResult>): Promise<IngestResult> {
    const run = this.#ingestPrepared(terminalId, records, receivedAt, hotlistAdds, audit);
    return this.#db.transaction(run)();
  }

  async ingestEventBatches(batches: readonly IngestBatch[]): Promise<IngestResult[]> {
    const runs = batches.map((b) => this.#ingestPrepared(b.terminalId, b.records, b.receivedAt, b.hotlistAdds, b.audit));
    return this.#db.transaction(() => runs.map((run) => run()))();
  }

  /** Builds a batch's statement parameters now, and returns what stores it (to run inside a transaction). */
  #ingestPrepared(terminalId: string, records: readonly NewEvent[], receivedAt: number, hotlistAdds: ReadonlyMap<string, HotlistChange> | undefined, audit: AuditOf<IngestResult> | undefined): () => IngestResult {
    const chunk = SqliteStore.#INGEST_CHUNK;
    const returning = hotlistAdds !== undefined && hotlistAdds.size > 0;
    let upToSeq = 0;
    // Parameters are built outside the transaction: one statement per chunk of the batch.
    const params: (string | number)[][] = [];
    for (let i = 0; i < records.length; i += chunk) {
      const n = Math.min(chunk, records.length - i);
      const args = new Array<string | number>(n * 7);
      for (let j = 0; j < n; j++) {
        const r = records[i + j]!;
        if (r.seq > upToSeq) upToSeq = r.seq;
        const o = j * 7;
        args[o] = terminalId; args[o + 1] = r.eventId; args[o + 2] = r.seq; args[o + 3] = r.ts;
        args[o + 4] = r.type; args[o + 5] = JSON.stringify(r.body); args[o + 6] = receivedAt;
      }
      params.push(args);
    }
    return (): IngestResult => {
      let inserted = 0;
      const now = new Set<string>();
      for (const args of params) {
        const st = this.#insertEventsStmt(args.length / 7, returning);
        if (returning) {
          const ids = st.all(...args) as string[];
          inserted += ids.length;
          for (const id of ids) now.add(id);
        } else {
          inserted += st.run(...args).changes;
        }
      }
      // In record order: a report and its cancellation in one batch end as the terminal saw them.
      const changes: HotlistChange[] = [];
      if (returning) {
        for (const r of records) {
          const ch = hotlistAdds.get(r.eventId);
          if (ch !== undefined && now.delete(r.eventId)) changes.push(ch);
        }
      }
      const applied = changes.length > 0 ? this.#hotlistChangesSync(changes, receivedAt) : null;
      const hotlist = applied !== null && applied.changed.length > 0 ? { version: applied.version, changed: applied.changed } : null;
      const result: IngestResult = { inserted, duplicates: records.length - inserted, upToSeq, hotlist, ...(applied !== null && applied.ops.length > 0 ? { hotlistOps: applied.ops } : {}) };
      this.#audit(audit, result);
      return result;
    };
  }

  async listEvents(f: EventFilter = {}): Promise<EventRecord[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (f.terminalId !== undefined) { where.push('terminal_id = ?'); args.push(f.terminalId); }
    if (f.type !== undefined) { where.push('type = ?'); args.push(f.type); }
    if (f.typePrefix !== undefined) { where.push('type >= ? AND type < ?'); args.push(f.typePrefix, `${f.typePrefix}\uffff`); }
    if (f.from !== undefined) { where.push('ts >= ?'); args.push(f.from); }
    if (f.to !== undefined) { where.push('ts < ?'); args.push(f.to); }
    if (f.afterId !== undefined) { where.push('id > ?'); args.push(f.afterId); }
    args.push(Math.min(Math.max(f.limit ?? 100, 1), 10000));
    return (this.#prep(`SELECT * FROM events ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`).all(...args) as EventRow[]).map(toEvent);
  }

  async putTelemetry(rec: TelemetryRecord): Promise<void> {
    this.#prep(`INSERT INTO telemetry (terminal_id, ts, received_at, epoch, health, readers, counters, outbox) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (terminal_id) DO UPDATE SET ts = excluded.ts, received_at = excluded.received_at, epoch = excluded.epoch, health = excluded.health,
        readers = excluded.readers, counters = excluded.counters, outbox = excluded.outbox`)
      .run(rec.terminalId, rec.ts, rec.receivedAt, rec.epoch, rec.health, JSON.stringify(rec.readers), JSON.stringify(rec.counters), rec.outbox === null ? null : JSON.stringify(rec.outbox));
  }

  async getTelemetry(terminalId: string): Promise<TelemetryRecord | undefined> {
    const r = this.#prep('SELECT * FROM telemetry WHERE terminal_id = ?').get(terminalId) as TeleRow | undefined;
    return r === undefined ? undefined : toTele(r);
  }

  async listTelemetry(opts: { afterTerminalId?: string; limit?: number } = {}): Promise<TelemetryRecord[]> {
    const lim = Math.min(Math.max(opts.limit ?? 100, 1), 10000);
    const rows = opts.afterTerminalId === undefined
      ? this.#prep('SELECT * FROM telemetry ORDER BY terminal_id LIMIT ?').all(lim)
      : this.#prep('SELECT * FROM telemetry WHERE terminal_id > ? ORDER BY terminal_id LIMIT ?').all(opts.afterTerminalId, lim);
    return (rows as TeleRow[]).map(toTele);
  }

  async appendAudit(rec: NewAuditRecord): Promise<number> {
    const r = this.#prep('INSERT INTO audit (ts, actor, action, target, ip, details) VALUES (?, ?, ?, ?, ?, ?)').run(rec.ts, rec.actor, rec.action, rec.target, rec.ip, JSON.stringify(rec.details));
    return Number(r.lastInsertRowid);
  }

  async listAudit(opts: { limit?: number; beforeId?: number; actor?: string; action?: string } = {}): Promise<AuditRecord[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (opts.beforeId !== undefined) { where.push('id < ?'); args.push(opts.beforeId); }
    if (opts.actor !== undefined) { where.push('actor = ?'); args.push(opts.actor); }
    if (opts.action !== undefined) { where.push('action = ?'); args.push(opts.action); }
    args.push(Math.min(Math.max(opts.limit ?? 100, 1), 1000));
    return (this.#prep(`SELECT * FROM audit ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`).all(...args) as AuditRow[]).map(toAudit);
  }

  #intactAt = -Infinity;

  /**
   * The store answers and is sound: `SELECT 1`, and `PRAGMA quick_check` (reads every page once)
   * at most every `integrityIntervalMs` (default {@link SQLITE_INTEGRITY_INTERVAL_MS}); a failed check is repeated on the next call.
   * For a file the check runs on a separate read-only connection, so it reads the pages from disk
   * rather than from this connection's page cache.
   */
  async ping(): Promise<boolean> {
    try {
      if ((this.#prep('SELECT 1 AS ok').get() as { ok: number }).ok !== 1) return false;
      const now = performance.now();
      if (now - this.#intactAt < this.#integrityIntervalMs) return true;
      if (this.#db.memory) {
        if (this.#db.pragma('quick_check', { simple: true }) !== 'ok') return false;
      } else {
        const probe = new Database(this.#db.name, { readonly: true, fileMustExist: true });
        try {
          if (probe.pragma('quick_check', { simple: true }) !== 'ok') return false;
        } finally {
          probe.close();
        }
      }
      this.#intactAt = now;
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
