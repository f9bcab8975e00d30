/**
 * Staff sign-in at the counter desk. A member of staff types the credential the fleet server
 * issued to them (`ocs_…`, docs/security.md "Staff credentials") on the desk page; the terminal
 * asks the server whether it is valid here ({@link fleetStaffChecker}, authenticated with the
 * terminal's own credentials) and binds the desk's page session to that member of staff. Only the
 * desk's page session can sign in; the kiosk's session and token holders cannot use these routes.
 *
 * Desk actions that change a card or the hotlist ({@link STAFF_ROUTES}) then need the signed-in
 * member of staff: each one re-checks the credential with the server first, so a revocation takes
 * effect at the next action (when the server cannot be reached, the last good check counts for
 * {@link StaffOptions.offlineGraceMs}); the kiosk's session may not call the staff-only ones at
 * all. The staff id travels with the action ({@link staffOf}) into the outbox event, so the
 * server's audit names who did it. Sign-in itself is refused while the server cannot be reached:
 * the credential cannot be checked. The credential is kept in memory for the re-checks only, never
 * logged nor answered; a binding ends at sign-out, when the page session ends, or after the session's
 * idle time.
 *
 * Token holders (a HIS, scripts) are nobody in particular: for the staff-only services they name a
 * member of staff per call with that person's credential in {@link STAFF_HEADER}, checked with the
 * server every time (docs/local-api.md "Token holders and the staff services").
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TerminalError } from '../errors.ts';
import type { LocalApiAuth } from './app.ts';

/** The member of staff the server named for a valid credential. */
export interface StaffMember {
  readonly staffId: string;
  readonly name: string;
}

/**
 * Asks the fleet server about a credential presented at this desk.
 * @throws TerminalError `TERM_ERR_STAFF_REFUSED` (unknown, revoked, other group, too many tries) or
 *   `TERM_ERR_STAFF_UNCHECKED` (the server cannot be reached or answered something unexpected)
 */
export type CheckStaff = (credential: string) => Promise<StaffMember>;

/** Header in which a token holder names the member of staff a staff-only service is done for. */
export const STAFF_HEADER = 'x-onecard-staff';

