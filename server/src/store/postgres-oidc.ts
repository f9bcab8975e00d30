/**
 * The card-login part of the PostgreSQL store ({@link OidcStore}), with the same behaviour as the
 * SQLite one (both run `test/store/conformance-oidc.ts`). Its tables come with the numbered
 * migrations (`postgres-migrations.ts`); it shares the store's pool, so relying parties, logins,
 * provider keys and provider sessions are seen by every server of a scaled-out layout.
 */
import type pg from 'pg';
import { ServerError } from '../errors.ts';
import type { AuditOf } from './types.ts';
import type { EcardHolderRecord, LoginGroupRecord, LoginOutcome, LoginRecord, OidcStore, ProviderKeyRecord, ProviderPayloadRecord, RelyingPartyRecord } from './oidc-types.ts';
import { finishedLogin, type PayloadRow } from './oidc-rows.ts';
import { insertAudit, withTransaction } from './pg-tx.ts';

const UNIQUE_VIOLATION = '23505';
const isUnique = (e: unknown): boolean => (e as { code?: string }).code === UNIQUE_VIOLATION;
type GroupRow = { group_id: string; allowed: number; updated_at: number; updated_by: string };
const toGroup = (r: GroupRow): LoginGroupRecord => ({ groupId: r.group_id, allowed: r.allowed === 1, updatedAt: Number(r.updated_at), updatedBy: r.updated_by });

