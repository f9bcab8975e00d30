/**
 * The kiosk and desk screens in real Chromium (playwright-core) against a real terminal process
 * (`onecard-terminal run --data-dir`, enrolled with a fleet server) on a simulated reader: every
 * kiosk flow, the card taken out mid-flow, PIN locked, a hotlisted card, the idle timeout wiping
 * the page, keyboard only, zh/en, the reader unplugged; an axe-core audit of every screen (0
 * serious/critical); screenshots in $ONECARD_ARTEFACTS; and a scan of all terminal and simulator
 * output for the PIN, the keys and the full ID number. Run by .ci/suites/screens.sh.
 */
import t, { type Test } from 'tap';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';
import { ecardIssuerPublicKey, issueEcardCode, TEST_ECARD_ISSUER_PRIVATE_KEY } from '@onecard/simulators';
import { CARDS, REPO, until } from '../e2e/box.ts';
import { startScreensBox } from './harness.ts';

const ART = process.env['ONECARD_ARTEFACTS'] ?? join(REPO, 'artefacts/screens');
mkdirSync(ART, { recursive: true });
const CARD = JSON.parse(readFileSync(join(CARDS, 'ssc-2.00.json'), 'utf8')) as Record<string, string> & { keys: Record<string, string> };
const OTHER = JSON.parse(readFileSync(join(CARDS, 'ssc-3.00-long-name.json'), 'utf8')) as Record<string, string>;
const PIN = CARD['pin']!;
const NEW_PIN = '246810';
const WRONG = '000000';

const box = await startScreensBox();
t.teardown(() => box.close());
const browser: Browser = await chromium.launch({
  executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
t.teardown(() => browser.close());

const pageErrors: string[] = [];
async function openScreen(which: 'kiosk' | 'desk', clock = false): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${which}: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`${which} console: ${m.text()}`); });
  page.on('response', (r) => { if (r.status() >= 400) pageErrors.push(`${which}: HTTP ${r.status()} ${r.url()}`); });
  if (clock) await page.clock.install();
  await page.goto(await box.launchUrl(which));
  await page.waitForURL(`**/${which}/`);
  return page;
}

