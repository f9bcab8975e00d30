/**
 * Issue 14, the e-card path (扫码登录) end to end in real Chromium: a department portal built with
 * `openid-client` runs the code + PKCE flow against the fleet server's OpenID Provider; on the
 * provider's login page the holder chooses the e-card method; the page's QR code is checked to
 * carry this login's lookup URL and the simulators' e-card app "scans" it, shows the portal and
 * confirms with an SM2 signature under the holder's registered key; the waiting page continues to
 * the consent screen (claims listed, assurance substantial) and back to the portal, whose ID token
 * — signature checked on the JWKS — has `acr` substantial, `amr` swk, a pairwise `sub` (another
 * portal gets another), and only the claims the portal is allowed. Refused, each with its sentence
 * on the page: a confirmation signed by an unknown key and one from an unregistered e-card (the
 * login goes on), an out-of-date confirmation and a hotlisted card (the login ends; "start again"
 * gives a new QR code), a replayed confirmation (refused; the used login's page says it was used).
 * axe-core on every provider page shown; screenshots. Run by .ci/suites/login.sh.
 */
import t, { type Test } from 'tap';
import { createPublicKey, verify as verifySignature, type JsonWebKey } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';
import * as oidc from 'openid-client';
import { createEcardLoginApp, type EcardPendingLogin } from '@onecard/simulators';
import { sm2GenerateKeyPair } from '@onecard/protocol/crypto';
import { ecardLoginQrText, loginQrSvg } from '@onecard/server/src/oidc/qr.ts';
import type { Store } from '@onecard/server/src/store/types.ts';
import { REPO, startFleetServer } from '../e2e/box.ts';

const ART = process.env['ONECARD_ARTEFACTS'] ?? join(REPO, 'artefacts/login');
mkdirSync(ART, { recursive: true });
const HOLDER = { cardNumber: 'E20260001', idNumber: '440106198808080028', name: '陈小梅' };
const PORTAL = '住房公积金网厅';
const OTHER_PORTAL = '人才服务网';

