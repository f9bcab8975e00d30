/**
 * Browser test of the fleet dashboard (run by `.ci/suites/browser.sh`, not by `npm test`: it needs
 * Debian's chromium). A real server runs in-process on free ports (HTTP API with the dashboard
 * plugin, embedded MQTT broker) with enrolled terminals that this test drives with the `mqtt`
 * client. Chromium, driven by playwright-core, signs in, watches terminals come online and go
 * offline live, sees masked events, reports a card lost and sees the hotlist version change (and
 * the terminals receive the new pointer), starts a software rollout of a signed package from the
 * Rollouts page, sees its phases and progress, aborts it with a reason and sees it aborted (issue 7),
 * checks that a viewer cannot report, that pages for missing server features degrade, and that no
 * page logs a console error. Screenshots go to $ONECARD_ARTEFACTS (default /tmp/onecard-dashboard).
 */
import t from 'tap';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildApp, bootstrapAdminToken } from '../../src/app.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import dashboardPlugin from '../../src/dashboard/plugin.ts';
import { buildPackage, generateSigningKey, loadSigningKey, signPackage } from '../../src/updates/package-io.ts';

// Browser globals used inside page callbacks (this file is compiled without the DOM library).
declare const document: { querySelector(s: string): { textContent: string | null; getAttribute(n: string): string | null } | null; querySelectorAll(s: string): { readonly length: number }; activeElement: { textContent: string | null; getAttribute(n: string): string | null } | null };
declare const sessionStorage: { getItem(k: string): string | null; readonly length: number };

const ADMIN = 'browser-e2e-admin-token-0123456789abcdef';
const ARTEFACTS = process.env.ONECARD_ARTEFACTS ?? '/tmp/onecard-dashboard';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const WAIT = 20_000;

interface Terminal { id: string; password: string; client?: MqttClient; epoch: number; seq: number }

const dir = mkdtempSync(join(tmpdir(), 'onecard-browser-'));
mkdirSync(ARTEFACTS, { recursive: true });
const store = openSqliteStore(join(dir, 'onecard.db'));
// A signed software package (version above the terminals' 1.4.0) for the rollout test.
const updateKey = generateSigningKey('ed25519');
const release = join(dir, 'release');
mkdirSync(join(release, 'lib'), { recursive: true });
writeFileSync(join(release, 'main.js'), "export const version = '1.5.0';\n");
writeFileSync(join(release, 'lib', 'util.js'), "export const answer = 42;\n");
writeFileSync(join(release, 'selftest.json'), JSON.stringify({ ok: true }));
const packageFile = join(dir, 'onecard-1.5.0.ocpkg');
await buildPackage({ from: release, out: packageFile, version: '1.5.0', minPreviousVersion: '1.0.0' });
const packageSig = await signPackage(packageFile, loadSigningKey(updateKey.privateKey));
const app = await buildApp({
  store, logger: false, settings: { authRateLimitPerMinute: 1000 },
  // Transit key routes refuse (503) without a master key; the Keys page must list none instead.
  masterKey: new Uint8Array(randomBytes(32)),
  updates: { packageDir: join(dir, 'packages'), trustedKeys: [updateKey.publicKey], tickMs: 200 },
});
if (!app.hasRoute({ method: 'GET', url: '/api/v1/live' })) await app.register(dashboardPlugin, { flushMs: 100 });
await bootstrapAdminToken(store, app.ctx.clock, ADMIN);
await app.listen({ host: '127.0.0.1', port: 0 });
const httpUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
const mqttServer: Server = createServer((socket) => app.broker.handle(socket));
await new Promise<void>((r) => mqttServer.listen(0, '127.0.0.1', () => r()));
const mqttUrl = `mqtt://127.0.0.1:${(mqttServer.address() as AddressInfo).port}`;
(app.ctx.settings as { mqttUrl: string }).mqttUrl = mqttUrl;