async function waitScreen(page: Page, name: string): Promise<void> {
  await page.waitForSelector(`#screen[data-screen="${name}"]`, { timeout: 20_000 }).catch((e: unknown) => {
    throw new Error(`screen ${name} not shown (now ${page.url()}; page errors: ${pageErrors.join(' | ') || 'none'})`, { cause: e });
  });
}
const shots = new Set<string>();
async function shot(page: Page, name: string): Promise<void> {
  shots.add(name);
  await page.screenshot({ path: join(ART, `${name}.png`), fullPage: true });
}
const audits: { name: string; violations: string[] }[] = [];
async function audit(t: Test, page: Page, name: string): Promise<void> {
  const r = await new AxeBuilder({ page }).analyze();
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  audits.push({ name, violations: bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`) });
  t.same(bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `axe: no serious or critical violation on ${name}`);
}
async function screen(t: Test, page: Page, name: string): Promise<void> {
  await shot(page, name);
  await audit(t, page, name);
}
/** Types a PIN on the on-screen keypad by clicking the labelled keys (wherever the shuffle put them). */
async function tapPin(page: Page, pin: string): Promise<void> {
  for (const d of pin) await page.click(`#screen [data-digit="${d}"]`);
  await page.click('#pin-ok');
}
const bodyText = (page: Page): Promise<string> => page.evaluate<string>('document.documentElement.outerHTML');
const staffCredentials: string[] = [];
/** Issues a desk credential for a member of staff on the fleet server and signs them in on the desk page. */
async function staffSignIn(t: Test, page: Page): Promise<void> {
  const issued = await box.server.call('POST', '/api/v1/staff-credentials', { staffId: 'E1001', name: '王芳', groups: ['hall'] });
  t.equal(issued.status, 201, 'staff credential issued');
  staffCredentials.push((issued.body as { credential: string }).credential);
  await page.waitForSelector('#staff-status:has-text("请工作人员")');
  await page.getByLabel('工作人员凭证').fill((issued.body as { credential: string }).credential);
  await page.getByRole('button', { name: '登录', exact: true }).click();
  await page.waitForSelector('#staff-status:has-text("已登录：王芳（E1001）")');
  t.equal(await page.inputValue('#staff-credential'), '', 'the credential field is cleared');
  await screen(t, page, 'desk-05a-staff-signed-in');
}
async function cardOut(): Promise<void> {
  await box.remove();
}

let kiosk: Page;

t.test('kiosk: welcome, card → masked information → PIN (wrong, tries left) → services → full details', async (t) => {
  kiosk = await openScreen('kiosk');
  await waitScreen(kiosk, 'welcome');
  t.equal(await kiosk.getAttribute('html', 'lang'), 'zh-CN', 'Simplified Chinese by default');
  t.match(await kiosk.locator('h1').textContent(), /社保卡/);
  await screen(t, kiosk, 'kiosk-01-welcome');
  await box.insert('ssc-2.00.json');
  await waitScreen(kiosk, 'info');
  const html = await bodyText(kiosk);
  t.match(html, '张*', 'masked name');
  t.notMatch(html, CARD['ssn']!, 'no full SSN before the PIN');
  t.notMatch(html, CARD['name']!, 'no full name before the PIN');
  t.match(html, `${CARD['ssn']!.slice(0, 4)}`, 'masked SSN shows its head');
  await screen(t, kiosk, 'kiosk-02-info');
  await kiosk.getByRole('button', { name: '输入密码继续' }).click();
  await waitScreen(kiosk, 'pinScreen');
  t.match(await kiosk.locator('#tries').textContent(), /3/, 'tries left shown before the first try');
  await screen(t, kiosk, 'kiosk-03-pin');
  await tapPin(kiosk, WRONG);
  await kiosk.waitForSelector('#screen .problem');
  t.match(await kiosk.locator('#screen .problem').textContent(), /还可以尝试 2 次/, 'wrong PIN: tries left, in words');
  t.notMatch(await bodyText(kiosk), 'TERM_ERR_PIN_WRONG', 'never a raw code alone');
  await shot(kiosk, 'kiosk-04-pin-wrong');
  // digits are never echoed: only dots, and a count for screen readers
  await kiosk.click('#screen [data-digit="1"]');
  await kiosk.click('#screen [data-digit="2"]');
  t.equal(await kiosk.locator('#pin-count').textContent(), '已输入 2 位');
  t.notMatch(await kiosk.locator('#pin-dots').innerText(), /\d/, 'no digit in the PIN display');
  await kiosk.click('#pin-clear');
  await kiosk.click('#pin-clear');
  await tapPin(kiosk, PIN);
  await waitScreen(kiosk, 'services');
  await screen(t, kiosk, 'kiosk-05-services');
  await kiosk.getByRole('button', { name: '查看完整信息' }).click();
  await waitScreen(kiosk, 'details');
  t.match(await bodyText(kiosk), CARD['ssn']!, 'full details after the PIN');
  t.match(await bodyText(kiosk), CARD['name']!);
  await screen(t, kiosk, 'kiosk-06-details');
  await kiosk.getByRole('button', { name: '结束并退卡' }).click();
  await waitScreen(kiosk, 'takeCard');
  t.notMatch(await bodyText(kiosk), CARD['ssn']!, 'take-card screen: data wiped');
  t.notMatch(await bodyText(kiosk), CARD['name']!.slice(0, 1) + '*');
  await screen(t, kiosk, 'kiosk-07-take-card');
  await cardOut();
  await waitScreen(kiosk, 'welcome');
});

t.test('kiosk: shuffled keypad layout is an option and differs from the ordered one', async (t) => {
  await box.insert('ssc-2.00.json');
  await waitScreen(kiosk, 'info');
  await kiosk.getByRole('button', { name: '输入密码继续' }).click();
  await waitScreen(kiosk, 'pinScreen');
  const order = (): Promise<string> => kiosk.locator('#screen [data-digit]').evaluateAll((els) => els.map((e) => e.getAttribute('data-digit')).join(''));
  const layouts = new Set<string>();
  for (let i = 0; i < 4; i++) {
    layouts.add(await order());
    await kiosk.click('#shuffle');
    await kiosk.click('#shuffle');
  }
  t.ok(layouts.size > 1, 'the shuffled layout changes between screens');
  await kiosk.click('#shuffle');
  t.equal(await order(), '1234567890', 'ordered layout when shuffling is off');
  t.equal(await kiosk.getAttribute('#shuffle', 'aria-pressed'), 'false');
  await shot(kiosk, 'kiosk-08-pin-ordered');
  await kiosk.click('#shuffle');
});

t.test('kiosk: card removed mid-flow wipes the page', async (t) => {
  await tapPin(kiosk, PIN);
  await waitScreen(kiosk, 'services');
  await kiosk.getByRole('button', { name: '查看完整信息' }).click();
  await waitScreen(kiosk, 'details');
  await cardOut();
  await waitScreen(kiosk, 'notice');
  const html = await bodyText(kiosk);
  t.notMatch(html, CARD['ssn']!, 'no SSN left');
  t.notMatch(html, CARD['name']!, 'no name left');
  t.notMatch(html, CARD['cardNumber']!, 'no card number left');
  t.match(await kiosk.locator('h1').textContent(), /已取出/);
  await screen(t, kiosk, 'kiosk-09-removed');
});

t.test('kiosk: change PIN, then the new PIN works and the old one does not', async (t) => {
  await box.insert('ssc-2.00.json');
  await waitScreen(kiosk, 'info');
  await kiosk.getByRole('button', { name: '输入密码继续' }).click();
  await waitScreen(kiosk, 'pinScreen');
  await tapPin(kiosk, PIN);
  await waitScreen(kiosk, 'services');
  await kiosk.getByRole('button', { name: '修改密码' }).click();
  await waitScreen(kiosk, 'pinScreen');
  t.match(await kiosk.locator('h1').textContent(), /当前密码/);
  await tapPin(kiosk, PIN);
  await kiosk.waitForSelector('h1:has-text("新密码")');
  await shot(kiosk, 'kiosk-10-pin-new');
  await tapPin(kiosk, NEW_PIN);
  await kiosk.waitForSelector('h1:has-text("再次输入")');
  await tapPin(kiosk, '135791');
  await kiosk.waitForSelector('#screen .problem');
  t.match(await kiosk.locator('#screen .problem').textContent(), /不一致/, 'mismatch explained');
  await tapPin(kiosk, NEW_PIN);
  await kiosk.waitForSelector('h1:has-text("再次输入")');
  await tapPin(kiosk, NEW_PIN);
  await waitScreen(kiosk, 'result');
  t.match(await kiosk.locator('h1').textContent(), /密码已修改/);
  await screen(t, kiosk, 'kiosk-11-pin-changed');
  // the card itself now takes the new PIN (checked through the API with the token)
  const H = { 'x-onecard-token': box.token, 'content-type': 'application/json' };
  t.equal((await fetch(`${box.apiUrl}/v1/card/pin/verify`, { method: 'POST', headers: H, body: JSON.stringify({ pin: NEW_PIN }) })).status, 200, 'new PIN verifies on the card');
  await kiosk.getByRole('button', { name: '完成' }).click();
  await waitScreen(kiosk, 'takeCard');
  await cardOut();
  await waitScreen(kiosk, 'welcome');
});

t.test('kiosk: English toggle, then back to Chinese', async (t) => {
  await kiosk.getByRole('button', { name: 'Switch to English' }).click();
  t.equal(await kiosk.getAttribute('html', 'lang'), 'en');
  t.match(await kiosk.locator('h1').textContent(), /Welcome/);
  await screen(t, kiosk, 'kiosk-12-welcome-en');
  await box.insert('ssc-2.00.json');
  await waitScreen(kiosk, 'info');
  t.match(await kiosk.locator('h1').textContent(), 'Card information');
  await shot(kiosk, 'kiosk-13-info-en');
  await kiosk.getByRole('button', { name: '切换到中文' }).click();
  t.equal(await kiosk.getAttribute('html', 'lang'), 'zh-CN');
  t.match(await kiosk.locator('h1').textContent(), '卡片信息');
  await kiosk.getByRole('button', { name: '结束并退卡' }).click();
  await waitScreen(kiosk, 'takeCard');
  await cardOut();
  await waitScreen(kiosk, 'welcome');
});

t.test('kiosk: keyboard only — Tab, Enter and digit keys through PIN, details and finish', async (t) => {
  await box.insert('ssc-2.00.json');
  await waitScreen(kiosk, 'info');
  const focusedText = (): Promise<string> => kiosk.evaluate<string>("document.activeElement?.textContent ?? ''");
  const tabTo = async (label: string): Promise<void> => {
    for (let i = 0; i < 30; i++) {
      await kiosk.keyboard.press('Tab');
      if ((await focusedText()) === label) return;
    }
    throw new Error(`${label} not reachable by Tab`);
  };
  await tabTo('输入密码继续');
  await kiosk.keyboard.press('Enter');
  await waitScreen(kiosk, 'pinScreen');
  // each insertion loads the card afresh from its file: the PIN is the file's again
  await kiosk.keyboard.type(PIN);
  t.equal(await kiosk.locator('#pin-count').textContent(), '已输入 6 位');
  await kiosk.keyboard.press('Enter');
  await waitScreen(kiosk, 'services');
  await tabTo('查看完整信息');
  await kiosk.keyboard.press('Enter');
  await waitScreen(kiosk, 'details');
  t.match(await bodyText(kiosk), CARD['ssn']!);
  await tabTo('结束并退卡');
  await kiosk.keyboard.press('Enter');
  await waitScreen(kiosk, 'takeCard');
  t.pass('every step reached without a mouse');
  await cardOut();
  await waitScreen(kiosk, 'welcome');
});

t.test('kiosk: idle timeout wipes all personal data from the page', async (t) => {
  const p = await openScreen('kiosk', true);
  await waitScreen(p, 'welcome');
  await box.insert('ssc-2.00.json');
  await waitScreen(p, 'info');
  await p.getByRole('button', { name: '输入密码继续' }).click();
  await waitScreen(p, 'pinScreen');
  await tapPin(p, PIN);
  await waitScreen(p, 'services');
  await p.getByRole('button', { name: '查看完整信息' }).click();
  await waitScreen(p, 'details');
  t.match(await bodyText(p), CARD['ssn']!);
  await p.clock.fastForward(61_000);
  await waitScreen(p, 'notice');
  const html = await bodyText(p);
  for (const [what, v] of [['ssn', CARD['ssn']], ['name', CARD['name']], ['card number', CARD['cardNumber']], ['birth date', '1970-01-01'], ['masked name', '张*']] as const) t.notMatch(html, v!, `no ${what} in the DOM after the idle timeout`);
  t.match(await p.locator('h1').textContent(), /无操作/);
  await screen(t, p, 'kiosk-14-idle');
  await cardOut();
  await waitScreen(p, 'welcome');
  await p.context().close();
});

t.test('kiosk: transit balance and recent fares, without a PIN', async (t) => {
  await box.insert('ssc-2.00-transit.json');
  await waitScreen(kiosk, 'info');
  await kiosk.getByRole('button', { name: '交通余额' }).click();
  await waitScreen(kiosk, 'transitScreen');
  const text = await kiosk.locator('#screen').innerText();
  t.match(text, /余额\s*\d+\.\d\d 元/, 'balance in yuan');
  t.match(text, /卡内暂无交易记录|消费|充值/, 'fares or their absence said');
  await screen(t, kiosk, 'kiosk-21-transit');
  await kiosk.getByRole('button', { name: '结束并退卡' }).click();
  await waitScreen(kiosk, 'takeCard');
  await cardOut();
  await waitScreen(kiosk, 'welcome');
});

const TRANSIT = JSON.parse(readFileSync(join(CARDS, 'ssc-2.00-transit.json'), 'utf8')) as Record<string, string>;

t.test('desk: card enquiry, iReadCardBas for the HIS, loss report with the holder PIN, printable receipt, wipe on removal', async (t) => {
  const desk = await openScreen('desk');
  await desk.waitForSelector('#reader:has-text("读卡器就绪")');
  t.equal(await desk.getAttribute('html', 'lang'), 'zh-CN');
  await screen(t, desk, 'desk-01-ready');
  await box.insert('ssc-2.00-transit.json');
  await desk.waitForSelector('#reader:has-text("卡片已插入")');
  await desk.getByRole('button', { name: '信息查询' }).click();
  await desk.waitForSelector('#result dl');
  const info = await desk.locator('#result').innerText();
  t.match(info, TRANSIT['ssn']!, 'staff see the full record');
  t.match(info, TRANSIT['name']!);
  t.match(await desk.locator('#receipt').innerText(), /业务回执/);
  t.notMatch(await desk.locator('#receipt').innerText(), TRANSIT['ssn']!, 'the receipt carries no full ID number');
  await screen(t, desk, 'desk-02-enquiry');
  await desk.emulateMedia({ media: 'print' });
  await shot(desk, 'desk-03-receipt-print');
  t.equal(await desk.locator('#result').isVisible(), false, 'printing shows the receipt alone');
  await desk.emulateMedia({ media: 'screen' });
  await desk.getByRole('button', { name: '医院挂号读卡（iReadCardBas）' }).click();
  await desk.waitForSelector('#his-output');
  const bas = await desk.inputValue('#his-output');
  t.ok(bas.split('|').includes(TRANSIT['ssn']!), 'iReadCardBas string carries the SSN as a field');
  t.ok(bas.split('|').length >= 11, 'eleven fields');
  await screen(t, desk, 'desk-04-ireadcardbas');
  // Card-changing services need a member of staff signed in with their own credential.
  await staffSignIn(t, desk);
  await desk.getByRole('button', { name: '挂失' }).click();
  await desk.waitForSelector('#holder-pin');
  t.equal(await desk.evaluate<string>('document.activeElement?.id'), 'holder-pin', 'focus in the PIN field');
  await screen(t, desk, 'desk-05-loss-pin');
  await desk.keyboard.type(TRANSIT['pin']!);
  await desk.keyboard.press('Enter');
  await desk.waitForSelector('#receipt .receipt');
  t.match(await desk.locator('#result').innerText(), /挂失已(提交|受理)/);
  await screen(t, desk, 'desk-06-loss-done');
  await until('the fleet lists the desk report', async () => (await box.server.call('GET', `/api/v1/hotlist/${TRANSIT['cardNumber']}`)).status === 200, 30_000, 200);
  // 解挂: the holder's ID document checked against the card; a wrong number is refused in words.
  const ssn = TRANSIT['ssn']!;
  await desk.getByRole('button', { name: '解挂' }).click();
  await desk.waitForSelector('#id-number');
  await desk.fill('#id-number', `${ssn.slice(0, -1)}${ssn.endsWith('1') ? '2' : '1'}`);
  await desk.keyboard.press('Enter');
  await desk.waitForSelector('#result .problem');
  t.match(await desk.locator('#result').innerText(), /证件号码与卡内持卡人信息不符/, 'ID mismatch explained');
  await screen(t, desk, 'desk-08-cancel-mismatch');
  await desk.getByRole('button', { name: '解挂' }).click();
  await desk.fill('#id-number', ssn);
  await desk.keyboard.press('Enter');
  await desk.waitForSelector('#receipt .receipt');
  t.match(await desk.locator('#result').innerText(), /解挂已(提交|受理)/);
  t.notMatch(await bodyText(desk), ssn, 'the typed ID number is not kept on the page');
  await screen(t, desk, 'desk-09-cancel-done');
  await until('the fleet takes the card off the hotlist', async () => (await box.server.call('GET', `/api/v1/hotlist/${TRANSIT['cardNumber']}`)).status === 404, 30_000, 200);
  // PIN unblock and reset through the PSAM, once the terminal's hotlist no longer has the card.
  await until('the terminal reads the card again', async () => (await fetch(`${box.apiUrl}/v1/card/pin`, { headers: { 'x-onecard-token': box.token } })).status === 200, 30_000, 200);
  await desk.getByRole('button', { name: '密码解锁' }).click();
  await desk.click('#unblock-submit');
  await desk.waitForSelector('#result p.lead:has-text("密码已解锁")');
  await desk.getByRole('button', { name: '密码重置' }).click();
  await desk.fill('#new-pin', '135790');
  await desk.fill('#new-pin-2', '135790');
  await desk.keyboard.press('Enter');
  await desk.waitForSelector('#result p.lead:has-text("密码已重置")');
  await screen(t, desk, 'desk-10-pin-reset');
  await desk.getByRole('button', { name: 'Switch to English' }).click();
  t.equal(await desk.locator('h1').textContent(), 'Social security card counter');
  await cardOut();
  await desk.waitForSelector('#message:has-text("cleared")');
  const html = await bodyText(desk);
  for (const v of [TRANSIT['ssn'], TRANSIT['name'], TRANSIT['cardNumber'], '李*']) t.notMatch(html, v!, 'desk wiped when the card left');
  await screen(t, desk, 'desk-07-wiped-en');
  await desk.context().close();
});

t.test('kiosk: PIN locked after the last wrong try, explained', async (t) => {
  await box.insert('ssc-2.00.json');
  await waitScreen(kiosk, 'info');
  await kiosk.getByRole('button', { name: '输入密码继续' }).click();
  await waitScreen(kiosk, 'pinScreen');
  await tapPin(kiosk, WRONG);
  await kiosk.waitForSelector('#screen .problem');
  await tapPin(kiosk, WRONG);
  await kiosk.waitForSelector('#screen .problem:has-text("1 次")');
  await tapPin(kiosk, WRONG);
  await waitScreen(kiosk, 'failure');
  const text = await kiosk.locator('#screen').innerText();
  t.match(text, /密码已锁定/, 'lock-out explained');
  t.match(text, /人工窗口/, 'says where to unlock');
  await screen(t, kiosk, 'kiosk-15-pin-locked');
  await kiosk.getByRole('button', { name: '结束并退卡' }).click();
  await waitScreen(kiosk, 'takeCard');
  await cardOut();
  await waitScreen(kiosk, 'welcome');
});

t.test('kiosk: report the card lost — the fleet lists it', async (t) => {
  await box.insert('ssc-2.00.json');
  await waitScreen(kiosk, 'info');
  await kiosk.getByRole('button', { name: '输入密码继续' }).click();
  await waitScreen(kiosk, 'pinScreen');
  await tapPin(kiosk, PIN);
  await waitScreen(kiosk, 'services');
  await kiosk.getByRole('button', { name: '挂失' }).click();
  await waitScreen(kiosk, 'lossConfirm');
  await screen(t, kiosk, 'kiosk-16-loss-confirm');
  await kiosk.getByRole('button', { name: '确定挂失' }).click();
  await waitScreen(kiosk, 'pinScreen');
  await tapPin(kiosk, PIN);
  await waitScreen(kiosk, 'result');
  t.match(await kiosk.locator('h1').textContent(), /挂失已(提交|受理)/);
  await screen(t, kiosk, 'kiosk-17-loss-done');
  await until('the fleet lists the kiosk report', async () => (await box.server.call('GET', `/api/v1/hotlist/${CARD['cardNumber']}`)).status === 200, 30_000, 200);
  t.pass('server hotlist has the card');
  await kiosk.getByRole('button', { name: '完成' }).click();
  await waitScreen(kiosk, 'takeCard');
  await cardOut();
  await waitScreen(kiosk, 'welcome');
});

t.test('kiosk: a hotlisted card is refused with a plain message', async (t) => {
  const r = await box.server.call('POST', '/api/v1/hotlist/report', { cardNumbers: [OTHER['cardNumber']], reason: 'stolen' });
  t.ok(r.status < 300, `admin report ${r.status}`);
  // wait for the delta to reach the terminal: the API (token) refuses the card once it has it
  await box.insert('ssc-3.00-long-name.json');
  const H = { 'x-onecard-token': box.token, 'content-type': 'application/json' };
  await until('terminal hotlist has the card', async () => {
    const res = await fetch(`${box.apiUrl}/v1/card/read`, { method: 'POST', headers: H, body: '{}' });
    return res.status === 422 && ((await res.json()) as { error: { code: string } }).error.code === 'TERM_ERR_CARD_HOTLISTED';
  }, 30_000, 500);
  await cardOut();
  await waitScreen(kiosk, 'welcome');
  await box.insert('ssc-3.00-long-name.json');
  await waitScreen(kiosk, 'failure');
  const text = await kiosk.locator('#screen').innerText();
  t.match(text, /已挂失或停用/, 'hotlisted, in words');
  t.notMatch(text, OTHER['name']!, 'nothing of the holder shown');
  await screen(t, kiosk, 'kiosk-18-hotlisted');
  await kiosk.getByRole('button', { name: '结束并退卡' }).click();
  await cardOut();
  await waitScreen(kiosk, 'welcome');
});

t.test('kiosk: a launch code is single use and the page holds no secret', async (t) => {
  const url = await box.launchUrl('kiosk');
  const first = await fetch(url, { redirect: 'manual' });
  t.equal(first.status, 303);
  t.equal((await fetch(url, { redirect: 'manual' })).status, 401, 'second use refused');
  const cookie = (first.headers.get('set-cookie') ?? '').split(';')[0]!;
  for (const f of ['', 'kiosk.js', 'shared/api.js', 'shared/messages.js']) {
    const res = await fetch(`${box.apiUrl}/kiosk/${f}`, { headers: { cookie } });
    t.equal(res.status, 200, `/kiosk/${f}`);
    t.match(res.headers.get('content-security-policy') ?? '', "script-src 'self'");
    t.notMatch(await res.text(), box.token, `no token in /kiosk/${f}`);
  }
  t.equal((await fetch(`${box.apiUrl}/kiosk/`)).status, 401, 'no page without a session');
  t.equal((await fetch(`${box.apiUrl}/desk/`, { headers: { cookie } })).status, 401, 'the kiosk session does not open the desk');
  t.equal((await fetch(`${box.apiUrl}/kiosk/..%2Fsrc%2Fapi%2Fapp.ts`, { headers: { cookie } })).status, 404, 'no path out of the screen folder');
});

/** PIN pad entries opened so far; {@link padPrompt} waits for the next one before keys are pressed. */
let padAsked = 0;
async function padPrompt(): Promise<void> {
  const n = ++padAsked;
  await until(`PIN pad prompt ${n}`, async () => {
    const st = await box.padStatus();
    return st.prompting && st.prompts >= n;
  }, 20_000, 50);
}

t.test('kiosk with a PIN pad device: the PIN goes pad → card, the page shows counts only; tries left, cancel, lock-out', async (t) => {
  // (ssc-2.00.json is on the hotlist since the kiosk's loss report; 李四's card was taken off it at the desk.)
  // The same box restarted with a PIN pad and an e-card QR scanner, each on a serial line (the
  // simulated devices on pseudo-terminals).
  const padPath = await box.startPinPad();
  const scannerPath = await box.startScanner();
  await box.restartTerminal({
    pinpad: { link: 'serial', path: padPath },
    ecard: { keys: [{ publicKey: ecardIssuerPublicKey(TEST_ECARD_ISSUER_PRIVATE_KEY), label: 'test platform' }], scanners: [{ link: 'serial', path: scannerPath }] },
  });
  await waitScreen(kiosk, 'outOfServiceScreen');
  await kiosk.context().close();
  kiosk = await openScreen('kiosk');
  await waitScreen(kiosk, 'welcome');
  padAsked = (await box.padStatus()).prompts;
  await box.insert('ssc-2.00-transit.json');
  await waitScreen(kiosk, 'info');
  await kiosk.getByRole('button', { name: '输入密码继续' }).click();
  await waitScreen(kiosk, 'padScreen');
  t.match(await kiosk.locator('h1').textContent(), '请在密码键盘上输入社保卡密码', 'asks for the PIN on the pad');
  t.match(await kiosk.locator('#tries').textContent(), /3/, 'tries left shown');
  t.equal(await kiosk.locator('#screen [data-digit]').count(), 0, 'no on-screen keypad');
  await padPrompt();
  await box.press('1234');
  await kiosk.waitForSelector('#pin-count:has-text("已输入 4 位")');
  t.notMatch(await kiosk.locator('#pin-dots').innerText(), /\d/, 'no digit on the page');
  await screen(t, kiosk, 'kiosk-22-pinpad');
  await box.press('BBBB000000E');
  await kiosk.waitForSelector('#screen .problem:has-text("还可以尝试 2 次")');
  t.pass('wrong PIN on the pad: tries left, in words');
  await padPrompt();
  await box.press(`${TRANSIT['pin']!}E`);
  await waitScreen(kiosk, 'services');
  t.notMatch(await bodyText(kiosk), TRANSIT['pin']!, 'the PIN never reached the page');
  // Cancel from the page ends the entry on the pad too.
  await kiosk.getByRole('button', { name: '修改密码' }).click();
  await waitScreen(kiosk, 'padScreen');
  t.match(await kiosk.locator('h1').textContent(), '当前密码');
  await padPrompt();
  await kiosk.click('#pad-cancel');
  await waitScreen(kiosk, 'services');
  t.equal((await box.padStatus()).prompting, false, 'the pad stopped prompting');
  await kiosk.getByRole('button', { name: '结束并退卡' }).click();
  await waitScreen(kiosk, 'takeCard');
  await cardOut();
  await waitScreen(kiosk, 'welcome');
  // Lock-out: three wrong PINs on the pad, explained in words.
  await box.insert('ssc-2.00-transit.json');
  await waitScreen(kiosk, 'info');
  await kiosk.getByRole('button', { name: '输入密码继续' }).click();
  for (const left of ['2', '1']) {
    await padPrompt();
    await box.press('000000E');
    await kiosk.waitForSelector(`#screen .problem:has-text("还可以尝试 ${left} 次")`);
  }
  await padPrompt();
  await box.press('000000E');
  await waitScreen(kiosk, 'failure');
  t.match(await kiosk.locator('#screen').innerText(), /密码已锁定/, 'lock-out explained');
  await shot(kiosk, 'kiosk-23-pinpad-locked');
  await kiosk.getByRole('button', { name: '结束并退卡' }).click();
  await waitScreen(kiosk, 'takeCard');
  await cardOut();
  await waitScreen(kiosk, 'welcome');
});

const ECARD_HOLDER = { holderRef: 'H0001', ssn: '110101199003071234', name: '王小明', region: '110100', purpose: 'enquiry' } as const;

t.test('kiosk: e-card QR scanned → masked information and the services without the physical card; a replayed code refused', async (t) => {
  await waitScreen(kiosk, 'welcome');
  t.match(await kiosk.locator('#screen').innerText(), /电子社保卡二维码/, 'the welcome screen offers the e-card');
  const { code } = issueEcardCode(ECARD_HOLDER, { key: TEST_ECARD_ISSUER_PRIVATE_KEY, clock: Date.now });
  await box.scan(code);
  await waitScreen(kiosk, 'ecardScreen');
  const text = await kiosk.locator('#screen').innerText();
  t.match(text, '王**', 'masked name');
  t.match(text, /110\*+34/, 'masked ID number');
  t.match(text, '110100', 'region');
  t.match(await kiosk.locator('#ecard-services').innerText(), '查看基本信息', 'services without the card listed');
  t.match(text, /需要插入实体社保卡/, 'says which services need the physical card');
  const html = await bodyText(kiosk);
  t.notMatch(html, ECARD_HOLDER.ssn, 'no full ID number on the page');
  t.notMatch(html, ECARD_HOLDER.name, 'no full name on the page');
  await screen(t, kiosk, 'kiosk-24-ecard');
  await kiosk.getByRole('button', { name: '完成' }).click();
  await waitScreen(kiosk, 'welcome');
  t.notMatch(await bodyText(kiosk), '王**', 'wiped after 完成');
  await box.scan(code);
  await waitScreen(kiosk, 'failure');
  t.match(await kiosk.locator('#screen').innerText(), /已使用过/, 'a replayed code is refused in words');
  await screen(t, kiosk, 'kiosk-25-ecard-replayed');
  await kiosk.getByRole('button', { name: '完成' }).click();
  await waitScreen(kiosk, 'welcome');
});

t.test('kiosk offline from the fleet: the loss report is kept in the outbox, then confirmed once sent after reconnect', async (t) => {
  box.fleetLink(false);
  await until('the fleet server sees the terminal gone', async () => !(await box.fleetSeesTerminal()), 30_000, 200);
  await box.insert('ssc-2.00-transit.json');
  await waitScreen(kiosk, 'info');
  await kiosk.getByRole('button', { name: '输入密码继续' }).click();
  await waitScreen(kiosk, 'padScreen');
  await padPrompt();
  await box.press(`${TRANSIT['pin']!}E`);
  await waitScreen(kiosk, 'services');
  await kiosk.getByRole('button', { name: '挂失' }).click();
  await kiosk.getByRole('button', { name: '确定挂失' }).click();
  await waitScreen(kiosk, 'padScreen');
  t.match(await kiosk.locator('h1').textContent(), '确认挂失');
  await padPrompt();
  await box.press(`${TRANSIT['pin']!}E`);
  await waitScreen(kiosk, 'result');
  t.match(await kiosk.locator('h1').textContent(), /保存在本机.*网络恢复后将自动提交/, 'queued in the outbox, said plainly');
  await screen(t, kiosk, 'kiosk-26-loss-queued');
  t.equal((await box.server.call('GET', `/api/v1/hotlist/${TRANSIT['cardNumber']}`)).status, 404, 'the fleet does not have it yet');
  box.fleetLink(true);
  await kiosk.waitForSelector('#screen h1:has-text("挂失已发送到服务中心")', { timeout: 90_000 });
  t.pass('confirmed on the same screen once the outbox sent it');
  await until('the fleet lists the queued report', async () => (await box.server.call('GET', `/api/v1/hotlist/${TRANSIT['cardNumber']}`)).status === 200, 30_000, 200);
  await screen(t, kiosk, 'kiosk-27-loss-sent');
  await kiosk.getByRole('button', { name: '完成' }).click();
  await waitScreen(kiosk, 'takeCard');
  await cardOut();
  await waitScreen(kiosk, 'welcome');
});

t.test('kiosk: reader lost → out of service, nothing personal left → reader back → a fresh kiosk', async (t) => {
  // 张三's card off the hotlist again (reported lost by the kiosk earlier), so it can be read.
  t.ok((await box.server.call('POST', '/api/v1/hotlist/cancel', { cardNumbers: [CARD['cardNumber']], reason: 'found' })).status < 300, 'hotlist entry cancelled');
  await box.insert('ssc-2.00.json');
  const H = { 'x-onecard-token': box.token, 'content-type': 'application/json' };
  await until('the terminal reads the card again', async () => (await fetch(`${box.apiUrl}/v1/card/read`, { method: 'POST', headers: H, body: '{}' })).status === 200, 30_000, 300);
  await cardOut();
  await waitScreen(kiosk, 'welcome');
  await box.insert('ssc-2.00.json');
  await waitScreen(kiosk, 'info');
  t.match(await bodyText(kiosk), '张*');
  await kiosk.evaluate('window.staleMarker = 1');
  box.unplug();
  await waitScreen(kiosk, 'outOfServiceScreen');
  t.match(await kiosk.locator('#screen').innerText(), /暂停服务[\s\S]*读卡器暂时不可用/, 'out of service, the reader named');
  const html = await bodyText(kiosk);
  for (const v of ['张*', CARD['ssn']!.slice(0, 4) + '*', CARD['cardNumber']!.slice(-3)]) t.notMatch(html, v, 'nothing of the holder left');
  await screen(t, kiosk, 'kiosk-19-reader-gone');
  await box.replug();
  await waitScreen(kiosk, 'welcome');
  t.equal(await kiosk.evaluate('typeof window.staleMarker'), 'undefined', 'a fresh page: nothing of the old one survives in memory');
  t.match(await kiosk.locator('#screen .status').textContent(), /读卡器就绪/);
  await screen(t, kiosk, 'kiosk-28-recovered');
  await box.insert('ssc-2.00.json');
  await waitScreen(kiosk, 'info');
  t.match(await bodyText(kiosk), '张*', 'the card is read afresh');
  await kiosk.getByRole('button', { name: '结束并退卡' }).click();
  await waitScreen(kiosk, 'takeCard');
  await cardOut();
  await waitScreen(kiosk, 'welcome');
});

t.test('kiosk: the page session ends → out of service, nothing personal left', async (t) => {
  await kiosk.evaluate<number>("fetch('/v1/session/end', { method: 'POST', credentials: 'same-origin' }).then((r) => r.status)");
  await waitScreen(kiosk, 'outOfServiceScreen');
  t.match(await kiosk.locator('h1').textContent(), '暂停服务');
  await screen(t, kiosk, 'kiosk-20-out-of-service');
  t.equal(await kiosk.evaluate<number>("fetch('/v1/readers', { credentials: 'same-origin' }).then((r) => r.status)"), 401, 'the ended session is refused');
});

t.test('fleet dashboard: axe-core on the sign-in page and every section', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${box.server.httpUrl}/`);
  await page.getByLabel('Admin token').waitFor();
  await screen(t, page, 'dashboard-01-sign-in');
  await page.getByLabel('Admin token').fill(box.server.adminToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('#tile-total', { timeout: 20_000 });
  await screen(t, page, 'dashboard-02-overview');
  const sections = await page.locator('nav a[href^="#/"]').evaluateAll((as) => as.map((a) => a.getAttribute('href') ?? ''));
  t.ok(sections.length >= 3, `sections: ${sections.join(' ')}`);
  for (const [i, href] of [...new Set(sections)].filter((h) => h !== '#/').entries()) {
    await page.click(`nav a[href="${href}"]`);
    await page.waitForLoadState('networkidle');
    await page.waitForTimeout(300);
    await screen(t, page, `dashboard-${String(i + 3).padStart(2, '0')}-${href.slice(2) || 'home'}`);
  }
  await context.close();
});

t.test('fleet dashboard: an operator issues a staff credential (shown once), sees it listed, revokes it; axe', async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('dialog', (d) => void d.accept());
  await page.goto(`${box.server.httpUrl}/`);
  await page.getByLabel('Admin token').fill(await box.server.tokenFor('operator'));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForSelector('#tile-total', { timeout: 20_000 });
  await page.click('nav a[href="#/staff"]');
  await page.getByRole('heading', { name: 'Staff credentials', level: 1 }).waitFor();
  await page.getByLabel('Staff ID').fill('E2002');
  await page.getByLabel('Name', { exact: true }).fill('陈静');
  await page.getByLabel('Terminal groups').fill('hall');
  await page.getByRole('button', { name: 'Issue credential' }).click();
  const value = (await page.locator('#staff-credential-value').textContent({ timeout: 20_000 })) ?? '';
  t.match(value, /^ocs_[A-Za-z0-9_-]{43}$/, 'the credential is shown once');
  staffCredentials.push(value);
  await page.waitForSelector('td:has-text("E2002")');
  await screen(t, page, 'dashboard-staff-issued');
  const listed = (await box.server.call('GET', '/api/v1/staff-credentials')).body as { credentials: { staffId: string; revokedAt: number | null }[] };
  t.equal(listed.credentials.find((c) => c.staffId === 'E2002')?.revokedAt, null, 'issued and active on the server');
  await page.getByRole('button', { name: 'Revoke the credential of 陈静 (E2002)' }).click();
  await page.waitForSelector('tr:has(td:has-text("E2002")) :text("revoked")');
  const after = (await box.server.call('GET', '/api/v1/staff-credentials')).body as { credentials: { staffId: string; revokedAt: number | null }[] };
  t.type(after.credentials.find((c) => c.staffId === 'E2002')?.revokedAt, 'number', 'revoked on the server');
  await page.reload();
  await page.getByRole('heading', { name: 'Staff credentials', level: 1 }).waitFor();
  await page.waitForSelector('td:has-text("E2002")');
  t.equal(await page.locator('#staff-credential-value').count(), 0, 'the value is not shown again');
  t.notMatch(await page.evaluate<string>('document.documentElement.outerHTML'), value, 'nowhere on the page');
  await screen(t, page, 'dashboard-staff-revoked');
  await context.close();
});

t.test('log scan: no PIN, no key, no full ID number in any terminal or simulator output', async (t) => {
  const logs = box.logs();
  t.ok(logs.length > 1000, `scanned ${logs.length} characters of output`);
  for (const [what, v] of [['PIN', PIN], ['new PIN', NEW_PIN], ['API token', box.token], ['SSN', CARD['ssn']], ['other SSN', OTHER['ssn']], ['e-card ID number', ECARD_HOLDER.ssn], ...Object.entries(CARD.keys).map(([k, v]) => [`key ${k}`, v] as const)] as const) {
    t.notMatch(logs, v!, `no ${what} in the output`);
  }
  t.notMatch(logs, /session\/start\?code=/, 'no launch code in the output');
  t.ok(staffCredentials.length > 0, 'a staff credential was used');
  for (const c of staffCredentials) t.notOk(logs.includes(c.slice(4)), 'no staff credential in the output');
});

t.test('screenshots and audit summary', async (t) => {
  writeFileSync(join(ART, 'axe-summary.json'), `${JSON.stringify(audits, null, 2)}\n`);
  t.ok(shots.size >= 15, `${shots.size} screenshots in ${ART}`);
});
