/**
 * The scaled-out server store: PostgreSQL through a `pg` connection pool, with numbered
 * migrations (`postgres-migrations.ts`, in lockstep with SQLite's) applied under an advisory lock
 * at open so several servers can start at once. Implements {@link Store} with the same behaviour
 * as the SQLite backend (both run `test/store/conformance.ts`); multi-statement operations run in
 * one transaction, and rows that serialise writers across servers (the hotlist meta row, a config
 * document) are locked with `SELECT … FOR UPDATE`.
 */
import pg from 'pg';
import { ServerError } from '../errors.ts';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.ts';
import type { AdminRecovery, AuditOf, StaffCredentialRecord, IngestBatch } from './types.ts';
import { PostgresKeysStore } from './postgres-keys.ts';
import { PostgresOidcStore } from './postgres-oidc.ts';
import { PostgresUpdatesStore } from './postgres-updates.ts';
import { PostgresRegistryStore } from './postgres-registry.ts';
import {
  toAssignment, toAudit, toDoc, toEff, toEnrol, toEvent, toGroup, toHot, toStatus, toTele, toTerminal, toToken, toVersion, toVersionMeta,
  type AssignmentRow, type AuditRow, type DocRow, type EffRow, type EnrolRow, type EventRow, type GroupRow, type HotlistRow, type StatusRow, type TeleRow, type TerminalRow, type TokenRow, type StaffRow, toStaff, STAFF_COLUMNS, type VersionRow, DOC_SELECT, EFFECTIVE_SQL,
} from './rows.ts';
import { foldHotlistSteps, hotlistSteps, type AppliedHotlistChanges } from './hotlist-changes.ts';
import type {
  AdminTokenRecord, AuditRecord, EnrolmentTokenRecord, GroupRecord, NewEnrolmentToken, NewAuditRecord, PresenceUpdate, Role, Store,
  TerminalFilter, TerminalPatch, TerminalRecord,
  ConfigAssignment, ConfigDocRecord, ConfigScope, ConfigStatusRecord, ConfigVersionRecord, EffectiveConfig, EventFilter, EventRecord,
  HotlistAdd, HotlistChange, HotlistChangeResult, HotlistDelta, HotlistEntry, IngestResult, NewEvent, TelemetryRecord, TerminalConfigState,
} from './types.ts';

type Queryable = Pick<pg.PoolClient, 'query'>;

/** BIGINT (20) and INT (23) come back as JS numbers (every value here is < 2^53). */
const TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  }) as typeof pg.types.getTypeParser,
};

/** Advisory lock key serialising migrations of one database across server processes. */
const MIGRATION_LOCK = 0x0ec4_4d16;

const UNIQUE_VIOLATION = '23505';
const FK_VIOLATION = '23503';
const pgCode = (e: unknown): string | undefined => (typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : undefined);

export interface PostgresStoreOptions {
  /** Schema (created when missing) used through `search_path`; default: the server's default. */
  readonly schema?: string;
  /** Pool size (default 10). */
  readonly max?: number;
}

const ENROL_COLS = 'id, group_id, tags, expires_at, created_at, created_by, used_at, used_by, for_terminal';

const clampLimit = (n: number | undefined, dflt: number, max: number): number => Math.min(Math.max(n ?? dflt, 1), max);

