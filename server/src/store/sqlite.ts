/**
 * The default server store: one SQLite file in the data directory through better-sqlite3, in WAL
 * mode, with numbered migrations applied in a transaction at open. Implements {@link Store}.
 */
import Database from 'better-sqlite3';
import { ServerError } from '../errors.ts';
import type {
  AdminTokenRecord, AuditRecord, EnrolmentTokenRecord, GroupRecord, NewEnrolmentToken, NewAuditRecord, PresenceUpdate, Role, Store,
  TerminalFilter, TerminalPatch, TerminalRecord, TerminalStatus,
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
];

interface TerminalRow {
  id: string; group_id: string; tags: string; kind: string; public_key: string; credential_hash: string;
  status: string; created_at: number; last_seen: number | null; online: number; epoch: number; reported: string;
}
interface TokenRow { id: string; name: string; role: string; created_at: number; revoked_at: number | null }
interface EnrolRow { id: string; group_id: string; tags: string; expires_at: number; created_at: number; created_by: string; used_at: number | null; used_by: string | null; for_terminal: string | null }
interface AuditRow { id: number; ts: number; actor: string; action: string; target: string; ip: string; details: string }

const toTerminal = (r: TerminalRow): TerminalRecord => ({
  id: r.id, groupId: r.group_id, tags: JSON.parse(r.tags) as string[], kind: r.kind, publicKey: r.public_key,
  credentialHash: r.credential_hash, status: r.status as TerminalStatus, createdAt: r.created_at, lastSeen: r.last_seen,
  online: r.online === 1, epoch: r.epoch, reported: JSON.parse(r.reported) as Record<string, unknown>,
});
const toToken = (r: TokenRow): AdminTokenRecord => ({ id: r.id, name: r.name, role: r.role as Role, createdAt: r.created_at, revokedAt: r.revoked_at });
const toEnrol = (r: EnrolRow): EnrolmentTokenRecord => ({
  id: r.id, groupId: r.group_id, tags: JSON.parse(r.tags) as string[], expiresAt: r.expires_at, createdAt: r.created_at,
  createdBy: r.created_by, usedAt: r.used_at, usedBy: r.used_by, forTerminal: r.for_terminal,
});
const toAudit = (r: AuditRow): AuditRecord => ({ id: r.id, ts: r.ts, actor: r.actor, action: r.action, target: r.target, ip: r.ip, details: JSON.parse(r.details) as Record<string, unknown> });

/**
 * Opens (creating if needed) a SQLite store at `path` (`:memory:` for tests) and migrates it.
 * @throws ServerError `SRV_ERR_MIGRATION` when a migration fails or the file is newer than this code.
 */
