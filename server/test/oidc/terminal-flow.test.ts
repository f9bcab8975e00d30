/**
 * The full authorization-code + PKCE flow of an `openid-client` v6 portal against the provider over
 * real HTTP on 127.0.0.1, completed by a terminal's ES256 login assertion (terminal enrolled
 * through the enrolment API): the ID token's claims match the card, `sub` is pairwise (never the ID
 * number), `acr` high and `amr` hwk+pin; SSO for a second portal; RP-initiated logout; audit.
 */
import t from 'tap';
import * as client from 'openid-client';
import { assertionPayload, CARD, finishInBrowser, enrolTerminal, postAssertion, registerPortal, signAssertion, startFixture, startLogin, terminalLookup } from './fixture.ts';

t.test('terminal login: code + PKCE end to end, claims match the card, pairwise sub, acr high; SSO; logout', async (t) => {
  const f = await startFixture();
  t.teardown(() => f.close());
  const term = await enrolTerminal(f, 'hall');
  const portal = await registerPortal(f);
  const s = await startLogin(f, portal);
  t.match(s.page, /社保业务网厅/, 'the login page names the portal');
  t.match(s.page, /<img class="qr" src="[^"]+\/qr\.svg"/, 'the login page shows the QR code');
  t.notMatch(s.page, /<script>|style="/, 'no inline script or style');
  const qr = await s.browser.get(`${f.base}/oidc/interaction/${s.uid}/qr.svg`);
  t.equal(qr.headers.get('content-type'), 'image/svg+xml');
  t.match(await qr.text(), /<svg/);

  const look = await terminalLookup(f, term, s.code);
  t.equal(look.status, 200);
  t.equal(look.body.clientName, '社保业务网厅');
  t.ok(look.body.expires > f.nowS());
  const jws = signAssertion(term.key, term.id, assertionPayload(f, s.code, look.body.nonce));
  const ok = await postAssertion(f, jws, term.basic);
  t.equal(ok.status, 200, JSON.stringify(ok.body));
  t.same(ok.body, { status: 'accepted', login: s.code, clientName: '社保业务网厅', acr: 'urn:onecard:loa:high' });

  const { callback, consentPage } = await finishInBrowser(f, s);
  t.match(consentPage, /姓名/, 'consent lists the name');
  t.match(consentPage, /公民身份号码/, 'consent lists the ID number');
  t.ok(callback.startsWith(portal.redirectUri), callback);
  const tokens = await client.authorizationCodeGrant(portal.config, new URL(callback), { pkceCodeVerifier: s.verifier, expectedState: s.state });
  const claims = tokens.claims()!;
  t.equal(claims.name, CARD.name);
  t.equal(claims.id_number, CARD.idNumber);
  t.equal(claims.acr, 'urn:onecard:loa:high');
  t.same(claims.amr, ['hwk', 'pin']);
  t.not(claims.sub, CARD.idNumber, 'sub is never the ID number');
  t.notMatch(String(claims.sub), new RegExp(CARD.idNumber));
  const info = await client.fetchUserInfo(portal.config, tokens.access_token, claims.sub);
  t.equal(info.name, CARD.name);

  // Replay of the very same assertion: refused, the login completed once.
  const again = await postAssertion(f, jws);
  t.equal(again.status, 409);
  t.equal(again.body.error.code, 'SRV_ERR_LOGIN_REPLAYED');

  // Single sign-on: a second portal in the same browser needs no card, only consent; its sub differs.
  const portal2 = await registerPortal(f, { name: '公积金', allowedClaims: ['name'] });
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(portal2.config, { redirect_uri: portal2.redirectUri, scope: 'openid name', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state });
  const landed = await s.browser.follow(url.href, f.base);
  const consent2 = await landed.res!.text();
  t.match(consent2, /授权/, 'SSO goes straight to consent');
  const action = /<form method="post" action="([^"]+)"/.exec(consent2)![1]!.replace(/&amp;/g, '&');
  const posted = await s.browser.post(new URL(action, f.base).href, { decision: 'allow' });
  const back = await s.browser.follow(new URL(posted.headers.get('location')!, f.base).href, f.base);
  const tokens2 = await client.authorizationCodeGrant(portal2.config, new URL(back.url), { pkceCodeVerifier: verifier, expectedState: state });
  const claims2 = tokens2.claims()!;
  t.equal(claims2.name, CARD.name);
  t.equal(claims2.id_number, undefined, 'a portal not allowed the ID number never gets it');
  t.not(claims2.sub, claims.sub, 'pairwise: another portal, another sub');

  // RP-initiated logout ends the SSO session.
  const end = client.buildEndSessionUrl(portal.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'http://127.0.0.1:1/bye' });
  const confirm = await s.browser.get(end.href);
  const confirmPage = await confirm.text();
  t.match(confirmPage, /退出登录/);
  const form = /<form[^>]*action="([^"]+)"[^>]*>[\s\S]*?name="xsrf" value="([^"]+)"/.exec(confirmPage)!;
  const out = await s.browser.post(new URL(form[1]!, f.base).href, { xsrf: form[2]!, logout: 'yes' });
  t.ok([302, 303].includes(out.status));
  const after = await s.browser.follow(new URL(out.headers.get('location')!, f.base).href, f.base);
  t.ok(after.url.startsWith('http://127.0.0.1:1/bye'), `back at the portal's post-logout URI: ${after.url}`);
  const s3 = await startLogin(f, portal, 'openid name', s.browser);
  t.match(s3.page, /登录码/, 'after logout the portal needs a new card login');

  const audit = (await f.store.listAudit({ limit: 200 })).map((a) => a);
  const accepted = audit.find((a) => a.action === 'login.accepted')!;
  t.equal(accepted.actor, `terminal:${term.id}`);
  t.equal(accepted.target, portal.id);
  t.equal((accepted.details as { card: string }).card, '*****5678', 'card number masked');
  t.ok(audit.some((a) => a.action === 'login.claims-release' && a.target === portal.id && (a.details as { claims: string[] }).claims.includes('id_number')), 'claim release audited');
  t.ok(audit.some((a) => a.action === 'login.claims-release' && a.target === portal2.id && !(a.details as { claims: string[] }).claims.includes('id_number')));
  t.ok(audit.some((a) => a.action === 'login.refused' && (a.details as { code: string }).code === 'SRV_ERR_LOGIN_REPLAYED'));
  t.notMatch(JSON.stringify(audit), new RegExp(`${CARD.idNumber}|${CARD.name}`), 'no ID number or name in the audit log');
});
