/**
 * The kiosk's holder services in real Chromium (playwright-core) against a real terminal process
 * (`onecard-terminal run --data-dir`, enrolled with a fleet server) on a simulated reader, with the
 * simulated library system over SIP2 and the fleet's venue events and card registry: after card +
 * PIN the holder sees their library account (may borrow; blocked; fines — with the reasons), their
 * venue status of the day, registers for an event (registered, already, full, window closed), and
 * sees which departments queried their data and the consents given, and withdraws one (the
 * department is refused afterwards). Another page session and the API token cannot read the
 * holder's tracker; keyboard only; zh/en; the idle timeout wipes a holder screen; axe-core (0
 * serious/critical) and a screenshot of every new screen in $ONECARD_ARTEFACTS; a log scan for the
 * PINs, the SIP2 password and the full ID number. Run by .ci/suites/screens.sh.
 */
import t, { type Test } from 'tap';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';
import { EXAMPLE_TERMINAL_CONFIG } from '@onecard/protocol/fleet';
import { EXAMPLE_VENUE_RULES } from '@onecard/protocol/venue';
import { SimLibrary, startLibraryServer } from '@onecard/simulators';
import { idCheckCharacter } from '@onecard/server/src/registry/model.ts';
import { CARDS, REPO, until } from '../e2e/box.ts';
import { startScreensBox } from './harness.ts';

const ART = process.env['ONECARD_ARTEFACTS'] ?? join(REPO, 'artefacts/screens');
mkdirSync(ART, { recursive: true });
const SIP2_PASSWORD = 'kiosk-sip2-Password-9';
// 张三's card with a registry-valid citizen ID number (born 1950: the senior fare category).
const ID17 = '33010219500101001';
const SSN = ID17 + idCheckCharacter(ID17);
const ZHANG: Record<string, string> = { ...(JSON.parse(readFileSync(join(CARDS, 'ssc-2.00.json'), 'utf8')) as Record<string, string>), ssn: SSN, birthDate: '19500101', birthplace: '330102' };
const LI = JSON.parse(readFileSync(join(CARDS, 'ssc-2.00-transit.json'), 'utf8')) as Record<string, string>;
const OUYANG = JSON.parse(readFileSync(join(CARDS, 'ssc-3.00-long-name.json'), 'utf8')) as Record<string, string>;

const lib = await startLibraryServer({
  library: new SimLibrary({
    patrons: [
      { cardNumber: ZHANG['cardNumber']!, name: ZHANG['name']!, expires: '2099-12-31' },
      { cardNumber: LI['cardNumber']!, name: LI['name']!, blocked: true },
      { cardNumber: OUYANG['cardNumber']!, name: OUYANG['name']!, finesFen: 3550 },
    ],
    items: [{ barcode: '31000001', title: '红楼梦' }, { barcode: '31000002', title: '西游记' }],
  }),
  institutionId: 'CITYLIB', login: { user: 'kiosk01', password: SIP2_PASSWORD }, charset: 'gbk',
});
t.teardown(() => lib.close());
const lent = lib.library.checkout(ZHANG['cardNumber']!, '31000001', 480).ok; // 张三 has a book on loan
const box = await startScreensBox();
t.teardown(() => box.close());
const zhangFile = join(box.dir, 'zhang-registry.json');
writeFileSync(zhangFile, JSON.stringify(ZHANG));