/** Shape of a credential the server issues. */
export const STAFF_CREDENTIAL = /^ocs_[A-Za-z0-9_-]{43}$/;
const STAFF_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Routes that change a card or the hotlist. `staffOnly`: the kiosk's page session may not call
 * them; the others (the cardholder's own loss report) are open to the kiosk, and need a signed-in
 * member of staff only from the desk.
 */
export const STAFF_ROUTES: Readonly<Record<string, { readonly staffOnly: boolean }>> = {
  '/v1/card/loss-report': { staffOnly: false },
  '/v1/card/pinpad/loss-report': { staffOnly: false },
  '/v1/card/loss-cancel': { staffOnly: true },
  '/v1/card/pin/unblock': { staffOnly: true },
  '/v1/card/pin/reload': { staffOnly: true },
  '/v1/login/approve': { staffOnly: false },
  '/v1/login/pinpad/approve': { staffOnly: false },
  '/v1/issuance/jobs': { staffOnly: true },
  '/v1/issuance/jobs/:jobId/resume': { staffOnly: true },
  '/v1/issuance/holder-change': { staffOnly: true },
  '/v1/issuance/block': { staffOnly: true },
};

export interface StaffOptions {
  readonly authOf: (req: FastifyRequest) => LocalApiAuth | undefined;
  /** Without it sign-in answers 501 `TERM_ERR_API_NOT_CONFIGURED` (no fleet link). */
  readonly checkStaff?: CheckStaff;
  readonly clock?: { now(): number };
  /** A binding unused this long ends (the page session's idle time). */
  readonly idleMs: number;
  /** When the server cannot be reached, a check this recent still counts (default 2 min). */
  readonly offlineGraceMs?: number;
}

interface Binding {
  readonly staff: StaffMember;
  readonly credential: string;
  checkedAt: number;
  lastUsed: number;
}

const byRequest = new WeakMap<object, StaffMember>();
const digest = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');
const MAX_BINDINGS = 16;

/** The member of staff a desk request acts for (set before the route runs), else `undefined`. */
export function staffOf(req: FastifyRequest): { staffId: string } | Record<string, never> {
  const s = byRequest.get(req);
  return s === undefined ? {} : { staffId: s.staffId };
}

/** Adds `/v1/staff*` and the staff gate of {@link STAFF_ROUTES} to the local API. */
export function registerStaff(app: FastifyInstance, o: StaffOptions): void {
  const now = (): number => o.clock?.now() ?? Date.now();
  const grace = o.offlineGraceMs ?? 120_000;
  const bindings = new Map<string, Binding>();
  const prune = (at: number): void => {
    for (const [k, b] of bindings) if (b.lastUsed + o.idleMs < at) bindings.delete(k);
  };
  const deskSession = (req: FastifyRequest): string => {
    const a = o.authOf(req);
    if (a?.kind !== 'session' || a.page !== 'desk') throw new TerminalError('TERM_ERR_API_SESSION', 'staff sign-in is for the desk page session only');
    return digest(a.sessionId);
  };

  app.addHook('preHandler', async (req) => {
    const route = req.routeOptions.url;
    if (route === '/v1/session/end') {
      // The page session ends: so does its member of staff's sign-in (and the credential is dropped).
      const a = o.authOf(req);
      if (a?.kind === 'session') bindings.delete(digest(a.sessionId));
      return;
    }
    const rule = route === undefined || req.method !== 'POST' ? undefined : STAFF_ROUTES[route];
    if (rule === undefined) return;
    const a = o.authOf(req);
    if (a?.kind === 'token') {
      // The token is the box's machine credential, shared by whatever integration holds it (a
      // HIS, a script): it names nobody. The cardholder's own loss report (PIN verified on the
      // card) is open to it; the issuer's staff services need a member of staff named per request.
      if (!rule.staffOnly) return;
      const given = req.headers[STAFF_HEADER];
      if (typeof given !== 'string') throw new TerminalError('TERM_ERR_STAFF_REQUIRED', `${route} needs a member of staff: header ${STAFF_HEADER}`);
      if (!STAFF_CREDENTIAL.test(given)) throw new TerminalError('TERM_ERR_STAFF_REFUSED', 'not a staff credential');
      if (o.checkStaff === undefined) throw new TerminalError('TERM_ERR_STAFF_UNCHECKED', 'no fleet link');
      const staff = await o.checkStaff(given); // no offline grace: nothing was checked before
      req.log.info({ staffId: staff.staffId }, 'staff service by a token holder for a member of staff');
      byRequest.set(req, staff);
      return;
    }
    if (a?.kind !== 'session') return;
    if (a.page !== 'desk') {
      if (rule.staffOnly) throw new TerminalError('TERM_ERR_API_SESSION', `${route} is a staff service of the desk`);
      return;
    }
    const at = now();
    prune(at);
    const key = digest(a.sessionId);
    const b = bindings.get(key);
    if (b === undefined) throw new TerminalError('TERM_ERR_STAFF_REQUIRED');
    if (o.checkStaff === undefined) throw new TerminalError('TERM_ERR_STAFF_UNCHECKED', 'no fleet link');
    try {
      await o.checkStaff(b.credential);
      b.checkedAt = at;
    } catch (e) {
      if (e instanceof TerminalError && e.code === 'TERM_ERR_STAFF_UNCHECKED' && at - b.checkedAt <= grace) {
        req.log.warn({ staffId: b.staff.staffId }, 'staff credential not re-checked: fleet server unreachable, last check still recent');
      } else {
        if (!(e instanceof TerminalError) || e.code !== 'TERM_ERR_STAFF_UNCHECKED') bindings.delete(key);
        throw e;
      }
    }
    b.lastUsed = at;
    byRequest.set(req, b.staff);
  });

  app.post<{ Body: { credential: string } }>('/v1/staff/sign-in', {
    schema: {
      summary: 'Sign a member of staff in at the desk with their own credential (desk page session only)',
      description: 'The terminal checks the credential with the fleet server. Refused: 403 TERM_ERR_STAFF_REFUSED; server unreachable: 503 TERM_ERR_STAFF_UNCHECKED (sign-in needs the server).',
      tags: ['staff'],
      body: { type: 'object', properties: { credential: { type: 'string', minLength: 1, maxLength: 256 } }, required: ['credential'], additionalProperties: false },
      response: { 200: { type: 'object', properties: { staffId: { type: 'string' }, name: { type: 'string' } } } },
    },
  }, async (req) => {
    const key = deskSession(req);
    if (o.checkStaff === undefined) throw new TerminalError('TERM_ERR_API_NOT_CONFIGURED', 'no fleet link to check staff credentials');
    if (!STAFF_CREDENTIAL.test(req.body.credential)) throw new TerminalError('TERM_ERR_STAFF_REFUSED', 'not a staff credential');
    bindings.delete(key);
    const staff = await o.checkStaff(req.body.credential);
    const at = now();
    prune(at);
    while (bindings.size >= MAX_BINDINGS) bindings.delete(bindings.keys().next().value as string);
    bindings.set(key, { staff, credential: req.body.credential, checkedAt: at, lastUsed: at });
    req.log.info({ staffId: staff.staffId }, 'staff signed in at the desk');
    return { staffId: staff.staffId, name: staff.name };
  });

  app.get('/v1/staff', {
    schema: { summary: 'Who is signed in at this desk session', tags: ['staff'], response: { 200: { type: 'object', properties: { signedIn: { type: 'boolean' }, staffId: { type: 'string' }, name: { type: 'string' } } } } },
  }, async (req) => {
    const b = bindings.get(deskSession(req));
    return b === undefined ? { signedIn: false } : { signedIn: true, staffId: b.staff.staffId, name: b.staff.name };
  });

  app.post('/v1/staff/sign-out', {
    schema: { summary: 'Sign the member of staff out of this desk session', tags: ['staff'], response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } },
  }, async (req) => {
    const key = deskSession(req);
    const b = bindings.get(key);
    bindings.delete(key);
    if (b !== undefined) req.log.info({ staffId: b.staff.staffId }, 'staff signed out at the desk');
    return { ok: true };
  });
}

