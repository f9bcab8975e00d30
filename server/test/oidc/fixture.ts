/**
 * Card-login test fixture: a real server on 127.0.0.1 (SQLite in memory, a master key, the
 * provider at /oidc), a terminal enrolled through the real enrolment API, a portal registered
 * through the admin API, a cookie-keeping browser stand-in, ES256 login assertions signed with the
 * terminal's key, and an `openid-client` v6 relying party.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

/** A JSON answer as the tests read it (the assertions check its shape): what `JSON.parse` gives. */
export type Json = ReturnType<typeof JSON.parse>;
import * as client from 'openid-client';
import { buildApp, bootstrapAdminToken } from '../../src/app.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import type { Store } from '../../src/store/types.ts';

export interface OidcFixture {
  app: FastifyInstance;
  store: Store;
  base: string;
  issuer: string;
  adminToken: string;
  /** The server master key (a second server on the same store needs the same one). */
  masterKey: Uint8Array;
  /** Moves the server clock (login and assertion expiry); the provider itself uses real time. */
  advance(ms: number): void;
  nowS(): number;
  admin(method: string, url: string, payload?: unknown): Promise<{ statusCode: number; json: () => Json }>;
  close(): Promise<void>;
}

export interface FixtureOptions {
  /** Share a store (and then pass its `masterKey` and `adminToken`): a second server of one deployment. */
  readonly store?: Store;
  readonly masterKey?: Uint8Array;
  readonly adminToken?: string;
  /** The public URL behind a reverse proxy (issuer = it + `/oidc`); default: the listened URL. */
  readonly publicUrl?: string;
  /** The server's `trustedProxies`. */
  readonly trustedProxies?: readonly string[];
  /** Log at info to this stream (tests scan the log). */
  readonly logStream?: NodeJS.WritableStream;
}

export async function startFixture(o: FixtureOptions = {}): Promise<OidcFixture> {
  let offset = 0;
  const clock = { now: () => Date.now() + offset };
  const store = o.store ?? openSqliteStore(':memory:');
  const masterKey = o.masterKey ?? new Uint8Array(randomBytes(32));
  let issuer = '';
  const app = await buildApp({ store, clock, masterKey, oidc: { issuer: () => issuer },
    ...(o.trustedProxies !== undefined ? { trustedProxies: o.trustedProxies } : {}),
    ...(o.logStream !== undefined ? { logger: { level: 'info', stream: o.logStream } } : {}),
  });
  const adminToken = o.adminToken ?? (await bootstrapAdminToken(store, clock))!;
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no address');
  const base = `http://127.0.0.1:${addr.port}`;
  issuer = `${o.publicUrl ?? base}/oidc`;
  const admin = async (method: string, url: string, payload?: unknown) => {
    const r = await app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${adminToken}` }, ...(payload !== undefined ? { payload: payload as object } : {}) });
    return { statusCode: r.statusCode, json: () => r.json() };
  };
  return { app, store, base, issuer, adminToken, masterKey, advance: (ms) => { offset += ms; }, nowS: () => Math.floor(clock.now() / 1000), admin, close: async () => { await app.close(); } };
}

export interface EnrolledTerminal {
  id: string;
  password: string;
  key: KeyObject;
  groupId: string;
  basic: string;
}

/** Creates the group (allowed to authenticate unless `allowed` is false) and enrols a terminal through the enrolment API. */
export async function enrolTerminal(f: OidcFixture, groupId: string, allowed = true): Promise<EnrolledTerminal> {
  const g = await f.admin('POST', '/api/v1/groups', { id: groupId, name: groupId });
  if (g.statusCode !== 201 && g.statusCode !== 409) throw new Error(`group ${g.statusCode} ${JSON.stringify(g.json())}`);
  const lg = await f.admin('PUT', `/api/v1/login-groups/${groupId}`, { allowed });
  if (lg.statusCode !== 200) throw new Error(`login group ${lg.statusCode}`);
  const tok = await f.admin('POST', '/api/v1/enrolment-tokens', { groupId });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const r = await fetch(`${f.base}/api/v1/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: tok.json().token, publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), kind: 'kiosk' }) });
  const body = await r.json() as { terminalId: string; mqtt: { password: string } };
  if (r.status !== 201 && r.status !== 200) throw new Error(`enrol ${r.status} ${JSON.stringify(body)}`);
  const password = body.mqtt.password;
  return { id: body.terminalId, password, key: createPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' })), groupId, basic: `Basic ${Buffer.from(`${body.terminalId}:${password}`).toString('base64')}` };
}

export const CARD = { cardNumber: 'A12345678', idNumber: '110101199001011234', name: '张三' };

