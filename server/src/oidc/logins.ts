/**
 * Login transactions and the two ways to complete one (docs/login.md §3–4): a terminal's ES256
 * login assertion (card genuine + PIN + hotlist checked at the terminal, signed with its enrolled
 * identity key) and an e-card app's SM2 confirmation (under the holder's key from the e-card key
 * registry). Each check refuses with a stable code and an audit entry; a refusal that is bound to
 * a login (signature verified, nonce matched) also ends that login so the waiting browser can say
 * why. A login completes once.
 */
import { createPublicKey, randomBytes, randomInt, verify as verifySignature } from 'node:crypto';
import { sm2Verify } from '@onecard/protocol/crypto';
import { ServerError, type ServerErrorCode } from '../errors.ts';
import type { Clock } from '../context.ts';
import type { NewAuditRecord, Store, TerminalRecord } from '../store/types.ts';
import type { LoginMethod, LoginRecord, RelyingPartyRecord } from '../store/oidc-types.ts';
import type { LoginKeys } from './seal.ts';

/** `acr` values (docs/login.md §1). */
export const ACR = { high: 'urn:onecard:loa:high', substantial: 'urn:onecard:loa:substantial' } as const;
export const LOGIN_TTL_MS = 5 * 60_000;
/** Longest accepted assertion lifetime (`exp − iat`) and clock skew, seconds. */
export const ASSERTION_MAX_LIFETIME_S = 120;
export const CLOCK_SKEW_S = 5;
/** Largest accepted distance between an e-card confirmation's `iat` and now, seconds. */
export const ECARD_WINDOW_S = 60;

export interface CardIdentity {
  readonly cardNumber: string;
  readonly idNumber: string;
  readonly name: string;
}

/** The claims kept (sealed) for an account: the card's identity. */
export type AccountClaims = CardIdentity;

/** `A12345678` → `*****5678`: card numbers in audit entries. */
export function maskCard(cardNumber: string): string {
  return cardNumber.length <= 4 ? '*'.repeat(cardNumber.length) : '*'.repeat(cardNumber.length - 4) + cardNumber.slice(-4);
}

const b64u = (s: string): Buffer => Buffer.from(s, 'base64url');
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const CARD_NUMBER = /^[A-Z0-9]{6,20}$/;
const ID_NUMBER = /^[0-9]{17}[0-9X]$/;
const LOGIN_CODE = /^[0-9]{8}$/;
/** Refusals of an e-card confirmation that leave its login pending but are shown on its page. */
const NOTED_REFUSALS: ReadonlySet<ServerErrorCode> = new Set(['SRV_ERR_LOGIN_ECARD_HOLDER', 'SRV_ERR_LOGIN_ASSERTION_SIGNATURE', 'SRV_ERR_LOGIN_NONCE']);

export function parseCard(x: unknown): CardIdentity | undefined {
  if (!isObj(x)) return undefined;
  const { cardNumber, idNumber, name } = x;
  if (typeof cardNumber !== 'string' || !CARD_NUMBER.test(cardNumber)) return undefined;
  if (typeof idNumber !== 'string' || !ID_NUMBER.test(idNumber)) return undefined;
  if (typeof name !== 'string' || name.length < 1 || name.length > 64 || /[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069]/.test(name)) return undefined;
  return { cardNumber, idNumber, name };
}

export interface LoginServiceDeps {
  readonly store: Store;
  readonly clock: Clock;
  readonly keys: LoginKeys;
}

/** What an accepted assertion or confirmation gives the portal's login. */
export interface AcceptedLogin {
  readonly login: LoginRecord;
  readonly clientName: string;
}

/** A refusal: its code, and the login it ends (when bound to one). */
class Refusal {
  constructor(readonly code: ServerErrorCode, readonly detail: string, readonly bound: LoginRecord | undefined) {}
}

export class LoginService {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #keys: LoginKeys;

  constructor(deps: LoginServiceDeps) {
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#keys = deps.keys;
  }

  /** A new login for interaction `uid` of portal `clientId`: an unused random 8-digit code and a nonce. */
  async createLogin(uid: string, clientId: string): Promise<LoginRecord> {
    const now = this.#clock.now();
    for (let i = 0; ; i++) {
      const rec: LoginRecord = {
        code: String(randomInt(0, 100_000_000)).padStart(8, '0'), uid, clientId, nonce: randomBytes(32).toString('base64url'),
        createdAt: now, expiresAt: now + LOGIN_TTL_MS, status: 'pending', method: null, accountId: null, acr: null, amr: null, error: null, terminalId: null, finishedAt: null,
      };
      try {
        await this.#store.oidc.createLogin(rec);
        return rec;
      } catch (e) {
        if (!(e instanceof ServerError && e.code === 'SRV_ERR_CONFLICT') || i >= 5) throw e;
        await this.#store.oidc.purgeLogins(now - 24 * 3600_000);
      }
    }
  }