async function api(method: string, path: string, body?: unknown, token = ADMIN): Promise<{ status: number; json: any }> {
  const res = await fetch(`${httpUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

async function enrol(): Promise<Terminal> {
  const tok = await api('POST', '/api/v1/enrolment-tokens', { groupId: 'e2e', tags: ['kind:kiosk'] });
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const res = await fetch(`${httpUrl}/api/v1/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: tok.json.token, publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), kind: 'kiosk' }) });
  const b = (await res.json()) as { terminalId: string; mqtt: { password: string } };
  return { id: b.terminalId, password: b.mqtt.password, epoch: 0, seq: 0 };
}

/** Connects as the terminal and publishes its birth (as the fleet agent does). */
async function bringOnline(term: Terminal): Promise<void> {
  term.epoch++;
  const client = connect(mqttUrl, {
    clientId: term.id, username: term.id, password: term.password, protocolVersion: 4, reconnectPeriod: 0, clean: true,
    will: { topic: `t/${term.id}/up/death`, payload: Buffer.from(JSON.stringify({ v: 1, epoch: term.epoch })), qos: 1, retain: false },
  });
  await new Promise<void>((resolve, reject) => { client.once('connect', () => resolve()); client.once('error', reject); });
  await client.subscribeAsync([`t/${term.id}/down/#`, 'fleet/broadcast/#'], { qos: 1 });
  await client.publishAsync(`t/${term.id}/up/birth`, JSON.stringify({ v: 1, epoch: term.epoch, ts: Date.now(), versions: { software: '1.4.0', config: 0, keys: 0, hotlist: 0 }, readers: [{ id: 'front', link: 'serial', status: 'ok', card: false, psam: true }], kind: 'kiosk' }), { qos: 1 });
  term.client = client;
}

async function publishEvents(term: Terminal, records: { type: string; body: Record<string, unknown> }[]): Promise<void> {
  const batch = records.map((r) => ({ eventId: `${term.id}-${++term.seq}-evt`, seq: term.seq, ts: Date.now(), type: r.type, body: r.body }));
  await term.client!.publishAsync(`t/${term.id}/up/events`, JSON.stringify({ v: 1, records: batch }), { qos: 1 });
}

async function waitText(page: Page, selector: string, want: string | RegExp): Promise<void> {
  await page.waitForFunction(([sel, src, flags]) => {
    const el = document.querySelector(sel!);
    if (el === null) return false;
    return flags === null ? el.textContent?.trim() === src : new RegExp(src!, flags).test(el.textContent ?? '');
  }, [selector, typeof want === 'string' ? want : want.source, typeof want === 'string' ? null : want.flags] as const, { timeout: WAIT });
}

async function login(page: Page, token: string): Promise<void> {
  await page.goto(`${httpUrl}/`);
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('#tile-total', { timeout: WAIT });
}

await api('POST', '/api/v1/groups', { id: 'e2e', name: 'Browser test hall' });
const terminals = [await enrol(), await enrol(), await enrol()];
const viewerToken = (await api('POST', '/api/v1/admin/tokens', { name: 'viewer-e2e', role: 'viewer' })).json.token as string;
const uploaded = await fetch(`${httpUrl}/api/v1/updates/packages`, {
  method: 'POST', body: readFileSync(packageFile),
  headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/octet-stream', 'x-onecard-signature': Buffer.from(packageSig).toString('base64') },
});
if (uploaded.status !== 201) throw new Error(`package upload failed: ${uploaded.status} ${await uploaded.text()}`);
const packageId = ((await uploaded.json()) as { id: string }).id;

const browser: Browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
});

t.teardown(async () => {
  await browser.close().catch(() => {});
  for (const term of terminals) term.client?.end(true);
  await new Promise<void>((r) => mqttServer.close(() => r()));
  await app.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return errors;
}

t.test('a wrong token is refused at sign-in', async (t) => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(`${httpUrl}/`);
  await page.getByLabel('Admin token').fill('not-a-valid-token-0000000000');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await waitText(page, '.login .error', /not valid/);
  t.equal(await page.evaluate(() => sessionStorage.length), 0, 'nothing kept after a failed sign-in');
  await ctx.close();
});

