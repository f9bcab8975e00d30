/**
 * The card-login part of the SQLite store ({@link OidcStore}). Records are kept as JSON bodies
 * beside the columns that are searched or compared (status, uid, expiry); its tables come with the
 * store's numbered migrations (`SQLITE_MIGRATIONS`) and it shares the store's better-sqlite3 handle.
 */
import type Database from 'better-sqlite3';
import { ServerError } from '../errors.ts';
import type { AuditOf, NewAuditRecord } from './types.ts';
import type { EcardHolderRecord, LoginGroupRecord, LoginOutcome, LoginRecord, OidcStore, ProviderKeyRecord, ProviderPayloadRecord, RelyingPartyRecord } from './oidc-types.ts';
import { finishedLogin, type PayloadRow } from './oidc-rows.ts';

const isConstraint = (e: unknown): boolean => String((e as { code?: string }).code ?? '').startsWith('SQLITE_CONSTRAINT');

export class SqliteOidcStore implements OidcStore {
  readonly #db: Database.Database;
  constructor(db: Database.Database) { this.#db = db; }

  #audit(entries: readonly NewAuditRecord[]): void {
    const st = this.#db.prepare('INSERT INTO audit (ts, actor, action, target, ip, details) VALUES (?, ?, ?, ?, ?, ?)');
    for (const a of entries) st.run(a.ts, a.actor, a.action, a.target, a.ip, JSON.stringify(a.details));
  }

