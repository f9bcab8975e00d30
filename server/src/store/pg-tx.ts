/**
 * The PostgreSQL transaction and audit helpers shared by the store's parts (registry, OIDC,
 * venues, …): one `withTransaction` (BEGIN … COMMIT on one pooled connection, ROLLBACK on any
 * error, the connection always released) and one `insertAudit` (the audit rows of a mutation,
 * written inside its transaction so the change and its audit commit together or not at all).
 */
import type pg from 'pg';
import type { AuditOf, NewAuditRecord } from './types.ts';

/** Isolation levels a caller may ask for (the default is PostgreSQL's READ COMMITTED). */
export type PgIsolation = 'READ COMMITTED' | 'REPEATABLE READ' | 'SERIALIZABLE';

/**
 * Runs `fn` in one transaction on a connection of `pool`: committed when `fn` resolves, rolled
 * back when it throws (the error is rethrown; a failing ROLLBACK does not hide it).
 */
export async function withTransaction<R>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<R>, isolation?: PgIsolation): Promise<R> {
  const c = await pool.connect();
  try {
    await c.query(isolation === undefined ? 'BEGIN' : `BEGIN ISOLATION LEVEL ${isolation}`);
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

/** Writes audit entries through `c` (inside the caller's transaction): one statement for all of them. */
export async function insertAudit(c: pg.ClientBase | pg.Pool, entries: readonly NewAuditRecord[]): Promise<void> {
  if (entries.length === 0) return;
  const col = <K extends keyof NewAuditRecord>(k: K): unknown[] => entries.map((a) => a[k]);
  await c.query(`INSERT INTO audit (ts, actor, action, target, ip, details)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])`,
  [col('ts'), col('actor'), col('action'), col('target'), col('ip'), entries.map((a) => JSON.stringify(a.details))]);
}

/** The entries an {@link AuditOf} builds from `result` (none when there is no builder). */
export function auditEntriesOf<R>(audit: AuditOf<R> | undefined, result: R): readonly NewAuditRecord[] {
  return audit === undefined ? [] : audit(result);
}
