/**
 * Every refusal of the card login, each with its stable code, an audit entry and (when bound to a
 * login) a clear page in the waiting browser: replayed and expired assertions, an assertion for
 * another login, a wrong signature, a disabled terminal, a group not allowed, a hotlisted card,
 * `genuine: false` and a missing PIN (acr high), PKCE mismatch, an unregistered redirect URI, a
 * scope the portal was not allowed.
 */
import t, { type Test } from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import * as client from 'openid-client';
import { assertionPayload, Browser, CARD, enrolTerminal, finishInBrowser, postAssertion, registerPortal, signAssertion, startFixture, startLogin, terminalLookup, type OidcFixture, type EnrolledTerminal, type Portal } from './fixture.ts';

let f: OidcFixture;
let term: EnrolledTerminal;
let portal: Portal;
t.before(async () => {
  f = await startFixture();
  term = await enrolTerminal(f, 'hall');
  portal = await registerPortal(f);
});
t.teardown(() => f.close());

/** Starts a login and returns it with the terminal's nonce for it. */
async function pending() {
  const s = await startLogin(f, portal);
  const look = await terminalLookup(f, term, s.code);
  return { s, nonce: look.body.nonce as string };
}

async function refusedAudit(code: string): Promise<boolean> {
  return (await f.store.listAudit({ limit: 500, action: 'login.refused' })).some((a) => (a.details as { code?: string }).code === code);
}

/** The browser's status poll says refused, and the page tells the user why. */
async function browserShowsRefusal(tt: Test, s: Awaited<ReturnType<typeof pending>>['s'], code: string, words: RegExp): Promise<void> {
  const st = await (await s.browser.get(`${f.base}/oidc/interaction/${s.uid}/status`)).json() as { status: string; error: string };
  tt.same(st, { status: 'refused', error: code });
  const page = await (await s.browser.get(`${f.base}/oidc/interaction/${s.uid}`)).text();
  tt.match(page, words, 'the page says why');
  tt.match(page, /重新开始/, 'and offers to start again');
  const en = await (await s.browser.get(`${f.base}/oidc/interaction/${s.uid}?lang=en`)).text();
  tt.match(en, /Start again/);
  const again = await (await s.browser.get(`${f.base}/oidc/interaction/${s.uid}?restart=1`)).text();
  tt.match(again, /<p class="code"/, 'starting again shows a new code');
}

t.test('replayed assertion: accepted once, then SRV_ERR_LOGIN_REPLAYED', async (t) => {
  const { s, nonce } = await pending();
  const jws = signAssertion(term.key, term.id, assertionPayload(f, s.code, nonce));
  t.equal((await postAssertion(f, jws)).status, 200);
  const r = await postAssertion(f, jws);
  t.equal(r.status, 409);
  t.equal(r.body.error.code, 'SRV_ERR_LOGIN_REPLAYED');
  t.ok(await refusedAudit('SRV_ERR_LOGIN_REPLAYED'));
  t.equal((await terminalLookup(f, term, s.code)).body.error.code, 'SRV_ERR_LOGIN_REPLAYED', 'the code cannot be looked up again either');
  t.equal((await terminalLookup(f, term, '00000000')).body.error.code, 'SRV_ERR_LOGIN_UNKNOWN');
  t.ok((await f.store.listAudit({ limit: 500, action: 'login.refused' })).some((a) => a.target === '00000000' && (a.details as { step?: string }).step === 'lookup'), 'unknown codes looked up are audited');
});

t.test('expired assertion: SRV_ERR_LOGIN_EXPIRED, the login ends with a page saying so', async (t) => {
  const { s, nonce } = await pending();
  const iat = f.nowS() - 100;
  const r = await postAssertion(f, signAssertion(term.key, term.id, assertionPayload(f, s.code, nonce, { iat, exp: iat + 60 })));
  t.equal(r.status, 410);
  t.equal(r.body.error.code, 'SRV_ERR_LOGIN_EXPIRED');
  t.ok(await refusedAudit('SRV_ERR_LOGIN_EXPIRED'));
  await browserShowsRefusal(t, s, 'SRV_ERR_LOGIN_EXPIRED', /登录已超时/);
});

t.test('expired login: a valid assertion after the 5 minutes is refused', async (t) => {
  const { s, nonce } = await pending();
  f.advance(6 * 60_000);
  t.teardown(() => f.advance(-6 * 60_000));
  const r = await postAssertion(f, signAssertion(term.key, term.id, assertionPayload(f, s.code, nonce)));
  t.equal(r.body.error.code, 'SRV_ERR_LOGIN_EXPIRED');
});

t.test('assertion for another login: the nonce binds it; neither login is touched', async (t) => {
  const a = await pending();
  const b = await pending();
  const r = await postAssertion(f, signAssertion(term.key, term.id, assertionPayload(f, b.s.code, a.nonce)));
  t.equal(r.status, 409);
  t.equal(r.body.error.code, 'SRV_ERR_LOGIN_NONCE');
  t.ok(await refusedAudit('SRV_ERR_LOGIN_NONCE'));
  t.equal((await f.store.oidc.getLogin(b.s.code))!.status, 'pending', 'the other login still waits');
  t.equal((await postAssertion(f, signAssertion(term.key, term.id, assertionPayload(f, b.s.code, b.nonce)))).status, 200, 'and completes with its own nonce');
});

