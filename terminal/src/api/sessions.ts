/**
 * Browser sessions of the local API for the pages the terminal serves itself (kiosk, desk): a page
 * never holds the API token. A token holder (the launcher that starts Chromium, systemd, a test)
 * mints a single-use launch code bound to one page; the browser opens `/session/start?code=…`,
 * which trades the code for an HttpOnly, SameSite=Strict session cookie and redirects to the page.
 * A remote page cannot mint a code (it needs the token) nor guess one (256 bits, 60 s, single
 * use). Sessions expire after an idle period; an open WebSocket of the session counts as use.
 * Only SHA-256 digests of codes and session ids are kept, so a heap dump or a log of this map
 * yields nothing usable. Pure bookkeeping over an injected clock; the HTTP side is in `app.ts`.
 */
import { createHash, randomBytes } from 'node:crypto';

/** Name of the session cookie. */
export const SESSION_COOKIE = 'onecard_session';
/** Pages a launch code may name: lower-case path segment (`kiosk`, `desk`). */
export const PAGE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

export interface SessionStoreOptions {
  readonly clock?: { now(): number };
  /** A session unused for this long ends (default 15 min). */
  readonly idleMs?: number;
  /** A launch code is redeemable for this long (default 60 s). */
  readonly launchTtlMs?: number;
  /** Most live sessions; the least recently used one ends beyond it (default 8). */
  readonly maxSessions?: number;
  /** Most outstanding launch codes; the oldest is dropped beyond it (default 8). */
  readonly maxLaunchCodes?: number;
}

/** A live browser session as the API sees it. */
export interface LocalSession {
  /** The page the launch code named (`kiosk`, `desk`, …). */
  readonly page: string;
  readonly createdAt: number;
  /** Idle expiry, ms since the epoch. */
  readonly expiresAt: number;
}

interface Entry {
  page: string;
  createdAt: number;
  lastUsed: number;
  holds: number;
  readonly onEnd: Set<() => void>;
}

const digest = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');
const SECRET = /^[A-Za-z0-9_-]{43}$/;

/** In-memory session bookkeeping (sessions do not survive a runtime restart: the launcher mints a new code). */
export class SessionStore {
  readonly #now: () => number;
  readonly #idleMs: number;
  readonly #launchTtlMs: number;
  readonly #maxSessions: number;
  readonly #maxCodes: number;
  readonly #codes = new Map<string, { page: string; expiresAt: number }>();
  readonly #sessions = new Map<string, Entry>();

  constructor(o: SessionStoreOptions = {}) {
    const clock = o.clock ?? { now: () => Date.now() };
    this.#now = () => clock.now();
    this.#idleMs = o.idleMs ?? 15 * 60_000;
    this.#launchTtlMs = o.launchTtlMs ?? 60_000;
    this.#maxSessions = o.maxSessions ?? 8;
    this.#maxCodes = o.maxLaunchCodes ?? 8;
  }

  /** Idle lifetime of a session, ms. */
  get idleMs(): number {
    return this.#idleMs;
  }

  /** A new single-use launch code for `page` (caller checked {@link PAGE_NAME}). */
  mintLaunchCode(page: string): { code: string; expiresAt: number } {
    const now = this.#now();
    this.#prune(now);
    while (this.#codes.size >= this.#maxCodes) this.#codes.delete(this.#codes.keys().next().value as string);
    const code = randomBytes(32).toString('base64url');
    const expiresAt = now + this.#launchTtlMs;
    this.#codes.set(digest(code), { page, expiresAt });
    return { code, expiresAt };
  }

  /** Trades a launch code for a session id (the code is spent whether or not it was valid in time). */
  redeem(code: string): { sessionId: string; page: string } | undefined {
    if (!SECRET.test(code)) return undefined;
    const now = this.#now();
    const key = digest(code);
    const c = this.#codes.get(key);
    this.#codes.delete(key);
    if (c === undefined || c.expiresAt < now) return undefined;
    this.#prune(now);
    while (this.#sessions.size >= this.#maxSessions) this.#endEntry(this.#lru());
    const sessionId = randomBytes(32).toString('base64url');
    this.#sessions.set(digest(sessionId), { page: c.page, createdAt: now, lastUsed: now, holds: 0, onEnd: new Set() });
    return { sessionId, page: c.page };
  }

  /** The live session of `sessionId`, marked as used; `undefined` when unknown or expired. */
  use(sessionId: string): LocalSession | undefined {
    if (!SECRET.test(sessionId)) return undefined;
    const now = this.#now();
    this.#prune(now);
    const e = this.#sessions.get(digest(sessionId));
    if (e === undefined) return undefined;
    e.lastUsed = now;
    return { page: e.page, createdAt: e.createdAt, expiresAt: now + this.#idleMs };
  }

  /**
   * Keeps the session alive while something (a WebSocket) is open; `onEnd` runs if the session
   * ends first. Returns the release function.
   */
  hold(sessionId: string, onEnd: () => void): () => void {
    const e = this.#sessions.get(digest(sessionId));
    if (e === undefined) {
      onEnd();
      return () => undefined;
    }
    e.holds++;
    e.onEnd.add(onEnd);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      e.holds--;
      e.lastUsed = this.#now();
      e.onEnd.delete(onEnd);
    };
  }

  /** Ends a session (logout); its held WebSockets are closed. */
  end(sessionId: string): void {
    const key = digest(sessionId);
    const e = this.#sessions.get(key);
    if (e !== undefined) this.#endEntry(key);
  }

  /** Ends every session and drops every launch code (runtime close). */
  clear(): void {
    for (const key of [...this.#sessions.keys()]) this.#endEntry(key);
    this.#codes.clear();
  }

  /** Live sessions (after expiry). */
  size(): number {
    this.#prune(this.#now());
    return this.#sessions.size;
  }

  #lru(): string {
    let oldest: string | undefined;
    let at = Infinity;
    for (const [k, e] of this.#sessions) if (e.lastUsed < at) { oldest = k; at = e.lastUsed; }
    return oldest as string;
  }

  #endEntry(key: string): void {
    const e = this.#sessions.get(key);
    if (e === undefined) return;
    this.#sessions.delete(key);
    for (const f of e.onEnd) f();
    e.onEnd.clear();
  }

  #prune(now: number): void {
    for (const [k, c] of this.#codes) if (c.expiresAt < now) this.#codes.delete(k);
    for (const [k, e] of this.#sessions) if (e.holds === 0 && e.lastUsed + this.#idleMs < now) this.#endEntry(k);
  }
}
