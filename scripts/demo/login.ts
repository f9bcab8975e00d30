/**
 * The demo's card login to a portal (issue 14, docs/login.md), driven from the outside like the
 * rest of the scripted day: a department portal is an `openid-client` relying party registered
 * through the admin API; the holder's browser (a cookie-keeping fetch) follows the portal's
 * authorization request (code + PKCE) to the provider's login page and reads the 8-digit code;
 * at the hall kiosk the holder's card goes in and the kiosk's local API approves the code with the
 * PIN (`POST /v1/login/approve`, as the kiosk page does); the browser then finishes, consents and
 * lands on the portal's redirect URI, where the portal exchanges the code for an ID token.
 * The portal's redirect URI is never served: the browser stops at it, as a real one would hand
 * over to the portal.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as oidc from 'openid-client';

/** The demo portal's registration, kept in the data dir (its client secret is only shown once). */
export interface DemoPortal {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly name: string;
  readonly redirectUri: string;
}

export const DEMO_PORTAL_NAME = '社保网上服务大厅（演示）';
const REDIRECT = 'http://127.0.0.1:1/demo-portal/callback';

type AdminCall = (method: string, path: string, body?: unknown) => Promise<{ status: number; json: unknown }>;

/**
 * The demo portal (registered on first use, its registration kept in `DIR/demo-portal.json`) and
 * the kiosk's group allowed to authenticate card holders.
 * @throws Error when the server refuses (e.g. the provider is off: no master key)
 */
export async function ensureDemoPortal(api: AdminCall, dataDir: string, kioskGroup: string): Promise<DemoPortal> {
  const g = await api('PUT', `/api/v1/login-groups/${encodeURIComponent(kioskGroup)}`, { allowed: true });
  if (g.status !== 200) throw new Error(`login group ${kioskGroup}: HTTP ${g.status}`);
  const file = join(dataDir, 'demo-portal.json');
  if (existsSync(file)) {
    const kept = JSON.parse(readFileSync(file, 'utf8')) as DemoPortal;
    const list = ((await api('GET', '/api/v1/relying-parties')).json as { relyingParties?: { id: string }[] } | undefined)?.relyingParties ?? [];
    if (list.some((r) => r.id === kept.clientId)) return kept;
  }
  const r = await api('POST', '/api/v1/relying-parties', {
    name: DEMO_PORTAL_NAME, redirectUris: [REDIRECT], allowedClaims: ['name', 'id_number'], methods: ['terminal', 'ecard'], minAcr: 'substantial',
  });
  if (r.status !== 201) throw new Error(`demo portal registration: HTTP ${r.status}`);
  const b = r.json as { id: string; clientSecret: string };
  const portal: DemoPortal = { clientId: b.id, clientSecret: b.clientSecret, name: DEMO_PORTAL_NAME, redirectUri: REDIRECT };
  writeFileSync(file, `${JSON.stringify(portal)}\n`, { mode: 0o600 });
  return portal;
}

/** A browser stand-in: cookies per origin, redirects followed while they stay on the server. */
class Browser {
  readonly #jar = new Map<string, string>();
  async #req(url: string, init: RequestInit): Promise<Response> {
    const cookie = [...this.#jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const r = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string> | undefined), ...(cookie === '' ? {} : { cookie }) } });
    for (const c of r.headers.getSetCookie()) {
      const kv = c.split(';')[0] ?? '';
      const i = kv.indexOf('=');
      if (i <= 0) continue;
      if (kv.slice(i + 1) === '' || /expires=Thu, 01 Jan 1970/i.test(c)) this.#jar.delete(kv.slice(0, i));
      else this.#jar.set(kv.slice(0, i), kv.slice(i + 1));
    }
    return r;
  }
  /** Follows redirects on `origin`; returns the last answer there and the URL it stopped at. */
  async follow(url: string, origin: string, init: RequestInit = { method: 'GET' }): Promise<{ res: Response | undefined; url: string }> {
    let cur = url;
    let res: Response | undefined;
    let next = init;
    for (let i = 0; i < 12; i++) {
      if (!cur.startsWith(origin)) return { res, url: cur };
      res = await this.#req(cur, next);
      next = { method: 'GET' };
      const loc = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || loc === null) return { res, url: cur };
      cur = new URL(loc, cur).href;
    }
    throw new Error('too many redirects');
  }
  post(url: string, origin: string, form: Record<string, string>): Promise<{ res: Response | undefined; url: string }> {
    return this.follow(url, origin, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
  }
}

/** What the portal received. */
export interface PortalLogin {
  readonly code: string;
  readonly claims: Record<string, unknown>;
}

/**
 * One portal login: the browser goes from the portal to the login page; `approve(code)` is what
 * the holder does at the kiosk (resolves with the kiosk's answer status and error code); then the
 * browser waits for the login, consents and returns to the portal, which redeems the code.
 * @throws Error naming the step that failed
 */
export async function portalLogin(serverUrl: string, portal: DemoPortal, approve: (code: string) => Promise<{ ok: boolean; error?: string }>): Promise<PortalLogin> {
  const config = await oidc.discovery(new URL(`${serverUrl}/oidc`), portal.clientId, portal.clientSecret, undefined, { execute: [oidc.allowInsecureRequests] });
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const auth = oidc.buildAuthorizationUrl(config, {
    redirect_uri: portal.redirectUri, scope: 'openid name id_number', state,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  const browser = new Browser();
  const landed = await browser.follow(auth.href, serverUrl);
  const page = (await landed.res?.text()) ?? '';
  const m = /<p class="code"[^>]*>(\d{4}) (\d{4})<\/p>/.exec(page);
  if (m === null) throw new Error(`no login page (HTTP ${landed.res?.status ?? '?'})`);
  const code = `${m[1]}${m[2]}`;
  const uid = landed.url.split('/interaction/')[1]?.split('?')[0] ?? '';
  const ok = await approve(code);
  if (!ok.ok) throw new Error(`kiosk refused the login: ${ok.error ?? '?'}`);
  const st = (await (await fetch(`${serverUrl}/oidc/interaction/${uid}/status`)).json()) as { status?: string };
  if (st.status !== 'done') throw new Error(`login page status ${st.status ?? '?'}`);
  let at = await browser.follow(`${serverUrl}/oidc/interaction/${uid}/finish`, serverUrl);
  if (at.url.startsWith(serverUrl)) {
    const consent = (await at.res?.text()) ?? '';
    const action = /<form method="post" action="([^"]+)"/.exec(consent)?.[1]?.replace(/&amp;/g, '&');
    if (action === undefined) throw new Error('no consent page');
    at = await browser.post(new URL(action, serverUrl).href, serverUrl, { decision: 'allow' });
  }
  if (!at.url.startsWith(portal.redirectUri)) throw new Error('the browser did not come back to the portal');
  const tokens = await oidc.authorizationCodeGrant(config, new URL(at.url), { pkceCodeVerifier: verifier, expectedState: state });
  return { code, claims: (tokens.claims() ?? {}) as Record<string, unknown> };
}