t.test('wrong signature: another key, a tampered payload, an unknown kid, credentials of another terminal', async (t) => {
  const { s, nonce } = await pending();
  const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const forged = await postAssertion(f, signAssertion(other, term.id, assertionPayload(f, s.code, nonce)));
  t.equal(forged.status, 401);
  t.equal(forged.body.error.code, 'SRV_ERR_LOGIN_ASSERTION_SIGNATURE');
  const good = signAssertion(term.key, term.id, assertionPayload(f, s.code, nonce));
  const [h, , sig] = good.split('.');
  const tampered = `${h}.${Buffer.from(JSON.stringify(assertionPayload(f, s.code, nonce, { card: { ...CARD, name: '李四' } }))).toString('base64url')}.${sig}`;
  t.equal((await postAssertion(f, tampered)).body.error.code, 'SRV_ERR_LOGIN_ASSERTION_SIGNATURE');
  t.equal((await postAssertion(f, signAssertion(term.key, 'Tnobody', assertionPayload(f, s.code, nonce)))).body.error.code, 'SRV_ERR_LOGIN_ASSERTION_SIGNATURE');
  t.equal((await postAssertion(f, signAssertion(term.key, term.id, assertionPayload(f, s.code, nonce), { alg: 'none' }))).body.error.code, 'SRV_ERR_LOGIN_ASSERTION_FORMAT');
  t.equal((await postAssertion(f, 'not.a.jws!')).body.error.code, 'SRV_ERR_LOGIN_ASSERTION_FORMAT');
  const second = await enrolTerminal(f, 'hall');
  t.equal((await postAssertion(f, good, second.basic)).body.error.code, 'SRV_ERR_LOGIN_ASSERTION_SIGNATURE', 'credentials must name the signer');
  t.ok(await refusedAudit('SRV_ERR_LOGIN_ASSERTION_SIGNATURE'));
  t.equal((await f.store.oidc.getLogin(s.code))!.status, 'pending', 'unauthenticated refusals do not end the login');
  t.equal((await postAssertion(f, good, term.basic)).status, 200);
});

t.test('disabled terminal: SRV_ERR_TERMINAL_DISABLED, audited, the browser told', async (t) => {
  const t2 = await enrolTerminal(f, 'hall');
  const { s, nonce } = await pending();
  t.equal((await f.admin('POST', `/api/v1/terminals/${t2.id}/disable`)).statusCode, 200);
  const look = await terminalLookup(f, t2, s.code);
  t.equal(look.body.error.code, 'SRV_ERR_TERMINAL_DISABLED', 'refused at lookup too');
  t.ok((await f.store.listAudit({ limit: 500, action: 'login.refused' })).some((a) => (a.details as { step?: string; code: string }).step === 'lookup' && (a.details as { code: string }).code === 'SRV_ERR_TERMINAL_DISABLED'), 'the refused lookup is audited');
  const r = await postAssertion(f, signAssertion(t2.key, t2.id, assertionPayload(f, s.code, nonce)), t2.basic);
  t.equal(r.status, 403);
  t.equal(r.body.error.code, 'SRV_ERR_TERMINAL_DISABLED');
  t.ok(await refusedAudit('SRV_ERR_TERMINAL_DISABLED'));
  await browserShowsRefusal(t, s, 'SRV_ERR_TERMINAL_DISABLED', /终端已停用/);
});

t.test('group not allowed: refused at lookup and at assertion', async (t) => {
  const lib = await enrolTerminal(f, 'library', false);
  const { s, nonce } = await pending();
  const look = await terminalLookup(f, lib, s.code);
  t.equal(look.status, 403);
  t.equal(look.body.error.code, 'SRV_ERR_LOGIN_TERMINAL_GROUP');
  const r = await postAssertion(f, signAssertion(lib.key, lib.id, assertionPayload(f, s.code, nonce)));
  t.equal(r.body.error.code, 'SRV_ERR_LOGIN_TERMINAL_GROUP');
  t.ok(await refusedAudit('SRV_ERR_LOGIN_TERMINAL_GROUP'));
  await browserShowsRefusal(t, s, 'SRV_ERR_LOGIN_TERMINAL_GROUP', /不提供登录服务/);
});

t.test('hotlisted card: refused at the server whatever the terminal says', async (t) => {
  const { s, nonce } = await pending();
  t.equal((await f.admin('POST', '/api/v1/hotlist/report', { cardNumbers: ['B87654321'], reason: 'lost' })).statusCode < 300, true);
  const r = await postAssertion(f, signAssertion(term.key, term.id, assertionPayload(f, s.code, nonce, { card: { ...CARD, cardNumber: 'B87654321' } })));
  t.equal(r.status, 403);
  t.equal(r.body.error.code, 'SRV_ERR_LOGIN_HOTLISTED');
  const audit = (await f.store.listAudit({ limit: 500, action: 'login.refused' })).find((a) => (a.details as { code?: string }).code === 'SRV_ERR_LOGIN_HOTLISTED')!;
  t.equal((audit.details as { card: string }).card, '*****4321', 'card masked in the audit entry');
  await browserShowsRefusal(t, s, 'SRV_ERR_LOGIN_HOTLISTED', /已挂失/);
});

