/**
 * Browser check of the card-login pages in Chromium (run by hand or from a browser suite:
 * `npx tsx test/oidc/pages.browser.ts`): the dashboard's Portals page registers a portal and
 * shows its secret once; the provider's login page renders under its CSP without console errors,
 * shows the code and the QR image, switches to English, and continues by itself to the consent
 * screen once a terminal assertion is accepted.
 */
import { chromium, type Page } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';
import * as client from 'openid-client';
import { assertionPayload, enrolTerminal, postAssertion, signAssertion, startFixture, terminalLookup } from './fixture.ts';

const f = await startFixture();
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
const problems: string[] = [];
const fail = (m: string): never => { throw new Error(m); };
/** axe-core on the page: no serious or critical violation. */
async function axe(page: Page, name: string): Promise<void> {
  const r = await new AxeBuilder({ page }).analyze();
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length > 0) fail(`axe on ${name}: ${bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`).join('; ')}`);
}
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  await page.goto(`${f.base}/`);
  await page.getByLabel('Admin token').fill(f.adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('#tile-total', { timeout: 15_000 });
  await page.getByRole('link', { name: 'Portals' }).click();
  await page.getByRole('textbox', { name: 'Name' }).fill('浏览器测试门户');
  await page.getByLabel('Redirect URIs', { exact: true }).fill('http://127.0.0.1:1/cb');
  await page.getByRole('checkbox', { name: 'Name' }).check();
  await page.getByLabel(/Card \+ PIN at a terminal/).check();
  await page.getByLabel(/E-card app/).check();
  await page.getByRole('button', { name: 'Register portal' }).click();
  const secret = await page.locator('#portal-secret-value').textContent({ timeout: 10_000 });
  if (secret === null || secret.length < 20) fail('no secret shown');
  await page.getByRole('cell', { name: '浏览器测试门户', exact: true }).waitFor({ timeout: 10_000 });
  const rp = (await f.admin('GET', '/api/v1/relying-parties')).json().relyingParties[0];

  const term = await enrolTerminal(f, 'hall');
  const config = await client.discovery(new URL(f.issuer), rp.id, secret!, undefined, { execute: [client.allowInsecureRequests] });
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(config, { redirect_uri: 'http://127.0.0.1:1/cb', scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 's' });
  const p2 = await (await browser.newContext()).newPage();
  p2.on('console', (m) => { if (m.type() === 'error') problems.push(`login page: ${m.text()} ${m.location().url}`); });
  await p2.goto(url.href);
  const code = (await p2.locator('p.code').textContent())!.replace(/\s/g, '');
  if (!/^\d{8}$/.test(code)) fail(`no code: ${code}`);
  const qrOk = await p2.locator('img.qr').evaluate((img) => (img as unknown as { complete: boolean; naturalWidth: number }).complete && (img as unknown as { naturalWidth: number }).naturalWidth > 0);
  if (!qrOk) fail('QR image not loaded');
  if ((await p2.getAttribute('html', 'lang')) !== 'zh-CN') fail('not Chinese by default');
  await axe(p2, 'the login page (zh)');
  await p2.getByRole('link', { name: 'English' }).click();
  await p2.getByText('Login code').waitFor();
  await axe(p2, 'the login page (en)');
  const code2 = (await p2.locator('p.code').textContent())!.replace(/\s/g, '');
  if (code2 !== code) fail('switching language changed the code');
  const look = await terminalLookup(f, term, code);
  const ok = await postAssertion(f, signAssertion(term.key, term.id, assertionPayload(f, code, look.body.nonce)));
  if (ok.status !== 200) fail(`assertion ${ok.status}`);
  await p2.getByRole('button', { name: 'Allow' }).waitFor({ timeout: 15_000 });
  await axe(p2, 'the consent page (en)');
  if (problems.length > 0) fail(`console errors: ${problems.join(' | ')}`);
  console.log('card-login pages: 1 passed, 0 failed');
} finally {
  await browser.close();
  await f.close();
}
