/**
 * The holder's consent pages through the card-login provider (`/holder/consents`): the holder
 * logs in at the server's own OpenID Provider with the card (card + PIN at a terminal, or the
 * e-card app), and then sees, gives and withdraws departments' consents for the card they logged
 * in with. The pages are a relying party of the provider like any portal (the built-in client
 * {@link HOLDER_CLIENT_ID}, public, authorization code + PKCE + state + nonce, redirect back to
 * `/holder/consents/callback`); the code is exchanged at the provider's token endpoint and the
 * access token resolves to the provider's account (the person), whose card the session is then
 * bound to: the keyed hash of the ID number and the card number, never a value the browser sends.
 *
 * The session is a cookie sealed (AES-256-GCM) under a key derived from the master key, valid
 * for {@link HOLDER_SESSION_MS}; every form carries a token bound to the session (CSRF). A
 * withdrawal is a store write, read by the next department call: it takes effect at once.
 */
import { createHash, createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { parse as parseQuery } from 'node:querystring';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ServerError } from '../errors.ts';
import { newId } from '../crypto-util.ts';
import { USABLE_STATUSES, normaliseIdNumber } from '../registry/model.ts';
import { maskCard } from '../oidc/logins.ts';
import { esc, PAGE_CSP } from '../oidc/pages.ts';
import type { RelyingPartyRecord } from '../store/oidc-types.ts';
import type { ConsentRecord, DepartmentRecord } from '../store/registry-types.ts';

/** The provider client id of the consent pages. */
export const HOLDER_CLIENT_ID = 'onecard-holder-consents';
/** How long a holder session lasts after the card login. */
export const HOLDER_SESSION_MS = 15 * 60_000;
/** How long a started login may take to come back. */
const LOGIN_STATE_MS = 10 * 60_000;
const SESSION_COOKIE = 'oc_holder';
const LOGIN_COOKIE = 'oc_holder_login';
const BASE = '/holder/consents';
const PURPOSE_RE = /^[a-z][a-z0-9-]{1,47}$/;

export interface HolderConsentOptions {
  readonly masterKey: Uint8Array;
}

interface Session {
  /** Keyed hash of the holder's ID number (the registry's lookup hash). */
  readonly idHash: string;
  readonly cardNumber: string;
  /** The holder's pairwise subject at this client. */
  readonly sub: string;
  readonly exp: number;
}

interface LoginState { readonly state: string; readonly nonce: string; readonly verifier: string; readonly exp: number }