const browser: Browser = await chromium.launch({
  executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
t.teardown(() => browser.close());

const pageErrors: string[] = [];
async function openKiosk(clock = false): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });
  if (clock) await page.clock.install();
  await page.goto(await box.launchUrl('kiosk'));
  await page.waitForURL('**/kiosk/');
  return page;
}
async function waitScreen(page: Page, name: string): Promise<void> {
  await page.waitForSelector(`#screen[data-screen="${name}"]`, { timeout: 30_000 }).catch(async (e: unknown) => {
    throw new Error(`screen ${name} not shown (now ${await page.getAttribute('#screen', 'data-screen')}: ${await page.locator('#screen').innerText()}; page errors: ${pageErrors.join(' | ') || 'none'})`, { cause: e });
  });
}
const shots = new Set<string>();
const audits: { name: string; violations: string[] }[] = [];
async function screen(t: Test, page: Page, name: string): Promise<void> {
  shots.add(name);
  await page.screenshot({ path: join(ART, `${name}.png`), fullPage: true });
  const r = await new AxeBuilder({ page }).analyze();
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  audits.push({ name, violations: bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`) });
  t.same(bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `axe: no serious or critical violation on ${name}`);
}
async function tapPin(page: Page, pin: string): Promise<void> {
  for (const d of pin) await page.click(`#screen [data-digit="${d}"]`);
  await page.click('#pin-ok');
}
const html = (page: Page): Promise<string> => page.evaluate<string>('document.documentElement.outerHTML');
const text = (page: Page): Promise<string> => page.locator('#screen').innerText();
async function cardAndPin(page: Page, file: string, pin: string): Promise<void> {
  await box.insert(file);
  await waitScreen(page, 'info');
  await page.getByRole('button', { name: '输入密码继续' }).click();
  await waitScreen(page, 'pinScreen');
  await tapPin(page, pin);
  await waitScreen(page, 'services');
}
async function finishAndOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: '结束并退卡' }).first().click();
  await waitScreen(page, 'takeCard');
  await box.remove();
  await waitScreen(page, 'welcome');
}