  async createRelyingParty(rec: RelyingPartyRecord, audit?: AuditOf<void>): Promise<void> {
    try {
      this.#db.transaction(() => {
        this.#db.prepare('INSERT INTO oidc_relying_parties (id, body, created_at, updated_at) VALUES (?, ?, ?, ?)').run(rec.id, JSON.stringify(rec), rec.createdAt, rec.updatedAt);
        this.#audit(audit?.(undefined) ?? []);
      })();
    } catch (e) {
      if (isConstraint(e)) throw new ServerError('SRV_ERR_CONFLICT', `relying party ${rec.id} exists`);
      throw e;
    }
  }
  async updateRelyingParty(rec: RelyingPartyRecord, audit?: AuditOf<void>): Promise<void> {
    this.#db.transaction(() => {
      const r = this.#db.prepare('UPDATE oidc_relying_parties SET body = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(rec), rec.updatedAt, rec.id);
      if (r.changes !== 1) throw new ServerError('SRV_ERR_NOT_FOUND', `relying party ${rec.id}`);
      this.#audit(audit?.(undefined) ?? []);
    })();
  }
  async getRelyingParty(id: string): Promise<RelyingPartyRecord | undefined> {
    const r = this.#db.prepare('SELECT body FROM oidc_relying_parties WHERE id = ?').pluck().get(id) as string | undefined;
    return r === undefined ? undefined : JSON.parse(r) as RelyingPartyRecord;
  }
  async listRelyingParties(): Promise<RelyingPartyRecord[]> {
    return (this.#db.prepare('SELECT body FROM oidc_relying_parties ORDER BY id').pluck().all() as string[]).map((b) => JSON.parse(b) as RelyingPartyRecord);
  }

  async createLogin(rec: LoginRecord): Promise<void> {
    try {
      this.#db.prepare('INSERT INTO oidc_logins (code, uid, status, body, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)').run(rec.code, rec.uid, rec.status, JSON.stringify(rec), rec.createdAt, rec.expiresAt);
    } catch (e) {
      if (isConstraint(e)) throw new ServerError('SRV_ERR_CONFLICT', 'login code exists');
      throw e;
    }
  }
  async getLogin(code: string): Promise<LoginRecord | undefined> {
    const r = this.#db.prepare('SELECT body FROM oidc_logins WHERE code = ?').pluck().get(code) as string | undefined;
    return r === undefined ? undefined : JSON.parse(r) as LoginRecord;
  }
  async getLoginByUid(uid: string): Promise<LoginRecord | undefined> {
    const r = this.#db.prepare('SELECT body FROM oidc_logins WHERE uid = ? ORDER BY created_at DESC, code DESC LIMIT 1').pluck().get(uid) as string | undefined;
    return r === undefined ? undefined : JSON.parse(r) as LoginRecord;
  }
  async finishLogin(code: string, outcome: LoginOutcome, at: number, audit?: AuditOf<LoginRecord>): Promise<LoginRecord | undefined> {
    return this.#db.transaction((): LoginRecord | undefined => {
      const body = this.#db.prepare("SELECT body FROM oidc_logins WHERE code = ? AND status = 'pending'").pluck().get(code) as string | undefined;
      if (body === undefined) return undefined;
      const next = finishedLogin(JSON.parse(body) as LoginRecord, outcome, at);
      this.#db.prepare("UPDATE oidc_logins SET status = ?, body = ? WHERE code = ? AND status = 'pending'").run(next.status, JSON.stringify(next), code);
      this.#audit(audit?.(next) ?? []);
      return next;
    })();
  }
  async noteLoginAttempt(code: string, error: string, audit?: AuditOf<LoginRecord>): Promise<boolean> {
    return this.#db.transaction((): boolean => {
      const body = this.#db.prepare("SELECT body FROM oidc_logins WHERE code = ? AND status = 'pending'").pluck().get(code) as string | undefined;
      if (body === undefined) return false;
      const next: LoginRecord = { ...(JSON.parse(body) as LoginRecord), notice: error };
      this.#db.prepare("UPDATE oidc_logins SET body = ? WHERE code = ? AND status = 'pending'").run(JSON.stringify(next), code);
      this.#audit(audit?.(next) ?? []);
      return true;
    })();
  }
  async purgeLogins(before: number): Promise<number> {
    return this.#db.prepare('DELETE FROM oidc_logins WHERE expires_at < ?').run(before).changes;
  }

  async listProviderKeys(): Promise<ProviderKeyRecord[]> {
    return (this.#db.prepare('SELECT body FROM oidc_provider_keys ORDER BY created_at DESC, kid DESC').pluck().all() as string[]).map((b) => JSON.parse(b) as ProviderKeyRecord);
  }
  async rotateProviderKeys(key: ProviderKeyRecord, at: number, audit?: AuditOf<void>): Promise<void> {
    this.#db.transaction(() => {
      for (const [from, to] of [['retiring', 'retired'], ['current', 'retiring']] as const) {
        for (const b of this.#db.prepare('SELECT body FROM oidc_provider_keys WHERE status = ?').pluck().all(from) as string[]) {
          const k = JSON.parse(b) as ProviderKeyRecord;
          const next: ProviderKeyRecord = { ...k, status: to, retiredAt: to === 'retired' ? at : k.retiredAt };
          this.#db.prepare('UPDATE oidc_provider_keys SET status = ?, body = ? WHERE kid = ?').run(to, JSON.stringify(next), k.kid);
        }
      }
      this.#db.prepare('INSERT INTO oidc_provider_keys (kid, status, body, created_at) VALUES (?, ?, ?, ?)').run(key.kid, 'current', JSON.stringify({ ...key, status: 'current' }), key.createdAt);
      this.#audit(audit?.(undefined) ?? []);
    })();
  }

  async putLoginGroup(rec: LoginGroupRecord, audit?: AuditOf<void>): Promise<void> {
    this.#db.transaction(() => {
      this.#db.prepare(`INSERT INTO oidc_login_groups (group_id, allowed, updated_at, updated_by) VALUES (?, ?, ?, ?)
        ON CONFLICT(group_id) DO UPDATE SET allowed = excluded.allowed, updated_at = excluded.updated_at, updated_by = excluded.updated_by`).run(rec.groupId, rec.allowed ? 1 : 0, rec.updatedAt, rec.updatedBy);
      this.#audit(audit?.(undefined) ?? []);
    })();
  }
  async getLoginGroup(groupId: string): Promise<LoginGroupRecord | undefined> {
    const r = this.#db.prepare('SELECT * FROM oidc_login_groups WHERE group_id = ?').get(groupId) as { group_id: string; allowed: number; updated_at: number; updated_by: string } | undefined;
    return r === undefined ? undefined : { groupId: r.group_id, allowed: r.allowed === 1, updatedAt: r.updated_at, updatedBy: r.updated_by };
  }
  async listLoginGroups(): Promise<LoginGroupRecord[]> {
    return (this.#db.prepare('SELECT * FROM oidc_login_groups ORDER BY group_id').all() as { group_id: string; allowed: number; updated_at: number; updated_by: string }[])
      .map((r) => ({ groupId: r.group_id, allowed: r.allowed === 1, updatedAt: r.updated_at, updatedBy: r.updated_by }));
  }

  async putEcardHolder(rec: EcardHolderRecord, audit?: AuditOf<void>): Promise<void> {
    this.#db.transaction(() => {
      this.#db.prepare(`INSERT INTO oidc_ecard_holders (holder_ref, body, registered_at, revoked_at) VALUES (?, ?, ?, ?)
        ON CONFLICT(holder_ref) DO UPDATE SET body = excluded.body, registered_at = excluded.registered_at, revoked_at = excluded.revoked_at`).run(rec.holderRef, JSON.stringify(rec), rec.registeredAt, rec.revokedAt);
      this.#audit(audit?.(undefined) ?? []);
    })();
  }
  async getEcardHolder(holderRef: string): Promise<EcardHolderRecord | undefined> {
    const r = this.#db.prepare('SELECT body FROM oidc_ecard_holders WHERE holder_ref = ?').pluck().get(holderRef) as string | undefined;
    return r === undefined ? undefined : JSON.parse(r) as EcardHolderRecord;
  }
  async listEcardHolders(): Promise<EcardHolderRecord[]> {
    return (this.#db.prepare('SELECT body FROM oidc_ecard_holders ORDER BY holder_ref').pluck().all() as string[]).map((b) => JSON.parse(b) as EcardHolderRecord);
  }
  async revokeEcardHolder(holderRef: string, at: number, audit?: AuditOf<boolean>): Promise<boolean> {
    return this.#db.transaction((): boolean => {
      const b = this.#db.prepare('SELECT body FROM oidc_ecard_holders WHERE holder_ref = ? AND revoked_at IS NULL').pluck().get(holderRef) as string | undefined;
      if (b === undefined) return false;
      this.#db.prepare('UPDATE oidc_ecard_holders SET body = ?, revoked_at = ? WHERE holder_ref = ?').run(JSON.stringify({ ...(JSON.parse(b) as EcardHolderRecord), revokedAt: at }), at, holderRef);
      this.#audit(audit?.(true) ?? []);
      return true;
    })();
  }

  async putAccount(accountId: string, sealed: string, at: number): Promise<void> {
    this.#db.prepare('INSERT INTO oidc_accounts (account_id, sealed, updated_at) VALUES (?, ?, ?) ON CONFLICT(account_id) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at').run(accountId, sealed, at);
  }
  async getAccount(accountId: string): Promise<string | undefined> {
    return this.#db.prepare('SELECT sealed FROM oidc_accounts WHERE account_id = ?').pluck().get(accountId) as string | undefined;
  }

  async upsertPayload(model: string, id: string, rec: { payload: string; grantId: string | null; uid: string | null; userCode: string | null; expiresAt: number | null }): Promise<void> {
    this.#db.prepare(`INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, user_code, expires_at, consumed_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)
      ON CONFLICT(model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid, user_code = excluded.user_code, expires_at = excluded.expires_at`)
      .run(model, id, rec.payload, rec.grantId, rec.uid, rec.userCode, rec.expiresAt);
  }
  #payload(r: PayloadRow | undefined, now: number): ProviderPayloadRecord | undefined {
    if (r === undefined || (r.expires_at !== null && r.expires_at <= now)) return undefined;
    return { payload: r.payload, expiresAt: r.expires_at, consumedAt: r.consumed_at };
  }
  async findPayload(model: string, id: string, now: number): Promise<ProviderPayloadRecord | undefined> {
    return this.#payload(this.#db.prepare('SELECT payload, expires_at, consumed_at FROM oidc_payloads WHERE model = ? AND id = ?').get(model, id) as PayloadRow | undefined, now);
  }
  async findPayloadBy(model: string, field: 'uid' | 'userCode', value: string, now: number): Promise<ProviderPayloadRecord | undefined> {
    const col = field === 'uid' ? 'uid' : 'user_code';
    return this.#payload(this.#db.prepare(`SELECT payload, expires_at, consumed_at FROM oidc_payloads WHERE model = ? AND ${col} = ? LIMIT 1`).get(model, value) as PayloadRow | undefined, now);
  }
  async consumePayload(model: string, id: string, at: number): Promise<void> {
    this.#db.prepare('UPDATE oidc_payloads SET consumed_at = ? WHERE model = ? AND id = ?').run(at, model, id);
  }
  async destroyPayload(model: string, id: string): Promise<void> {
    this.#db.prepare('DELETE FROM oidc_payloads WHERE model = ? AND id = ?').run(model, id);
  }
  async revokePayloadsByGrant(grantId: string): Promise<void> {
    this.#db.prepare('DELETE FROM oidc_payloads WHERE grant_id = ?').run(grantId);
  }
  async purgePayloads(now: number): Promise<number> {
    return this.#db.prepare('DELETE FROM oidc_payloads WHERE expires_at IS NOT NULL AND expires_at <= ?').run(now).changes;
  }
}