/** What a refusal of the server means for the desk (its `SRV_ERR_*` code). */
const REFUSALS = new Set(['SRV_ERR_STAFF_CREDENTIAL', 'SRV_ERR_STAFF_GROUP', 'SRV_ERR_RATE_LIMITED']);

/**
 * {@link CheckStaff} over the fleet server's `POST /api/v1/terminal/staff/check`, authenticated
 * like the terminal's other fetches (`Basic base64(terminalId:password)`).
 */
export function fleetStaffChecker(o: { readonly serverUrl: string; readonly terminalId: string; readonly password: string; readonly fetch?: typeof fetch; readonly timeoutMs?: number }): CheckStaff {
  const authorization = `Basic ${Buffer.from(`${o.terminalId}:${o.password}`, 'utf8').toString('base64')}`;
  return async (credential) => {
    let status: number;
    let text: string;
    try {
      const res = await (o.fetch ?? fetch)(`${o.serverUrl}/api/v1/terminal/staff/check`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ credential }),
        signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
      });
      status = res.status;
      text = (await res.text()).slice(0, 4096);
    } catch {
      throw new TerminalError('TERM_ERR_STAFF_UNCHECKED', 'fleet server unreachable');
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (status === 200) {
      const b = body as { staffId?: unknown; name?: unknown } | undefined;
      if (typeof b?.staffId === 'string' && STAFF_ID.test(b.staffId) && typeof b.name === 'string' && b.name.length <= 64) return { staffId: b.staffId, name: b.name };
      throw new TerminalError('TERM_ERR_STAFF_UNCHECKED', 'unexpected answer of the fleet server');
    }
    const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
    if (typeof code === 'string' && REFUSALS.has(code)) throw new TerminalError('TERM_ERR_STAFF_REFUSED', code);
    throw new TerminalError('TERM_ERR_STAFF_UNCHECKED', `fleet server answered HTTP ${status}`);
  };
}
