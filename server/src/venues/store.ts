/**
 * Venue events and their registrations, on SQLite and on PostgreSQL: the tables come with the
 * store's numbered migrations (`VENUES_SQLITE_MIGRATION`, `VENUES_POSTGRES_MIGRATION`), this module
 * reaches them through the store's handle (`db` / `pool`). An event is created with its audit entry
 * in one transaction; a registration checks the window and the capacity, inserts and audits in one
 * transaction (PostgreSQL locks the event row, so two kiosks cannot both take the last place).
 */
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { ServerError } from '../errors.ts';
import type { NewAuditRecord, Store } from '../store/types.ts';
import { insertAudit, withTransaction } from '../store/pg-tx.ts';

/** SQLite tables (the PostgreSQL migration has the same schema). */
export const VENUES_SQLITE_MIGRATION = `CREATE TABLE venue_events (
     id TEXT PRIMARY KEY, venue_id TEXT NOT NULL, name TEXT NOT NULL, date TEXT NOT NULL, capacity INTEGER NOT NULL,
     opens_at INTEGER NOT NULL, closes_at INTEGER NOT NULL, created_at INTEGER NOT NULL, created_by TEXT NOT NULL);
   CREATE INDEX venue_events_venue ON venue_events(venue_id, date);
   CREATE TABLE venue_registrations (
     event_id TEXT NOT NULL, holder_key TEXT NOT NULL, registered_at INTEGER NOT NULL, terminal_id TEXT NOT NULL,
     PRIMARY KEY (event_id, holder_key));`;

const T = 'TEXT COLLATE "C"';
/** PostgreSQL tables, as {@link VENUES_SQLITE_MIGRATION}. */
export const VENUES_POSTGRES_MIGRATION = `CREATE TABLE venue_events (
     id ${T} PRIMARY KEY, venue_id ${T} NOT NULL, name ${T} NOT NULL, date ${T} NOT NULL, capacity BIGINT NOT NULL,
     opens_at BIGINT NOT NULL, closes_at BIGINT NOT NULL, created_at BIGINT NOT NULL, created_by ${T} NOT NULL);
   CREATE INDEX venue_events_venue ON venue_events(venue_id, date);
   CREATE TABLE venue_registrations (
     event_id ${T} NOT NULL, holder_key ${T} NOT NULL, registered_at BIGINT NOT NULL, terminal_id ${T} NOT NULL,
     PRIMARY KEY (event_id, holder_key));`;

/** An event at a venue: one local date, a capacity, a registration window. */
export interface VenueEventRecord {
  readonly id: string;
  readonly venueId: string;
  readonly name: string;
  /** Local date of the venue, `YYYY-MM-DD`. */
  readonly date: string;
  /** Registrations accepted (0: unlimited); also the gates' admission limit that day. */
  readonly capacity: number;
  /** Registration window, ms since the Unix epoch: `opensAt ≤ now < closesAt`. */
  readonly opensAt: number;
  readonly closesAt: number;
  readonly createdAt: number;
  readonly createdBy: string;
}

export interface VenueEventView extends VenueEventRecord {
  readonly registered: number;
}

/** Outcome of a registration: new, or the holder was already registered (idempotent). */
export type RegisterOutcome = { readonly status: 'registered' | 'already'; readonly registered: number };

export interface VenueStore {
  createEvent(rec: VenueEventRecord, audit: readonly NewAuditRecord[]): Promise<void>;
  getEvent(id: string): Promise<VenueEventView | undefined>;
  /** Events of a venue (or all) with `date ≥ fromDate`, by date then id. */
  listEvents(opts: { venueId?: string; fromDate?: string; toDate?: string }): Promise<VenueEventView[]>;
  /**
   * Registers a holder key for an event at `now`; audits in the same transaction (new registrations only).
   * @throws ServerError `SRV_ERR_NOT_FOUND`, `SRV_ERR_VENUE_REGISTRATION_CLOSED`, `SRV_ERR_VENUE_EVENT_FULL`
   */
  register(eventId: string, holderKey: string, now: number, terminalId: string, audit: (e: VenueEventRecord) => readonly NewAuditRecord[]): Promise<RegisterOutcome>;
  /** Holder keys registered for an event, ascending. */
  registrations(eventId: string): Promise<string[]>;
}

