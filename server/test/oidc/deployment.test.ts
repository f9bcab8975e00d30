/**
 * The provider as deployed (docs/login.md §7): behind a TLS-terminating reverse proxy, and as one
 * of several servers sharing a store. Behind a trusted proxy the discovery document's endpoints and
 * the redirects are the public `https` URLs and every cookie is `Secure`; the same headers from a
 * peer that is not a configured proxy change nothing, and a client's own `X-Forwarded-For` entry
 * never becomes the audited address. A key rotated through one server signs and is published by
 * another server on the same store from its next request, with the previous key still published.
 * The server's log of a whole login and logout holds no token, code, secret or verifier.
 */
import t from 'tap';
import { createPublicKey, verify } from 'node:crypto';
import { PassThrough } from 'node:stream';
import * as client from 'openid-client';
import { assertionPayload, enrolTerminal, finishInBrowser, postAssertion, signAssertion, startFixture, startLogin, terminalLookup, type OidcFixture, type Portal } from './fixture.ts';

const PUBLIC = 'https://id.example.gov';
const FORWARDED = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'id.example.gov' };

async function discovery(f: OidcFixture, headers: Record<string, string>): Promise<Record<string, string>> {
  const r = await fetch(`${f.base}/oidc/.well-known/openid-configuration`, { headers });
  if (r.status !== 200) throw new Error(`discovery ${r.status}`);
  return await r.json() as Record<string, string>;
}

/** Registers a portal and starts an authorization request through the (simulated) proxy; returns the provider's answer. */
async function authorize(f: OidcFixture, headers: Record<string, string>): Promise<Response> {
  const rp = await f.admin('POST', '/api/v1/relying-parties', { name: '公积金', redirectUris: ['https://portal.example.gov/cb'], allowedClaims: ['name'], methods: ['terminal', 'ecard'], minAcr: 'substantial' });
  if (rp.statusCode !== 201) throw new Error(`portal ${rp.statusCode}`);
  const q = new URLSearchParams({ client_id: rp.json().id, redirect_uri: 'https://portal.example.gov/cb', response_type: 'code', scope: 'openid name', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', state: 's1' });
  return fetch(`${f.base}/oidc/auth?${q}`, { headers, redirect: 'manual' });
}

t.test('behind a trusted TLS-terminating proxy: https endpoints, Secure cookies', async (t) => {
  const f = await startFixture({ publicUrl: PUBLIC, trustedProxies: ['127.0.0.1'] });
  t.teardown(() => f.close());
  const d = await discovery(f, FORWARDED);
  t.equal(d.issuer, `${PUBLIC}/oidc`);
  for (const k of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint', 'end_session_endpoint']) {
    t.match(d[k], new RegExp(`^${PUBLIC}/oidc/`), `${k} is the public https URL`);
  }
  const auth = await authorize(f, FORWARDED);
  t.equal(auth.status, 303);
  const cookies = auth.headers.getSetCookie();
  t.ok(cookies.length >= 2, 'interaction cookies set');
  for (const c of cookies) t.match(c, /;\s*secure/i, `Secure: ${c.split('=')[0]}`);
  const interaction = new URL(auth.headers.get('location')!, `${PUBLIC}/`);
  t.equal(interaction.origin, PUBLIC);
  // The login page's language cookie, through the proxy, is Secure too.
  const jar = cookies.map((c) => c.split(';')[0]).join('; ');
  const page = await fetch(`${f.base}${interaction.pathname}?lang=en`, { headers: { ...FORWARDED, cookie: jar } });
  t.equal(page.status, 200);
  t.match(page.headers.getSetCookie().join('\n'), /onecard_lang=en;.*Secure/);
  // The login page's QR code names the public URL (the e-card app reaches the server through the proxy).
  t.match(await page.text(), /qr\.svg/);
});

t.test('behind the proxy, the whole flow: an openid-client portal on the https issuer gets its ID token', async (t) => {
  const f = await startFixture({ publicUrl: PUBLIC, trustedProxies: ['127.0.0.1'] });
  t.teardown(() => f.close());
  // The portal reaches the provider only through the proxy: a fetch that maps the public origin to the server and adds the proxy's headers.
  const viaProxy = async (url: string, options: client.CustomFetchOptions): Promise<Response> => {
    const u = new URL(url);
    if (u.origin !== PUBLIC) throw new Error(`unexpected origin ${u.origin}`);
    return fetch(`${f.base}${u.pathname}${u.search}`, {
      method: options.method, redirect: options.redirect, headers: { ...options.headers, ...FORWARDED },
      ...(options.body !== undefined && options.body !== null ? { body: options.body as NonNullable<RequestInit['body']> } : {}),
    });
  };
  const rp = (await f.admin('POST', '/api/v1/relying-parties', { name: '医保', redirectUris: ['https://portal.example.gov/cb'], allowedClaims: ['name'], methods: ['terminal'], minAcr: 'high' })).json();
  const config = await client.discovery(new URL(`${PUBLIC}/oidc`), rp.id, rp.clientSecret, undefined, { [client.customFetch]: viaProxy });
  t.equal(config.serverMetadata().token_endpoint, `${PUBLIC}/oidc/token`);
  const term = await enrolTerminal(f, 'hall');
  const portal: Portal = { id: rp.id, secret: rp.clientSecret, redirectUri: 'https://portal.example.gov/cb', config };
  // The holder's browser, too, reaches the provider through the proxy (public origin, proxy headers added).
  const s = await startLogin({ ...f, base: PUBLIC }, portal, 'openid name', proxiedBrowser(f));
  const look = await terminalLookup(f, term, s.code);
  t.equal((await postAssertion(f, signAssertion(term.key, term.id, assertionPayload(f, s.code, look.body.nonce)))).status, 200);
  const { callback } = await finishInBrowser({ ...f, base: PUBLIC }, s);
  t.match(callback, /^https:\/\/portal\.example\.gov\/cb\?/, 'back to the portal');
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: s.verifier, expectedState: s.state });
  t.equal(tokens.claims()!.iss, `${PUBLIC}/oidc`);
  t.equal(tokens.claims()!.acr, 'urn:onecard:loa:high');
});