// ── the fleet: library + venue configuration for the kiosk's group, events, registry, a department ──
const tz = 'Asia/Shanghai';
const today = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
const CLOSING_MS = 45_000;
let now = 0;
let clientSecret = '';
let deptToken = '';
const department = async (path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
  const r = await fetch(`${box.server.httpUrl}${path}`, { method: body === undefined ? 'GET' : 'POST', headers: { authorization: `Bearer ${deptToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

t.test('set-up: the kiosk group\'s library and venue configuration, two events, the card registry, a department\'s calls and a consent', async (t) => {
  t.ok(lent, '张三 has a book on loan');
  const doc = {
    ...EXAMPLE_TERMINAL_CONFIG, name: 'hall kiosks', readers: [],
    library: { host: '127.0.0.1', port: lib.port, institutionId: 'CITYLIB', user: 'kiosk01', password: SIP2_PASSWORD, location: '服务大厅', charset: 'gbk' as const, errorDetection: true, timeoutMs: 2000, maxRetries: 2, gate: false, loanDesk: false },
    venues: { ...EXAMPLE_VENUE_RULES, timeZone: tz, hours: [], closedDates: [], capacity: 0, maxDailyEntries: 2, categories: [{ id: 'senior', minAge: 60, priceFen: 0 }], registeredOnlyDates: [], syncIntervalSeconds: 2, maxStaleSeconds: 600 },
  };
  t.equal((await box.server.call('POST', '/api/v1/configs', { id: 'kiosk-services', name: 'hall kiosks', document: doc })).status, 201, 'configuration created');
  t.equal((await box.server.call('PUT', '/api/v1/groups/hall/config', { configId: 'kiosk-services' })).status, 200, 'assigned to the kiosk group');
  await until('kiosk configuration applied', async () => {
    const s = (await box.server.call('GET', `/api/v1/terminals/${box.terminalId}/config`)).body;
    return s?.inSync === true && s?.reported?.status === 'applied';
  }, 90_000, 250);
  now = Date.now();
  const lantern = await box.server.call('POST', '/api/v1/venue-events', { venueId: 'city-museum', name: '元宵灯会', date: today, capacity: 1, opensAt: now - 60_000, closesAt: now + 3_600_000 });
  t.equal(lantern.status, 201, JSON.stringify(lantern.body));
  const talk = await box.server.call('POST', '/api/v1/venue-events', { venueId: 'city-museum', name: '文物讲座', date: today, capacity: 10, opensAt: now - 60_000, closesAt: now + CLOSING_MS });
  t.equal(talk.status, 201);
  const operator = await box.server.tokenFor('operator');
  const imported = await fetch(`${box.server.httpUrl}/api/v1/registry/import`, {
    method: 'POST', headers: { authorization: `Bearer ${operator}`, 'content-type': 'text/csv' },
    body: `cardNumber,idNumber,name,region,generation,issuedOn,expiresOn,status\n${ZHANG['cardNumber']},${SSN},${ZHANG['name']},330102,2.0,2020-01-01,2030-01-01,active\n`,
  });
  t.match(await imported.json(), { created: 1, refusedCount: 0 }, '张三 in the card registry');
  const dept = await box.server.call('POST', '/api/v1/sharing/departments', { id: 'civil-affairs', name: '民政局', purposes: ['public-service', 'subsidy'] });
  t.equal(dept.status, 201, JSON.stringify(dept.body));
  const { clientId } = dept.body as { clientId: string; clientSecret: string };
  clientSecret = (dept.body as { clientSecret: string }).clientSecret;
  const tokenRes = await fetch(`${box.server.httpUrl}/sharing/v1/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` }, body: 'grant_type=client_credentials' });
  deptToken = ((await tokenRes.json()) as { access_token: string }).access_token;
  // The department's calls the tracker must show: a card status, a refused basic-information call, then (after consent) a released one.
  t.equal((await department(`/sharing/v1/cards/${ZHANG['cardNumber']}/status?purpose=public-service`)).status, 200);
  t.match((await department('/sharing/v1/holders/basic-info', { purpose: 'public-service', cardNumber: ZHANG['cardNumber'] })).body, { error: { code: 'SRV_ERR_SHARING_NO_CONSENT' } });
  const identity = JSON.parse(readFileSync(join(box.dir, 'data', 'identity.json'), 'utf8')) as { terminalId: string; mqtt: { password: string } };
  const consent = await fetch(`${box.server.httpUrl}/api/v1/terminal/sharing/consents`, {
    method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${identity.terminalId}:${identity.mqtt.password}`).toString('base64')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ cardNumber: ZHANG['cardNumber'], pinVerified: true, department: 'civil-affairs', purposes: ['public-service'], days: 30 }),
  });
  t.equal(consent.status, 201, 'the holder consented (at a desk, earlier)');
  t.equal((await department('/sharing/v1/holders/basic-info', { purpose: 'public-service', cardNumber: ZHANG['cardNumber'] })).status, 200, 'released under the consent');

  await until('the kiosk has the venue snapshot with both events', async () => {
    const r = await fetch(`${box.apiUrl}/v1/venue/status`, { headers: { 'x-onecard-token': box.token } });
    const b = (await r.json()) as { snapshot?: { events?: unknown[] } | null };
    return (b.snapshot?.events?.length ?? 0) >= 2;
  }, 60_000, 250);
});

let kiosk: Page;