/** Seals and opens the pages' cookies (key derived from the master key for this use only). */
class CookieSeal {
  readonly #key: Buffer;
  readonly #mac: Buffer;
  constructor(masterKey: Uint8Array) {
    this.#key = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'OneCard holder consent pages cookie v1', 32));
    this.#mac = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'OneCard holder consent pages csrf v1', 32));
  }
  seal(kind: string, value: object): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#key, iv);
    c.setAAD(Buffer.from(kind));
    const ct = Buffer.concat([c.update(JSON.stringify(value), 'utf8'), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64url');
  }
  open<T>(kind: string, sealed: string | undefined): T | undefined {
    if (sealed === undefined || sealed.length < 40 || sealed.length > 4096) return undefined;
    try {
      const raw = Buffer.from(sealed, 'base64url');
      const d = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, 12));
      d.setAAD(Buffer.from(kind));
      d.setAuthTag(raw.subarray(12, 28));
      return JSON.parse(Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8')) as T;
    } catch {
      return undefined;
    }
  }
  /** The form token of a session cookie. */
  csrf(sessionCookie: string): string {
    return createHmac('sha256', this.#mac).update(sessionCookie).digest('base64url');
  }
  csrfOk(sessionCookie: string, token: unknown): boolean {
    if (typeof token !== 'string') return false;
    const want = Buffer.from(this.csrf(sessionCookie));
    const got = Buffer.from(token);
    return got.length === want.length && timingSafeEqual(got, want);
  }
}

function cookieOf(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

const cookie = (name: string, value: string, maxAgeS: number, secure: boolean): string =>
  `${name}=${value}; Path=${BASE}; HttpOnly; SameSite=Lax; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`;

const CSS = `body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccc;padding:.4rem;text-align:left}
.hint{color:#555}.error{color:#a00000}button{padding:.4rem .9rem}fieldset{margin:1rem 0}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="zh"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><link rel="stylesheet" href="${BASE}/assets/consents.css"></head><body>${body}</body></html>`;
}

function consentView(c: ConsentRecord, now: number): Record<string, unknown> {
  const state = c.revokedAt !== null ? 'withdrawn' : c.expiresAt <= now ? 'expired' : 'live';
  return { id: c.id, department: c.departmentId, purpose: c.purpose, cardNumber: maskCard(c.cardNumber), grantedAt: c.grantedAt, expiresAt: c.expiresAt, grantedVia: c.grantedVia, revokedAt: c.revokedAt, state };
}

function renderPage(o: { card: string; consents: readonly Record<string, unknown>[]; departments: readonly DepartmentRecord[]; csrf: string; notice?: string }): string {
  const date = (ms: unknown): string => new Date(Number(ms)).toISOString().slice(0, 10);
  const STATE: Record<string, string> = { live: '有效', expired: '已过期', withdrawn: '已撤回' };
  const rows = o.consents.map((c) => `<tr><td>${esc(String(c.department))}</td><td>${esc(String(c.purpose))}</td><td>${date(c.grantedAt)}</td><td>${date(c.expiresAt)}</td><td>${esc(STATE[String(c.state)] ?? '')}</td>
<td>${c.state === 'live' ? `<form method="post" action="${BASE}/${encodeURIComponent(String(c.id))}/withdraw"><input type="hidden" name="csrf" value="${esc(o.csrf)}"><button type="submit">撤回</button></form>` : ''}</td></tr>`).join('\n');
  const depts = o.departments.map((d) => `<fieldset><legend>${esc(d.name)} (${esc(d.id)})</legend>
<form method="post" action="${BASE}"><input type="hidden" name="csrf" value="${esc(o.csrf)}"><input type="hidden" name="department" value="${esc(d.id)}">
${d.purposes.map((p) => `<label><input type="checkbox" name="purpose" value="${esc(p)}"> ${esc(p)}</label>`).join(' ')}
<label>有效天数 <input type="number" name="days" min="1" max="365" value="30"></label> <button type="submit">同意授权</button></form></fieldset>`).join('\n');
  return page('我的数据授权', `<h1>我的数据授权</h1><p>社保卡 ${esc(o.card)}</p>
${o.notice !== undefined ? `<p class="error">${esc(o.notice)}</p>` : ''}
<h2>已给出的授权</h2>${o.consents.length === 0 ? '<p class="hint">尚无授权。</p>' : `<table><thead><tr><th>部门</th><th>用途</th><th>授权日</th><th>到期日</th><th>状态</th><th></th></tr></thead><tbody>${rows}</tbody></table>`}
<h2>授权部门使用我的基本信息</h2><p class="hint">部门只能在所选用途内、授权有效期内查询；撤回后立即生效。</p>${depts}
<form method="post" action="${BASE}/logout"><input type="hidden" name="csrf" value="${esc(o.csrf)}"><button type="submit">退出</button></form>`);
}

async function holderConsentPlugin(app: FastifyInstance, opts: HolderConsentOptions): Promise<void> {
  const { store, clock } = app.ctx;
  const seal = new CookieSeal(opts.masterKey);
  const secure = (req: FastifyRequest): boolean => req.protocol === 'https';
  const html = (reply: FastifyReply, status: number, body: string): FastifyReply =>
    reply.code(status).header('content-type', 'text/html; charset=utf-8').header('content-security-policy', PAGE_CSP).header('cache-control', 'no-store').header('x-content-type-options', 'nosniff').send(body);
  const audit = (req: FastifyRequest, actor: string, action: string, target: string, details: Record<string, unknown>): Promise<number> =>
    store.appendAudit({ ts: clock.now(), actor, action, target, ip: req.ip, details });
  const login = () => {
    const l = app.oidcLogin;
    if (l === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', 'card login is not configured');
    return l;
  };
  const registry = () => {
    const r = app.cardRegistry;
    if (r === undefined) throw new ServerError('SRV_ERR_REGISTRY_NO_MASTER_KEY');
    return r;
  };

  /** The pages' client at the provider, created (or its redirect URI corrected) on first use. */
  const ensureClient = async (issuer: string): Promise<string> => {
    const redirectUri = `${issuer.replace(/\/oidc$/, '')}${BASE}/callback`;
    const cur = await store.oidc.getRelyingParty(HOLDER_CLIENT_ID);
    const now = clock.now();
    const rec: RelyingPartyRecord = {
      id: HOLDER_CLIENT_ID, name: '社保卡数据授权 (OneCard consents)', redirectUris: [redirectUri], postLogoutRedirectUris: [], allowedClaims: [], methods: ['terminal', 'ecard'],
      minAcr: 'substantial', public: true, secretSealed: null, status: 'active', createdAt: cur?.createdAt ?? now, createdBy: 'system', updatedAt: now,
    };
    const entry = (action: string) => () => [{ ts: now, actor: 'system', action, target: HOLDER_CLIENT_ID, ip: '', details: { redirectUri } }];
    if (cur === undefined) {
      try {
        await store.oidc.createRelyingParty(rec, entry('relying-party.create'));
      } catch (e) {
        // Another server created it at the same moment.
        if (!(e instanceof ServerError && e.code === 'SRV_ERR_CONFLICT')) throw e;
      }
    } else if (cur.status !== 'active') {
      // An admin disabled the pages' client: the pages stay closed until it is enabled again.
      throw new ServerError('SRV_ERR_NOT_FOUND', 'the consent pages are disabled');
    } else if (cur.redirectUris[0] !== redirectUri || cur.redirectUris.length !== 1) {
      await store.oidc.updateRelyingParty({ ...cur, redirectUris: [redirectUri], updatedAt: now }, entry('relying-party.update'));
    }
    return redirectUri;
  };

  /** The holder session of a request, or a 401 refusal. */
  const sessionOf = (req: FastifyRequest): { s: Session; raw: string } => {
    const raw = cookieOf(req, SESSION_COOKIE);
    const s = seal.open<Session>('session', raw);
    if (raw === undefined || s === undefined || s.exp <= clock.now()) throw new ServerError('SRV_ERR_SHARING_HOLDER_SESSION');
    return { s, raw };
  };
  const checkCsrf = (raw: string, body: Record<string, unknown> | undefined): void => {
    if (!seal.csrfOk(raw, body?.csrf)) throw new ServerError('SRV_ERR_SHARING_HOLDER_CSRF');
  };
  const wantsJson = (req: FastifyRequest): boolean => (req.headers.accept ?? '').includes('application/json');

  const consentsOf = async (s: Session): Promise<Record<string, unknown>[]> => {
    const now = clock.now();
    return (await registry().store.listConsents({ idHash: s.idHash })).map((c) => consentView(c, now));
  };
  const departments = async (): Promise<DepartmentRecord[]> => (await store.registry.listDepartments()).filter((d) => d.disabledAt === null && d.purposes.length > 0);

  await app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => done(null, parseQuery(body as string)));

    scope.get(`${BASE}/assets/consents.css`, { schema: { hide: true } }, async (_req, reply) => reply.header('content-type', 'text/css; charset=utf-8').header('cache-control', 'no-cache').send(CSS));

    // The card login: to the provider with PKCE, state and nonce kept in a sealed cookie.
    scope.get(`${BASE}/login`, { schema: { hide: true } }, async (req, reply) => {
      const p = await login().provider();
      const redirectUri = await ensureClient(p.issuer);
      const st: LoginState = { state: randomBytes(16).toString('base64url'), nonce: randomBytes(16).toString('base64url'), verifier: randomBytes(32).toString('base64url'), exp: clock.now() + LOGIN_STATE_MS };
      const challenge = createHash('sha256').update(st.verifier).digest('base64url');
      const q = new URLSearchParams({ client_id: HOLDER_CLIENT_ID, response_type: 'code', scope: 'openid', redirect_uri: redirectUri, state: st.state, nonce: st.nonce, code_challenge: challenge, code_challenge_method: 'S256' });
      reply.header('set-cookie', cookie(LOGIN_COOKIE, seal.seal('login', st), LOGIN_STATE_MS / 1000, secure(req)));
      return reply.redirect(`${p.issuer}/auth?${q.toString()}`, 303);
    });

    // Back from the provider: the code is exchanged, the account resolved to its card, the session begins.
    scope.get<{ Querystring: { code?: string; state?: string; error?: string } }>(`${BASE}/callback`, { schema: { hide: true } }, async (req, reply) => {
      const st = seal.open<LoginState>('login', cookieOf(req, LOGIN_COOKIE));
      reply.header('set-cookie', cookie(LOGIN_COOKIE, '', 0, secure(req)));
      if (st === undefined || st.exp <= clock.now() || typeof req.query.state !== 'string' || req.query.state !== st.state) {
        return html(reply, 400, page('登录失败', `<h1>登录失败</h1><p class="error">SRV_ERR_SHARING_HOLDER_SESSION</p><p><a href="${BASE}/login">重新登录</a></p>`));
      }
      if (req.query.code === undefined) {
        return html(reply, 403, page('未登录', `<h1>未登录</h1><p class="hint">${esc(req.query.error ?? 'access_denied')}</p><p><a href="${BASE}/login">重新登录</a></p>`));
      }
      const l = login();
      const p = await l.provider();
      const redirectUri = await ensureClient(p.issuer);
      const tok = await app.inject({
        method: 'POST', url: '/oidc/token', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ grant_type: 'authorization_code', code: req.query.code, redirect_uri: redirectUri, client_id: HOLDER_CLIENT_ID, code_verifier: st.verifier }).toString(),
      });
      const body = tok.json() as { access_token?: string; id_token?: string };
      // The access token names the provider's account (the person who logged in with the card).
      const tokens = (p as unknown as { AccessToken: { find(token: string): Promise<{ accountId?: string; clientId?: string } | undefined> } }).AccessToken;
      const at = tok.statusCode === 200 && body.access_token !== undefined ? await tokens.find(body.access_token) : undefined;
      const claims = body.id_token === undefined ? undefined : JSON.parse(Buffer.from(body.id_token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub?: string; aud?: string; nonce?: string };
      if (at?.accountId === undefined || at.clientId !== HOLDER_CLIENT_ID || claims?.sub === undefined || claims.aud !== HOLDER_CLIENT_ID || claims.nonce !== st.nonce) {
        return html(reply, 400, page('登录失败', `<h1>登录失败</h1><p class="error">SRV_ERR_SHARING_HOLDER_SESSION</p><p><a href="${BASE}/login">重新登录</a></p>`));
      }
      const account = await l.logins.accountClaims(at.accountId);
      const svc = registry();
      const card = account === undefined ? undefined : await svc.store.getCard(account.cardNumber);
      // The session is bound to the card the holder logged in with, and only if it is that person's card in the registry.
      if (account === undefined || card === undefined || card.idHash !== svc.cipher.idHash(normaliseIdNumber(account.idNumber)) || !USABLE_STATUSES.has(card.status)) {
        await audit(req, `holder:${claims.sub.slice(0, 24)}`, 'sharing.holder.login-refused', HOLDER_CLIENT_ID, { code: 'SRV_ERR_SHARING_HOLDER_CARD', ...(account !== undefined ? { card: maskCard(account.cardNumber) } : {}) });
        return html(reply, 403, page('无法授权', `<h1>无法授权</h1><p class="error">SRV_ERR_SHARING_HOLDER_CARD</p><p class="hint">登录所用的社保卡不在卡库中或不可用。</p>`));
      }
      const s: Session = { idHash: card.idHash, cardNumber: card.cardNumber, sub: claims.sub, exp: clock.now() + HOLDER_SESSION_MS };
      await audit(req, `holder:${s.sub.slice(0, 24)}`, 'sharing.holder.login', HOLDER_CLIENT_ID, { card: maskCard(card.cardNumber) });
      reply.header('set-cookie', cookie(SESSION_COOKIE, seal.seal('session', s), HOLDER_SESSION_MS / 1000, secure(req)));
      return reply.redirect(BASE, 303);
    });