/** Builds `WHERE` clauses with numbered parameters. */
class Where {
  readonly parts: string[] = [];
  readonly args: unknown[] = [];
  add(sqlWithQ: string, ...values: unknown[]): void {
    let s = sqlWithQ;
    for (const v of values) {
      this.args.push(v);
      s = s.replace('?', `$${this.args.length}`);
    }
    this.parts.push(s);
  }
  next(v: unknown): string {
    this.args.push(v);
    return `$${this.args.length}`;
  }
  get sql(): string {
    return this.parts.length > 0 ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}

/**
 * Connects to `url` (`postgres://user:pass@host:port/db`), creates the schema when asked, and
 * migrates it.
 * @throws ServerError `SRV_ERR_STORE` when the database cannot be reached, `SRV_ERR_MIGRATION` when
 * a migration fails or the database is newer than this code.
 */
export async function openPostgresStore(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
  if (opts.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(opts.schema)) throw new ServerError('SRV_ERR_CONFIG', `bad PostgreSQL schema name ${opts.schema}`, { option: 'schema' });
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    types: TYPES,
    ...(opts.schema !== undefined ? { options: `-c search_path=${opts.schema}` } : {}),
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  const store = new PostgresStore(pool);
  try {
    await pool.query('SELECT 1');
    // Concurrent first starts may race on the catalogue; the loser's schema exists anyway.
    if (opts.schema !== undefined) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${opts.schema}`).catch((e: unknown) => { if (pgCode(e) !== UNIQUE_VIOLATION) throw e; });
  } catch (cause) {
    await pool.end().catch(() => {});
    throw new ServerError('SRV_ERR_STORE', `cannot connect to PostgreSQL: ${(cause as Error).message}`, {}, { cause });
  }
  try {
    await store.migrate();
  } catch (e) {
    await pool.end().catch(() => {});
    throw e;
  }
  return store;
}

export class PostgresStore implements Store {
  readonly kind = 'postgres';
  readonly #pool: pg.Pool;
  #closed = false;
  readonly keys: PostgresKeysStore;
  readonly oidc: PostgresOidcStore;
  readonly updates: PostgresUpdatesStore;
  readonly registry: PostgresRegistryStore;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
    this.keys = new PostgresKeysStore(pool);
    this.oidc = new PostgresOidcStore(pool);
    this.updates = new PostgresUpdatesStore(pool);
    this.registry = new PostgresRegistryStore(pool);
  }

  /** The pool, for feature modules that keep their own tables in the same database. */
  get pool(): pg.Pool {
    return this.#pool;
  }

  /** Applies pending migrations (idempotent; serialised across processes by an advisory lock). */
  async migrate(): Promise<void> {
    await this.#tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await c.query('CREATE TABLE IF NOT EXISTS onecard_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)');
      await c.query('INSERT INTO onecard_schema (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING');
      const current = (await c.query<{ version: number }>('SELECT version FROM onecard_schema WHERE id = 1')).rows[0]!.version;
      if (current > POSTGRES_MIGRATIONS.length) {
        throw new ServerError('SRV_ERR_MIGRATION', `database is at version ${current}, this server knows ${POSTGRES_MIGRATIONS.length}`);
      }
      for (let v = current; v < POSTGRES_MIGRATIONS.length; v++) {
        try {
          await c.query('SAVEPOINT m');
          await c.query(POSTGRES_MIGRATIONS[v]!);
          await c.query('UPDATE onecard_schema SET version = $1 WHERE id = 1', [v + 1]);
          await c.query('RELEASE SAVEPOINT m');
        } catch (cause) {
          throw new ServerError('SRV_ERR_MIGRATION', `migration ${v + 1}`, { version: v + 1 }, { cause });
        }
      }
    });
  }

  /** The applied migration count. */
  async schemaVersion(): Promise<number> {
    return (await this.#pool.query<{ version: number }>('SELECT version FROM onecard_schema WHERE id = 1')).rows[0]?.version ?? 0;
  }

  async #tx<R>(fn: (c: pg.PoolClient) => Promise<R>, isolation = 'READ COMMITTED'): Promise<R> {
    const c = await this.#pool.connect();
    try {
      await c.query(`BEGIN ISOLATION LEVEL ${isolation}`);
      const r = await fn(c);
      await c.query('COMMIT');
      return r;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  async #rows<R extends pg.QueryResultRow>(sql: string, args: readonly unknown[] = [], q: Queryable = this.#pool): Promise<R[]> {
    return (await q.query<R>(sql, args as unknown[])).rows;
  }

  async #one<R extends pg.QueryResultRow>(sql: string, args: readonly unknown[] = [], q: Queryable = this.#pool): Promise<R | undefined> {
    return (await q.query<R>(sql, args as unknown[])).rows[0];
  }

  // ── admin tokens, groups, enrolment ─────────────────────────────────────────────────────────

  /** Inside a transaction: writes the audit entries `audit` builds from `result`. */
  async #auditTx<R>(c: pg.PoolClient, audit: AuditOf<R> | undefined, result: R): Promise<void> {
    if (audit === undefined) return;
    for (const rec of audit(result)) {
      await c.query('INSERT INTO audit (ts, actor, action, target, ip, details) VALUES ($1, $2, $3, $4, $5, $6)', [rec.ts, rec.actor, rec.action, rec.target, rec.ip, JSON.stringify(rec.details)]);
    }
  }

  async createAdminToken(rec: { id: string; name: string; role: Role; tokenHash: string; createdAt: number }, audit?: AuditOf<void>): Promise<void> {
    await this.#tx(async (c) => {
      await c.query('INSERT INTO admin_tokens (id, name, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)', [rec.id, rec.name, rec.role, rec.tokenHash, rec.createdAt]);
      await this.#auditTx(c, audit, undefined);
    });
  }

  async findAdminTokenByHash(tokenHash: string): Promise<AdminTokenRecord | undefined> {
    const r = await this.#one<TokenRow>('SELECT id, name, role, created_at, revoked_at FROM admin_tokens WHERE token_hash = $1', [tokenHash]);
    return r === undefined ? undefined : toToken(r);
  }

  async listAdminTokens(): Promise<AdminTokenRecord[]> {
    return (await this.#rows<TokenRow>('SELECT id, name, role, created_at, revoked_at FROM admin_tokens ORDER BY created_at, id')).map(toToken);
  }

  async countActiveAdminTokens(): Promise<number> {
    return (await this.#one<{ n: number }>('SELECT count(*)::int AS n FROM admin_tokens WHERE revoked_at IS NULL'))!.n;
  }

  async revokeAdminToken(id: string, at: number, audit?: AuditOf<boolean>): Promise<boolean> {
    return this.#tx(async (c) => {
      // Locks every active admin row: concurrent revocations (on any server) see each other.
      const admins = await this.#rows<{ id: string }>("SELECT id FROM admin_tokens WHERE role = 'admin' AND revoked_at IS NULL ORDER BY id FOR UPDATE", [], c);
      const row = await this.#one<{ role: string; revoked_at: number | null }>('SELECT role, revoked_at FROM admin_tokens WHERE id = $1 FOR UPDATE', [id], c);
      if (row === undefined || row.revoked_at !== null) return false;
      if (row.role === 'admin' && admins.length <= 1) throw new ServerError('SRV_ERR_LAST_ADMIN', id, { id });
      await c.query('UPDATE admin_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [at, id]);
      await this.#auditTx(c, audit, true);
      return true;
    });
  }

  async recoverAdminToken(rec: { id: string; name: string; tokenHash: string; createdAt: number }, audit?: AuditOf<AdminRecovery>): Promise<AdminRecovery> {
    return this.#tx(async (c): Promise<AdminRecovery> => {
      await c.query('INSERT INTO admin_tokens (id, name, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (token_hash) DO NOTHING', [rec.id, rec.name, 'admin', rec.tokenHash, rec.createdAt]);
      const row = (await this.#one<{ id: string; role: string; revoked_at: number | null }>('SELECT id, role, revoked_at FROM admin_tokens WHERE token_hash = $1 FOR UPDATE', [rec.tokenHash], c))!;
      let done: AdminRecovery;
      if (row.id === rec.id) done = 'created';
      else if (row.role === 'admin' && row.revoked_at === null) return 'unchanged';
      else {
        await c.query("UPDATE admin_tokens SET role = 'admin', revoked_at = NULL WHERE id = $1", [row.id]);
        done = 'restored';
      }
      await this.#auditTx(c, audit, done);
      return done;
    });
  }

  async createStaffCredential(rec: Omit<StaffCredentialRecord, 'revokedAt'> & { readonly credentialHash: string }, audit?: AuditOf<void>): Promise<void> {
    await this.#tx(async (c) => {
      await c.query('INSERT INTO staff_credentials (id, staff_id, name, groups, credential_hash, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [rec.id, rec.staffId, rec.name, JSON.stringify(rec.groups), rec.credentialHash, rec.createdAt, rec.createdBy]);
      await this.#auditTx(c, audit, undefined);
    });
  }

  async findStaffCredentialByHash(credentialHash: string): Promise<StaffCredentialRecord | undefined> {
    const r = await this.#one<StaffRow>(`SELECT ${STAFF_COLUMNS} FROM staff_credentials WHERE credential_hash = $1`, [credentialHash]);
    return r === undefined ? undefined : toStaff(r);
  }

  async listStaffCredentials(): Promise<StaffCredentialRecord[]> {
    return (await this.#rows<StaffRow>(`SELECT ${STAFF_COLUMNS} FROM staff_credentials ORDER BY created_at, id`)).map(toStaff);
  }

  async revokeStaffCredential(id: string, at: number, audit?: AuditOf<boolean>): Promise<boolean> {
    return this.#tx(async (c) => {
      const res = await c.query('UPDATE staff_credentials SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL', [at, id]);
      const changed = (res.rowCount ?? 0) > 0;
      if (changed) await this.#auditTx(c, audit, true);
      return changed;
    });
  }

  async createGroup(rec: { id: string; name: string; createdAt: number }, audit?: AuditOf<void>): Promise<void> {
    await this.#tx(async (c) => {
      try {
        await c.query('INSERT INTO groups (id, name, created_at) VALUES ($1, $2, $3)', [rec.id, rec.name, rec.createdAt]);
      } catch (cause) {
        if (pgCode(cause) === UNIQUE_VIOLATION) throw new ServerError('SRV_ERR_CONFLICT', `group ${rec.id} exists`, { id: rec.id }, { cause });
        throw cause;
      }
      await this.#auditTx(c, audit, undefined);
    });
  }

  async getGroup(id: string): Promise<GroupRecord | undefined> {
    const r = await this.#one<GroupRow>('SELECT id, name, created_at FROM groups WHERE id = $1', [id]);
    return r === undefined ? undefined : toGroup(r);
  }

  async listGroups(): Promise<GroupRecord[]> {
    return (await this.#rows<GroupRow>('SELECT id, name, created_at FROM groups ORDER BY id')).map(toGroup);
  }

  async createEnrolmentToken(rec: NewEnrolmentToken, audit?: AuditOf<void>): Promise<void> {
    await this.#tx(async (c) => {
      await c.query('INSERT INTO enrolment_tokens (id, token_hash, group_id, tags, expires_at, created_at, created_by, for_terminal) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
        [rec.id, rec.tokenHash, rec.groupId, JSON.stringify(rec.tags), rec.expiresAt, rec.createdAt, rec.createdBy, rec.forTerminal ?? null]);
      await this.#auditTx(c, audit, undefined);
    });
  }

  async revokeEnrolmentToken(id: string, audit?: AuditOf<boolean>): Promise<boolean> {
    return this.#tx(async (c) => {
      const ok = (await c.query('UPDATE enrolment_tokens SET expires_at = 0 WHERE id = $1 AND used_at IS NULL AND expires_at > 0', [id])).rowCount === 1;
      if (ok) await this.#auditTx(c, audit, true);
      return ok;
    });
  }

  async consumeEnrolmentToken(tokenHash: string, terminalId: string, now: number): Promise<EnrolmentTokenRecord | undefined> {
    // One statement: the row lock makes concurrent uses (on any server) see it used.
    const r = await this.#one<EnrolRow>(`UPDATE enrolment_tokens SET used_at = $1, used_by = coalesce(for_terminal, $2)
      WHERE token_hash = $3 AND used_at IS NULL AND expires_at > $1 RETURNING ${ENROL_COLS}`, [now, terminalId, tokenHash]);
    return r === undefined ? undefined : toEnrol(r);
  }

  async listEnrolmentTokens(): Promise<EnrolmentTokenRecord[]> {
    return (await this.#rows<EnrolRow>(`SELECT ${ENROL_COLS} FROM enrolment_tokens ORDER BY created_at, id`)).map(toEnrol);
  }

  // ── terminals ───────────────────────────────────────────────────────────────────────────────

  async createTerminal(rec: { id: string; groupId: string; tags: readonly string[]; kind: string; publicKey: string; credentialHash: string; createdAt: number; name?: string }): Promise<void> {
    try {
      await this.#pool.query("INSERT INTO terminals (id, group_id, tags, kind, public_key, credential_hash, status, created_at, name) VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8)",
        [rec.id, rec.groupId, JSON.stringify(rec.tags), rec.kind, rec.publicKey, rec.credentialHash, rec.createdAt, rec.name ?? null]);
    } catch (cause) {
      const code = pgCode(cause);
      if (code === UNIQUE_VIOLATION || code === FK_VIOLATION) throw new ServerError('SRV_ERR_CONFLICT', `terminal ${rec.id} exists`, { id: rec.id }, { cause });
      throw cause;
    }
  }

  async getTerminal(id: string): Promise<TerminalRecord | undefined> {
    const r = await this.#one<TerminalRow>('SELECT * FROM terminals WHERE id = $1', [id]);
    return r === undefined ? undefined : toTerminal(r);
  }

  async listTerminals(filter: TerminalFilter = {}): Promise<TerminalRecord[]> {
    const w = new Where();
    if (filter.groupId !== undefined) w.add('group_id = ?', filter.groupId);
    if (filter.status !== undefined) w.add('status = ?', filter.status);
    if (filter.online !== undefined) w.add('online = ?', filter.online ? 1 : 0);
    if (filter.tag !== undefined) w.add('(tags::jsonb) @> jsonb_build_array(?::text)', filter.tag);
    if (filter.afterId !== undefined) w.add('id > ?', filter.afterId);
    const lim = w.next(clampLimit(filter.limit, 1000, 100000));
    return (await this.#rows<TerminalRow>(`SELECT * FROM terminals ${w.sql} ORDER BY id LIMIT ${lim}`, w.args)).map(toTerminal);
  }

  async updateTerminal(id: string, patch: TerminalPatch, audit?: AuditOf<TerminalRecord>): Promise<TerminalRecord | undefined> {
    const sets: string[] = [];
    const args: unknown[] = [];
    const set = (col: string, v: unknown): void => { args.push(v); sets.push(`${col} = $${args.length}`); };
    if (patch.status !== undefined) set('status', patch.status);
    if (patch.publicKey !== undefined) set('public_key', patch.publicKey);
    if (patch.credentialHash !== undefined) set('credential_hash', patch.credentialHash);
    if (patch.groupId !== undefined) set('group_id', patch.groupId);
    if (patch.tags !== undefined) set('tags', JSON.stringify(patch.tags));
    if (patch.name !== undefined) set('name', patch.name);
    args.push(id);
    return this.#tx(async (c) => {
      const r = sets.length === 0
        ? await this.#one<TerminalRow>(`SELECT * FROM terminals WHERE id = $${args.length}`, args, c)
        : await this.#one<TerminalRow>(`UPDATE terminals SET ${sets.join(', ')} WHERE id = $${args.length} RETURNING *`, args, c);
      if (r === undefined) return undefined;
      const t = toTerminal(r);
      await this.#auditTx(c, audit, t);
      return t;
    });
  }

  async updatePresence(id: string, u: PresenceUpdate): Promise<boolean> {
    return this.#presence(this.#pool, id, u);
  }

  async updatePresences(updates: readonly { readonly id: string; readonly update: PresenceUpdate }[]): Promise<boolean[]> {
    if (updates.length === 0) return [];
    return this.#tx(async (c) => {
      const out: boolean[] = [];
      for (const x of updates) out.push(await this.#presence(c, x.id, x.update));
      return out;
    });
  }

  async #presence(q: pg.Pool | pg.PoolClient, id: string, u: PresenceUpdate): Promise<boolean> {
    // Online: accept the same or a newer epoch. Offline: only for the current epoch, so a late
    // Last Will from a previous connection never marks a reconnected terminal offline.
    const sql = `UPDATE terminals SET online = ${u.online ? 1 : 0}, epoch = $1, last_seen = greatest(coalesce(last_seen, 0), $2),
      reported = coalesce($3, reported) WHERE id = $4 AND epoch ${u.online ? '<=' : '='} $1`;
    const reported = u.reported === undefined ? null : JSON.stringify(u.reported);
    return (await q.query(sql, [u.epoch, u.at, reported, id])).rowCount === 1;
  }

  async findTerminalByCredentialHash(credentialHash: string): Promise<TerminalRecord | undefined> {
    const r = await this.#one<TerminalRow>('SELECT * FROM terminals WHERE credential_hash = $1', [credentialHash]);
    return r === undefined ? undefined : toTerminal(r);
  }

  // ── configuration ───────────────────────────────────────────────────────────────────────────

  async createConfigDoc(rec: { id: string; name: string; body: string; sha256: string; at: number; by: string }, audit?: AuditOf<ConfigDocRecord>): Promise<ConfigDocRecord> {
    try {
      return await this.#tx(async (c) => {
        if ((await this.#one('SELECT 1 FROM config_docs WHERE id = $1', [rec.id], c)) !== undefined) throw new ServerError('SRV_ERR_CONFLICT', `config ${rec.id} exists`, { id: rec.id });
        const v = (await this.#one<{ version: number }>('INSERT INTO config_versions (doc_id, sha256, body, created_at, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING version', [rec.id, rec.sha256, rec.body, rec.at, rec.by], c))!.version;
        await c.query('INSERT INTO config_docs (id, name, created_at, version, updated_at, updated_by) VALUES ($1, $2, $3, $4, $3, $5)', [rec.id, rec.name, rec.at, v, rec.by]);
        const doc = toDoc((await this.#one<DocRow>(`${DOC_SELECT} WHERE d.id = $1`, [rec.id], c))!);
        await this.#auditTx(c, audit, doc);
        return doc;
      });
    } catch (cause) {
      // Two servers creating the same id at once: the loser hits the primary key.
      if (pgCode(cause) === UNIQUE_VIOLATION) throw new ServerError('SRV_ERR_CONFLICT', `config ${rec.id} exists`, { id: rec.id }, { cause });
      throw cause;
    }
  }

  async updateConfigDoc(id: string, rec: { body: string; sha256: string; at: number; by: string; expectedVersion?: number }, audit?: AuditOf<ConfigDocRecord>): Promise<ConfigDocRecord> {
    return this.#tx(async (c) => {
      const cur = await this.#one<{ version: number }>('SELECT version FROM config_docs WHERE id = $1 FOR UPDATE', [id], c);
      if (cur === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `config ${id}`, { id });
      if (rec.expectedVersion !== undefined && rec.expectedVersion !== cur.version) {
        throw new ServerError('SRV_ERR_VERSION_MISMATCH', `config ${id} is at version ${cur.version}`, { expected: rec.expectedVersion, actual: cur.version });
      }
      const v = (await this.#one<{ version: number }>('INSERT INTO config_versions (doc_id, sha256, body, created_at, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING version', [id, rec.sha256, rec.body, rec.at, rec.by], c))!.version;
      await c.query('UPDATE config_docs SET version = $1, updated_at = $2, updated_by = $3 WHERE id = $4', [v, rec.at, rec.by, id]);
      const doc = toDoc((await this.#one<DocRow>(`${DOC_SELECT} WHERE d.id = $1`, [id], c))!);
      await this.#auditTx(c, audit, doc);
      return doc;
    });
  }

  async rewriteConfigVersions(rows: readonly { readonly version: number; readonly body: string; readonly sha256: string; readonly previousSha256: string }[], audit?: AuditOf<number>): Promise<number> {
    return this.#tx(async (c) => {
      let n = 0;
      for (const r of rows) n += (await c.query('UPDATE config_versions SET body = $1, sha256 = $2 WHERE version = $3 AND sha256 = $4', [r.body, r.sha256, r.version, r.previousSha256])).rowCount ?? 0;
      await this.#auditTx(c, audit, n);
      return n;
    });
  }

  async getConfigDoc(id: string): Promise<ConfigDocRecord | undefined> {
    const r = await this.#one<DocRow>(`${DOC_SELECT} WHERE d.id = $1`, [id]);
    return r === undefined ? undefined : toDoc(r);
  }

  async listConfigDocs(): Promise<ConfigDocRecord[]> {
    return (await this.#rows<DocRow>(`${DOC_SELECT} ORDER BY d.id`)).map(toDoc);
  }

  async getConfigVersion(version: number): Promise<ConfigVersionRecord | undefined> {
    if (!Number.isSafeInteger(version)) return undefined;
    const r = await this.#one<VersionRow>('SELECT version, doc_id, sha256, body, created_at, created_by FROM config_versions WHERE version = $1', [version]);
    return r === undefined ? undefined : toVersion(r);
  }

  async listConfigVersions(docId: string): Promise<Omit<ConfigVersionRecord, 'body'>[]> {
    return (await this.#rows<VersionRow>('SELECT version, doc_id, sha256, created_at, created_by FROM config_versions WHERE doc_id = $1 ORDER BY version DESC', [docId]))
      .map(toVersionMeta);
  }

  async assignConfig(a: ConfigAssignment, audit?: AuditOf<void>): Promise<void> {
    await this.#tx(async (c) => {
      if ((await this.#one('SELECT 1 FROM config_docs WHERE id = $1', [a.docId], c)) === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `config ${a.docId}`);
      const exists = await this.#one(a.scope === 'group' ? 'SELECT 1 FROM groups WHERE id = $1' : 'SELECT 1 FROM terminals WHERE id = $1', [a.target], c);
      if (exists === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `${a.scope} ${a.target}`);
      await c.query('INSERT INTO config_assignments (scope, target, doc_id) VALUES ($1, $2, $3) ON CONFLICT (scope, target) DO UPDATE SET doc_id = excluded.doc_id', [a.scope, a.target, a.docId]);
      await this.#auditTx(c, audit, undefined);
    });
  }

  async unassignConfig(scope: ConfigScope, target: string, audit?: AuditOf<boolean>): Promise<boolean> {
    return this.#tx(async (c) => {
      const removed = (await c.query('DELETE FROM config_assignments WHERE scope = $1 AND target = $2', [scope, target])).rowCount === 1;
      if (removed) await this.#auditTx(c, audit, true);
      return removed;
    });
  }

  async listConfigAssignments(docId?: string): Promise<ConfigAssignment[]> {
    const rows = docId === undefined
      ? await this.#rows<AssignmentRow>('SELECT scope, target, doc_id FROM config_assignments ORDER BY scope, target')
      : await this.#rows<AssignmentRow>('SELECT scope, target, doc_id FROM config_assignments WHERE doc_id = $1 ORDER BY scope, target', [docId]);
    return rows.map(toAssignment);
  }

  async listEffectiveConfigs(filter: { terminalIds?: readonly string[]; docId?: string; groupId?: string }): Promise<EffectiveConfig[]> {
    const w = new Where();
    if (filter.terminalIds !== undefined) w.add('t.id = ANY(?::text[])', [...filter.terminalIds]);
    if (filter.docId !== undefined) w.add('d.id = ?', filter.docId);
    if (filter.groupId !== undefined) w.add('t.group_id = ?', filter.groupId);
    return (await this.#rows<EffRow>(`${EFFECTIVE_SQL} ${w.sql} ORDER BY t.id`, w.args)).map(toEff);
  }

  async recordConfigStatus(rec: ConfigStatusRecord): Promise<void> {
    await this.#configStatus(this.#pool, rec);
  }

  async recordConfigStatuses(recs: readonly ConfigStatusRecord[]): Promise<void> {
    if (recs.length === 0) return;
    // One transaction (one commit) for the group, statements in array order.
    await this.#tx(async (c) => { for (const r of recs) await this.#configStatus(c, r); });
  }

  async #configStatus(q: pg.Pool | pg.PoolClient, rec: ConfigStatusRecord): Promise<void> {
    await q.query(`INSERT INTO terminal_config_status (terminal_id, version, status, error_code, error_message, at, applied_version, changes)
      VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $3 = 'applied' THEN $2::bigint END, $7)
      ON CONFLICT (terminal_id) DO UPDATE SET version = excluded.version, status = excluded.status, error_code = excluded.error_code,
        error_message = excluded.error_message, at = excluded.at, changes = excluded.changes,
        applied_version = CASE WHEN excluded.status = 'applied' THEN excluded.version ELSE terminal_config_status.applied_version END`,
    [rec.terminalId, rec.version, rec.status, rec.errorCode, rec.errorMessage, rec.at, rec.changes === undefined ? null : JSON.stringify(rec.changes)]);
  }

  async getTerminalConfigState(terminalId: string): Promise<TerminalConfigState> {
    const eff = await this.#one<EffRow>(`${EFFECTIVE_SQL} WHERE t.id = $1`, [terminalId]);
    const st = await this.#one<StatusRow>('SELECT * FROM terminal_config_status WHERE terminal_id = $1', [terminalId]);
    return { terminalId, desired: eff === undefined ? null : toEff(eff), reported: st === undefined ? null : toStatus(st), appliedVersion: st?.applied_version ?? null };
  }

  async configRolloutSummary(docId: string): Promise<{ terminals: number; applied: number; rejected: number; pending: number }> {
    const r = (await this.#one<{ terminals: number; applied: number; rejected: number }>(`SELECT count(*)::int AS terminals,
        coalesce(sum(CASE WHEN s.applied_version = e.version THEN 1 ELSE 0 END), 0)::int AS applied,
        coalesce(sum(CASE WHEN s.status = 'rejected' AND s.version = e.version THEN 1 ELSE 0 END), 0)::int AS rejected
      FROM (${EFFECTIVE_SQL} WHERE d.id = $1) e LEFT JOIN terminal_config_status s ON s.terminal_id = e.terminal_id`, [docId]))!;
    return { ...r, pending: r.terminals - r.applied - r.rejected };
  }

  // ── hotlist ─────────────────────────────────────────────────────────────────────────────────

  async hotlistVersion(): Promise<number> {
    return (await this.#one<{ version: number }>('SELECT version FROM hotlist_meta WHERE id = 1'))!.version;
  }

  /** Inside a transaction: locks the meta row (serialising hotlist writers across servers). */
  async #hotlistAddTx(c: pg.PoolClient, adds: readonly HotlistAdd[], at: number): Promise<HotlistChangeResult> {
    const cur = (await this.#one<{ version: number }>('SELECT version FROM hotlist_meta WHERE id = 1 FOR UPDATE', [], c))!.version;
    const next = cur + 1;
    const changed: string[] = [];
    for (const a of adds) {
      const r = await c.query('INSERT INTO hotlist (card_number, version, reported_at, reported_by, source, reason) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (card_number) DO NOTHING',
        [a.cardNumber, next, at, a.reportedBy, a.source, a.reason]);
      if (r.rowCount === 1) {
        await c.query("INSERT INTO hotlist_log (version, card_number, op, at, by) VALUES ($1, $2, 'add', $3, $4)", [next, a.cardNumber, at, a.reportedBy]);
        changed.push(a.cardNumber);
      }
    }
    if (changed.length === 0) return { version: cur, changed };
    await c.query('UPDATE hotlist_meta SET version = $1 WHERE id = 1', [next]);
    return { version: next, changed };
  }

  async hotlistAdd(adds: readonly HotlistAdd[], at: number, audit?: AuditOf<HotlistChangeResult>): Promise<HotlistChangeResult> {
    return this.#tx(async (c) => {
      const r = await this.#hotlistAddTx(c, adds, at);
      await this.#auditTx(c, audit, r);
      return r;
    });
  }

  async hotlistRemove(cardNumbers: readonly string[], at: number, by: string, audit?: AuditOf<HotlistChangeResult>): Promise<HotlistChangeResult> {
    return this.#tx(async (c) => {
      const r = await this.#hotlistRemoveTx(c, cardNumbers, at, by);
      await this.#auditTx(c, audit, r);
      return r;
    });
  }

  async #hotlistRemoveTx(c: pg.PoolClient, cardNumbers: readonly string[], at: number, by: string): Promise<HotlistChangeResult> {
    const cur = (await this.#one<{ version: number }>('SELECT version FROM hotlist_meta WHERE id = 1 FOR UPDATE', [], c))!.version;
    const next = cur + 1;
    const changed: string[] = [];
    for (const card of cardNumbers) {
      if ((await c.query('DELETE FROM hotlist WHERE card_number = $1', [card])).rowCount === 1) {
        await c.query("INSERT INTO hotlist_log (version, card_number, op, at, by) VALUES ($1, $2, 'remove', $3, $4)", [next, card, at, by]);
        changed.push(card);
      }
    }
    if (changed.length === 0) return { version: cur, changed };
    await c.query('UPDATE hotlist_meta SET version = $1 WHERE id = 1', [next]);
    return { version: next, changed };
  }

  /** Applies terminal hotlist changes in order: runs of reports as one version, each cancellation as its own. */
  async #hotlistChangesTx(c: pg.PoolClient, changes: readonly HotlistChange[], at: number): Promise<AppliedHotlistChanges> {
    const version = (await this.#one<{ version: number }>('SELECT version FROM hotlist_meta WHERE id = 1 FOR UPDATE', [], c))!.version;
    const applied: { op: 'add' | 'remove'; result: HotlistChangeResult }[] = [];
    for (const s of hotlistSteps(changes)) {
      applied.push({ op: s.op, result: s.op === 'add' ? await this.#hotlistAddTx(c, s.adds, at) : await this.#hotlistRemoveTx(c, [s.cardNumber], at, s.by) });
    }
    return foldHotlistSteps(version, applied);
  }

  async getHotlistEntry(cardNumber: string): Promise<HotlistEntry | undefined> {
    const r = await this.#one<HotlistRow>('SELECT * FROM hotlist WHERE card_number = $1', [cardNumber]);
    return r === undefined ? undefined : toHot(r);
  }

  async listHotlist(opts: { prefix?: string; afterCard?: string; limit?: number } = {}): Promise<HotlistEntry[]> {
    const w = new Where();
    if (opts.prefix !== undefined) w.add('card_number >= ? AND card_number < ?', opts.prefix, `${opts.prefix}\uffff`);
    if (opts.afterCard !== undefined) w.add('card_number > ?', opts.afterCard);
    const lim = w.next(clampLimit(opts.limit, 100, 10000));
    return (await this.#rows<HotlistRow>(`SELECT * FROM hotlist ${w.sql} ORDER BY card_number LIMIT ${lim}`, w.args)).map(toHot);
  }

  async hotlistSince(since: number | undefined): Promise<HotlistDelta> {
    // One consistent snapshot for the meta row, the log and the list.
    return this.#tx(async (c): Promise<HotlistDelta> => {
      const meta = (await this.#one<{ version: number; log_floor: number }>('SELECT version, log_floor FROM hotlist_meta WHERE id = 1', [], c))!;
      const full = async (): Promise<HotlistDelta> => ({ kind: 'full', version: meta.version, cards: (await this.#rows<{ card_number: string }>('SELECT card_number FROM hotlist ORDER BY card_number', [], c)).map((r) => r.card_number) });
      if (since === undefined || since < meta.log_floor || since > meta.version) return full();
      const touched = await this.#rows<{ c: string; listed: boolean }>(`SELECT l.card_number AS c, h.card_number IS NOT NULL AS listed
        FROM (SELECT DISTINCT card_number FROM hotlist_log WHERE version > $1) l LEFT JOIN hotlist h ON h.card_number = l.card_number
        ORDER BY l.card_number`, [since], c);
      if (touched.length > 0) {
        const total = (await this.#one<{ n: number }>('SELECT count(*)::int AS n FROM hotlist', [], c))!.n;
        if (touched.length > total) return full(); // the snapshot is smaller than the delta
      }
      return { kind: 'delta', fromVersion: since, version: meta.version, add: touched.filter((x) => x.listed).map((x) => x.c), remove: touched.filter((x) => !x.listed).map((x) => x.c) };
    }, 'REPEATABLE READ READ ONLY');
  }

  async compactHotlistLog(keepFromVersion: number): Promise<void> {
    await this.#tx(async (c) => {
      const meta = (await this.#one<{ version: number; log_floor: number }>('SELECT version, log_floor FROM hotlist_meta WHERE id = 1 FOR UPDATE', [], c))!;
      const floor = Math.min(Math.max(meta.log_floor, keepFromVersion), meta.version);
      await c.query('DELETE FROM hotlist_log WHERE version <= $1', [floor]);
      await c.query('UPDATE hotlist_meta SET log_floor = $1 WHERE id = 1', [floor]);
    });
  }

  // ── ingest ──────────────────────────────────────────────────────────────────────────────────

  async ingestEvents(terminalId: string, records: readonly NewEvent[], receivedAt: number, hotlistAdds?: ReadonlyMap<string, HotlistChange>, audit?: AuditOf<IngestResult>): Promise<IngestResult> {
    let upToSeq = 0;
    for (const r of records) if (r.seq > upToSeq) upToSeq = r.seq;
    if (records.length === 0) return { inserted: 0, duplicates: 0, upToSeq, hotlist: null };
    return this.#tx((c) => this.#ingestTx(c, { terminalId, records, receivedAt, ...(hotlistAdds !== undefined ? { hotlistAdds } : {}), ...(audit !== undefined ? { audit } : {}) }));
  }

  async ingestEventBatches(batches: readonly IngestBatch[]): Promise<IngestResult[]> {
    return this.#tx(async (c) => {
      const out: IngestResult[] = [];
      for (const b of batches) out.push(await this.#ingestTx(c, b));
      return out;
    });
  }

  /** Inside a transaction: stores one batch as `ingestEvents` describes. */
  async #ingestTx(c: pg.PoolClient, b: IngestBatch): Promise<IngestResult> {
    const { terminalId, records, receivedAt, hotlistAdds, audit } = b;
    let upToSeq = 0;
    for (const r of records) if (r.seq > upToSeq) upToSeq = r.seq;
    if (records.length === 0) return { inserted: 0, duplicates: 0, upToSeq, hotlist: null };
    // One statement for the batch, in record order; conflicts on (terminal, eventId) are the
    // retransmissions (also within the batch), and RETURNING names the rows inserted now.
    const ins = await this.#rows<{ event_id: string }>(`INSERT INTO events (terminal_id, event_id, seq, ts, type, body, received_at)
      SELECT $1, e, s, t, ty, b, $2 FROM unnest($3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[]) WITH ORDINALITY AS x(e, s, t, ty, b, o)
      ORDER BY o
      ON CONFLICT (terminal_id, event_id) DO NOTHING RETURNING event_id`,
    [terminalId, receivedAt, records.map((r) => r.eventId), records.map((r) => r.seq), records.map((r) => r.ts), records.map((r) => r.type), records.map((r) => JSON.stringify(r.body))], c);
    // In record order: a report and its cancellation in one batch end as the terminal saw them.
    const changes: HotlistChange[] = [];
    if (hotlistAdds !== undefined && hotlistAdds.size > 0) {
      const now = new Set(ins.map((r) => r.event_id));
      for (const r of records) {
        const ch = hotlistAdds.get(r.eventId);
        if (ch !== undefined && now.delete(r.eventId)) changes.push(ch);
      }
    }
    const applied = changes.length > 0 ? await this.#hotlistChangesTx(c, changes, receivedAt) : null;
    const hotlist = applied !== null && applied.changed.length > 0 ? { version: applied.version, changed: applied.changed } : null;
    const result: IngestResult = { inserted: ins.length, duplicates: records.length - ins.length, upToSeq, hotlist, ...(applied !== null && applied.ops.length > 0 ? { hotlistOps: applied.ops } : {}) };
    await this.#auditTx(c, audit, result);
    return result;
  }

  async listEvents(f: EventFilter = {}): Promise<EventRecord[]> {
    const w = new Where();
    if (f.terminalId !== undefined) w.add('terminal_id = ?', f.terminalId);
    if (f.type !== undefined) w.add('type = ?', f.type);
    if (f.typePrefix !== undefined) w.add('type >= ? AND type < ?', f.typePrefix, `${f.typePrefix}\uffff`);
    if (f.from !== undefined) w.add('ts >= ?', f.from);
    if (f.to !== undefined) w.add('ts < ?', f.to);
    if (f.afterId !== undefined) w.add('id > ?', f.afterId);
    const lim = w.next(clampLimit(f.limit, 100, 10000));
    return (await this.#rows<EventRow>(`SELECT * FROM events ${w.sql} ORDER BY id LIMIT ${lim}`, w.args)).map(toEvent);
  }

  async putTelemetry(rec: TelemetryRecord): Promise<void> {
    await this.#pool.query(`INSERT INTO telemetry (terminal_id, ts, received_at, epoch, health, readers, counters, outbox) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
      ON CONFLICT (terminal_id) DO UPDATE SET ts = excluded.ts, received_at = excluded.received_at, epoch = excluded.epoch, health = excluded.health,
        readers = excluded.readers, counters = excluded.counters, outbox = excluded.outbox`,
    [rec.terminalId, rec.ts, rec.receivedAt, rec.epoch, rec.health, JSON.stringify(rec.readers), JSON.stringify(rec.counters), rec.outbox === null ? null : JSON.stringify(rec.outbox)]);
  }

  async getTelemetry(terminalId: string): Promise<TelemetryRecord | undefined> {
    const r = await this.#one<TeleRow>('SELECT * FROM telemetry WHERE terminal_id = $1', [terminalId]);
    return r === undefined ? undefined : toTele(r);
  }

  async listTelemetry(opts: { afterTerminalId?: string; limit?: number } = {}): Promise<TelemetryRecord[]> {
    const lim = clampLimit(opts.limit, 100, 10000);
    const rows = opts.afterTerminalId === undefined
      ? await this.#rows<TeleRow>('SELECT * FROM telemetry ORDER BY terminal_id LIMIT $1', [lim])
      : await this.#rows<TeleRow>('SELECT * FROM telemetry WHERE terminal_id > $1 ORDER BY terminal_id LIMIT $2', [opts.afterTerminalId, lim]);
    return rows.map(toTele);
  }

  // ── audit ───────────────────────────────────────────────────────────────────────────────────

  async appendAudit(rec: NewAuditRecord): Promise<number> {
    return (await this.#one<{ id: number }>('INSERT INTO audit (ts, actor, action, target, ip, details) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id', [rec.ts, rec.actor, rec.action, rec.target, rec.ip, JSON.stringify(rec.details)]))!.id;
  }

  async listAudit(opts: { limit?: number; beforeId?: number; actor?: string; action?: string } = {}): Promise<AuditRecord[]> {
    const w = new Where();
    if (opts.beforeId !== undefined) w.add('id < ?', opts.beforeId);
    if (opts.actor !== undefined) w.add('actor = ?', opts.actor);
    if (opts.action !== undefined) w.add('action = ?', opts.action);
    const lim = w.next(clampLimit(opts.limit, 100, 1000));
    return (await this.#rows<AuditRow>(`SELECT * FROM audit ${w.sql} ORDER BY id DESC LIMIT ${lim}`, w.args)).map(toAudit);
  }

  async ping(): Promise<boolean> {
    return (await this.#one<{ ok: number }>('SELECT 1 AS ok'))?.ok === 1;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}
