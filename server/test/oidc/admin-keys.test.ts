/**
 * Portals registered by admins only (operators and viewers refused, every change audited, secrets
 * shown once and never listed), redirect URIs checked, login groups by operators; the provider's
 * signing keys: first key on first use, rotation publishes the new key first and keeps the previous
 * one while retiring, the next rotation retires it; ID tokens are signed with the current key and
 * verify under the published JWKS.
 */
import t from 'tap';
import { createPublicKey, verify } from 'node:crypto';
import * as client from 'openid-client';
import { assertionPayload, enrolTerminal, finishInBrowser, postAssertion, registerPortal, signAssertion, startFixture, startLogin, terminalLookup, type OidcFixture } from './fixture.ts';

async function jwks(f: OidcFixture): Promise<{ kid: string; d?: string }[]> {
  return ((await (await fetch(`${f.issuer}/jwks`)).json()) as { keys: { kid: string; d?: string }[] }).keys;
}

/** Verifies an ID token's ES256 signature against the published JWKS; returns its kid. */
async function verifyIdToken(f: OidcFixture, idToken: string): Promise<string> {
  const [h, p, s] = idToken.split('.') as [string, string, string];
  const { kid, alg } = JSON.parse(Buffer.from(h, 'base64url').toString()) as { kid: string; alg: string };
  if (alg !== 'ES256') throw new Error(alg);
  const jwk = (await jwks(f)).find((k) => k.kid === kid);
  if (jwk === undefined) throw new Error('kid not published');
  if (!verify('sha256', Buffer.from(`${h}.${p}`), { key: createPublicKey({ key: jwk as never, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'))) throw new Error('bad signature');
  return kid;
}

t.test('portal registration: admin only, audited, secret once, URIs checked', async (t) => {
  const f = await startFixture();
  t.teardown(() => f.close());
  const body = { name: 'P', redirectUris: ['https://p.example/cb'], allowedClaims: ['name'], methods: ['terminal'], minAcr: 'high' };
  for (const role of ['viewer', 'operator', 'key-custodian'] as const) {
    const tok = (await f.admin('POST', '/api/v1/admin/tokens', { name: role, role })).json().token as string;
    const r = await f.app.inject({ method: 'POST', url: '/api/v1/relying-parties', headers: { authorization: `Bearer ${tok}` }, payload: body });
    t.equal(r.statusCode, 403, role);
    t.equal(r.json().error.code, 'SRV_ERR_FORBIDDEN');
  }
  const created = await f.admin('POST', '/api/v1/relying-parties', body);
  t.equal(created.statusCode, 201);
  const rp = created.json();
  t.type(rp.clientSecret, 'string');
  t.equal(rp.secretSealed, undefined);
  const list = JSON.stringify((await f.admin('GET', '/api/v1/relying-parties')).json());
  t.notMatch(list, rp.clientSecret, 'the secret is never listed');
  t.notMatch(JSON.stringify(await f.store.oidc.listRelyingParties()), rp.clientSecret, 'nor stored in clear');
  t.equal((await f.admin('POST', '/api/v1/relying-parties', { ...body, redirectUris: ['http://p.example/cb'] })).json().error.code, 'SRV_ERR_VALIDATION', 'https required off loopback');
  t.equal((await f.admin('POST', '/api/v1/relying-parties', { ...body, redirectUris: ['https://a.example/cb', 'https://b.example/cb'] })).json().error.code, 'SRV_ERR_VALIDATION', 'one host (pairwise sector)');
  t.equal((await f.admin('POST', '/api/v1/relying-parties', { ...body, allowedClaims: ['address'] })).statusCode, 400, 'only known claims');
  const upd = await f.admin('PUT', `/api/v1/relying-parties/${rp.id}`, { ...body, name: 'P2', status: 'disabled' });
  t.equal(upd.statusCode, 200);
  t.equal(upd.json().status, 'disabled');
  const actions = (await f.store.listAudit({ limit: 50 })).map((a) => a.action);
  t.ok(actions.includes('relying-party.create') && actions.includes('relying-party.update'));
  t.equal((await f.admin('PUT', '/api/v1/login-groups/nope', { allowed: true })).statusCode, 404);
});

t.test('a disabled portal cannot start a login', async (t) => {
  const f = await startFixture();
  t.teardown(() => f.close());
  const portal = await registerPortal(f);
  await f.admin('PUT', `/api/v1/relying-parties/${portal.id}`, { name: 'x', redirectUris: [portal.redirectUri], allowedClaims: [], methods: ['terminal'], minAcr: 'high', status: 'disabled' });
  const url = client.buildAuthorizationUrl(portal.config, { redirect_uri: portal.redirectUri, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()), code_challenge_method: 'S256', state: 'x' });
  const r = await fetch(url, { redirect: 'manual' });
  t.equal(r.status, 400);
  t.match(await r.text(), /invalid_client/);
});

t.test('signing keys: rotation keeps the previous key published while retiring; tokens verify', async (t) => {
  const f = await startFixture();
  t.teardown(() => f.close());
  const term = await enrolTerminal(f, 'hall');
  const portal = await registerPortal(f);
  const login = async (): Promise<string> => {
    const s = await startLogin(f, portal);
    const look = await terminalLookup(f, term, s.code);
    t.equal((await postAssertion(f, signAssertion(term.key, term.id, assertionPayload(f, s.code, look.body.nonce)))).status, 200);
    const { callback } = await finishInBrowser(f, s);
    return (await client.authorizationCodeGrant(portal.config, new URL(callback), { pkceCodeVerifier: s.verifier, expectedState: s.state })).id_token!;
  };
  const first = await jwks(f);
  t.equal(first.length, 1);
  t.notOk(first.some((k) => k.d !== undefined), 'no private parts published');
  const kid1 = await verifyIdToken(f, await login());
  t.equal(kid1, first[0]!.kid);

  const viewer = (await f.admin('POST', '/api/v1/admin/tokens', { name: 'v', role: 'viewer' })).json().token as string;
  t.equal((await f.app.inject({ method: 'POST', url: '/api/v1/oidc/keys/rotate', headers: { authorization: `Bearer ${viewer}` } })).statusCode, 403);
  const rot = await f.admin('POST', '/api/v1/oidc/keys/rotate');
  t.equal(rot.statusCode, 200);
  const kid2 = rot.json().kid as string;
  t.same((await jwks(f)).map((k) => k.kid), [kid2, kid1], 'new key first, the previous one still published');
  t.equal(await verifyIdToken(f, await login()), kid2, 'new tokens are signed with the new key');

  await f.admin('POST', '/api/v1/oidc/keys/rotate');
  const after = (await jwks(f)).map((k) => k.kid);
  t.equal(after.length, 2);
  t.notOk(after.includes(kid1), 'the key before the previous one is retired');
  t.same((await f.admin('GET', '/api/v1/oidc/keys')).json().keys.map((k: { status: string }) => k.status), ['current', 'retiring', 'retired']);
  t.ok((await f.store.listAudit({ limit: 100, action: 'oidc-key.rotate' })).length === 2);
  const sealed = JSON.stringify(await f.store.oidc.listProviderKeys());
  t.notMatch(sealed, /"d"\s*:/, 'private keys are sealed at rest');
});
