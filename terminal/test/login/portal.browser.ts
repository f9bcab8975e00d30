/**
 * Issue 14 end to end, in real Chromium: a department portal built with `openid-client` (a
 * relying party registered by an admin) runs the authorization code flow with PKCE against the
 * fleet server's OpenID Provider; the portal redirects the holder's browser to the provider's login
 * page, which shows an 8-digit code; at a real `onecard-terminal run --data-dir` process (enrolled,
 * its group allowed to authenticate) the holder chooses "登录服务" on the kiosk page, types the code,
 * checks the portal's name, inserts the card, mistypes the PIN once (tries left shown), enters it;
 * the waiting login page continues to consent and back to the portal, which receives an ID token
 * — its ES256 signature checked against the provider's JWKS — whose claims are the card's
 * (name, ID number), `acr` high, `amr` hwk+pin, and a pairwise `sub` that is not the ID number.
 * Also: an unknown code asks again; axe on every kiosk login screen (no serious/critical
 * finding); screenshots; no PIN and no full ID number in the terminal's or simulator's output.
 * Run by .ci/suites/login.sh.
 */
import t, { type Test } from 'tap';
import { createPublicKey, verify as verifySignature, type JsonWebKey } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';
import * as oidc from 'openid-client';
import { CARDS, REPO } from '../e2e/box.ts';
import { startScreensBox } from '../screens/harness.ts';

const ART = process.env['ONECARD_ARTEFACTS'] ?? join(REPO, 'artefacts/login');
mkdirSync(ART, { recursive: true });
const CARD = JSON.parse(readFileSync(join(CARDS, 'ssc-2.00.json'), 'utf8')) as Record<string, string>;
const PIN = CARD['pin']!;
const WRONG = '905172';
const PORTAL = '社保网上服务大厅';
const OTHER = JSON.parse(readFileSync(join(CARDS, 'ssc-3.00-long-name.json'), 'utf8')) as Record<string, string>;

const box = await startScreensBox({ oidc: true });
t.teardown(() => box.close());
const issuer = `${box.server.httpUrl}/oidc`;

// ── the portal: an openid-client relying party on a loopback port ───────────────────────────
const allowed = await box.server.call('PUT', '/api/v1/login-groups/hall', { allowed: true });
if (allowed.status !== 200) throw new Error(`login group: ${allowed.status} ${JSON.stringify(allowed.body)}`);
const portalServer: Server = createServer();
await new Promise<void>((r) => portalServer.listen(0, '127.0.0.1', () => r()));
const portalUrl = `http://127.0.0.1:${(portalServer.address() as { port: number }).port}`;
t.teardown(() => new Promise<void>((r) => { portalServer.closeAllConnections(); portalServer.close(() => r()); }));
const rp = await box.server.call('POST', '/api/v1/relying-parties', {
  name: PORTAL, redirectUris: [`${portalUrl}/callback`], allowedClaims: ['name', 'id_number'], methods: ['terminal'], minAcr: 'high',
});
if (rp.status !== 201) throw new Error(`relying party: ${rp.status} ${JSON.stringify(rp.body)}`);
const config = await oidc.discovery(new URL(issuer), (rp.body as { id: string }).id, (rp.body as { clientSecret: string }).clientSecret, undefined, { execute: [oidc.allowInsecureRequests] });
const pending = new Map<string, { verifier: string; nonce: string }>();
const received: { idToken: string; claims: Record<string, unknown> }[] = [];
portalServer.on('request', (req, res) => {
  void (async () => {
    const url = new URL(req.url ?? '/', portalUrl);
    if (url.pathname === '/login') {
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      pending.set(state, { verifier, nonce });
      const to = oidc.buildAuthorizationUrl(config, {
        redirect_uri: `${portalUrl}/callback`, scope: 'openid name id_number', state, nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      });
      res.writeHead(302, { location: to.href }).end();
      return;
    }
    if (url.pathname === '/callback') {
      const p = pending.get(url.searchParams.get('state') ?? '');
      try {
        if (p === undefined) throw new Error('unknown state');
        const tokens = await oidc.authorizationCodeGrant(config, url, { pkceCodeVerifier: p.verifier, expectedState: url.searchParams.get('state')!, expectedNonce: p.nonce });
        const claims = tokens.claims() as Record<string, unknown>;
        received.push({ idToken: tokens.id_token!, claims });
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html><html lang="zh-CN"><title>portal</title><h1 id="welcome">已登录</h1>`);
      } catch (e) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`login failed: ${(e as Error).message}`);
      }
      return;
    }
    res.writeHead(404).end();
  })();
});

// ── browsers ───────────────────────────────────────────────────────────────────────────────
const browser: Browser = await chromium.launch({
  executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
t.teardown(() => browser.close());
const pageErrors: string[] = [];
async function newPage(name: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
  return page;
}
async function waitScreen(page: Page, name: string): Promise<void> {
  await page.waitForSelector(`#screen[data-screen="${name}"]`, { timeout: 20_000 }).catch((e: unknown) => {
    throw new Error(`kiosk screen ${name} not shown (page errors: ${pageErrors.join(' | ') || 'none'})`, { cause: e });
  });
}
const audits: string[] = [];
async function screen(t: Test, page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ART, `${name}.png`), fullPage: true });
  const r = await new AxeBuilder({ page }).analyze();
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  audits.push(name);
  t.same(bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `axe: no serious or critical violation on ${name}`);
}
async function typeOn(page: Page, kind: 'code' | 'pin', digits: string): Promise<void> {
  for (const d of digits) await page.click(`#screen [data-${kind}-digit="${d}"]`);
  await page.click(`#${kind}-ok`);
}