/** A compact ES256 JWS as the terminal signs it. */
export function signAssertion(key: KeyObject, kid: string, payload: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const h = Buffer.from(JSON.stringify({ alg: 'ES256', kid, typ: 'onecard-login+jwt', ...header })).toString('base64url');
  const p = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const sig = sign('sha256', Buffer.from(`${h}.${p}`), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return `${h}.${p}.${sig}`;
}

export function assertionPayload(f: OidcFixture, login: string, nonce: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = f.nowS();
  return { login, nonce, card: CARD, amr: ['hwk', 'pin'], genuine: true, iat, exp: iat + 60, ...over };
}

export async function postAssertion(f: OidcFixture, assertion: string, authorization?: string): Promise<{ status: number; body: Json }> {
  const r = await fetch(`${f.base}/api/v1/terminal/login-assertions`, { method: 'POST', headers: { 'content-type': 'application/json', ...(authorization !== undefined ? { authorization } : {}) }, body: JSON.stringify({ assertion }) });
  return { status: r.status, body: await r.json() };
}

export async function terminalLookup(f: OidcFixture, t: EnrolledTerminal, code: string): Promise<{ status: number; body: Json }> {
  const r = await fetch(`${f.base}/api/v1/terminal/logins/${code}`, { headers: { authorization: t.basic } });
  return { status: r.status, body: await r.json() };
}

/** A browser stand-in: keeps cookies per host, follows nothing by itself. */
export class Browser {
  readonly #jar = new Map<string, string>();
  async get(url: string): Promise<Response> {
    return this.#req(url, { method: 'GET' });
  }
  async post(url: string, form: Record<string, string>): Promise<Response> {
    return this.#req(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
  }
  async #req(url: string, init: RequestInit): Promise<Response> {
    const cookie = [...this.#jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const r = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string> | undefined), ...(cookie !== '' ? { cookie } : {}) } });
    for (const c of r.headers.getSetCookie()) {
      const [kv] = c.split(';');
      const i = kv!.indexOf('=');
      const name = kv!.slice(0, i);
      const value = kv!.slice(i + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) this.#jar.delete(name); else this.#jar.set(name, value);
    }
    return r;
  }
  /** Follows redirects while they stay on `origin`; returns the last response and its URL. */
  async follow(url: string, origin: string): Promise<{ res: Response | undefined; url: string }> {
    let cur = url;
    let res: Response | undefined;
    for (let i = 0; i < 10; i++) {
      if (!cur.startsWith(origin)) return { res, url: cur };
      res = await this.get(cur);
      const loc = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || loc === null) return { res, url: cur };
      cur = new URL(loc, cur).href;
    }
    throw new Error('too many redirects');
  }
}

export interface Portal {
  id: string;
  secret: string | undefined;
  redirectUri: string;
  config: client.Configuration;
}

export async function registerPortal(f: OidcFixture, over: Record<string, unknown> = {}): Promise<Portal> {
  const redirectUri = 'http://127.0.0.1:1/cb';
  const r = await f.admin('POST', '/api/v1/relying-parties', { name: '社保业务网厅', redirectUris: [redirectUri], postLogoutRedirectUris: ['http://127.0.0.1:1/bye'], allowedClaims: ['name', 'id_number'], methods: ['terminal', 'ecard'], minAcr: 'substantial', ...over });
  if (r.statusCode !== 201) throw new Error(`portal ${r.statusCode} ${JSON.stringify(r.json())}`);
  const rp = r.json();
  const config = await client.discovery(new URL(f.issuer), rp.id, rp.clientSecret, undefined, { execute: [client.allowInsecureRequests] });
  return { id: rp.id, secret: rp.clientSecret, redirectUri, config };
}

export interface StartedLogin {
  browser: Browser;
  uid: string;
  code: string;
  page: string;
  verifier: string;
  state: string;
  interactionUrl: string;
}

/** The portal sends the browser to the provider; the browser lands on the login page with its code. */
export async function startLogin(f: OidcFixture, portal: Portal, scope = 'openid name id_number', browser = new Browser()): Promise<StartedLogin> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(portal.config, { redirect_uri: portal.redirectUri, scope, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state });
  const { res, url: at } = await browser.follow(url.href, f.base);
  const page = res === undefined ? '' : await res.text();
  const m = /<p class="code"[^>]*>(\d{4}) (\d{4})<\/p>/.exec(page);
  if (res?.status !== 200 || m === null) throw new Error(`no login page (${res?.status} at ${at}): ${page.slice(0, 300)}`);
  return { browser, uid: at.split('/interaction/')[1]!.split('?')[0]!, code: `${m[1]}${m[2]}`, page, verifier, state, interactionUrl: at };
}

/** After the login was accepted: the browser polls, finishes, consents and comes back to the portal with a code. */
export async function finishInBrowser(f: OidcFixture, s: StartedLogin, consent = true): Promise<{ callback: string; consentPage: string }> {
  const st = await (await s.browser.get(`${f.base}/oidc/interaction/${s.uid}/status`)).json() as { status: string };
  if (st.status !== 'done') throw new Error(`status ${st.status}`);
  const first = await s.browser.follow(`${f.base}/oidc/interaction/${s.uid}/finish`, f.base);
  const res = first.res;
  let url = first.url;
  let consentPage = '';
  if (url.startsWith(f.base) && res?.status === 200) {
    consentPage = await res.text();
    const action = /<form method="post" action="([^"]+)"/.exec(consentPage)?.[1]?.replace(/&amp;/g, '&');
    if (action === undefined) throw new Error(`no consent form: ${consentPage.slice(0, 300)}`);
    const r = await s.browser.post(new URL(action, f.base).href, { decision: consent ? 'allow' : 'deny' });
    ({ url } = await s.browser.follow(new URL(r.headers.get('location')!, f.base).href, f.base));
  }
  return { callback: url, consentPage };
}