t.test('kiosk holder services: library account, venue status, event registration, data tracker and consent withdrawal', async (t) => {
  kiosk = await openKiosk();
  await waitScreen(kiosk, 'welcome');
  await cardAndPin(kiosk, zhangFile, ZHANG['pin']!);
  for (const b of ['图书馆借阅', '场馆入园', '活动报名', '我的数据使用记录']) t.equal(await kiosk.getByRole('button', { name: b, exact: true }).count(), 1, `services menu offers ${b}`);
  await screen(t, kiosk, 'kiosk-30-services-holder');

  // library account over SIP2
  await kiosk.getByRole('button', { name: '图书馆借阅', exact: true }).click();
  await waitScreen(kiosk, 'libraryScreen');
  const libText = await text(kiosk);
  t.match(libText, /可以正常借阅/, 'may borrow');
  t.match(libText, /在借图书\s*1 本/, 'one book on loan');
  t.match(libText, /没有借阅限制/);
  t.match(libText, /张\*/, 'the library name masked');
  t.notMatch(await html(kiosk), ZHANG['name']!, 'no full name');
  await screen(t, kiosk, 'kiosk-31-library');
  await kiosk.getByRole('button', { name: '返回' }).click();
  await waitScreen(kiosk, 'services');

  // venue status of the day (an event day: registered holders only)
  await kiosk.getByRole('button', { name: '场馆入园', exact: true }).click();
  await waitScreen(kiosk, 'venueScreen');
  const venueText = await text(kiosk);
  t.match(venueText, /老年人优惠 · 免费/, 'senior fare from the ID number');
  t.match(venueText, /0 次（每日最多 2 次）/, 'entries today against the daily limit');
  t.match(venueText, /仅限已报名活动的持卡人入园，您尚未报名/, 'what a gate would say now, in words');
  await screen(t, kiosk, 'kiosk-32-venue');

  // events: register, already registered, window closed
  await kiosk.getByRole('button', { name: '查看可报名的活动' }).click();
  await waitScreen(kiosk, 'eventsScreen');
  const listed = await kiosk.locator('#events .event').allInnerTexts();
  t.equal(listed.length, 2, 'both open events listed');
  t.match(listed.find((e) => e.includes('元宵灯会')), /活动日期：\d{4}-\d\d-\d\d · 已报名 0 \/ 1 人/, 'with their date and places');
  t.ok(listed.some((e) => e.includes('文物讲座')));
  await screen(t, kiosk, 'kiosk-33-events');
  await kiosk.getByRole('button', { name: '报名：元宵灯会' }).click();
  await waitScreen(kiosk, 'eventResult');
  t.match(await kiosk.locator('h1').textContent(), /报名成功：元宵灯会/, 'registered');
  await screen(t, kiosk, 'kiosk-34-registered');
  await kiosk.getByRole('button', { name: '返回活动列表' }).click();
  await waitScreen(kiosk, 'eventsScreen');
  t.match(await text(kiosk), /元宵灯会[\s\S]*您已报名/, 'the list shows the registration');
  await until('the talk\'s registration window closed', async () => Date.now() > now + CLOSING_MS + 500, CLOSING_MS + 30_000, 500);
  await kiosk.getByRole('button', { name: '报名：文物讲座' }).click();
  await waitScreen(kiosk, 'holderProblem');
  t.match(await kiosk.locator('#holder-problem').textContent(), /不在报名时间内/, 'window closed, in words');
  t.match(await text(kiosk), /SRV_ERR_VENUE_REGISTRATION_CLOSED/, 'the code small, beside the words');
  await screen(t, kiosk, 'kiosk-35-registration-closed');
  await kiosk.getByRole('button', { name: '返回', exact: true }).click();
  await waitScreen(kiosk, 'services');
  await kiosk.getByRole('button', { name: '场馆入园', exact: true }).click();
  await waitScreen(kiosk, 'venueScreen');
  t.match(await text(kiosk), /已报名的活动[\s\S]*元宵灯会/, 'the venue status lists the registration');
  t.match(await text(kiosk), /您已报名今日活动，现在可以入园/);
  await kiosk.getByRole('button', { name: '返回', exact: true }).click();

  // the data tracker
  await waitScreen(kiosk, 'services');
  await kiosk.getByRole('button', { name: '我的数据使用记录', exact: true }).click();
  await waitScreen(kiosk, 'trackerScreen');
  const rows = await kiosk.locator('#accesses tbody tr').allInnerTexts();
  t.equal(rows.length, 3, 'exactly the three accesses made');
  t.match(rows.join('\n'), /民政局\s+办理公共服务\s+基本信息\s+已提供：姓名/, 'released basic information, with the fields');
  t.match(rows.join('\n'), /基本信息\s+已拒绝：您没有授权/, 'the refused call, with the reason');
  t.match(rows.join('\n'), /卡片状态\s+已提供/, 'the card status call');
  t.match(await kiosk.locator('#consents').innerText(), /民政局\s+办理公共服务[\s\S]*有效/, 'the consent, valid');
  await screen(t, kiosk, 'kiosk-36-tracker');
  await kiosk.getByRole('button', { name: '撤回对 民政局（办理公共服务）的授权' }).click();
  await waitScreen(kiosk, 'withdrawConfirm');
  await screen(t, kiosk, 'kiosk-37-withdraw-confirm');
  await kiosk.click('#withdraw-confirm');
  await waitScreen(kiosk, 'withdrawResult');
  t.match(await kiosk.locator('h1').textContent(), '授权已撤回');
  await kiosk.getByRole('button', { name: '返回使用记录' }).click();
  await waitScreen(kiosk, 'trackerScreen');
  t.match(await kiosk.locator('#consents').innerText(), /已撤回/, 'shown withdrawn');
  t.equal(await kiosk.locator('#consents button').count(), 0, 'nothing left to withdraw');
  t.match((await department('/sharing/v1/holders/basic-info', { purpose: 'public-service', cardNumber: ZHANG['cardNumber'] })).body, { error: { code: 'SRV_ERR_SHARING_CONSENT_REVOKED' } }, 'the department is refused now');
  await kiosk.getByRole('button', { name: 'Switch to English' }).click();
  t.equal(await kiosk.locator('h1').textContent(), 'Who used my data');
  t.match(await kiosk.locator('#consents').innerText(), /withdrawn/);
  await screen(t, kiosk, 'kiosk-38-tracker-en');
  await kiosk.getByRole('button', { name: '切换到中文' }).click();

  // another page session and the token cannot read this holder's tracker, even now
  const other = await openKiosk();
  await waitScreen(other, 'info');
  const status = await other.evaluate<number>("fetch('/v1/holder/tracker', { credentials: 'same-origin' }).then((r) => r.status)");
  t.equal(status, 403, 'another page session: refused');
  await other.context().close();
  t.equal((await fetch(`${box.apiUrl}/v1/holder/tracker`, { headers: { 'x-onecard-token': box.token } })).status, 403, 'the API token: refused');

  await finishAndOut(kiosk);
  const after = await html(kiosk);
  for (const v of ['民政局', '元宵灯会', '张*', ZHANG['cardNumber']!, 'X*****019', SSN]) t.notMatch(after, v, `no ${v} left in the DOM`);
});