let kiosk = await newPage('kiosk');
await kiosk.goto(await box.launchUrl('kiosk'));
await kiosk.waitForURL('**/kiosk/');

t.test('portal login with card + PIN at the kiosk: the portal gets a valid ID token whose claims are the card’s', async (t) => {
  const holder = await newPage('holder');
  await holder.goto(`${portalUrl}/login`);
  await holder.waitForURL('**/oidc/interaction/**');
  const shown = (await holder.locator('p.code').textContent())?.trim() ?? '';
  t.match(shown, /^\d{4} \d{4}$/, 'the login page shows an 8-digit code');
  t.match(await holder.content(), PORTAL, 'and the portal’s name');
  await holder.screenshot({ path: join(ART, 'portal-01-login-page.png'), fullPage: true });

  await waitScreen(kiosk, 'welcome');
  await kiosk.getByRole('button', { name: '登录服务' }).click();
  await waitScreen(kiosk, 'loginCode');
  await screen(t, kiosk, 'login-01-code');
  // An unknown code: the kiosk asks again, in words.
  await typeOn(kiosk, 'code', '00000000');
  await kiosk.waitForSelector('#screen .problem');
  t.match(await kiosk.locator('#screen .problem').textContent(), /登录码无效或已过期/, 'unknown code explained');
  await screen(t, kiosk, 'login-02-code-unknown');
  await typeOn(kiosk, 'code', shown.replace(' ', ''));
  await waitScreen(kiosk, 'loginPortal');
  t.equal(await kiosk.locator('#login-portal').textContent(), PORTAL, 'the kiosk names the portal that asks');
  await screen(t, kiosk, 'login-03-portal');
  await kiosk.click('#login-go');
  await waitScreen(kiosk, 'loginInsert');
  await screen(t, kiosk, 'login-04-insert');
  await box.insert('ssc-2.00.json');
  await waitScreen(kiosk, 'loginPin');
  t.match(await kiosk.locator('#login-tries').textContent(), /3/, 'tries left before the first digit');
  await screen(t, kiosk, 'login-05-pin');
  await typeOn(kiosk, 'pin', WRONG);
  await kiosk.waitForSelector('#screen .problem');
  t.match(await kiosk.locator('#screen .problem').textContent(), /还可以尝试 2 次/, 'wrong PIN: tries left');
  t.notMatch(await kiosk.locator('#login-pin-dots').innerText(), /\d/, 'no digit shown');
  await screen(t, kiosk, 'login-06-pin-wrong');
  await typeOn(kiosk, 'pin', PIN);
  await waitScreen(kiosk, 'loginDone');
  t.match(await kiosk.locator('h1').textContent(), /登录成功/);
  t.notMatch(await kiosk.content(), CARD['ssn']!, 'the kiosk never shows the ID number');
  await screen(t, kiosk, 'login-07-done');

  // The waiting login page continues by itself: consent, then back to the portal.
  await holder.waitForSelector('button[value="allow"]', { timeout: 20_000 });
  await holder.screenshot({ path: join(ART, 'portal-02-consent.png'), fullPage: true });
  await holder.click('button[value="allow"]');
  await holder.waitForURL(`${portalUrl}/callback**`);
  t.equal(await holder.locator('#welcome').textContent(), '已登录', 'the portal completed the code exchange');
  t.equal(received.length, 1, 'one ID token');
  const { claims, idToken } = received[0]!;
  t.equal(claims['iss'], issuer);
  t.equal(claims['name'], CARD['name'], 'name is the card holder’s');
  t.equal(claims['id_number'], CARD['ssn'], 'ID number is the card’s');
  t.equal(claims['acr'], 'urn:onecard:loa:high', 'card + PIN at a terminal is high');
  t.same([...(claims['amr'] as string[])].sort(), ['hwk', 'pin']);
  t.type(claims['sub'], 'string');
  t.not(claims['sub'], CARD['ssn'], 'pairwise subject, not the ID number');
  t.notMatch(String(claims['sub']), CARD['ssn']!);

  // The ID token's signature, checked against the provider's published keys [RFC 7515; RFC 7518 §3.4].
  const [h, p, s] = idToken.split('.') as [string, string, string];
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg: string; kid: string };
  t.equal(header.alg, 'ES256');
  const jwks = (await (await fetch(`${issuer}/jwks`)).json()) as { keys: (JsonWebKey & { kid: string })[] };
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  t.ok(jwk, 'the signing key is published');
  t.ok(verifySignature('sha256', Buffer.from(`${h}.${p}`), { key: createPublicKey({ key: jwk!, format: 'jwk' }), dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url')), 'ID token signature verifies');

  await kiosk.getByRole('button', { name: '完成' }).click();
  await waitScreen(kiosk, 'takeCard');
  await box.remove();
  await waitScreen(kiosk, 'welcome');
});

t.test('the same login code cannot be used twice (the login is done)', async (t) => {
  const holder = await newPage('holder-2');
  await holder.goto(`${portalUrl}/login`);
  await holder.waitForURL('**/oidc/interaction/**');
  const code = ((await holder.locator('p.code').textContent()) ?? '').replace(/\s/g, '');
  const H = { 'x-onecard-token': box.token, 'content-type': 'application/json' };
  await box.insert('ssc-2.00.json');
  const first = await fetch(`${box.apiUrl}/v1/login/approve`, { method: 'POST', headers: H, body: JSON.stringify({ code, pin: PIN }) });
  t.equal(first.status, 200, 'approved through the local API with the token (HIS / desk integrations)');
  const again = await fetch(`${box.apiUrl}/v1/login/approve`, { method: 'POST', headers: H, body: JSON.stringify({ code, pin: PIN }) });
  t.equal(again.status, 404);
  t.equal(((await again.json()) as { error: { code: string } }).error.code, 'TERM_ERR_LOGIN_UNKNOWN', 'a used code');
  await box.remove();
});

t.test('hotlisted card (reported lost on the server): refused at the kiosk, the portal gets nothing', async (t) => {
  const listed = await box.server.call('POST', '/api/v1/hotlist/report', { cardNumbers: [CARD['cardNumber']], reason: 'lost' });
  t.equal(listed.status, 200, 'card reported lost on the server');
  const holder = await newPage('holder-3');
  await holder.goto(`${portalUrl}/login`);
  await holder.waitForURL('**/oidc/interaction/**');
  const code = ((await holder.locator('p.code').textContent()) ?? '').replace(/\s/g, '');
  const before = received.length;
  await waitScreen(kiosk, 'welcome');
  await kiosk.getByRole('button', { name: '登录服务' }).click();
  await waitScreen(kiosk, 'loginCode');
  await typeOn(kiosk, 'code', code);
  await waitScreen(kiosk, 'loginPortal');
  await kiosk.click('#login-go');
  await box.insert('ssc-2.00.json');
  // Once the hotlist delta has reached the terminal the card is refused before a PIN is asked
  // for; if it has not yet, the server's own hotlist refuses the assertion.
  await kiosk.waitForSelector('#screen[data-screen="failure"], #screen[data-screen="loginPin"]', { timeout: 20_000 });
  if ((await kiosk.locator('#screen').getAttribute('data-screen')) === 'loginPin') await typeOn(kiosk, 'pin', PIN);
  await waitScreen(kiosk, 'failure');
  t.match(await kiosk.locator('#screen').textContent(), /已挂失/, 'hotlisted, in words');
  await screen(t, kiosk, 'login-08-hotlisted');
  t.equal(received.length, before, 'no ID token');
  await box.remove();
});

t.test('with a PIN pad on the box: the login PIN is typed on the pad, the page shows counts only', async (t) => {
  const padPath = await box.startPinPad();
  await box.restartTerminal({ pinpad: { link: 'serial', path: padPath } });
  await waitScreen(kiosk, 'outOfServiceScreen');
  await kiosk.context().close();
  kiosk = await newPage('kiosk-pad');
  await kiosk.goto(await box.launchUrl('kiosk'));
  await kiosk.waitForURL('**/kiosk/');
  await waitScreen(kiosk, 'welcome');
  const holder = await newPage('holder-4');
  await holder.goto(`${portalUrl}/login`);
  await holder.waitForURL('**/oidc/interaction/**');
  const code = ((await holder.locator('p.code').textContent()) ?? '').replace(/\s/g, '');
  const before = received.length;
  const prompts = (await box.padStatus()).prompts;
  await kiosk.getByRole('button', { name: '登录服务' }).click();
  await waitScreen(kiosk, 'loginCode');
  await typeOn(kiosk, 'code', code);
  await waitScreen(kiosk, 'loginPortal');
  await kiosk.click('#login-go');
  await box.insert('ssc-3.00-long-name.json');
  await waitScreen(kiosk, 'loginPad');
  t.equal(await kiosk.locator('[data-pin-digit]').count(), 0, 'no on-screen keypad');
  t.match(await kiosk.locator('h1').textContent(), /密码键盘/, 'asks for the PIN on the pad');
  for (let i = 0; i < 100 && !(await box.padStatus()).prompting; i++) await new Promise((r) => setTimeout(r, 100));
  t.equal((await box.padStatus()).prompts, prompts + 1, 'the pad prompts once');
  await box.press('1234');
  await kiosk.waitForSelector('#login-pin-count:has-text("已输入 4 位")');
  t.notMatch(await kiosk.locator('#login-pin-dots').innerText(), /\d/, 'no digit on the page');
  await screen(t, kiosk, 'login-09-pinpad');
  await box.press(`BBBB${OTHER['pin']!}E`);
  await waitScreen(kiosk, 'loginDone');
  t.notMatch(await kiosk.content(), OTHER['pin']!, 'the PIN never reached the page');
  await holder.waitForSelector('button[value="allow"]', { timeout: 20_000 });
  await holder.click('button[value="allow"]');
  await holder.waitForURL(`${portalUrl}/callback**`);
  t.equal(received.length, before + 1, 'the portal got an ID token');
  t.equal(received.at(-1)?.claims['id_number'], OTHER['ssn'], 'for the holder of the card in the reader');
  await kiosk.getByRole('button', { name: '完成' }).click();
  await box.remove();
});

t.test('no PIN and no full ID number in the terminal’s or the simulator’s output', async (t) => {
  const logs = box.logs();
  t.ok(logs.length > 1000, 'there is output to scan');
  t.notMatch(logs, PIN, 'no PIN');
  t.notMatch(logs, WRONG, 'no wrong PIN');
  t.notMatch(logs, CARD['ssn']!, 'no full ID number');
  t.notMatch(logs, OTHER['ssn']!, 'no full ID number of the second holder');
  t.notMatch(logs, `PIN ${OTHER['pin']!}`, 'the pad’s PIN line is not logged');
  t.same(pageErrors, [], 'no page errors');
  t.ok(audits.length >= 9, `axe ran on ${audits.length} kiosk login screens`);
});
