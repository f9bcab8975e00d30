/**
 * The registry part of the SQLite store ({@link RegistryStore}): cards, history, feed,
 * departments, tokens, consents, the access log, quotas and batch jobs. Its tables come with the
 * store's numbered migrations (`REGISTRY_SQLITE_MIGRATION`). A lifecycle change writes the card,
 * its history, its feed position and its hotlist membership in one transaction.
 */
import type Database from 'better-sqlite3';
import { ServerError } from '../errors.ts';
import type { CardStatus } from '../registry/model.ts';
import type { AuditOf } from './types.ts';
import type {
  AccessRecord, AccessTokenRecord, BatchJobRecord, CallCommit, CardHistoryRecord, CardRecord, CardTransition, ConsentRecord, DepartmentRecord, FeedEntry, NewAccess,
  RegistryStore, UpsertOutcome,
} from './registry-types.ts';
import {
  toAccess, toBatch, toCard, toConsent, toDepartment, toHistory, type AccessRow, type BatchRow, type CardRow, type ConsentRow, type DepartmentRow, type HistoryRow,
} from './registry-rows.ts';

/** Registry and sharing tables (SQLite migration; `postgres-migrations.ts` has the same schema). */
export const REGISTRY_SQLITE_MIGRATION = `CREATE TABLE registry_cards (
     card_number TEXT PRIMARY KEY, id_hash TEXT NOT NULL, holder_hash TEXT NOT NULL, id_sealed TEXT NOT NULL, name_sealed TEXT NOT NULL,
     region TEXT NOT NULL, generation TEXT NOT NULL, issued_on TEXT NOT NULL, expires_on TEXT NOT NULL, status TEXT NOT NULL, replaced_by TEXT,
     feed_seq INTEGER NOT NULL DEFAULT 0, content_hash TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, updated_by TEXT NOT NULL) WITHOUT ROWID;
   CREATE INDEX registry_cards_id ON registry_cards(id_hash);
   CREATE INDEX registry_cards_holder ON registry_cards(holder_hash);
   CREATE INDEX registry_cards_feed ON registry_cards(feed_seq);
   CREATE TABLE registry_history (
     id INTEGER PRIMARY KEY AUTOINCREMENT, card_number TEXT NOT NULL, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
     from_status TEXT, to_status TEXT NOT NULL, details TEXT NOT NULL);
   CREATE INDEX registry_history_card ON registry_history(card_number, id);
   CREATE TABLE registry_meta (id INTEGER PRIMARY KEY CHECK (id = 1), feed_seq INTEGER NOT NULL);
   INSERT INTO registry_meta (id, feed_seq) VALUES (1, 0);
   CREATE TABLE sharing_departments (
     id TEXT PRIMARY KEY, name TEXT NOT NULL, client_id TEXT NOT NULL UNIQUE, secret_hash TEXT NOT NULL, purposes TEXT NOT NULL,
     rate_per_minute INTEGER NOT NULL, daily_quota INTEGER NOT NULL, created_at INTEGER NOT NULL, created_by TEXT NOT NULL, disabled_at INTEGER);
   CREATE TABLE sharing_tokens (token_hash TEXT PRIMARY KEY, department_id TEXT NOT NULL, expires_at INTEGER NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;
   CREATE INDEX sharing_tokens_expiry ON sharing_tokens(expires_at);
   CREATE TABLE sharing_consents (
     id TEXT PRIMARY KEY, card_number TEXT NOT NULL, id_hash TEXT NOT NULL, department_id TEXT NOT NULL, purpose TEXT NOT NULL,
     granted_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, granted_via TEXT NOT NULL, revoked_at INTEGER, revoked_via TEXT);
   CREATE INDEX sharing_consents_subject ON sharing_consents(id_hash, department_id);
   CREATE TABLE sharing_access (
     id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, department_id TEXT NOT NULL, purpose TEXT NOT NULL, call TEXT NOT NULL,
     subject_hash TEXT, card_number TEXT, released TEXT NOT NULL, outcome TEXT NOT NULL, job_id TEXT);
   CREATE INDEX sharing_access_subject ON sharing_access(subject_hash, id);
   CREATE INDEX sharing_access_department ON sharing_access(department_id, id);
   CREATE TABLE sharing_quota (department_id TEXT NOT NULL, day TEXT NOT NULL, used INTEGER NOT NULL, PRIMARY KEY (department_id, day)) WITHOUT ROWID;
   CREATE TABLE sharing_jobs (
     id TEXT PRIMARY KEY, department_id TEXT NOT NULL, purpose TEXT NOT NULL, status TEXT NOT NULL, total INTEGER NOT NULL, matched INTEGER NOT NULL,
     created_at INTEGER NOT NULL, finished_at INTEGER, result TEXT);`;