export class PostgresOidcStore implements OidcStore {
  readonly #pool: pg.Pool;
  constructor(pool: pg.Pool) { this.#pool = pool; }

  async #bodies<T>(sql: string, args: unknown[] = []): Promise<T[]> {
    return (await this.#pool.query<{ body: string }>(sql, args)).rows.map((r) => JSON.parse(r.body) as T);
  }

  async createRelyingParty(rec: RelyingPartyRecord, audit?: AuditOf<void>): Promise<void> {
    try {
      await withTransaction(this.#pool, async (c) => {
        await c.query('INSERT INTO oidc_relying_parties (id, body, created_at, updated_at) VALUES ($1, $2, $3, $4)', [rec.id, JSON.stringify(rec), rec.createdAt, rec.updatedAt]);
        await insertAudit(c, audit?.(undefined) ?? []);
      });
    } catch (e) {
      if (isUnique(e)) throw new ServerError('SRV_ERR_CONFLICT', `relying party ${rec.id} exists`);
      throw e;
    }
  }
  async updateRelyingParty(rec: RelyingPartyRecord, audit?: AuditOf<void>): Promise<void> {
    await withTransaction(this.#pool, async (c) => {
      const r = await c.query('UPDATE oidc_relying_parties SET body = $1, updated_at = $2 WHERE id = $3', [JSON.stringify(rec), rec.updatedAt, rec.id]);
      if (r.rowCount !== 1) throw new ServerError('SRV_ERR_NOT_FOUND', `relying party ${rec.id}`);
      await insertAudit(c, audit?.(undefined) ?? []);
    });
  }
  async getRelyingParty(id: string): Promise<RelyingPartyRecord | undefined> {
    return (await this.#bodies<RelyingPartyRecord>('SELECT body FROM oidc_relying_parties WHERE id = $1', [id]))[0];
  }
  async listRelyingParties(): Promise<RelyingPartyRecord[]> {
    return this.#bodies<RelyingPartyRecord>('SELECT body FROM oidc_relying_parties ORDER BY id');
  }

  async createLogin(rec: LoginRecord): Promise<void> {
    try {
      await this.#pool.query('INSERT INTO oidc_logins (code, uid, status, body, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)', [rec.code, rec.uid, rec.status, JSON.stringify(rec), rec.createdAt, rec.expiresAt]);
    } catch (e) {
      if (isUnique(e)) throw new ServerError('SRV_ERR_CONFLICT', 'login code exists');
      throw e;
    }
  }
  async getLogin(code: string): Promise<LoginRecord | undefined> {
    return (await this.#bodies<LoginRecord>('SELECT body FROM oidc_logins WHERE code = $1', [code]))[0];
  }
  async getLoginByUid(uid: string): Promise<LoginRecord | undefined> {
    return (await this.#bodies<LoginRecord>('SELECT body FROM oidc_logins WHERE uid = $1 ORDER BY created_at DESC, code DESC LIMIT 1', [uid]))[0];
  }
  async finishLogin(code: string, outcome: LoginOutcome, at: number, audit?: AuditOf<LoginRecord>): Promise<LoginRecord | undefined> {
    return withTransaction(this.#pool, async (c) => {
      const row = (await c.query<{ body: string }>("SELECT body FROM oidc_logins WHERE code = $1 AND status = 'pending' FOR UPDATE", [code])).rows[0];
      if (row === undefined) return undefined;
      const next = finishedLogin(JSON.parse(row.body) as LoginRecord, outcome, at);
      await c.query("UPDATE oidc_logins SET status = $1, body = $2 WHERE code = $3 AND status = 'pending'", [next.status, JSON.stringify(next), code]);
      await insertAudit(c, audit?.(next) ?? []);
      return next;
    });
  }
  async noteLoginAttempt(code: string, error: string, audit?: AuditOf<LoginRecord>): Promise<boolean> {
    return withTransaction(this.#pool, async (c) => {
      const row = (await c.query<{ body: string }>("SELECT body FROM oidc_logins WHERE code = $1 AND status = 'pending' FOR UPDATE", [code])).rows[0];
      if (row === undefined) return false;
      const next: LoginRecord = { ...(JSON.parse(row.body) as LoginRecord), notice: error };
      await c.query("UPDATE oidc_logins SET body = $1 WHERE code = $2 AND status = 'pending'", [JSON.stringify(next), code]);
      await insertAudit(c, audit?.(next) ?? []);
      return true;
    });
  }
  async purgeLogins(before: number): Promise<number> {
    return (await this.#pool.query('DELETE FROM oidc_logins WHERE expires_at < $1', [before])).rowCount ?? 0;
  }

  async listProviderKeys(): Promise<ProviderKeyRecord[]> {
    return this.#bodies<ProviderKeyRecord>('SELECT body FROM oidc_provider_keys ORDER BY created_at DESC, kid DESC');
  }
  async rotateProviderKeys(key: ProviderKeyRecord, at: number, audit?: AuditOf<void>): Promise<void> {
    await withTransaction(this.#pool, async (c) => {
      // One rotation at a time across servers: the table is locked for the transaction.
      await c.query('LOCK TABLE oidc_provider_keys IN EXCLUSIVE MODE');
      for (const [from, to] of [['retiring', 'retired'], ['current', 'retiring']] as const) {
        for (const r of (await c.query<{ body: string }>('SELECT body FROM oidc_provider_keys WHERE status = $1', [from])).rows) {
          const k = JSON.parse(r.body) as ProviderKeyRecord;
          const next: ProviderKeyRecord = { ...k, status: to, retiredAt: to === 'retired' ? at : k.retiredAt };
          await c.query('UPDATE oidc_provider_keys SET status = $1, body = $2 WHERE kid = $3', [to, JSON.stringify(next), k.kid]);
        }
      }
      await c.query('INSERT INTO oidc_provider_keys (kid, status, body, created_at) VALUES ($1, $2, $3, $4)', [key.kid, 'current', JSON.stringify({ ...key, status: 'current' }), key.createdAt]);
      await insertAudit(c, audit?.(undefined) ?? []);
    });
  }

  async putLoginGroup(rec: LoginGroupRecord, audit?: AuditOf<void>): Promise<void> {
    await withTransaction(this.#pool, async (c) => {
      await c.query(`INSERT INTO oidc_login_groups (group_id, allowed, updated_at, updated_by) VALUES ($1, $2, $3, $4)
        ON CONFLICT (group_id) DO UPDATE SET allowed = excluded.allowed, updated_at = excluded.updated_at, updated_by = excluded.updated_by`, [rec.groupId, rec.allowed ? 1 : 0, rec.updatedAt, rec.updatedBy]);
      await insertAudit(c, audit?.(undefined) ?? []);
    });
  }
  async getLoginGroup(groupId: string): Promise<LoginGroupRecord | undefined> {
    const r = (await this.#pool.query<GroupRow>('SELECT * FROM oidc_login_groups WHERE group_id = $1', [groupId])).rows[0];
    return r === undefined ? undefined : toGroup(r);
  }
  async listLoginGroups(): Promise<LoginGroupRecord[]> {
    return (await this.#pool.query<GroupRow>('SELECT * FROM oidc_login_groups ORDER BY group_id')).rows.map(toGroup);
  }

  async putEcardHolder(rec: EcardHolderRecord, audit?: AuditOf<void>): Promise<void> {
    await withTransaction(this.#pool, async (c) => {
      await c.query(`INSERT INTO oidc_ecard_holders (holder_ref, body, registered_at, revoked_at) VALUES ($1, $2, $3, $4)
        ON CONFLICT (holder_ref) DO UPDATE SET body = excluded.body, registered_at = excluded.registered_at, revoked_at = excluded.revoked_at`, [rec.holderRef, JSON.stringify(rec), rec.registeredAt, rec.revokedAt]);
      await insertAudit(c, audit?.(undefined) ?? []);
    });
  }
  async getEcardHolder(holderRef: string): Promise<EcardHolderRecord | undefined> {
    return (await this.#bodies<EcardHolderRecord>('SELECT body FROM oidc_ecard_holders WHERE holder_ref = $1', [holderRef]))[0];
  }
  async listEcardHolders(): Promise<EcardHolderRecord[]> {
    return this.#bodies<EcardHolderRecord>('SELECT body FROM oidc_ecard_holders ORDER BY holder_ref');
  }
  async revokeEcardHolder(holderRef: string, at: number, audit?: AuditOf<boolean>): Promise<boolean> {
    return withTransaction(this.#pool, async (c) => {
      const r = (await c.query<{ body: string }>('SELECT body FROM oidc_ecard_holders WHERE holder_ref = $1 AND revoked_at IS NULL FOR UPDATE', [holderRef])).rows[0];
      if (r === undefined) return false;
      await c.query('UPDATE oidc_ecard_holders SET body = $1, revoked_at = $2 WHERE holder_ref = $3', [JSON.stringify({ ...(JSON.parse(r.body) as EcardHolderRecord), revokedAt: at }), at, holderRef]);
      await insertAudit(c, audit?.(true) ?? []);
      return true;
    });
  }

  async putAccount(accountId: string, sealed: string, at: number): Promise<void> {
    await this.#pool.query('INSERT INTO oidc_accounts (account_id, sealed, updated_at) VALUES ($1, $2, $3) ON CONFLICT (account_id) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at', [accountId, sealed, at]);
  }
  async getAccount(accountId: string): Promise<string | undefined> {
    return (await this.#pool.query<{ sealed: string }>('SELECT sealed FROM oidc_accounts WHERE account_id = $1', [accountId])).rows[0]?.sealed;
  }

  async upsertPayload(model: string, id: string, rec: { payload: string; grantId: string | null; uid: string | null; userCode: string | null; expiresAt: number | null }): Promise<void> {
    await this.#pool.query(`INSERT INTO oidc_payloads (model, id, payload, grant_id, uid, user_code, expires_at, consumed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)
      ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id, uid = excluded.uid, user_code = excluded.user_code, expires_at = excluded.expires_at`,
    [model, id, rec.payload, rec.grantId, rec.uid, rec.userCode, rec.expiresAt]);
  }
  #payload(r: PayloadRow | undefined, now: number): ProviderPayloadRecord | undefined {
    if (r === undefined) return undefined;
    const expiresAt = r.expires_at === null ? null : Number(r.expires_at);
    if (expiresAt !== null && expiresAt <= now) return undefined;
    return { payload: r.payload, expiresAt, consumedAt: r.consumed_at === null ? null : Number(r.consumed_at) };
  }
  async findPayload(model: string, id: string, now: number): Promise<ProviderPayloadRecord | undefined> {
    return this.#payload((await this.#pool.query<PayloadRow>('SELECT payload, expires_at, consumed_at FROM oidc_payloads WHERE model = $1 AND id = $2', [model, id])).rows[0], now);
  }
  async findPayloadBy(model: string, field: 'uid' | 'userCode', value: string, now: number): Promise<ProviderPayloadRecord | undefined> {
    const col = field === 'uid' ? 'uid' : 'user_code';
    return this.#payload((await this.#pool.query<PayloadRow>(`SELECT payload, expires_at, consumed_at FROM oidc_payloads WHERE model = $1 AND ${col} = $2 LIMIT 1`, [model, value])).rows[0], now);
  }
  async consumePayload(model: string, id: string, at: number): Promise<void> {
    await this.#pool.query('UPDATE oidc_payloads SET consumed_at = $1 WHERE model = $2 AND id = $3', [at, model, id]);
  }
  async destroyPayload(model: string, id: string): Promise<void> {
    await this.#pool.query('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [model, id]);
  }
  async revokePayloadsByGrant(grantId: string): Promise<void> {
    await this.#pool.query('DELETE FROM oidc_payloads WHERE grant_id = $1', [grantId]);
  }
  async purgePayloads(now: number): Promise<number> {
    return (await this.#pool.query('DELETE FROM oidc_payloads WHERE expires_at IS NOT NULL AND expires_at <= $1', [now])).rowCount ?? 0;
  }
}