t.test('admin: live fleet, masked events, loss report, degraded pages, no console errors', async (t) => {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await ctx.newPage();
  const errors = watchConsole(page);

  // Keyboard only: the token field has focus, Enter signs in.
  await page.goto(`${httpUrl}/`);
  await page.waitForSelector('form.login');
  t.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'token');
  await page.keyboard.type(ADMIN);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#tile-total', { timeout: WAIT });
  // From the top of the page the first Tab reaches the skip link, the next ones the navigation.
  await page.reload();
  await page.waitForSelector('#tile-total', { timeout: WAIT });
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate(() => document.activeElement?.textContent), 'Overview', 'then the navigation');
  await page.keyboard.press('Enter');
  t.equal(await page.evaluate(() => sessionStorage.getItem('onecard.dashboard.role')), 'admin');
  await waitText(page, '#tile-total .tile-n', '3');
  await waitText(page, '#tile-online .tile-n', '0');
  await page.waitForSelector('#conn.conn-live', { timeout: WAIT });

  // Terminals come online while the page is open: pushed over the live feed.
  await bringOnline(terminals[0]!);
  await bringOnline(terminals[1]!);
  await page.waitForSelector(`[data-terminal="${terminals[0]!.id}"][data-state="online"]`, { timeout: WAIT });
  await page.waitForSelector(`[data-terminal="${terminals[1]!.id}"][data-state="online"]`, { timeout: WAIT });
  await waitText(page, '#tile-online .tile-n', '2');
  await waitText(page, '#tile-offline .tile-n', '1');
  t.pass('two terminals appeared online live');

  await publishEvents(terminals[0]!, [
    { type: 'card.read', body: { name: '张三', ssn: '110101199003077777', cardNumber: 'A87654321', reader: 'front', result: 'ok' } },
    { type: 'txn.purchase', body: { cardNumber: 'A87654321', amount: 200, holder: 'Zhang San' } },
  ]);
  await waitText(page, '.activity', /came online/);
  await page.screenshot({ path: join(ARTEFACTS, 'overview.png'), fullPage: true });

  // Terminal page: versions, readers, masked events.
  await page.click(`a[href="#/terminals/${terminals[0]!.id}"]`);
  await page.waitForSelector('#terminal-state[data-state="online"]', { timeout: WAIT });
  await waitText(page, 'main', /1\.4\.0/);
  await page.waitForFunction(() => document.querySelectorAll('.masked').length >= 2, undefined, { timeout: WAIT });
  const text = await page.textContent('main');
  t.notMatch(text, /张三|110101199003077777|A87654321|Zhang San/, 'no personal data on the terminal page');
  t.match(text, /reader=front/);
  t.match(text, /张\*/);
  await page.screenshot({ path: join(ARTEFACTS, 'terminal.png'), fullPage: true });

  // Events page with the CSV export.
  await page.click('a[href="#/events"]');
  await page.waitForSelector('#csv-export', { timeout: WAIT });
  await waitText(page, 'main', /txn\.purchase/);
  t.notMatch(await page.textContent('main'), /张三|110101199003077777|A87654321/);
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: WAIT }), page.click('#csv-export')]);
  t.match(download.suggestedFilename(), /^onecard-events-.*\.csv$/);

  // Hotlist: report a card lost, see the version change, and the terminals get the pointer.
  const pointer = new Promise<number>((resolve) => terminals[1]!.client!.on('message', (topic, payload) => {
    if (topic === 'fleet/broadcast/hotlist') { const v = (JSON.parse(payload.toString()) as { version: number }).version; if (v >= 1) resolve(v); }
  }));
  await page.click('a[href="#/hotlist"]');
  await waitText(page, '#hotlist-version', '0');
  await page.getByLabel('Card numbers').fill('C12345678');
  await page.getByRole('button', { name: 'Report lost' }).click();
  await waitText(page, '#hotlist-version', '1');
  await waitText(page, 'main table', /C12345678/);
  t.equal(await pointer, 1, 'online terminal received hotlist version 1');
  t.equal((await api('GET', '/api/v1/hotlist/C12345678')).status, 200);
  await page.screenshot({ path: join(ARTEFACTS, 'hotlist.png'), fullPage: true });

  // A report through the API (another admin) is picked up live.
  await api('POST', '/api/v1/hotlist/report', { cardNumbers: ['D12345678'], reason: 'api' });
  await waitText(page, '#hotlist-version', '2');
  await waitText(page, 'main table', /D12345678/);

  // Pages for server features that are not there yet degrade instead of failing.
  await page.click('a[href="#/rollouts"]');
  await waitText(page, '#rollouts-empty', /No rollouts/);
  await page.screenshot({ path: join(ARTEFACTS, 'rollouts.png'), fullPage: true });
  await page.click('a[href="#/keys"]');
  await waitText(page, '#keys-empty', /No key sets/);
  await page.click('a[href="#/audit"]');
  await waitText(page, 'main table', /hotlist\.report/);
  await page.click('a[href="#/config"]');
  await page.waitForSelector('main h1', { timeout: WAIT });
  await page.click('a[href="#/tokens"]');
  await waitText(page, 'main table', /viewer-e2e/);

  // Back on the overview: a terminal dropping off shows offline live.
  await page.click('a[href="#/"]');
  await waitText(page, '#tile-online .tile-n', '2');
  terminals[1]!.client!.stream.destroy();
  await page.waitForSelector(`[data-terminal="${terminals[1]!.id}"][data-state="offline"]`, { timeout: WAIT });
  await waitText(page, '#tile-online .tile-n', '1');
  t.pass('a dropped terminal went offline live');
  await page.screenshot({ path: join(ARTEFACTS, 'overview-after.png'), fullPage: true });

  t.same(errors, [], 'no console errors');
  await ctx.close();
});