t.test('kiosk holder services: refusals in words — blocked patron, fines, event full, card not in the registry', async (t) => {
  await cardAndPin(kiosk, 'ssc-2.00-transit.json', LI['pin']!);
  await kiosk.getByRole('button', { name: '图书馆借阅', exact: true }).click();
  await waitScreen(kiosk, 'libraryScreen');
  const blocked = await text(kiosk);
  t.match(blocked, /暂时不能借阅：借阅权限已被图书馆暂停/, 'blocked, in words');
  t.match(await kiosk.locator('#library-flags').innerText(), /不能借书[\s\S]*不能续借[\s\S]*不能预约图书/, 'every flag the library set');
  t.equal(await kiosk.locator('#library-message').textContent(), '图书馆提示：读者证已停用 / borrowing suspended', 'the library\'s own message, once');
  await screen(t, kiosk, 'kiosk-39-library-blocked');
  await kiosk.getByRole('button', { name: '返回', exact: true }).click();
  await kiosk.getByRole('button', { name: '活动报名', exact: true }).click();
  await waitScreen(kiosk, 'eventsScreen');
  await kiosk.getByRole('button', { name: '报名：元宵灯会' }).click();
  await waitScreen(kiosk, 'holderProblem');
  t.match(await kiosk.locator('#holder-problem').textContent(), /活动名额已满/, 'full, in words');
  await screen(t, kiosk, 'kiosk-40-event-full');
  await kiosk.getByRole('button', { name: '返回', exact: true }).click();
  await kiosk.getByRole('button', { name: '我的数据使用记录', exact: true }).click();
  await waitScreen(kiosk, 'holderProblem');
  t.match(await kiosk.locator('#holder-problem').textContent(), /服务中心没有此卡的记录/, 'a card the registry does not have, in words');
  await screen(t, kiosk, 'kiosk-41-tracker-unknown-card');
  await finishAndOut(kiosk);

  await cardAndPin(kiosk, 'ssc-3.00-long-name.json', OUYANG['pin']!);
  await kiosk.getByRole('button', { name: '图书馆借阅', exact: true }).click();
  await waitScreen(kiosk, 'libraryScreen');
  const fines = await text(kiosk);
  t.match(fines, /暂时不能借阅：有未缴罚款/, 'fines, in words');
  t.match(fines, /欠款\s*35\.50 CNY/);
  t.match(fines, /未缴罚款超过限额/);
  await screen(t, kiosk, 'kiosk-42-library-fines');
  await kiosk.getByRole('button', { name: 'Switch to English' }).click();
  t.match(await text(kiosk), /You cannot borrow right now: You have unpaid fines/);
  await screen(t, kiosk, 'kiosk-43-library-fines-en');
  await kiosk.getByRole('button', { name: '切换到中文' }).click();
  await finishAndOut(kiosk);
});