const dir = mkdtempSync(join(tmpdir(), 'onecard-ecard-login-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const server = await startFleetServer({ dir, oidc: true });
t.teardown(() => server.close());
const store = (server.app as unknown as { ctx: { store: Store } }).ctx.store;
const issuer = `${server.httpUrl}/oidc`;

// ── the holder's e-card, registered in the platform's e-card key registry ────────────────────
const app = createEcardLoginApp({ holderRef: 'e0c4a2d1' });
const reg = await server.call('POST', '/api/v1/ecard-holders', { holderRef: app.holderRef, publicKey: app.publicKey, ...HOLDER });
if (reg.status !== 201) throw new Error(`e-card holder: ${reg.status} ${JSON.stringify(reg.body)}`);

// ── two portals: openid-client relying parties on one loopback port ──────────────────────────
const portalServer: Server = createServer();
await new Promise<void>((r) => portalServer.listen(0, '127.0.0.1', () => r()));
const portalUrl = `http://127.0.0.1:${(portalServer.address() as { port: number }).port}`;
t.teardown(() => new Promise<void>((r) => { portalServer.closeAllConnections(); portalServer.close(() => r()); }));
async function register(name: string, path: string): Promise<oidc.Configuration> {
  const rp = await server.call('POST', '/api/v1/relying-parties', { name, redirectUris: [`${portalUrl}${path}`], allowedClaims: ['name'], methods: ['terminal', 'ecard'], minAcr: 'substantial' });
  if (rp.status !== 201) throw new Error(`relying party: ${rp.status} ${JSON.stringify(rp.body)}`);
  return oidc.discovery(new URL(issuer), (rp.body as { id: string }).id, (rp.body as { clientSecret: string }).clientSecret, undefined, { execute: [oidc.allowInsecureRequests] });
}
const portals = { '1': { config: await register(PORTAL, '/cb1'), cb: '/cb1' }, '2': { config: await register(OTHER_PORTAL, '/cb2'), cb: '/cb2' } } as const;
const pending = new Map<string, { verifier: string; nonce: string; portal: '1' | '2' }>();
const received: { portal: string; idToken: string; claims: Record<string, unknown> }[] = [];
portalServer.on('request', (req, res) => {
  void (async () => {
    const url = new URL(req.url ?? '/', portalUrl);
    const which = url.searchParams.get('p') === '2' ? '2' : '1';
    if (url.pathname === '/login') {
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      pending.set(state, { verifier, nonce, portal: which });
      const to = oidc.buildAuthorizationUrl(portals[which].config, {
        redirect_uri: `${portalUrl}${portals[which].cb}`, scope: 'openid name', state, nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      });
      res.writeHead(302, { location: to.href }).end();
      return;
    }
    if (url.pathname === '/cb1' || url.pathname === '/cb2') {
      const p = pending.get(url.searchParams.get('state') ?? '');
      try {
        if (p === undefined) throw new Error('unknown state');
        const tokens = await oidc.authorizationCodeGrant(portals[p.portal].config, url, { pkceCodeVerifier: p.verifier, expectedState: url.searchParams.get('state')!, expectedNonce: p.nonce });
        received.push({ portal: p.portal, idToken: tokens.id_token!, claims: tokens.claims() as Record<string, unknown> });
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><html lang="zh-CN"><title>portal</title><h1 id="welcome">已登录</h1>`);
      } catch (e) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`login failed: ${(e as Error).message}`);
      }
      return;
    }
    res.writeHead(404).end();
  })();
});

// ── the holder's browser ──────────────────────────────────────────────────────────────────────
const browser: Browser = await chromium.launch({
  executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
t.teardown(() => browser.close());
const pageErrors: string[] = [];
const holder = await (await browser.newContext({ viewport: { width: 1024, height: 900 }, locale: 'zh-CN' })).newPage();
holder.on('pageerror', (e) => pageErrors.push(e.message));
const audited: string[] = [];
async function shot(t: Test, name: string): Promise<void> {
  await holder.screenshot({ path: join(ART, `ecard-${name}.png`), fullPage: true });
  const r = await new AxeBuilder({ page: holder }).analyze();
  audited.push(name);
  t.same(r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `axe: no serious or critical violation on ${name}`);
}

/** The uid of the interaction the holder's page is on. */
const uidOf = (page: Page): string => new URL(page.url()).pathname.split('/interaction/')[1]!.split('/')[0]!;

/**
 * The holder's app scans the QR code the page shows: the SVG the browser loaded is checked to be
 * the rendering of this login's lookup URL (the rendering is deterministic), and that text is what
 * the app reads.
 */
async function scanQr(t: Test, page: Page): Promise<EcardPendingLogin> {
  const img = page.locator('img.qr');
  await img.waitFor();
  t.ok(await img.evaluate((el) => { const i = el as unknown as { complete: boolean; naturalWidth: number }; return i.complete && i.naturalWidth > 0; }), 'the QR image loaded under the page’s CSP');
  const svg = await page.evaluate(async (src) => (await fetch(src)).text(), (await img.getAttribute('src'))!);
  const login = await store.oidc.getLoginByUid(uidOf(page));
  if (login === undefined || login.status !== 'pending') throw new Error('no pending login behind the page');
  const text = ecardLoginQrText(server.httpUrl, login.code);
  t.equal(svg, await loginQrSvg(text), 'the QR code shown carries this login’s lookup URL');
  return app.scan(text);
}

async function openEcardLogin(t: Test, portal: '1' | '2' = '1'): Promise<void> {
  await holder.goto(`${portalUrl}/login?p=${portal}`);
  await holder.waitForURL('**/oidc/interaction/**');
  await holder.click('#method-ecard');
  await holder.waitForURL(/method=ecard/);
  t.equal(await holder.locator('#method-ecard').getAttribute('aria-current'), 'page', 'the e-card method is the chosen one');
  t.equal(await holder.locator('p.code').count(), 0, 'the e-card view shows the QR code, not the terminal code');
}

async function jwks(): Promise<(JsonWebKey & { kid: string })[]> {
  return ((await (await fetch(`${issuer}/jwks`)).json()) as { keys: (JsonWebKey & { kid: string })[] }).keys;
}

let firstSub = '';
let used: { pending: EcardPendingLogin; iat: number; url: string } | undefined;

t.test('e-card login: method chosen, QR scanned, consent, the portal gets an ID token with substantial assurance', async (t) => {
  await openEcardLogin(t);
  t.match(await holder.content(), PORTAL, 'the page names the portal');
  await shot(t, '01-login-page');
  const p = await scanQr(t, holder);
  t.equal(p.clientName, PORTAL, 'the app shows the portal that asks');
  t.same(p.claims, ['name'], 'and what it will get');

  // A confirmation signed by a key that is not the holder's registered one: refused, the page says so, the login goes on.
  const forged = await app.confirm(p, { privateKey: sm2GenerateKeyPair().privateKey });
  t.equal(forged.status, 401);
  t.equal(forged.body.error?.code, 'SRV_ERR_LOGIN_ASSERTION_SIGNATURE');
  await holder.waitForSelector('#status.error', { timeout: 20_000 });
  t.match(await holder.locator('#status').textContent(), /确认签名无法验证/, 'unknown key: explained on the waiting page');
  await shot(t, '02-unknown-key');
  // An e-card the registry does not know.
  const stranger = createEcardLoginApp({ holderRef: 'badc0de5' });
  t.equal((await stranger.confirm(p)).body.error?.code, 'SRV_ERR_LOGIN_ECARD_HOLDER');
  await holder.locator('#status', { hasText: '未登记' }).waitFor({ timeout: 20_000 });
  t.pass('unregistered e-card: explained on the waiting page');

  const iat = Math.floor(Date.now() / 1000);
  const ok = await app.confirm(p, { iat });
  t.equal(ok.status, 200, JSON.stringify(ok.body));
  t.equal(ok.body.acr, 'urn:onecard:loa:substantial');
  used = { pending: p, iat, url: holder.url() };

  await holder.waitForSelector('button[value="allow"]', { timeout: 20_000 });
  const consent = await holder.locator('main').innerText();
  t.match(consent, PORTAL);
  t.match(consent, /姓名/, 'consent lists the name');
  t.notMatch(consent, /公民身份号码/, 'and not the ID number, which this portal may not have');
  t.match(consent, /认证等级：较高（电子社保卡）/, 'and the assurance of the login');
  await shot(t, '03-consent');
  await holder.click('button[value="allow"]');
  await holder.waitForURL(`${portalUrl}/cb1**`);
  t.equal(await holder.locator('#welcome').textContent(), '已登录', 'the portal completed the code exchange');
  t.equal(received.length, 1);
  const { claims, idToken } = received[0]!;
  t.equal(claims['iss'], issuer);
  t.equal(claims['acr'], 'urn:onecard:loa:substantial', 'e-card is substantial');
  t.same(claims['amr'], ['swk']);
  t.equal(claims['name'], HOLDER.name);
  t.same(Object.keys(claims).filter((k) => !['iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'acr', 'amr', 'sub', 'sid', 'at_hash'].includes(k)), ['name'], 'no claim beyond the allowed ones (no id_number)');
  t.type(claims['sub'], 'string');
  t.not(claims['sub'], HOLDER.idNumber, 'pairwise subject, not the ID number');
  t.notMatch(String(claims['sub']), HOLDER.idNumber.slice(-8));
  firstSub = String(claims['sub']);
  const [h, pl, s] = idToken.split('.') as [string, string, string];
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg: string; kid: string };
  t.equal(header.alg, 'ES256');
  const jwk = (await jwks()).find((k) => k.kid === header.kid);
  t.ok(jwk, 'the signing key is published');
  t.ok(verifySignature('sha256', Buffer.from(`${h}.${pl}`), { key: createPublicKey({ key: jwk!, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url')), 'ID token signature verifies [RFC 7515; RFC 7518 §3.4]');
});

t.test('another portal in the same browser: single sign-on with consent, another pairwise subject', async (t) => {
  await holder.goto(`${portalUrl}/login?p=2`);
  await holder.waitForSelector('button[value="allow"]', { timeout: 20_000 });
  t.match(await holder.locator('main').innerText(), OTHER_PORTAL, 'consent for the second portal, no new e-card scan');
  await holder.click('button[value="allow"]');
  await holder.waitForURL(`${portalUrl}/cb2**`);
  const second = received.at(-1)!;
  t.equal(second.portal, '2');
  t.equal(second.claims['acr'], 'urn:onecard:loa:substantial');
  t.not(second.claims['sub'], firstSub, 'a different subject for each portal');
  t.equal(second.claims['name'], HOLDER.name);
});

t.test('replayed confirmation: refused; the used login’s page says it was used', async (t) => {
  const before = received.length;
  const again = await app.confirm(used!.pending, { iat: used!.iat });
  t.equal(again.status, 409);
  t.equal(again.body.error?.code, 'SRV_ERR_LOGIN_REPLAYED');
  const r = await holder.goto(used!.url);
  t.equal(r?.status(), 409);
  t.match(await holder.locator('[role="alert"]').textContent(), /该登录已完成，不能再次使用/);
  await shot(t, '04-replayed');
  t.equal(received.length, before, 'no new ID token');
});

t.test('out-of-date confirmation: the login ends, the page says why, "start again" gives a new QR code', async (t) => {
  await holder.context().clearCookies();
  await openEcardLogin(t);
  const p = await scanQr(t, holder);
  const stale = await app.confirm(p, { iat: Math.floor(Date.now() / 1000) - 600 });
  t.equal(stale.status, 410);
  t.equal(stale.body.error?.code, 'SRV_ERR_LOGIN_EXPIRED');
  await holder.waitForSelector('[role="alert"]', { timeout: 20_000 });
  t.match(await holder.locator('[role="alert"]').textContent(), /登录已超时/, 'expired: explained');
  await shot(t, '05-expired');
  await holder.getByRole('button', { name: '重新开始' }).click();
  await holder.waitForURL(/method=ecard/);
  const fresh = await scanQr(t, holder);
  t.not(fresh.login, p.login, 'a new login code behind the new QR code');
});

t.test('hotlisted card: the login ends with its reason on the page; the portal gets nothing', async (t) => {
  const before = received.length;
  t.equal((await server.call('POST', '/api/v1/hotlist/report', { cardNumbers: [HOLDER.cardNumber], reason: 'lost' })).status, 200);
  t.teardown(async () => { await server.call('POST', '/api/v1/hotlist/cancel', { cardNumbers: [HOLDER.cardNumber], reason: 'found' }); });
  await holder.context().clearCookies();
  await openEcardLogin(t);
  const hot = await app.confirm(await scanQr(t, holder));
  t.equal(hot.status, 403);
  t.equal(hot.body.error?.code, 'SRV_ERR_LOGIN_HOTLISTED');
  await holder.waitForSelector('[role="alert"]', { timeout: 20_000 });
  t.match(await holder.locator('[role="alert"]').textContent(), /该卡已挂失/, 'hotlisted: explained');
  await shot(t, '06-hotlisted');
  t.equal(received.length, before, 'no ID token');
});

t.test('every refusal audited; no page errors', async (t) => {
  const audit = await store.listAudit({ limit: 500, action: 'login.refused' });
  for (const code of ['SRV_ERR_LOGIN_ASSERTION_SIGNATURE', 'SRV_ERR_LOGIN_ECARD_HOLDER', 'SRV_ERR_LOGIN_REPLAYED', 'SRV_ERR_LOGIN_EXPIRED', 'SRV_ERR_LOGIN_HOTLISTED']) {
    t.ok(audit.some((a) => (a.details as { code: string; method: string }).code === code && (a.details as { method: string }).method === 'ecard'), `${code} audited`);
  }
  t.notMatch(JSON.stringify(audit), HOLDER.idNumber, 'no ID number in the audit');
  t.same(pageErrors, [], 'no page errors');
  t.ok(audited.length >= 6, `axe ran on ${audited.length} provider pages`);
});