t.test('admin: start a rollout from the Rollouts page, watch it, abort it with a reason', async (t) => {
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await ctx.newPage();
  const errors = watchConsole(page);
  await login(page, ADMIN);
  await page.click('a[href="#/rollouts"]');
  await waitText(page, '#rollouts-empty', /No rollouts/);

  // Start: the signed package is offered, target the test group, two phases.
  await page.getByText('Start a rollout', { exact: true }).click();
  const form = page.locator('#rollout-form');
  await form.getByLabel('Package').selectOption(packageId);
  await form.getByLabel('Target groups').selectOption('e2e');
  await form.getByLabel(/^Phases/).fill('50 100');
  await form.getByLabel(/^Abort after/).fill('2');
  await form.getByRole('button', { name: 'Start rollout' }).click();
  await page.waitForSelector('article.rollout', { timeout: WAIT });
  const rolloutId = await page.locator('article.rollout').first().getAttribute('data-rollout');
  t.match(rolloutId, /^ro_/, 'the new rollout is listed');
  const card = page.locator(`article.rollout[data-rollout="${rolloutId}"]`);
  await waitText(page, `article.rollout[data-rollout="${rolloutId}"] h2 .badge`, 'active');
  const started = (await api('GET', `/api/v1/updates/rollouts/${rolloutId}`)).json as { packageId: string; status: string; target: { groups: string[] }; phases: unknown[]; counts: { total: number } };
  t.equal(started.packageId, packageId, 'server has the rollout of the chosen package');
  t.same(started.target.groups, ['e2e']);
  t.same(started.phases, [{ percent: 50 }, { percent: 100 }]);
  t.equal(started.counts.total, 3, 'all three enrolled terminals targeted');
  const text = await card.textContent();
  t.match(text, /version 1\.5\.0/);
  t.match(text, /target group e2e/);
  t.match(text, /aborts at 2 failures/);
  t.match(text, /of 3/, 'overall progress counts the three targets');
  t.equal(await card.locator('table tbody tr').count(), 2, 'two phases listed');
  t.match(await card.locator('table tbody tr').first().textContent(), /50%.*running.*of [1-9]/, 'phase 1 running with its terminals counted');
  t.match(await card.locator('table tbody tr').nth(1).textContent(), /100%.*pending/);
  await page.screenshot({ path: join(ARTEFACTS, 'rollout-active.png'), fullPage: true });

  // Abort from the page with a reason (asked in a prompt).
  page.once('dialog', (d) => { void d.accept('browser test abort'); });
  await card.getByRole('button', { name: 'Abort' }).click();
  await waitText(page, `article.rollout[data-rollout="${rolloutId}"] h2 .badge`, 'aborted');
  await waitText(page, `article.rollout[data-rollout="${rolloutId}"] [role="note"]`, /Aborted \(manual\): browser test abort/);
  t.equal(await card.getByRole('button', { name: 'Abort' }).count(), 0, 'no controls on an aborted rollout');
  t.match(await card.locator('.bar-cell small').first().textContent(), /0 running · \d pending · [1-3] skipped of 3/, 'notified terminals dropped by the abort');
  const aborted = (await api('GET', `/api/v1/updates/rollouts/${rolloutId}`)).json as { status: string; abortReason: string; detail: string };
  t.same({ status: aborted.status, abortReason: aborted.abortReason, detail: aborted.detail }, { status: 'aborted', abortReason: 'manual', detail: 'browser test abort' });
  await page.click('a[href="#/audit"]');
  await waitText(page, 'main table', /rollout\.abort/);
  await page.click('a[href="#/rollouts"]');
  await waitText(page, `article.rollout[data-rollout="${rolloutId}"] h2 .badge`, 'aborted');
  await page.screenshot({ path: join(ARTEFACTS, 'rollout-aborted.png'), fullPage: true });
  t.same(errors, [], 'no console errors');
  await ctx.close();
});