interface EventRow { id: string; venue_id: string; name: string; date: string; capacity: number | string; opens_at: number | string; closes_at: number | string; created_at: number | string; created_by: string; registered: number | string }
const toEvent = (r: EventRow): VenueEventView => ({
  id: r.id, venueId: r.venue_id, name: r.name, date: r.date, capacity: Number(r.capacity), opensAt: Number(r.opens_at), closesAt: Number(r.closes_at),
  createdAt: Number(r.created_at), createdBy: r.created_by, registered: Number(r.registered),
});
const EVENT_SELECT = 'SELECT e.*, (SELECT COUNT(*) FROM venue_registrations r WHERE r.event_id = e.id) AS registered FROM venue_events e';

function checkWindow(e: VenueEventView, now: number): void {
  if (now < e.opensAt || now >= e.closesAt) {
    throw new ServerError('SRV_ERR_VENUE_REGISTRATION_CLOSED', undefined, { opensAt: new Date(e.opensAt).toISOString(), closesAt: new Date(e.closesAt).toISOString() });
  }
}

class SqliteVenueStore implements VenueStore {
  readonly #db: Database.Database;
  constructor(db: Database.Database) { this.#db = db; }
  #audit(recs: readonly NewAuditRecord[]): void {
    for (const a of recs) this.#db.prepare('INSERT INTO audit (ts, actor, action, target, ip, details) VALUES (?, ?, ?, ?, ?, ?)').run(a.ts, a.actor, a.action, a.target, a.ip, JSON.stringify(a.details));
  }
  async createEvent(rec: VenueEventRecord, audit: readonly NewAuditRecord[]): Promise<void> {
    try {
      this.#db.transaction(() => {
        this.#db.prepare('INSERT INTO venue_events (id, venue_id, name, date, capacity, opens_at, closes_at, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
          .run(rec.id, rec.venueId, rec.name, rec.date, rec.capacity, rec.opensAt, rec.closesAt, rec.createdAt, rec.createdBy);
        this.#audit(audit);
      })();
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new ServerError('SRV_ERR_CONFLICT', `event ${rec.id} exists`);
      throw new ServerError('SRV_ERR_STORE', 'creating a venue event', {}, { cause: err });
    }
  }
  async getEvent(id: string): Promise<VenueEventView | undefined> {
    const r = this.#db.prepare(`${EVENT_SELECT} WHERE e.id = ?`).get(id) as EventRow | undefined;
    return r === undefined ? undefined : toEvent(r);
  }
  async listEvents(o: { venueId?: string; fromDate?: string; toDate?: string }): Promise<VenueEventView[]> {
    const rows = this.#db.prepare(`${EVENT_SELECT} WHERE (? IS NULL OR e.venue_id = ?) AND e.date >= ? AND e.date <= ? ORDER BY e.date, e.id LIMIT 1000`)
      .all(o.venueId ?? null, o.venueId ?? null, o.fromDate ?? '', o.toDate ?? '9999-12-31') as EventRow[];
    return rows.map(toEvent);
  }
  async register(eventId: string, holderKey: string, now: number, terminalId: string, audit: (e: VenueEventRecord) => readonly NewAuditRecord[]): Promise<RegisterOutcome> {
    return this.#db.transaction((): RegisterOutcome => {
      const r = this.#db.prepare(`${EVENT_SELECT} WHERE e.id = ?`).get(eventId) as EventRow | undefined;
      if (r === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', `event ${eventId}`);
      const e = toEvent(r);
      if (this.#db.prepare('SELECT 1 FROM venue_registrations WHERE event_id = ? AND holder_key = ?').get(eventId, holderKey) !== undefined) return { status: 'already', registered: e.registered };
      checkWindow(e, now);
      if (e.capacity > 0 && e.registered >= e.capacity) throw new ServerError('SRV_ERR_VENUE_EVENT_FULL', eventId, { capacity: e.capacity });
      this.#db.prepare('INSERT INTO venue_registrations (event_id, holder_key, registered_at, terminal_id) VALUES (?, ?, ?, ?)').run(eventId, holderKey, now, terminalId);
      this.#audit(audit(e));
      return { status: 'registered', registered: e.registered + 1 };
    }).immediate();
  }
  async registrations(eventId: string): Promise<string[]> {
    return (this.#db.prepare('SELECT holder_key FROM venue_registrations WHERE event_id = ? ORDER BY holder_key').all(eventId) as { holder_key: string }[]).map((r) => r.holder_key);
  }
}