/** A cookie-keeping browser whose requests to the public origin go through the simulated proxy. */
function proxiedBrowser(f: OidcFixture) {
  const jar = new Map<string, string>();
  const get = async (url: string): Promise<Response> => {
    const u = new URL(url);
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const r = await fetch(`${f.base}${u.pathname}${u.search}`, { redirect: 'manual', headers: { ...FORWARDED, ...(cookie !== '' ? { cookie } : {}) } });
    for (const c of r.headers.getSetCookie()) {
      if (!/;\s*secure/i.test(c)) throw new Error(`cookie without Secure behind the proxy: ${c.split('=')[0]}`);
      const kv = c.split(';')[0]!;
      const i = kv.indexOf('=');
      if (kv.slice(i + 1) === '' || /expires=Thu, 01 Jan 1970/i.test(c)) jar.delete(kv.slice(0, i)); else jar.set(kv.slice(0, i), kv.slice(i + 1));
    }
    return r;
  };
  const post = async (url: string, form: Record<string, string>): Promise<Response> => {
    const u = new URL(url);
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    return fetch(`${f.base}${u.pathname}${u.search}`, { method: 'POST', redirect: 'manual', headers: { ...FORWARDED, 'content-type': 'application/x-www-form-urlencoded', ...(cookie !== '' ? { cookie } : {}) }, body: new URLSearchParams(form).toString() });
  };
  const follow = async (url: string, origin: string): Promise<{ res: Response | undefined; url: string }> => {
    let cur = url;
    let res: Response | undefined;
    for (let i = 0; i < 10; i++) {
      if (!cur.startsWith(origin)) return { res, url: cur };
      res = await get(cur);
      const loc = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || loc === null) return { res, url: cur };
      cur = new URL(loc, cur).href;
    }
    throw new Error('too many redirects');
  };
  return { get, post, follow } as unknown as Parameters<typeof startLogin>[3];
}

t.test('the same headers from a peer that is not a configured proxy are ignored', async (t) => {
  for (const trustedProxies of [[], ['10.9.9.9']]) {
    const f = await startFixture({ publicUrl: PUBLIC, trustedProxies });
    const d = await discovery(f, FORWARDED);
    t.equal(d.issuer, `${PUBLIC}/oidc`, 'the issuer is configuration');
    t.equal(d.authorization_endpoint, `${f.base}/oidc/auth`, `trusted ${JSON.stringify(trustedProxies)}: endpoints are the listened URL, not the forged host`);
    const auth = await authorize(f, FORWARDED);
    for (const c of auth.headers.getSetCookie()) t.notMatch(c, /;\s*secure/i, 'no Secure on a plain-http request');
    await f.close();
  }
});

t.test('a client-written X-Forwarded-For entry is not the audited address', async (t) => {
  const f = await startFixture({ publicUrl: PUBLIC, trustedProxies: ['127.0.0.1'] });
  t.teardown(() => f.close());
  // The proxy appends the address it saw (203.0.113.7) to what the client sent (198.51.100.1).
  const r = await fetch(`${f.base}/oidc/auth?client_id=nope&response_type=code&scope=openid`, { headers: { ...FORWARDED, 'x-forwarded-for': '198.51.100.1, 203.0.113.7' }, redirect: 'manual' });
  t.equal(r.status, 400);
  const refused = (await f.store.listAudit({ limit: 20, action: 'oidc.refused' })).at(0);
  t.equal(refused?.ip, '203.0.113.7', 'the address the trusted proxy saw');
});

async function jwks(f: OidcFixture): Promise<{ kid: string; d?: string }[]> {
  return ((await (await fetch(`${f.issuer}/jwks`)).json()) as { keys: { kid: string; d?: string }[] }).keys;
}