    scope.get(BASE, { schema: { hide: true } }, async (req, reply) => {
      let sess: { s: Session; raw: string };
      try {
        sess = sessionOf(req);
      } catch {
        return reply.redirect(`${BASE}/login`, 303);
      }
      return html(reply, 200, renderPage({ card: maskCard(sess.s.cardNumber), consents: await consentsOf(sess.s), departments: await departments(), csrf: seal.csrf(sess.raw) }));
    });

    scope.get(`${BASE}.json`, {
      schema: { tags: ['sharing-holder'], summary: 'The logged-in holder\'s consents and the departments they may consent to (holder session cookie from the card login)' },
    }, async (req) => {
      const { s, raw } = sessionOf(req);
      return {
        card: maskCard(s.cardNumber), csrf: seal.csrf(raw), expiresAt: s.exp,
        consents: await consentsOf(s),
        departments: (await departments()).map((d) => ({ id: d.id, name: d.name, purposes: d.purposes })),
      };
    });

    const done = async (req: FastifyRequest, reply: FastifyReply, json: Record<string, unknown>): Promise<FastifyReply> =>
      (wantsJson(req) ? reply.code(200).send(json) : reply.redirect(BASE, 303));

    scope.post<{ Body: Record<string, unknown> }>(BASE, {
      schema: { tags: ['sharing-holder'], summary: 'The logged-in holder gives a department time-limited consent for purposes of its list (form: csrf, department, purpose…, days)' },
    }, async (req, reply) => {
      const { s, raw } = sessionOf(req);
      checkCsrf(raw, req.body);
      const b = req.body ?? {};
      const purposes = (Array.isArray(b.purpose) ? b.purpose : [b.purpose]).filter((x): x is string => typeof x === 'string');
      const days = Number(b.days);
      if (typeof b.department !== 'string' || purposes.length === 0 || purposes.length > 16 || !purposes.every((p) => PURPOSE_RE.test(p)) || !Number.isInteger(days) || days < 1 || days > 365) {
        throw new ServerError('SRV_ERR_VALIDATION', 'department, at least one purpose and days (1–365) are required');
      }
      const svc = registry();
      const card = await svc.store.getCard(s.cardNumber);
      if (card === undefined || card.idHash !== s.idHash || !USABLE_STATUSES.has(card.status)) throw new ServerError('SRV_ERR_SHARING_HOLDER_CARD');
      const dept = await store.registry.getDepartment(b.department);
      if (dept === undefined || dept.disabledAt !== null) throw new ServerError('SRV_ERR_NOT_FOUND', 'no such department');
      for (const p of purposes) if (!dept.purposes.includes(p)) throw new ServerError('SRV_ERR_SHARING_PURPOSE_NOT_GRANTED', p, { purpose: p });
      const now = clock.now();
      const out: ConsentRecord[] = [];
      for (const purpose of new Set(purposes)) {
        const rec: ConsentRecord = { id: newId('cns_'), cardNumber: card.cardNumber, idHash: card.idHash, departmentId: dept.id, purpose, grantedAt: now, expiresAt: now + days * 86_400_000, grantedVia: `card-login:${s.sub.slice(0, 24)}`, revokedAt: null, revokedVia: null };
        await store.registry.putConsent(rec, () => [{ ts: now, actor: `holder:${s.sub.slice(0, 24)}`, action: 'sharing.consent.grant', target: rec.id, ip: req.ip, details: { card: maskCard(card.cardNumber), department: dept.id, purpose, expiresAt: rec.expiresAt, via: 'card-login' } }]);
        out.push(rec);
      }
      return done(req, reply, { consents: out.map((c) => consentView(c, now)) });
    });