  /** The account id of a person: a keyed hash of the ID number (one account per person, whatever card). */
  accountIdOf(card: CardIdentity): string {
    return `acc_${this.#keys.mac('account-id', card.idNumber).slice(0, 40)}`;
  }

  async accountClaims(accountId: string): Promise<AccountClaims | undefined> {
    const sealed = await this.#store.oidc.getAccount(accountId);
    return sealed === undefined ? undefined : JSON.parse(this.#keys.open('account', sealed, accountId)) as AccountClaims;
  }

  /**
   * A pending, unexpired login by code for a caller that is about to complete it (terminal or
   * e-card app): its nonce and the portal's name.
   * @throws ServerError `SRV_ERR_LOGIN_UNKNOWN`, `_REPLAYED`, `_METHOD`
   */
  async lookup(code: string, method: LoginMethod): Promise<{ login: LoginRecord; rp: RelyingPartyRecord }> {
    const login = LOGIN_CODE.test(code) ? await this.#store.oidc.getLogin(code) : undefined;
    if (login === undefined || login.expiresAt <= this.#clock.now()) throw new ServerError('SRV_ERR_LOGIN_UNKNOWN', undefined, { login: code.slice(0, 16) });
    if (login.status !== 'pending') throw new ServerError('SRV_ERR_LOGIN_REPLAYED');
    const rp = await this.#store.oidc.getRelyingParty(login.clientId);
    if (rp === undefined || rp.status !== 'active' || !methodAllowed(rp, method)) throw new ServerError('SRV_ERR_LOGIN_METHOD', undefined, { method });
    return { login, rp };
  }

  /** Whether terminals of `groupId` may authenticate. */
  async groupAllowed(groupId: string): Promise<boolean> {
    return (await this.#store.oidc.getLoginGroup(groupId))?.allowed === true;
  }

  /**
   * Checks a terminal's compact-JWS login assertion (docs/login.md §3.2) and completes its login.
   * `authTerminalId` is the terminal named by HTTP credentials, when sent.
   * @throws ServerError with the `SRV_ERR_LOGIN_*` codes of the contract, or `SRV_ERR_TERMINAL_DISABLED`
   */
  async acceptTerminalAssertion(jws: string, ip: string, authTerminalId: string | undefined): Promise<AcceptedLogin> {
    let terminal: TerminalRecord | undefined;
    let card: CardIdentity | undefined;
    try {
      const parts = jws.split('.');
      if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) throw new Refusal('SRV_ERR_LOGIN_ASSERTION_FORMAT', 'not a compact JWS', undefined);
      let header: unknown;
      try { header = JSON.parse(b64u(parts[0]!).toString('utf8')); } catch { header = undefined; }
      if (!isObj(header) || header.alg !== 'ES256' || typeof header.kid !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(header.kid)) {
        throw new Refusal('SRV_ERR_LOGIN_ASSERTION_FORMAT', 'header must be {"alg":"ES256","kid":"<terminal id>"}', undefined);
      }
      if (header.typ !== undefined && header.typ !== 'onecard-login+jwt') throw new Refusal('SRV_ERR_LOGIN_ASSERTION_FORMAT', 'unexpected typ', undefined);
      if (authTerminalId !== undefined && authTerminalId !== header.kid) throw new Refusal('SRV_ERR_LOGIN_ASSERTION_SIGNATURE', 'credentials name another terminal', undefined);
      terminal = await this.#store.getTerminal(header.kid);
      const sig = b64u(parts[2]!);
      let ok = false;
      if (terminal !== undefined && sig.length === 64) {
        try {
          const key = createPublicKey({ key: Buffer.from(terminal.publicKey, 'base64'), format: 'der', type: 'spki' });
          ok = verifySignature('sha256', Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii'), { key, dsaEncoding: 'ieee-p1363' }, sig);
        } catch { ok = false; }
      }
      if (!ok || terminal === undefined) { const known = terminal !== undefined; terminal = undefined; throw new Refusal('SRV_ERR_LOGIN_ASSERTION_SIGNATURE', known ? 'signature does not verify' : 'unknown terminal', undefined); }
      const signer: TerminalRecord = terminal;
      let payload: unknown;
      try { payload = JSON.parse(b64u(parts[1]!).toString('utf8')); } catch { payload = undefined; }
      if (!isObj(payload)) throw new Refusal('SRV_ERR_LOGIN_ASSERTION_FORMAT', 'payload is not a JSON object', undefined);
      const { login: code, nonce, amr, genuine, iat, exp } = payload;
      card = parseCard(payload.card);
      if (typeof code !== 'string' || !LOGIN_CODE.test(code)) throw new Refusal('SRV_ERR_LOGIN_ASSERTION_FORMAT', 'login must be the 8-digit code', undefined);
      if (typeof nonce !== 'string' || nonce.length < 16 || nonce.length > 128) throw new Refusal('SRV_ERR_LOGIN_ASSERTION_FORMAT', 'nonce', undefined);
      if (card === undefined) throw new Refusal('SRV_ERR_LOGIN_ASSERTION_FORMAT', 'card must be {cardNumber, idNumber, name}', undefined);
      if (!Array.isArray(amr) || amr.length > 8 || !amr.every((a) => typeof a === 'string' && a.length <= 16)) throw new Refusal('SRV_ERR_LOGIN_ASSERTION_FORMAT', 'amr must be an array of strings', undefined);
      if (typeof genuine !== 'boolean') throw new Refusal('SRV_ERR_LOGIN_ASSERTION_FORMAT', 'genuine must be a boolean', undefined);
      if (!Number.isSafeInteger(iat) || !Number.isSafeInteger(exp) || (exp as number) < (iat as number) || (exp as number) - (iat as number) > ASSERTION_MAX_LIFETIME_S) {
        throw new Refusal('SRV_ERR_LOGIN_ASSERTION_FORMAT', `iat/exp must be Unix seconds, exp − iat ≤ ${ASSERTION_MAX_LIFETIME_S}`, undefined);
      }
      const login = await this.#boundLogin(code, nonce);
      if (signer.status !== 'active') throw new Refusal('SRV_ERR_TERMINAL_DISABLED', signer.id, login);
      if (!(await this.groupAllowed(signer.groupId))) throw new Refusal('SRV_ERR_LOGIN_TERMINAL_GROUP', signer.groupId, login);
      const nowS = Math.floor(this.#clock.now() / 1000);
      if ((iat as number) - CLOCK_SKEW_S > nowS || nowS > (exp as number) + CLOCK_SKEW_S) throw new Refusal('SRV_ERR_LOGIN_EXPIRED', 'assertion outside iat..exp', login);
      const rp = await this.#store.oidc.getRelyingParty(login.clientId);
      if (rp === undefined || rp.status !== 'active' || !methodAllowed(rp, 'terminal')) throw new Refusal('SRV_ERR_LOGIN_METHOD', 'terminal', login);
      // acr high needs a genuine card and its PIN: [docs/login.md §3.2]
      if (genuine !== true || !amr.includes('pin') || !amr.includes('hwk')) throw new Refusal('SRV_ERR_LOGIN_ASSURANCE', 'genuine card and PIN required', login);
      if ((await this.#store.getHotlistEntry(card.cardNumber)) !== undefined) throw new Refusal('SRV_ERR_LOGIN_HOTLISTED', maskCard(card.cardNumber), login);
      const done = await this.#complete(login, 'terminal', card, ACR.high, ['hwk', 'pin'], signer.id, ip, rp);
      return { login: done, clientName: rp.name };
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      throw await this.#refuse(e, 'terminal', terminal?.id ?? null, card, ip);
    }
  }

  /**
   * Checks an e-card app's confirmation (docs/login.md §4) and completes its login.
   * @throws ServerError `SRV_ERR_LOGIN_*`
   */
  async acceptEcardConfirmation(body: { login: string; nonce: string; holderRef: string; iat: number; signature: string }, ip: string): Promise<AcceptedLogin> {
    let card: CardIdentity | undefined;
    try {
      const holder = await this.#store.oidc.getEcardHolder(body.holderRef.toLowerCase());
      if (holder === undefined || holder.revokedAt !== null) throw new Refusal('SRV_ERR_LOGIN_ECARD_HOLDER', 'unknown or revoked holder', undefined);
      const message = new TextEncoder().encode(ecardLoginMessage(body.login, body.nonce, holder.holderRef, body.iat));
      let ok = false;
      try { ok = sm2Verify(Buffer.from(holder.publicKey, 'hex'), message, Buffer.from(body.signature, 'hex')); } catch { ok = false; }
      if (!ok) throw new Refusal('SRV_ERR_LOGIN_ASSERTION_SIGNATURE', 'SM2 signature does not verify under the holder key', undefined);
      card = JSON.parse(this.#keys.open('ecard-holder', holder.sealedIdentity, holder.holderRef)) as CardIdentity;
      const login = await this.#boundLogin(body.login, body.nonce);
      const nowS = Math.floor(this.#clock.now() / 1000);
      if (Math.abs(nowS - body.iat) > ECARD_WINDOW_S) throw new Refusal('SRV_ERR_LOGIN_EXPIRED', 'iat too far from now', login);
      const rp = await this.#store.oidc.getRelyingParty(login.clientId);
      if (rp === undefined || rp.status !== 'active' || !methodAllowed(rp, 'ecard')) throw new Refusal('SRV_ERR_LOGIN_METHOD', 'ecard', login);
      if ((await this.#store.getHotlistEntry(card.cardNumber)) !== undefined) throw new Refusal('SRV_ERR_LOGIN_HOTLISTED', maskCard(card.cardNumber), login);
      const done = await this.#complete(login, 'ecard', card, ACR.substantial, ['swk'], null, ip, rp);
      return { login: done, clientName: rp.name };
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      throw await this.#refuse(e, 'ecard', null, card, ip, body.login);
    }
  }

  /** The login `code`, pending and bound to `nonce`; refusals here end nothing (they may be someone else's). */
  async #boundLogin(code: string, nonce: string): Promise<LoginRecord> {
    const login = await this.#store.oidc.getLogin(code);
    if (login === undefined) throw new Refusal('SRV_ERR_LOGIN_UNKNOWN', code, undefined);
    if (login.nonce !== nonce) throw new Refusal('SRV_ERR_LOGIN_NONCE', 'nonce of another login', undefined);
    if (login.status !== 'pending') throw new Refusal('SRV_ERR_LOGIN_REPLAYED', login.status, undefined);
    if (login.expiresAt <= this.#clock.now()) throw new Refusal('SRV_ERR_LOGIN_EXPIRED', 'login expired', login);
    return login;
  }

  async #complete(login: LoginRecord, method: LoginMethod, card: CardIdentity, acr: string, amr: readonly string[], terminalId: string | null, ip: string, rp: RelyingPartyRecord): Promise<LoginRecord> {
    const now = this.#clock.now();
    const accountId = this.accountIdOf(card);
    await this.#store.oidc.putAccount(accountId, this.#keys.seal('account', JSON.stringify({ cardNumber: card.cardNumber, idNumber: card.idNumber, name: card.name }), accountId), now);
    const done = await this.#store.oidc.finishLogin(login.code, { status: 'done', method, accountId, acr, amr, terminalId }, now, (l) => [{
      ts: now, actor: terminalId !== null ? `terminal:${terminalId}` : 'ecard', action: 'login.accepted', target: rp.id, ip,
      details: { login: l.code, method, acr, amr, accountId, card: maskCard(card.cardNumber) },
    }]);
    if (done === undefined) throw new Refusal('SRV_ERR_LOGIN_REPLAYED', 'completed concurrently', undefined);
    return done;
  }

  /**
   * Audits a refusal (ending its login when bound to one) and returns the error to throw. An
   * e-card confirmation names its login in the clear (`attempted`): a refusal that does not end it
   * (unknown or revoked holder, a signature under another key, another login's nonce) is noted on
   * that login while it is pending, so the waiting page can say so — the login itself goes on.
   */
  async #refuse(r: Refusal, method: LoginMethod, terminalId: string | null, card: CardIdentity | undefined, ip: string, attempted?: string): Promise<ServerError> {
    const now = this.#clock.now();
    const entry = (login: string | null): NewAuditRecord => ({
      ts: now, actor: terminalId !== null ? `terminal:${terminalId}` : method === 'ecard' ? 'ecard' : 'anonymous', action: 'login.refused', target: login ?? '-', ip,
      details: { code: r.code, method, ...(terminalId !== null ? { terminalId } : {}), ...(card !== undefined ? { card: maskCard(card.cardNumber) } : {}) },
    });
    let audited = false;
    if (r.bound !== undefined) {
      audited = (await this.#store.oidc.finishLogin(r.bound.code, { status: 'refused', method, error: r.code, terminalId }, now, (l) => [entry(l.code)])) !== undefined;
    }
    if (!audited && r.bound === undefined && attempted !== undefined && LOGIN_CODE.test(attempted) && NOTED_REFUSALS.has(r.code)) {
      audited = await this.#store.oidc.noteLoginAttempt(attempted, r.code, (l) => [entry(l.code)]);
    }
    if (!audited) await this.#store.appendAudit(entry(r.bound?.code ?? null));
    return new ServerError(r.code, r.detail);
  }
}

/** Whether a portal takes `method` (e-card gives `substantial`, so not for portals needing `high`). */
export function methodAllowed(rp: RelyingPartyRecord, method: LoginMethod): boolean {
  return rp.methods.includes(method) && (method === 'terminal' || rp.minAcr !== 'high');
}

/** The text an e-card app signs with SM2 to confirm a login (docs/login.md §4). */
export function ecardLoginMessage(login: string, nonce: string, holderRef: string, iat: number): string {
  return `OCLOGIN1|${login}|${nonce}|${holderRef.toLowerCase()}|${iat}`;
}