class PostgresVenueStore implements VenueStore {
  readonly #pool: pg.Pool;
  constructor(pool: pg.Pool) { this.#pool = pool; }
  async createEvent(rec: VenueEventRecord, audit: readonly NewAuditRecord[]): Promise<void> {
    try {
      await withTransaction(this.#pool, async (c) => {
        await c.query('INSERT INTO venue_events (id, venue_id, name, date, capacity, opens_at, closes_at, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
          [rec.id, rec.venueId, rec.name, rec.date, rec.capacity, rec.opensAt, rec.closesAt, rec.createdAt, rec.createdBy]);
        await insertAudit(c, audit);
      });
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw new ServerError('SRV_ERR_CONFLICT', `event ${rec.id} exists`);
      throw new ServerError('SRV_ERR_STORE', 'creating a venue event', {}, { cause: err });
    }
  }
  async getEvent(id: string): Promise<VenueEventView | undefined> {
    const r = (await this.#pool.query<EventRow>(`${EVENT_SELECT} WHERE e.id = $1`, [id])).rows[0];
    return r === undefined ? undefined : toEvent(r);
  }
  async listEvents(o: { venueId?: string; fromDate?: string; toDate?: string }): Promise<VenueEventView[]> {
    const rows = (await this.#pool.query<EventRow>(`${EVENT_SELECT} WHERE ($1::text IS NULL OR e.venue_id = $1) AND e.date >= $2 AND e.date <= $3 ORDER BY e.date, e.id LIMIT 1000`,
      [o.venueId ?? null, o.fromDate ?? '', o.toDate ?? '9999-12-31'])).rows;
    return rows.map(toEvent);
  }
  async register(eventId: string, holderKey: string, now: number, terminalId: string, audit: (e: VenueEventRecord) => readonly NewAuditRecord[]): Promise<RegisterOutcome> {
    return withTransaction(this.#pool, async (c) => {
      // The event row lock serialises registrations of one event (capacity).
      const locked = await c.query('SELECT id FROM venue_events WHERE id = $1 FOR UPDATE', [eventId]);
      if (locked.rowCount === 0) throw new ServerError('SRV_ERR_NOT_FOUND', `event ${eventId}`);
      const e = toEvent((await c.query<EventRow>(`${EVENT_SELECT} WHERE e.id = $1`, [eventId])).rows[0]!);
      if ((await c.query('SELECT 1 FROM venue_registrations WHERE event_id = $1 AND holder_key = $2', [eventId, holderKey])).rowCount! > 0) return { status: 'already' as const, registered: e.registered };
      checkWindow(e, now);
      if (e.capacity > 0 && e.registered >= e.capacity) throw new ServerError('SRV_ERR_VENUE_EVENT_FULL', eventId, { capacity: e.capacity });
      await c.query('INSERT INTO venue_registrations (event_id, holder_key, registered_at, terminal_id) VALUES ($1, $2, $3, $4)', [eventId, holderKey, now, terminalId]);
      await insertAudit(c, audit(e));
      return { status: 'registered' as const, registered: e.registered + 1 };
    });
  }
  async registrations(eventId: string): Promise<string[]> {
    return (await this.#pool.query<{ holder_key: string }>('SELECT holder_key FROM venue_registrations WHERE event_id = $1 ORDER BY holder_key', [eventId])).rows.map((r) => r.holder_key);
  }
}

/** The venue store over the server's store (SQLite `db` or PostgreSQL `pool`). */
export function venueStoreOf(store: Store): VenueStore {
  const s = store as unknown as { db?: Database.Database; pool?: pg.Pool };
  if (s.db !== undefined) return new SqliteVenueStore(s.db);
  if (s.pool !== undefined) return new PostgresVenueStore(s.pool);
  throw new ServerError('SRV_ERR_CONFIG', 'venue events need the SQLite or PostgreSQL store');
}