t.test('kiosk holder services: keyboard only, and the idle timeout wipes a holder screen', async (t) => {
  const p = await openKiosk(true);
  await waitScreen(p, 'welcome');
  await box.insert(zhangFile);
  await waitScreen(p, 'info');
  const focused = (): Promise<string> => p.evaluate<string>("document.activeElement?.textContent ?? ''");
  const tabTo = async (label: string): Promise<void> => {
    for (let i = 0; i < 40; i++) {
      await p.keyboard.press('Tab');
      if ((await focused()) === label) return;
    }
    throw new Error(`${label} not reachable by Tab`);
  };
  await tabTo('输入密码继续');
  await p.keyboard.press('Enter');
  await waitScreen(p, 'pinScreen');
  await p.keyboard.type(ZHANG['pin']!);
  await p.keyboard.press('Enter');
  await waitScreen(p, 'services');
  await tabTo('我的数据使用记录');
  await p.keyboard.press('Enter');
  await waitScreen(p, 'trackerScreen');
  await tabTo('返回');
  await p.keyboard.press('Enter');
  await waitScreen(p, 'services');
  await tabTo('活动报名');
  await p.keyboard.press('Enter');
  await waitScreen(p, 'eventsScreen');
  t.pass('holder screens reached without a mouse');
  await tabTo('返回');
  await p.keyboard.press('Enter');
  await waitScreen(p, 'services');
  await tabTo('我的数据使用记录');
  await p.keyboard.press('Enter');
  await waitScreen(p, 'trackerScreen');
  t.match(await html(p), '民政局');
  await p.clock.fastForward(61_000);
  await waitScreen(p, 'notice');
  const wiped = await html(p);
  for (const v of ['民政局', '办理公共服务', '元宵灯会', '张*', 'accesses', 'consents']) t.notMatch(wiped, v, `no ${v} after the idle timeout`);
  await screen(t, p, 'kiosk-44-holder-idle');
  // The terminal ended the binding with the screen: the tracker needs the PIN again.
  t.equal(await p.evaluate<number>("fetch('/v1/holder/tracker', { credentials: 'same-origin' }).then((r) => r.status)"), 403, 'binding ended by the wipe');
  await box.remove();
  await waitScreen(p, 'welcome');
  await p.context().close();
});

t.test('log scan and artefacts', async (t) => {
  const logs = box.logs();
  for (const [what, v] of [['PIN', ZHANG['pin']], ['other PIN', LI['pin']], ['SIP2 password', SIP2_PASSWORD], ['ID number', SSN], ['API token', box.token], ['department secret', clientSecret]] as const) t.notMatch(logs, v!, `no ${what} in the output`);
  writeFileSync(join(ART, 'axe-summary-kiosk-services.json'), `${JSON.stringify(audits, null, 2)}\n`);
  t.ok(shots.size >= 14, `${shots.size} screenshots in ${ART}`);
});
