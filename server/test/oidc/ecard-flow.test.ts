/**
 * 扫码登录: the simulators' e-card app scans the login page's QR code, confirms with an SM2
 * signature under the holder's key, the server checks it against its e-card key registry, and the
 * `openid-client` portal receives an ID token with `acr` substantial. Refusals: unknown and revoked
 * holder, wrong key, another login's nonce, stale `iat`, replay, hotlisted card, a portal that
 * needs `high`.
 */
import t from 'tap';
import * as client from 'openid-client';
import { createEcardLoginApp } from '@onecard/simulators';
import { sm2GenerateKeyPair } from '@onecard/protocol/crypto';
import { ecardLoginMessage } from '../../src/oidc/logins.ts';
import { finishInBrowser, registerPortal, startFixture, startLogin } from './fixture.ts';

const HOLDER = { cardNumber: 'C11223344', idNumber: '44030619851212002X', name: '王五' };

t.test('e-card login end to end, and every refusal', async (t) => {
  const f = await startFixture();
  t.teardown(() => f.close());
  const portal = await registerPortal(f);
  const app = createEcardLoginApp({ holderRef: 'a1b2c3d4' });
  const reg = await f.admin('POST', '/api/v1/ecard-holders', { holderRef: app.holderRef, publicKey: app.publicKey, ...HOLDER });
  t.equal(reg.statusCode, 201);
  t.equal(reg.json().card, '*****3344', 'the registry answers masked');
  t.notMatch(JSON.stringify((await f.admin('GET', '/api/v1/ecard-holders')).json()), new RegExp(`${HOLDER.idNumber}|${HOLDER.name}`), 'no ID number or name in the listing');
  t.notMatch(JSON.stringify(await f.store.oidc.listEcardHolders()), new RegExp(`${HOLDER.idNumber}|${HOLDER.name}`), 'identity sealed at rest');

  t.equal(ecardLoginMessage('12345678', 'n', 'AB', 1), 'OCLOGIN1|12345678|n|ab|1');

  const s = await startLogin(f, portal);
  const qrText = `${f.base}/api/v1/ecard/logins/${s.code}`;
  const pending = await app.scan(qrText);
  t.equal(pending.clientName, '社保业务网厅');
  t.same(pending.claims, ['name', 'id_number']);

  // Refusals that do not end the login: wrong key, another nonce, unknown holder.
  const wrongKey = await app.confirm(pending, { privateKey: sm2GenerateKeyPair().privateKey });
  t.equal(wrongKey.status, 401);
  t.equal(wrongKey.body.error?.code, 'SRV_ERR_LOGIN_ASSERTION_SIGNATURE');
  // The waiting page says so, and keeps waiting [docs/login.md §6.3].
  const noticed = await (await s.browser.get(`${f.base}/oidc/interaction/${s.uid}/status?lang=en`)).json() as { status: string; notice?: string; message?: string };
  t.equal(noticed.status, 'pending', 'a confirmation under another key does not end the login');
  t.equal(noticed.notice, 'SRV_ERR_LOGIN_ASSERTION_SIGNATURE');
  t.match(noticed.message, /not from a registered e-card key/, 'the page gets the sentence to show');
  t.ok((await f.store.listAudit({ limit: 50, action: 'login.refused' })).some((a) => a.target === s.code && (a.details as { code: string }).code === 'SRV_ERR_LOGIN_ASSERTION_SIGNATURE'), 'audited against the login it named');
  // The page narrowed to the e-card method: QR code, no login code; to the terminal: the code, no QR.
  const ecardPage = await (await s.browser.get(`${f.base}/oidc/interaction/${s.uid}?method=ecard`)).text();
  t.match(ecardPage, /qr\.svg/);
  t.notMatch(ecardPage, /<p class="code"/);
  t.match(ecardPage, /aria-current="page"[^>]*>电子社保卡扫码/);
  t.match(ecardPage, /data-again-url="[^"]*method=ecard"/, 'a refusal comes back to the chosen method');
  const terminalPage = await (await s.browser.get(`${f.base}/oidc/interaction/${s.uid}?method=terminal`)).text();
  t.notMatch(terminalPage, /qr\.svg/);
  t.match(terminalPage, new RegExp(`<p class="code"[^>]*>${s.code.slice(0, 4)} ${s.code.slice(4)}</p>`), 'the same pending login');
  const otherNonce = await app.confirm(pending, { nonce: 'A'.repeat(43) });
  t.equal(otherNonce.body.error?.code, 'SRV_ERR_LOGIN_NONCE');
  const stranger = createEcardLoginApp({ holderRef: 'ffff' });
  t.equal((await stranger.confirm(pending)).body.error?.code, 'SRV_ERR_LOGIN_ECARD_HOLDER');

  const ok = await app.confirm(pending);
  t.equal(ok.status, 200, JSON.stringify(ok.body));
  t.equal(ok.body.acr, 'urn:onecard:loa:substantial');
  t.equal((await app.confirm(pending)).body.error?.code, 'SRV_ERR_LOGIN_REPLAYED', 'a confirmation completes its login once');

  const { callback } = await finishInBrowser(f, s);
  const tokens = await client.authorizationCodeGrant(portal.config, new URL(callback), { pkceCodeVerifier: s.verifier, expectedState: s.state });
  const claims = tokens.claims()!;
  t.equal(claims.acr, 'urn:onecard:loa:substantial');
  t.same(claims.amr, ['swk']);
  t.equal(claims.name, HOLDER.name);
  t.equal(claims.id_number, HOLDER.idNumber);
  t.not(claims.sub, HOLDER.idNumber);
  const reopened = await s.browser.get(`${f.base}/oidc/interaction/${s.uid}?lang=en`);
  t.equal(reopened.status, 409, 'the completed login’s page opened again');
  t.match(await reopened.text(), /already completed/);

  // Stale iat: the login ends with the reason.
  const s2 = await startLogin(f, portal);
  const p2 = await app.scan(`${f.base}/api/v1/ecard/logins/${s2.code}`);
  const stale = await app.confirm(p2, { iat: f.nowS() - 600 });
  t.equal(stale.status, 410);
  t.equal(stale.body.error?.code, 'SRV_ERR_LOGIN_EXPIRED');
  t.equal((await f.store.oidc.getLogin(s2.code))!.status, 'refused');

  // Hotlisted card.
  await f.admin('POST', '/api/v1/hotlist/report', { cardNumbers: [HOLDER.cardNumber], reason: 'lost' });
  const s3 = await startLogin(f, portal);
  const hot = await app.confirm(await app.scan(`${f.base}/api/v1/ecard/logins/${s3.code}`));
  t.equal(hot.body.error?.code, 'SRV_ERR_LOGIN_HOTLISTED');
  const page = await (await s3.browser.get(`${f.base}/oidc/interaction/${s3.uid}?lang=en`)).text();
  t.match(page, /reported lost/);
  await f.admin('POST', '/api/v1/hotlist/cancel', { cardNumbers: [HOLDER.cardNumber], reason: 'found' });

  // Revoked holder.
  t.equal((await f.admin('DELETE', `/api/v1/ecard-holders/${app.holderRef}`)).statusCode, 204);
  const s4 = await startLogin(f, portal);
  t.equal((await app.confirm(await app.scan(`${f.base}/api/v1/ecard/logins/${s4.code}`))).body.error?.code, 'SRV_ERR_LOGIN_ECARD_HOLDER');

  // A portal that needs `high` takes no e-card logins, and its page shows no QR code.
  const high = await registerPortal(f, { name: '不动产登记', minAcr: 'high' });
  // The browser still has its e-card (substantial) session: a portal that needs high asks for a card login again.
  const s5 = await startLogin(f, high, 'openid name', s.browser);
  t.match(s5.page, /登录码/, 'step-up: an SSO session of lower assurance does not log in to a portal needing high');
  t.notMatch(s5.page, /qr\.svg/);
  await t.rejects(app.scan(`${f.base}/api/v1/ecard/logins/${s5.code}`), { code: 'SIM_ERR_ECARD_LOGIN' });
  await t.rejects(app.scan('OC1:ABCDEF'), { code: 'SIM_ERR_ECARD_LOGIN' });

  const audit = await f.store.listAudit({ limit: 500 });
  t.ok(audit.some((a) => a.action === 'login.accepted' && (a.details as { method: string }).method === 'ecard'));
  for (const code of ['SRV_ERR_LOGIN_ASSERTION_SIGNATURE', 'SRV_ERR_LOGIN_NONCE', 'SRV_ERR_LOGIN_ECARD_HOLDER', 'SRV_ERR_LOGIN_REPLAYED', 'SRV_ERR_LOGIN_EXPIRED', 'SRV_ERR_LOGIN_HOTLISTED']) {
    t.ok(audit.some((a) => a.action === 'login.refused' && (a.details as { code: string }).code === code), `${code} audited`);
  }
});