t.test('acr high needs a genuine card and the PIN: genuine false, pin or hwk missing', async (t) => {
  for (const over of [{ genuine: false }, { amr: ['hwk'] }, { amr: ['pin'] }]) {
    const { s, nonce } = await pending();
    const r = await postAssertion(f, signAssertion(term.key, term.id, assertionPayload(f, s.code, nonce, over)));
    t.equal(r.status, 403, JSON.stringify(over));
    t.equal(r.body.error.code, 'SRV_ERR_LOGIN_ASSURANCE');
    if (over.genuine === false) await browserShowsRefusal(t, s, 'SRV_ERR_LOGIN_ASSURANCE', /未能确认卡片真实/);
  }
  const { s, nonce } = await pending();
  const { genuine: _g, ...noGenuine } = assertionPayload(f, s.code, nonce);
  t.equal((await postAssertion(f, signAssertion(term.key, term.id, noGenuine))).body.error.code, 'SRV_ERR_LOGIN_ASSERTION_FORMAT', 'genuine missing is malformed');
  t.ok(await refusedAudit('SRV_ERR_LOGIN_ASSURANCE'));
});

t.test('PKCE mismatch: the code is refused at the token endpoint (invalid_grant), audited', async (t) => {
  const { s, nonce } = await pending();
  t.equal((await postAssertion(f, signAssertion(term.key, term.id, assertionPayload(f, s.code, nonce)))).status, 200);
  const { callback } = await finishInBrowser(f, s);
  const err = await client.authorizationCodeGrant(portal.config, new URL(callback), { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: s.state }).then(() => undefined, (e: unknown) => e as { error?: string });
  t.equal(err?.error, 'invalid_grant', 'a wrong code_verifier gets no tokens');
  t.ok((await f.store.listAudit({ limit: 500, action: 'oidc.refused' })).some((a) => (a.details as { error: string; kind: string }).error === 'invalid_grant' && (a.details as { kind: string }).kind === 'token'));
});

t.test('PKCE is required: an authorization request without code_challenge is refused', async (t) => {
  const url = client.buildAuthorizationUrl(portal.config, { redirect_uri: portal.redirectUri, scope: 'openid', state: 'x' });
  const r = await new Browser().get(url.href);
  const loc = new URL(r.headers.get('location')!);
  t.equal(loc.searchParams.get('error'), 'invalid_request');
  t.match(loc.searchParams.get('error_description') ?? '', /PKCE/);
});

t.test('unregistered redirect URI: an error page, no redirect, audited', async (t) => {
  const url = client.buildAuthorizationUrl(portal.config, { redirect_uri: 'https://evil.example/cb', scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256', state: 'x' });
  const r = await new Browser().get(url.href);
  t.equal(r.status, 400);
  t.equal(r.headers.get('location'), null, 'never sent to the unregistered URI');
  const page = await r.text();
  t.match(page, /出错了/);
  t.match(page, /redirect_uri/);
  t.match(r.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  t.ok((await f.store.listAudit({ limit: 500, action: 'oidc.refused' })).some((a) => /redirect/.test(String((a.details as { error: string }).error))));
});

t.test('claims not allowed: a portal asking for a scope it was not registered for gets invalid_scope', async (t) => {
  const narrow = await registerPortal(f, { name: '图书馆', allowedClaims: [] });
  const url = client.buildAuthorizationUrl(narrow.config, { redirect_uri: narrow.redirectUri, scope: 'openid id_number', code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256', state: 'x' });
  const r = await new Browser().get(url.href);
  const loc = new URL(r.headers.get('location')!);
  t.equal(loc.searchParams.get('error'), 'invalid_scope');
  t.ok((await f.store.listAudit({ limit: 500, action: 'oidc.refused' })).some((a) => (a.details as { error: string }).error === 'invalid_scope' && a.target === narrow.id));
});

t.test('a portal that takes e-card only refuses terminal logins (SRV_ERR_LOGIN_METHOD)', async (t) => {
  const ecardOnly = await registerPortal(f, { name: '电子社保', methods: ['ecard'] });
  const s = await startLogin(f, ecardOnly);
  const look = await terminalLookup(f, term, s.code);
  t.equal(look.body.error.code, 'SRV_ERR_LOGIN_METHOD');
});

t.test('the holder declines consent: the portal gets access_denied', async (t) => {
  const { s, nonce } = await pending();
  t.equal((await postAssertion(f, signAssertion(term.key, term.id, assertionPayload(f, s.code, nonce)))).status, 200);
  const { callback } = await finishInBrowser(f, s, false);
  t.equal(new URL(callback).searchParams.get('error'), 'access_denied');
});