const CARD_COLS = 'card_number, id_hash, holder_hash, id_sealed, name_sealed, region, generation, issued_on, expires_on, status, replaced_by, feed_seq, content_hash, created_at, updated_at, updated_by';
const DEPT_COLS = 'id, name, client_id, purposes, rate_per_minute, daily_quota, created_at, created_by, disabled_at';

export class SqliteRegistryStore implements RegistryStore {
  readonly #db: Database.Database;
  readonly #stmts = new Map<string, Database.Statement>();
  constructor(db: Database.Database) { this.#db = db; }

  #prep(sql: string): Database.Statement {
    let st = this.#stmts.get(sql);
    if (st === undefined) {
      st = this.#db.prepare(sql);
      this.#stmts.set(sql, st);
    }
    return st;
  }

  #audit<R>(audit: AuditOf<R> | undefined, result: R): void {
    if (audit === undefined) return;
    const st = this.#prep('INSERT INTO audit (ts, actor, action, target, ip, details) VALUES (?, ?, ?, ?, ?, ?)');
    for (const a of audit(result)) st.run(a.ts, a.actor, a.action, a.target, a.ip, JSON.stringify(a.details));
  }

  async getCards(cardNumbers: readonly string[]): Promise<CardRecord[]> {
    if (cardNumbers.length === 0) return [];
    const out: CardRecord[] = [];
    for (let i = 0; i < cardNumbers.length; i += 500) {
      const part = cardNumbers.slice(i, i + 500);
      out.push(...(this.#db.prepare(`SELECT ${CARD_COLS} FROM registry_cards WHERE card_number IN (${part.map(() => '?').join(',')})`).all(...part) as CardRow[]).map(toCard));
    }
    return out;
  }
  async getCard(cardNumber: string): Promise<CardRecord | undefined> {
    const r = this.#prep(`SELECT ${CARD_COLS} FROM registry_cards WHERE card_number = ?`).get(cardNumber) as CardRow | undefined;
    return r === undefined ? undefined : toCard(r);
  }
  async findCardsByIdHash(idHash: string): Promise<CardRecord[]> {
    return (this.#prep(`SELECT ${CARD_COLS} FROM registry_cards WHERE id_hash = ? ORDER BY issued_on DESC, card_number`).all(idHash) as CardRow[]).map(toCard);
  }
  async holderHasCardIn(holderHash: string, statuses: readonly CardStatus[]): Promise<boolean> {
    const rows = this.#prep('SELECT status FROM registry_cards WHERE holder_hash = ?').pluck().all(holderHash) as string[];
    return rows.some((s) => (statuses as readonly string[]).includes(s));
  }

  async upsertCards(cards: readonly Omit<CardRecord, 'feedSeq' | 'updatedAt' | 'updatedBy' | 'createdAt' | 'replacedBy'>[], at: number, actor: string): Promise<UpsertOutcome[]> {
    return this.#db.transaction(() => {
      const get = this.#prep('SELECT content_hash, status FROM registry_cards WHERE card_number = ?');
      const ins = this.#prep(`INSERT INTO registry_cards (${CARD_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, ?, ?, ?, ?)`);
      const upd = this.#prep(`UPDATE registry_cards SET id_hash = ?, holder_hash = ?, id_sealed = ?, name_sealed = ?, region = ?, generation = ?, issued_on = ?, expires_on = ?,
        content_hash = ?, updated_at = ?, updated_by = ? WHERE card_number = ?`);
      const hist = this.#prep('INSERT INTO registry_history (card_number, at, actor, action, from_status, to_status, details) VALUES (?, ?, ?, ?, ?, ?, ?)');
      return cards.map((c): UpsertOutcome => {
        const cur = get.get(c.cardNumber) as { content_hash: string; status: string } | undefined;
        if (cur === undefined) {
          ins.run(c.cardNumber, c.idHash, c.holderHash, c.idSealed, c.nameSealed, c.region, c.generation, c.issuedOn, c.expiresOn, c.status, c.contentHash, at, at, actor);
          hist.run(c.cardNumber, at, actor, 'import', null, c.status, '{}');
          return 'created';
        }
        if (cur.content_hash === c.contentHash) return 'unchanged';
        upd.run(c.idHash, c.holderHash, c.idSealed, c.nameSealed, c.region, c.generation, c.issuedOn, c.expiresOn, c.contentHash, at, actor, c.cardNumber);
        hist.run(c.cardNumber, at, actor, 'update', cur.status, cur.status, '{}');
        return 'updated';
      });
    })();
  }

  #applySync(changes: readonly CardTransition[]): void {
    const meta = this.#prep('SELECT feed_seq FROM registry_meta WHERE id = 1');
    let seq = (meta.get() as { feed_seq: number }).feed_seq;
    const upd = this.#prep('UPDATE registry_cards SET status = ?, replaced_by = ?, feed_seq = ?, updated_at = ?, updated_by = ? WHERE card_number = ? AND status = ?');
    const hist = this.#prep('INSERT INTO registry_history (card_number, at, actor, action, from_status, to_status, details) VALUES (?, ?, ?, ?, ?, ?, ?)');
    for (const ch of changes) {
      seq += 1;
      if (upd.run(ch.to, ch.replacedBy, seq, ch.at, ch.actor, ch.cardNumber, ch.from).changes !== 1) {
        const exists = this.#prep('SELECT 1 FROM registry_cards WHERE card_number = ?').get(ch.cardNumber) !== undefined;
        throw exists ? new ServerError('SRV_ERR_CONFLICT', 'the card status changed meanwhile', { cardNumber: ch.cardNumber }) : new ServerError('SRV_ERR_NOT_FOUND', 'card not in the registry', { cardNumber: ch.cardNumber });
      }
      hist.run(ch.cardNumber, ch.at, ch.actor, ch.action, ch.from, ch.to, JSON.stringify({ ...ch.details, ...(ch.replacedBy !== null ? { replacedBy: ch.replacedBy } : {}) }));
    }
    this.#prep('UPDATE registry_meta SET feed_seq = ? WHERE id = 1').run(seq);
  }

  async transition(changes: readonly CardTransition[], hotlisted: ReadonlySet<CardStatus>, audit?: AuditOf<{ hotlistVersion: number | null }>): Promise<{ hotlistVersion: number | null }> {
    return this.#db.transaction(() => {
      this.#applySync(changes);
      const cur = (this.#prep('SELECT version FROM hotlist_meta WHERE id = 1').get() as { version: number }).version;
      const next = cur + 1;
      const ins = this.#prep('INSERT OR IGNORE INTO hotlist (card_number, version, reported_at, reported_by, source, reason) VALUES (?, ?, ?, ?, ?, ?)');
      const del = this.#prep('DELETE FROM hotlist WHERE card_number = ?');
      const log = this.#prep('INSERT INTO hotlist_log (version, card_number, op, at, by) VALUES (?, ?, ?, ?, ?)');
      let changed = false;
      for (const ch of changes) {
        const listed = hotlisted.has(ch.to);
        const source = ch.actor.startsWith('terminal:') ? 'terminal' : 'admin';
        if (listed && ins.run(ch.cardNumber, next, ch.at, ch.actor, source, `registry: ${ch.to}`).changes === 1) {
          log.run(next, ch.cardNumber, 'add', ch.at, ch.actor);
          changed = true;
        } else if (!listed && del.run(ch.cardNumber).changes === 1) {
          log.run(next, ch.cardNumber, 'remove', ch.at, ch.actor);
          changed = true;
        }
      }
      if (changed) this.#prep('UPDATE hotlist_meta SET version = ? WHERE id = 1').run(next);
      const result = { hotlistVersion: changed ? next : null };
      this.#audit(audit, result);
      return result;
    })();
  }

  async followHotlist(changes: readonly CardTransition[]): Promise<void> {
    this.#db.transaction(() => this.#applySync(changes))();
  }

  async hotlistDisagreements(hotlisted: readonly CardStatus[]): Promise<{ card: CardRecord; listed: boolean }[]> {
    const inList = hotlisted.map(() => '?').join(',');
    const cols = CARD_COLS.split(', ').map((c) => `c.${c}`).join(', ');
    const listedUsable = this.#db.prepare(`SELECT ${cols} FROM registry_cards c JOIN hotlist h ON h.card_number = c.card_number WHERE c.status NOT IN (${inList})`).all(...hotlisted) as CardRow[];
    const unlisted = this.#db.prepare(`SELECT ${cols} FROM registry_cards c WHERE c.status IN (${inList}) AND NOT EXISTS (SELECT 1 FROM hotlist h WHERE h.card_number = c.card_number)`).all(...hotlisted) as CardRow[];
    return [...listedUsable.map((r) => ({ card: toCard(r), listed: true })), ...unlisted.map((r) => ({ card: toCard(r), listed: false }))];
  }

  async cardHistory(cardNumber: string): Promise<CardHistoryRecord[]> {
    return (this.#prep('SELECT * FROM registry_history WHERE card_number = ? ORDER BY id').all(cardNumber) as HistoryRow[]).map(toHistory);
  }
  async feed(cursor: number, limit: number): Promise<FeedEntry[]> {
    return (this.#prep('SELECT feed_seq, card_number, status, replaced_by, updated_at FROM registry_cards WHERE feed_seq > ? ORDER BY feed_seq LIMIT ?').all(cursor, limit) as
      { feed_seq: number; card_number: string; status: CardStatus; replaced_by: string | null; updated_at: number }[])
      .map((r) => ({ seq: r.feed_seq, cardNumber: r.card_number, status: r.status, replacedBy: r.replaced_by, at: r.updated_at }));
  }
  async countCards(): Promise<number> {
    return (this.#prep('SELECT count(*) AS n FROM registry_cards').get() as { n: number }).n;
  }

  async createDepartment(rec: DepartmentRecord & { readonly secretHash: string }, audit?: AuditOf<void>): Promise<void> {
    this.#db.transaction(() => {
      try {
        this.#prep(`INSERT INTO sharing_departments (${DEPT_COLS}, secret_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
          .run(rec.id, rec.name, rec.clientId, JSON.stringify(rec.purposes), rec.ratePerMinute, rec.dailyQuota, rec.createdAt, rec.createdBy, rec.disabledAt, rec.secretHash);
      } catch (err) {
        if (String((err as { code?: string }).code).startsWith('SQLITE_CONSTRAINT')) throw new ServerError('SRV_ERR_CONFLICT', `department ${rec.id} exists`);
        throw err;
      }
      this.#audit(audit, undefined);
    })();
  }
  async getDepartment(id: string): Promise<DepartmentRecord | undefined> {
    const r = this.#prep(`SELECT ${DEPT_COLS} FROM sharing_departments WHERE id = ?`).get(id) as DepartmentRow | undefined;
    return r === undefined ? undefined : toDepartment(r);
  }
  async findDepartmentByClientId(clientId: string): Promise<(DepartmentRecord & { readonly secretHash: string }) | undefined> {
    const r = this.#prep(`SELECT ${DEPT_COLS}, secret_hash FROM sharing_departments WHERE client_id = ?`).get(clientId) as (DepartmentRow & { secret_hash: string }) | undefined;
    return r === undefined ? undefined : { ...toDepartment(r), secretHash: r.secret_hash };
  }
  async listDepartments(): Promise<DepartmentRecord[]> {
    return (this.#prep(`SELECT ${DEPT_COLS} FROM sharing_departments ORDER BY id`).all() as DepartmentRow[]).map(toDepartment);
  }
  async updateDepartment(id: string, patch: { purposes?: readonly string[]; ratePerMinute?: number; dailyQuota?: number; disabledAt?: number | null; secretHash?: string }, audit?: AuditOf<DepartmentRecord>): Promise<DepartmentRecord | undefined> {
    return this.#db.transaction(() => {
      const sets: string[] = [];
      const args: unknown[] = [];
      if (patch.purposes !== undefined) { sets.push('purposes = ?'); args.push(JSON.stringify(patch.purposes)); }
      if (patch.ratePerMinute !== undefined) { sets.push('rate_per_minute = ?'); args.push(patch.ratePerMinute); }
      if (patch.dailyQuota !== undefined) { sets.push('daily_quota = ?'); args.push(patch.dailyQuota); }
      if (patch.disabledAt !== undefined) { sets.push('disabled_at = ?'); args.push(patch.disabledAt); }
      if (patch.secretHash !== undefined) { sets.push('secret_hash = ?'); args.push(patch.secretHash); }
      if (sets.length > 0) this.#db.prepare(`UPDATE sharing_departments SET ${sets.join(', ')} WHERE id = ?`).run(...args, id);
      const r = this.#prep(`SELECT ${DEPT_COLS} FROM sharing_departments WHERE id = ?`).get(id) as DepartmentRow | undefined;
      if (r === undefined) return undefined;
      const rec = toDepartment(r);
      this.#audit(audit, rec);
      return rec;
    })();
  }

  async putAccessToken(tokenHash: string, rec: AccessTokenRecord): Promise<void> {
    this.#prep('INSERT INTO sharing_tokens (token_hash, department_id, expires_at, created_at) VALUES (?, ?, ?, ?)').run(tokenHash, rec.departmentId, rec.expiresAt, rec.createdAt);
  }
  async getAccessToken(tokenHash: string): Promise<AccessTokenRecord | undefined> {
    const r = this.#prep('SELECT department_id, expires_at, created_at FROM sharing_tokens WHERE token_hash = ?').get(tokenHash) as { department_id: string; expires_at: number; created_at: number } | undefined;
    return r === undefined ? undefined : { departmentId: r.department_id, expiresAt: r.expires_at, createdAt: r.created_at };
  }
  async getAccessTokenWithDepartment(tokenHash: string): Promise<{ token: AccessTokenRecord; department: DepartmentRecord } | undefined> {
    const r = this.#prep(`SELECT t.department_id AS t_department_id, t.expires_at AS t_expires_at, t.created_at AS t_created_at, ${DEPT_COLS.split(', ').map((c) => `d.${c}`).join(', ')}
      FROM sharing_tokens t JOIN sharing_departments d ON d.id = t.department_id WHERE t.token_hash = ?`).get(tokenHash) as (DepartmentRow & { t_department_id: string; t_expires_at: number; t_created_at: number }) | undefined;
    return r === undefined ? undefined : { token: { departmentId: r.t_department_id, expiresAt: r.t_expires_at, createdAt: r.t_created_at }, department: toDepartment(r) };
  }
  async purgeAccessTokens(now: number): Promise<number> {
    return this.#prep('DELETE FROM sharing_tokens WHERE expires_at <= ?').run(now).changes;
  }

  async putConsent(rec: ConsentRecord, audit?: AuditOf<void>): Promise<void> {
    this.#db.transaction(() => {
      this.#prep(`INSERT INTO sharing_consents (id, card_number, id_hash, department_id, purpose, granted_at, expires_at, granted_via, revoked_at, revoked_via)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(rec.id, rec.cardNumber, rec.idHash, rec.departmentId, rec.purpose, rec.grantedAt, rec.expiresAt, rec.grantedVia, rec.revokedAt, rec.revokedVia);
      this.#audit(audit, undefined);
    })();
  }
  async listConsents(filter: { idHash?: string; departmentId?: string }): Promise<ConsentRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.idHash !== undefined) { where.push('id_hash = ?'); args.push(filter.idHash); }
    if (filter.departmentId !== undefined) { where.push('department_id = ?'); args.push(filter.departmentId); }
    return (this.#prep(`SELECT * FROM sharing_consents ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY granted_at DESC, id DESC`).all(...args) as ConsentRow[]).map(toConsent);
  }
  async revokeConsent(id: string, at: number, via: string, audit?: AuditOf<boolean>): Promise<boolean> {
    return this.#db.transaction(() => {
      const ok = this.#prep('UPDATE sharing_consents SET revoked_at = ?, revoked_via = ? WHERE id = ? AND revoked_at IS NULL').run(at, via, id).changes === 1;
      if (ok) this.#audit(audit, true);
      return ok;
    })();
  }

  async commitCalls(calls: readonly CallCommit[]): Promise<boolean[]> {
    if (calls.length === 0) return [];
    return this.#db.transaction(() => {
      const used = this.#prep('SELECT used FROM sharing_quota WHERE department_id = ? AND day = ?');
      const add = this.#prep('INSERT INTO sharing_quota (department_id, day, used) VALUES (?, ?, ?) ON CONFLICT(department_id, day) DO UPDATE SET used = used + excluded.used');
      const ins = this.#prep('INSERT INTO sharing_access (at, department_id, purpose, call, subject_hash, card_number, released, outcome, job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
      return calls.map(({ access: r, quota: q }) => {
        if (q !== undefined && q.n > 0) {
          const u = (used.get(r.departmentId, q.day) as { used: number } | undefined)?.used ?? 0;
          if (u + q.n > q.limit) return false;
          add.run(r.departmentId, q.day, q.n);
        }
        ins.run(r.at, r.departmentId, r.purpose, r.call, r.subjectHash, r.cardNumber, JSON.stringify(r.released), r.outcome, r.jobId);
        return true;
      });
    }).immediate();
  }
  async recordAccesses(recs: readonly NewAccess[]): Promise<void> {
    if (recs.length === 0) return;
    this.#db.transaction(() => {
      const st = this.#prep('INSERT INTO sharing_access (at, department_id, purpose, call, subject_hash, card_number, released, outcome, job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
      for (const r of recs) st.run(r.at, r.departmentId, r.purpose, r.call, r.subjectHash, r.cardNumber, JSON.stringify(r.released), r.outcome, r.jobId);
    })();
  }
  async listAccesses(filter: { subjectHash?: string; departmentId?: string; limit?: number; beforeId?: number }): Promise<AccessRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.subjectHash !== undefined) { where.push('subject_hash = ?'); args.push(filter.subjectHash); }
    if (filter.departmentId !== undefined) { where.push('department_id = ?'); args.push(filter.departmentId); }
    if (filter.beforeId !== undefined) { where.push('id < ?'); args.push(filter.beforeId); }
    return (this.#prep(`SELECT * FROM sharing_access ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`).all(...args, filter.limit ?? 100) as AccessRow[]).map(toAccess);
  }

  async consumeQuota(departmentId: string, day: string, n: number, quota: number): Promise<boolean> {
    return this.#db.transaction(() => {
      const used = (this.#prep('SELECT used FROM sharing_quota WHERE department_id = ? AND day = ?').get(departmentId, day) as { used: number } | undefined)?.used ?? 0;
      if (used + n > quota) return false;
      this.#prep('INSERT INTO sharing_quota (department_id, day, used) VALUES (?, ?, ?) ON CONFLICT(department_id, day) DO UPDATE SET used = used + excluded.used').run(departmentId, day, n);
      return true;
    })();
  }

  async putBatchJob(rec: BatchJobRecord, result?: string): Promise<void> {
    this.#prep(`INSERT INTO sharing_jobs (id, department_id, purpose, status, total, matched, created_at, finished_at, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(id) DO UPDATE SET status = excluded.status, matched = excluded.matched, finished_at = excluded.finished_at, result = coalesce(excluded.result, result)`)
      .run(rec.id, rec.departmentId, rec.purpose, rec.status, rec.total, rec.matched, rec.createdAt, rec.finishedAt, result ?? null);
  }
  async getBatchJob(id: string): Promise<BatchJobRecord | undefined> {
    const r = this.#prep('SELECT id, department_id, purpose, status, total, matched, created_at, finished_at FROM sharing_jobs WHERE id = ?').get(id) as BatchRow | undefined;
    return r === undefined ? undefined : toBatch(r);
  }
  async getBatchResult(id: string): Promise<string | undefined> {
    const r = this.#prep('SELECT result FROM sharing_jobs WHERE id = ?').get(id) as { result: string | null } | undefined;
    return r?.result ?? undefined;
  }
}