export function openSqliteStore(path: string): SqliteStore {
  return new SqliteStore(new Database(path));
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    this.#migrate();
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

  async createAdminToken(rec: { id: string; name: string; role: Role; tokenHash: string; createdAt: number }): Promise<void> {
    this.#db.prepare('INSERT INTO admin_tokens (id, name, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?)').run(rec.id, rec.name, rec.role, rec.tokenHash, rec.createdAt);
  }

  async findAdminTokenByHash(tokenHash: string): Promise<AdminTokenRecord | undefined> {
    const r = this.#db.prepare('SELECT id, name, role, created_at, revoked_at FROM admin_tokens WHERE token_hash = ?').get(tokenHash) as TokenRow | undefined;
    return r === undefined ? undefined : toToken(r);
  }

  async listAdminTokens(): Promise<AdminTokenRecord[]> {
    return (this.#db.prepare('SELECT id, name, role, created_at, revoked_at FROM admin_tokens ORDER BY created_at, id').all() as TokenRow[]).map(toToken);
  }

  async countActiveAdminTokens(): Promise<number> {
    return (this.#db.prepare('SELECT count(*) AS n FROM admin_tokens WHERE revoked_at IS NULL').get() as { n: number }).n;
  }

  async revokeAdminToken(id: string, at: number): Promise<boolean> {
    return this.#db.prepare('UPDATE admin_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id).changes === 1;
  }

  async createGroup(rec: { id: string; name: string; createdAt: number }): Promise<void> {
    try {
      this.#db.prepare('INSERT INTO groups (id, name, created_at) VALUES (?, ?, ?)').run(rec.id, rec.name, rec.createdAt);
    } catch (cause) {
      throw new ServerError('SRV_ERR_CONFLICT', `group ${rec.id} exists`, { id: rec.id }, { cause });
    }
  }

  async getGroup(id: string): Promise<GroupRecord | undefined> {
    const r = this.#db.prepare('SELECT id, name, created_at FROM groups WHERE id = ?').get(id) as { id: string; name: string; created_at: number } | undefined;
    return r === undefined ? undefined : { id: r.id, name: r.name, createdAt: r.created_at };
  }

  async listGroups(): Promise<GroupRecord[]> {
    return (this.#db.prepare('SELECT id, name, created_at FROM groups ORDER BY id').all() as { id: string; name: string; created_at: number }[]).map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at }));
  }

  async createEnrolmentToken(rec: NewEnrolmentToken): Promise<void> {
    this.#db.prepare('INSERT INTO enrolment_tokens (id, token_hash, group_id, tags, expires_at, created_at, created_by, for_terminal) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(rec.id, rec.tokenHash, rec.groupId, JSON.stringify(rec.tags), rec.expiresAt, rec.createdAt, rec.createdBy, rec.forTerminal ?? null);
  }

  async consumeEnrolmentToken(tokenHash: string, terminalId: string, now: number): Promise<EnrolmentTokenRecord | undefined> {
    return this.#db.transaction(() => {
      const changed = this.#db.prepare('UPDATE enrolment_tokens SET used_at = ?, used_by = coalesce(for_terminal, ?) WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?').run(now, terminalId, tokenHash, now).changes;
      if (changed !== 1) return undefined;
      const r = this.#db.prepare('SELECT id, group_id, tags, expires_at, created_at, created_by, used_at, used_by, for_terminal FROM enrolment_tokens WHERE token_hash = ?').get(tokenHash) as EnrolRow;
      return toEnrol(r);
    })();
  }

  async listEnrolmentTokens(): Promise<EnrolmentTokenRecord[]> {
    return (this.#db.prepare('SELECT id, group_id, tags, expires_at, created_at, created_by, used_at, used_by, for_terminal FROM enrolment_tokens ORDER BY created_at, id').all() as EnrolRow[]).map(toEnrol);
  }

  async createTerminal(rec: { id: string; groupId: string; tags: readonly string[]; kind: string; publicKey: string; credentialHash: string; createdAt: number }): Promise<void> {
    try {
      this.#db.prepare("INSERT INTO terminals (id, group_id, tags, kind, public_key, credential_hash, status, created_at) VALUES (?, ?, ?, ?, ?, ?, 'active', ?)")
        .run(rec.id, rec.groupId, JSON.stringify(rec.tags), rec.kind, rec.publicKey, rec.credentialHash, rec.createdAt);
    } catch (cause) {
      throw new ServerError('SRV_ERR_CONFLICT', `terminal ${rec.id} exists`, { id: rec.id }, { cause });
    }
  }

  async getTerminal(id: string): Promise<TerminalRecord | undefined> {
    const r = this.#db.prepare('SELECT * FROM terminals WHERE id = ?').get(id) as TerminalRow | undefined;
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
    return (this.#db.prepare(sql).all(...args) as TerminalRow[]).map(toTerminal);
  }

  async updateTerminal(id: string, patch: TerminalPatch): Promise<TerminalRecord | undefined> {
    const sets: string[] = [];
    const args: (string | number)[] = [];
    if (patch.status !== undefined) { sets.push('status = ?'); args.push(patch.status); }
    if (patch.publicKey !== undefined) { sets.push('public_key = ?'); args.push(patch.publicKey); }
    if (patch.credentialHash !== undefined) { sets.push('credential_hash = ?'); args.push(patch.credentialHash); }
    if (patch.groupId !== undefined) { sets.push('group_id = ?'); args.push(patch.groupId); }
    if (patch.tags !== undefined) { sets.push('tags = ?'); args.push(JSON.stringify(patch.tags)); }
    if (sets.length > 0) this.#db.prepare(`UPDATE terminals SET ${sets.join(', ')} WHERE id = ?`).run(...args, id);
    return this.getTerminal(id);
  }

  async updatePresence(id: string, u: PresenceUpdate): Promise<boolean> {
    // Online: accept the same or a newer epoch. Offline: only for the current epoch, so a late
    // Last Will from a previous connection never marks a reconnected terminal offline.
    const sql = u.online
      ? 'UPDATE terminals SET online = 1, epoch = ?, last_seen = max(coalesce(last_seen, 0), ?), reported = coalesce(?, reported) WHERE id = ? AND epoch <= ?'
      : 'UPDATE terminals SET online = 0, epoch = ?, last_seen = max(coalesce(last_seen, 0), ?), reported = coalesce(?, reported) WHERE id = ? AND epoch = ?';
    const reported = u.reported === undefined ? null : JSON.stringify(u.reported);
    return this.#db.prepare(sql).run(u.epoch, u.at, reported, id, u.epoch).changes === 1;
  }

  async appendAudit(rec: NewAuditRecord): Promise<number> {
    const r = this.#db.prepare('INSERT INTO audit (ts, actor, action, target, ip, details) VALUES (?, ?, ?, ?, ?, ?)').run(rec.ts, rec.actor, rec.action, rec.target, rec.ip, JSON.stringify(rec.details));
    return Number(r.lastInsertRowid);
  }

  async listAudit(opts: { limit?: number; beforeId?: number; actor?: string; action?: string } = {}): Promise<AuditRecord[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (opts.beforeId !== undefined) { where.push('id < ?'); args.push(opts.beforeId); }
    if (opts.actor !== undefined) { where.push('actor = ?'); args.push(opts.actor); }
    if (opts.action !== undefined) { where.push('action = ?'); args.push(opts.action); }
    args.push(Math.min(Math.max(opts.limit ?? 100, 1), 1000));
    return (this.#db.prepare(`SELECT * FROM audit ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`).all(...args) as AuditRow[]).map(toAudit);
  }

  async ping(): Promise<boolean> {
    return (this.#db.prepare('SELECT 1 AS ok').get() as { ok: number }).ok === 1;
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