function kidOf(idToken: string): string {
  return (JSON.parse(Buffer.from(idToken.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
}

function verifiesUnder(keys: readonly Record<string, unknown>[], idToken: string): boolean {
  const [h, p, s] = idToken.split('.') as [string, string, string];
  const jwk = keys.find((k) => k.kid === kidOf(idToken));
  return jwk !== undefined && verify('sha256', Buffer.from(`${h}.${p}`), { key: createPublicKey({ key: jwk as never, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
}

t.test('two servers on one store: a key rotated through A signs and is published by B at once', async (t) => {
  const a = await startFixture();
  t.teardown(() => a.close());
  const b = await startFixture({ store: a.store, masterKey: a.masterKey, adminToken: a.adminToken });
  t.teardown(() => b.close());
  const term = await enrolTerminal(a, 'hall');
  const rp = (await a.admin('POST', '/api/v1/relying-parties', { name: '社保', redirectUris: ['http://127.0.0.1:1/cb'], allowedClaims: ['name'], methods: ['terminal'], minAcr: 'high' })).json();
  const portalOn = async (f: OidcFixture): Promise<Portal> => ({ id: rp.id, secret: rp.clientSecret, redirectUri: 'http://127.0.0.1:1/cb', config: await client.discovery(new URL(f.issuer), rp.id, rp.clientSecret, undefined, { execute: [client.allowInsecureRequests] }) });
  const loginThrough = async (f: OidcFixture): Promise<string> => {
    const portal = await portalOn(f);
    const s = await startLogin(f, portal, 'openid name');
    const look = await terminalLookup(f, term, s.code);
    await postAssertion(f, signAssertion(term.key, term.id, assertionPayload(f, s.code, look.body.nonce)));
    const { callback } = await finishInBrowser(f, s);
    return (await client.authorizationCodeGrant(portal.config, new URL(callback), { pkceCodeVerifier: s.verifier, expectedState: s.state })).id_token!;
  };

  const before = await loginThrough(b);
  const k0 = kidOf(before);
  t.same((await jwks(a)).map((k) => k.kid), [k0], 'one key, the same on both');
  t.same((await jwks(b)).map((k) => k.kid), [k0]);

  const rotated = await a.admin('POST', '/api/v1/oidc/keys/rotate');
  t.equal(rotated.statusCode, 200);
  const k1 = rotated.json().kid as string;
  const onB = await jwks(b);
  t.same(onB.map((k) => k.kid), [k1, k0], 'B publishes the new key first and the previous one (retiring), with no restart');
  t.notOk(onB.some((k) => k.d !== undefined), 'public keys only');
  const fromA = await loginThrough(a);
  t.equal(kidOf(fromA), k1, 'A signs with the new key');
  t.ok(verifiesUnder(onB as never, fromA), 'a token A signed after the rotation verifies under B’s JWKS');
  const fromB = await loginThrough(b);
  t.equal(kidOf(fromB), k1, 'B signs with the new key too');
  t.ok(verifiesUnder((await jwks(a)) as never, fromB), 'and A publishes it');
  t.ok(verifiesUnder((await jwks(b)) as never, before), 'a token signed before the rotation still verifies (grace period)');

  await b.admin('POST', '/api/v1/oidc/keys/rotate');
  const after = (await jwks(a)).map((k) => k.kid);
  t.equal(after.length, 2);
  t.notOk(after.includes(k0), 'the next rotation (through B) retires the first key on A as well');
});

t.test('the log of a whole login and logout holds no token, code, secret or PKCE verifier', async (t) => {
  const log = new PassThrough();
  let out = '';
  log.on('data', (d: Buffer) => { out += d.toString(); });
  const f = await startFixture({ logStream: log });
  t.teardown(() => f.close());
  const term = await enrolTerminal(f, 'hall');
  const rp = (await f.admin('POST', '/api/v1/relying-parties', { name: '社保', redirectUris: ['http://127.0.0.1:1/cb'], postLogoutRedirectUris: ['http://127.0.0.1:1/bye'], allowedClaims: ['name'], methods: ['terminal'], minAcr: 'high' })).json();
  const config = await client.discovery(new URL(f.issuer), rp.id, rp.clientSecret, undefined, { execute: [client.allowInsecureRequests] });
  const s = await startLogin(f, { id: rp.id, secret: rp.clientSecret, redirectUri: 'http://127.0.0.1:1/cb', config }, 'openid name');
  const look = await terminalLookup(f, term, s.code);
  const assertion = signAssertion(term.key, term.id, assertionPayload(f, s.code, look.body.nonce));
  t.equal((await postAssertion(f, assertion)).status, 200);
  const { callback } = await finishInBrowser(f, s);
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: s.verifier, expectedState: s.state });
  const end = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'http://127.0.0.1:1/bye' });
  t.equal((await s.browser.get(end.href)).status, 200, 'the logout page');
  await new Promise((r) => setTimeout(r, 50));
  t.ok(out.includes('/oidc/session/end?id_token_hint=[redacted]'), 'the logout request is logged with its hint redacted');
  const secrets = { 'ID token': tokens.id_token!, 'access token': tokens.access_token, 'authorization code': new URL(callback).searchParams.get('code')!, 'client secret': rp.clientSecret as string, 'PKCE verifier': s.verifier, 'login assertion': assertion, 'login nonce': look.body.nonce as string };
  for (const [what, value] of Object.entries(secrets)) t.notOk(out.includes(value), `no ${what} in the log`);
  t.notOk(out.includes(term.password), 'no terminal password');
});