t.test('viewer: sees the fleet and hotlist but cannot report or manage tokens', async (t) => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const errors = watchConsole(page);
  await login(page, viewerToken);
  t.equal(await page.evaluate(() => sessionStorage.getItem('onecard.dashboard.role')), 'viewer');
  t.equal(await page.locator('a[href="#/tokens"]').count(), 0, 'no admin tokens link');
  await page.click('a[href="#/hotlist"]');
  await page.waitForSelector('#report-disabled', { timeout: WAIT });
  t.equal(await page.locator('#report-form').count(), 0, 'no report form');
  t.equal(await page.getByRole('button', { name: /Cancel loss report/ }).count(), 0, 'no cancel buttons');
  await waitText(page, 'main table', /C\*+78/);
  t.notMatch(await page.textContent('main table'), /C12345678/, 'card numbers masked for viewers');
  t.equal((await api('POST', '/api/v1/hotlist/report', { cardNumbers: ['E12345678'], reason: 'x' }, viewerToken)).status, 403, 'and the server refuses it anyway');
  await page.click(`a[href="#/"]`);
  await page.click(`a[href="#/terminals/${terminals[0]!.id}"]`);
  await page.waitForSelector('#terminal-state', { timeout: WAIT });
  t.equal(await page.getByRole('button', { name: /Disable terminal/ }).count(), 0, 'no disable control');
  await page.screenshot({ path: join(ARTEFACTS, 'viewer-hotlist.png'), fullPage: true });
  // Sign out clears the session.
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForSelector('form.login', { timeout: WAIT });
  t.equal(await page.evaluate(() => sessionStorage.getItem('onecard.dashboard.token')), null);
  t.same(errors, [], 'no console errors');
  await ctx.close();
});