    scope.post<{ Params: { id: string }; Body: Record<string, unknown> }>(`${BASE}/:id/withdraw`, {
      schema: { tags: ['sharing-holder'], summary: 'The logged-in holder withdraws one of their consents (takes effect for the next department call)', params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } } } },
    }, async (req, reply) => {
      const { s, raw } = sessionOf(req);
      checkCsrf(raw, req.body);
      const mine = (await registry().store.listConsents({ idHash: s.idHash })).find((c) => c.id === req.params.id);
      // Another person's consent is as unknown as a missing one.
      if (mine === undefined) throw new ServerError('SRV_ERR_NOT_FOUND', 'no such consent of this holder');
      const now = clock.now();
      const revoked = await store.registry.revokeConsent(mine.id, now, `card-login:${s.sub.slice(0, 24)}`, () => [{ ts: now, actor: `holder:${s.sub.slice(0, 24)}`, action: 'sharing.consent.revoke', target: mine.id, ip: req.ip, details: { card: maskCard(mine.cardNumber), department: mine.departmentId, purpose: mine.purpose, via: 'card-login' } }]);
      return done(req, reply, { revoked });
    });

    scope.post<{ Body: Record<string, unknown> }>(`${BASE}/logout`, { schema: { hide: true } }, async (req, reply) => {
      const { raw } = sessionOf(req);
      checkCsrf(raw, req.body);
      reply.header('set-cookie', cookie(SESSION_COOKIE, '', 0, secure(req)));
      return reply.redirect(`${BASE}/login`, 303);
    });
  });
}

export default fp(holderConsentPlugin, { name: 'onecard-holder-consents' });
