// The cardholder's kiosk: card → masked basic information → PIN → services (full details, change
// PIN, report lost) → "take your card" → everything wiped. Driven by the terminal's live events
// (card inserted/removed, reader status) and its local API with the page session cookie.
// Personal data lives only in `card` and on screen; PIN digits only in `pin` until they are sent
// to the card. `wipe()` clears both, and the DOM, at the end of every flow, when the card leaves,
// and after IDLE_MS without a touch or key.
import { call, openEvents } from './shared/api.js';
import { errorMessage, formatDate, mask, maskName } from './shared/messages.js';
import { createLogin } from './login.js';
import { createHolder } from './holder.js';

const IDLE_MS = 60_000;
const TAKE_CARD_MS = 30_000;
const NOTICE_MS = 8_000;

const T = {
  zh: {
    title: '社保卡自助服务', toggle: 'English', toggleLabel: 'Switch to English',
    welcome: '欢迎使用社保卡自助服务', insert: '请将社保卡芯片朝上插入读卡器。', readerOk: '读卡器就绪', readerDown: '读卡器暂时不可用，请联系工作人员。',
    reading: '正在读卡，请勿取出卡片……', info: '卡片信息', name: '姓名', ssn: '社会保障号码', cardNumber: '社保卡号', expiry: '有效期至', issued: '发卡日期',
    sex: '性别', nation: '民族', birthDate: '出生日期', region: '发卡地区', cardType: '卡类别', generation: '卡片代数',
    sexes: { 1: '男', 2: '女', 9: '未说明' },
    toPin: '输入密码继续', finish: '结束并退卡', back: '返回',
    pinTitle: '请输入社保卡密码', pinOld: '请输入当前密码', pinNew: '请输入新密码（6 位数字）', pinAgain: '请再次输入新密码', pinLoss: '请输入密码以确认挂失',
    triesLeft: (n) => `还可以尝试 ${n} 次`, entered: (n) => `已输入 ${n} 位`, pinPrivacy: '密码不会显示，也不会被保存或上传。',
    clear: '更正', ok: '确认', cancel: '取消', digit: (d) => `数字 ${d}`, keypad: '密码键盘', shuffled: '随机键盘：开', ordered: '随机键盘：关', shuffleLabel: '切换随机排列的键盘',
    services: '请选择服务', details: '查看完整信息', changePin: '修改密码', loss: '挂失', transit: '交通余额',
    pinChanged: '密码已修改成功。', pinMismatch: '两次输入的新密码不一致，请重新输入。', pinShort: '密码应为 6 位数字。',
    lossTitle: '社保卡挂失', lossExplain: '挂失后此卡将在所有终端停止使用。如需解挂，请携带身份证到人工窗口办理。确定要挂失吗？', lossConfirm: '确定挂失',
    lossOnline: '挂失已提交，此卡将在所有终端停止使用。', lossQueued: '挂失已受理并保存在本机。本机暂时无法连接服务中心，网络恢复后将自动提交。',
    takeCard: '请取回您的社保卡', takeCardHint: '您的信息已从屏幕上清除。谢谢使用！',
    removed: '卡片已取出，所有信息已从屏幕清除。', idle: '长时间无操作，您的信息已清除。请取回您的社保卡。',
    out: '暂停服务', outHint: '本机服务暂时不可用，请联系工作人员。', errTitle: '无法完成', code: '代码', done: '完成',
  },
  en: {
    title: 'Social security card self-service', toggle: '中文', toggleLabel: '切换到中文',
    welcome: 'Welcome to social security card self-service', insert: 'Insert your card into the reader, chip first and facing up.', readerOk: 'Card reader ready', readerDown: 'The card reader is not available. Please ask staff for help.',
    reading: 'Reading the card. Please do not take it out…', info: 'Card information', name: 'Name', ssn: 'Social security number', cardNumber: 'Card number', expiry: 'Valid until', issued: 'Issued on',
    sex: 'Sex', nation: 'Ethnic group', birthDate: 'Date of birth', region: 'Issuing region', cardType: 'Card type', generation: 'Card generation',
    sexes: { 1: 'male', 2: 'female', 9: 'not stated' },
    toPin: 'Enter PIN to continue', finish: 'Finish and return card', back: 'Back',
    pinTitle: 'Enter your card PIN', pinOld: 'Enter your current PIN', pinNew: 'Enter a new PIN (6 digits)', pinAgain: 'Enter the new PIN again', pinLoss: 'Enter your PIN to confirm the loss report',
    triesLeft: (n) => `${n} tries left`, entered: (n) => `${n} digit${n === 1 ? '' : 's'} entered`, pinPrivacy: 'Your PIN is never shown, stored or sent anywhere but the card.',
    clear: 'Correct', ok: 'OK', cancel: 'Cancel', digit: (d) => `digit ${d}`, keypad: 'PIN keypad', shuffled: 'Shuffled keypad: on', ordered: 'Shuffled keypad: off', shuffleLabel: 'Toggle the shuffled keypad',
    services: 'Choose a service', details: 'View full details', changePin: 'Change PIN', loss: 'Report card lost', transit: 'Transit balance',
    pinChanged: 'Your PIN has been changed.', pinMismatch: 'The two new PINs differ. Please enter them again.', pinShort: 'The PIN must be 6 digits.',
    lossTitle: 'Report card lost', lossExplain: 'After the report this card stops working at every terminal. To unblock it, bring your ID card to a service counter. Report it lost?', lossConfirm: 'Report lost',
    lossOnline: 'Loss report sent. This card will be refused at every terminal.', lossQueued: 'Loss report accepted and saved on this machine. It cannot reach the service centre now and will send it automatically when the network is back.',
    takeCard: 'Please take your card', takeCardHint: 'Your information has been cleared from the screen. Thank you!',
    removed: 'The card was taken out. All your information has been cleared from the screen.', idle: 'No activity for a while, so your information was cleared. Please take your card.',
    out: 'Out of service', outHint: 'This machine is not available right now. Please ask staff for help.', errTitle: 'Could not finish', code: 'Code', done: 'Done',
  },
};

// PIN pad device (where the box has one): the PIN is typed on the pad, never on this page.
Object.assign(T.zh, {
  padVerify: '请在密码键盘上输入社保卡密码', padOld: '请在密码键盘上输入当前密码', padNew: '请在密码键盘上输入新密码', padAgain: '请在密码键盘上再次输入新密码', padLoss: '请在密码键盘上输入密码以确认挂失',
  padHint: '请用屏幕下方的密码键盘输入，输入完成后按键盘上的“确认”键。密码不会显示在屏幕上。', padWaiting: '正在等待密码键盘……',
});
Object.assign(T.en, {
  padVerify: 'Enter your card PIN on the PIN pad', padOld: 'Enter your current PIN on the PIN pad', padNew: 'Enter a new PIN on the PIN pad', padAgain: 'Enter the new PIN again on the PIN pad', padLoss: 'Enter your PIN on the PIN pad to confirm the loss report',
  padHint: 'Use the PIN pad below the screen and press its Enter key when done. The PIN is never shown on the screen.', padWaiting: 'Waiting for the PIN pad…',
});

// A loss report kept in the outbox while the service centre cannot be reached, confirmed once sent.
Object.assign(T.zh, { lossSent: '网络已恢复，挂失已发送到服务中心，此卡将在所有终端停止使用。' });
Object.assign(T.en, { lossSent: 'The network is back: the loss report has reached the service centre. This card will be refused at every terminal.' });

// Electronic social security card (QR code shown on the holder's phone, read by the kiosk's scanner).
Object.assign(T.zh, {
  ecardHint: '也可以在扫码窗口出示电子社保卡二维码。', ecardTitle: '电子社保卡信息', region: '参保地区', validUntil: '二维码有效至',
  ecardServices: '无需实体卡即可办理', ecardInfoService: '查看基本信息（已脱敏显示）', ecardCardOnly: '修改密码、挂失和交通余额需要插入实体社保卡。',
});
Object.assign(T.en, {
  ecardHint: 'You can also show the QR code of your electronic card at the scanner.', ecardTitle: 'Electronic card information', region: 'Insured region', validUntil: 'QR code valid until',
  ecardServices: 'Services without the physical card', ecardInfoService: 'View your basic information (masked)', ecardCardOnly: 'Changing the PIN, reporting the card lost and the transit balance need the physical card.',
});

// Transit purse enquiry (no PIN needed: the purse is read, not changed).
Object.assign(T.zh, {
  transitTitle: '交通余额与最近乘车记录', balance: '余额', fares: '最近交易', noFares: '卡内暂无交易记录。', when: '时间', kind: '类型', amount: '金额',
  kinds: { purchase: '消费', load: '充值', other: '其他' }, yuan: (fen) => `${(fen / 100).toFixed(2)} 元`,
});
Object.assign(T.en, {
  transitTitle: 'Transit balance and recent fares', balance: 'Balance', fares: 'Recent transactions', noFares: 'No transactions on the card yet.', when: 'Time', kind: 'Type', amount: 'Amount',
  kinds: { purchase: 'Fare', load: 'Top-up', other: 'Other' }, yuan: (fen) => `¥${(fen / 100).toFixed(2)}`,
});

let lang = 'zh';
/** The screen shown: a render function and its arguments (re-rendered on language switch). */
let current = { fn: welcome, args: [] };
/** Personal data of the card in the reader (after the read), else null. */
let card = null;
/** The verified e-card identity (masked by the platform) while its screen is shown, else null. */
let ecard = null;
/** PIN digits being entered. */
let pin = [];
let shuffle = true;
let readerOk = true;
let cardIn = false;
let outOfService = false;
/** `{connected}` when the box takes PINs on a PIN pad device (GET /v1/pinpad), else null. */
let pinpad = null;
/** The PIN pad entry shown: what it is for and how many digits are on the pad (never which). */
let padEntry = { purpose: 'verify', count: 0 };
const psamSlots = new Set();
let idleTimer;
let screenTimer;

const main = document.getElementById('screen');
const live = document.getElementById('live');
const t = () => T[lang];

/** Builds an element; strings become text nodes (no HTML is ever parsed from data). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'onclick') el.addEventListener('click', v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}
const button = (label, onclick, attrs = {}) => h('button', { type: 'button', class: 'btn', onclick, ...attrs }, label);
// "Log in to a service" (login.js): its screens render through show(); card insertion on its screen goes to it.
const login = createLogin({ h, button, show, call, errorMessage, lang: () => lang, cardIn: () => cardIn, finish, say, failure, armIdle, screen: () => current.fn });
// The holder's library, venue, event and data-tracker services (holder.js), after the PIN.
const holder = createHolder({ h, button, show, call, errorMessage, lang: () => lang, finish, say, back: () => show(services) });

function show(fn, ...args) {
  clearTimeout(screenTimer);
  current = { fn, args };
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.title = t().title;
  const toggle = document.getElementById('lang');
  toggle.textContent = t().toggle;
  toggle.setAttribute('aria-label', t().toggleLabel);
  toggle.setAttribute('lang', lang === 'zh' ? 'en' : 'zh-CN');
  main.replaceChildren(...fn(...args).filter((c) => c !== null && c !== undefined));
  main.dataset.screen = fn.name;
  const heading = main.querySelector('h1');
  if (heading !== null) {
    heading.tabIndex = -1;
    heading.focus();
  }
  armIdle();
}

function armIdle() {
  clearTimeout(idleTimer);
  if (current.fn === welcome || current.fn === outOfServiceScreen) return;
  idleTimer = setTimeout(() => {
    wipe();
    show(notice, 'idle');
  }, IDLE_MS);
}

/** Forgets every personal datum and PIN digit and empties the screen. */
function wipe() {
  deliveryWatch++;
  // The terminal's binding of the holder services to this card ends with the screen.
  if (card?.verified === true) call('/v1/holder/end', {}).catch(() => undefined);
  holder.wipe();
  card = null;
  ecard = null;
  login.wipe();
  pin.fill('');
  pin = [];
  main.replaceChildren();
  live.textContent = '';
}

function say(text) {
  live.textContent = text;
}

// ---- screens (each returns the children of <main>) ----

function welcome() {
  return [
    h('h1', {}, t().welcome),
    h('p', { class: 'lead' }, t().insert),
    h('div', { class: 'card-slot', 'aria-hidden': 'true' }),
    h('p', { class: 'hint' }, t().ecardHint),
    h('p', { class: readerOk ? 'status ok' : 'status bad', role: 'status' }, readerOk ? t().readerOk : t().readerDown),
    h('div', { class: 'actions' }, login.entry()),
  ];
}

function reading() {
  return [h('h1', {}, t().reading), h('div', { class: 'spinner', role: 'progressbar', 'aria-label': t().reading })];
}

function field(label, value) {
  return [h('dt', {}, label), h('dd', {}, value)];
}

function info() {
  return [
    h('h1', {}, t().info),
    h('dl', { class: 'fields' },
      field(t().name, maskName(card.name)),
      field(t().ssn, mask(card.ssn, 4, 4)),
      field(t().cardNumber, mask(card.cardNumber, 1, 3)),
      field(t().expiry, formatDate(card.expiryDate))),
    h('div', { class: 'actions' }, button(t().toPin, () => enterPin('verify'), { class: 'btn primary' }), button(t().transit, showTransit, { id: 'transit' }), button(t().finish, finish)),
  ];
}

/** The PIN screen for `purpose` ('verify' | 'old' | 'new' | 'again' | 'loss'). */
function pinScreen(purpose, triesLeft, problem) {
  const title = { verify: t().pinTitle, old: t().pinOld, new: t().pinNew, again: t().pinAgain, loss: t().pinLoss }[purpose];
  const digits = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0'];
  if (shuffle) {
    const r = new Uint32Array(digits.length);
    crypto.getRandomValues(r);
    for (let i = digits.length - 1; i > 0; i--) {
      const j = r[i] % (i + 1);
      [digits[i], digits[j]] = [digits[j], digits[i]];
    }
  }
  const dots = h('div', { class: 'dots', id: 'pin-dots', 'aria-hidden': 'true' });
  const count = h('p', { class: 'count', id: 'pin-count', 'aria-live': 'polite' });
  const redraw = () => {
    dots.replaceChildren(...Array.from({ length: Math.max(6, pin.length) }, (_, i) => h('span', { class: i < pin.length ? 'dot on' : 'dot' })));
    count.textContent = t().entered(pin.length);
  };
  const press = (d) => {
    if (pin.length < 12) pin.push(d);
    redraw();
  };
  const keys = digits.slice(0, 9).map((d) => button(d, () => press(d), { class: 'key', 'aria-label': t().digit(d), 'data-digit': d }));
  keys.push(button(t().clear, () => { pin.pop(); redraw(); }, { class: 'key fn', id: 'pin-clear' }));
  keys.push(button(digits[9], () => press(digits[9]), { class: 'key', 'aria-label': t().digit(digits[9]), 'data-digit': digits[9] }));
  keys.push(button(t().ok, () => submitPin(purpose), { class: 'key fn ok', id: 'pin-ok' }));
  redraw();
  return [
    h('h1', {}, title),
    problem === undefined ? null : h('p', { class: 'problem', role: 'alert' }, problem),
    triesLeft === undefined ? null : h('p', { class: 'tries', id: 'tries' }, t().triesLeft(triesLeft)),
    dots,
    count,
    h('div', { class: 'keypad', role: 'group', 'aria-label': t().keypad }, keys),
    h('p', { class: 'hint' }, t().pinPrivacy),
    h('div', { class: 'actions' },
      button(shuffle ? t().shuffled : t().ordered, () => { shuffle = !shuffle; show(pinScreen, purpose, triesLeft, problem); }, { 'aria-pressed': String(shuffle), 'aria-label': t().shuffleLabel, id: 'shuffle' }),
      button(t().cancel, () => { pin = []; if (card === null) finish(); else show(card.verified ? services : info); })),
  ];
}

/** PIN entry on the PIN pad device: the page shows only the count of digits the pad reports. */
function padScreen(purpose, triesLeft, problem) {
  const title = { verify: t().padVerify, old: t().padOld, new: t().padNew, again: t().padAgain, loss: t().padLoss }[padEntry.purpose ?? purpose];
  return [
    h('h1', {}, title),
    problem === undefined ? null : h('p', { class: 'problem', role: 'alert' }, problem),
    triesLeft === undefined ? null : h('p', { class: 'tries', id: 'tries' }, t().triesLeft(triesLeft)),
    h('div', { class: 'dots', id: 'pin-dots', 'aria-hidden': 'true' }, Array.from({ length: Math.max(6, padEntry.count) }, (_, i) => h('span', { class: i < padEntry.count ? 'dot on' : 'dot' }))),
    h('p', { class: 'count', id: 'pin-count', 'aria-live': 'polite' }, t().entered(padEntry.count)),
    h('div', { class: 'pinpad-device', 'aria-hidden': 'true' }),
    h('p', { class: 'hint' }, t().padHint),
    h('div', { class: 'actions' }, button(t().cancel, () => { void call('/v1/pinpad/cancel', {}).catch(() => undefined); }, { id: 'pad-cancel' })),
  ];
}

/** Redraws the digit count of the PIN pad screen in place (focus stays where it is). */
function padProgress(m) {
  const purposeChanged = m.purpose !== padEntry.purpose;
  padEntry = { purpose: m.purpose, count: m.state === 'key' ? m.count : 0 };
  if (current.fn !== padScreen) return;
  armIdle(); // a key on the pad is activity too
  if (purposeChanged) return show(padScreen, ...current.args.map((a, i) => (i === 2 ? undefined : a)));
  const dots = document.getElementById('pin-dots');
  const count = document.getElementById('pin-count');
  if (dots !== null) dots.replaceChildren(...Array.from({ length: Math.max(6, padEntry.count) }, (_, i) => h('span', { class: i < padEntry.count ? 'dot on' : 'dot' })));
  if (count !== null) count.textContent = t().entered(padEntry.count);
}

/**
 * A PIN flow on the PIN pad: `purpose` 'verify', 'change' (current, new, again: all on the pad)
 * or 'loss'. The route answers once the holder pressed Enter on the pad (or cancelled).
 */
async function padFlow(purpose, problem) {
  let tries;
  try {
    const st = await call('/v1/card/pin');
    if (st.locked) return show(failure, 'TERM_ERR_PIN_LOCKED', {});
    tries = st.triesLeft;
  } catch (e) {
    return show(failure, e.code, e.details);
  }
  if (card === null) return;
  const first = purpose === 'change' ? 'old' : purpose;
  padEntry = { purpose: first, count: 0 };
  show(padScreen, first, tries, problem);
  try {
    if (purpose === 'verify') {
      await call('/v1/holder/pinpad/verify', {});
      if (card === null) return;
      card.verified = true;
      await holder.refresh();
      if (card === null) return;
      say(t().services);
      return show(services);
    }
    if (purpose === 'change') {
      await call('/v1/card/pinpad/change', {});
      return card === null ? undefined : show(result, 'pinChanged');
    }
    const r = await call('/v1/card/pinpad/loss-report', {});
    return card === null ? undefined : lossDone(r);
  } catch (e) {
    if (card === null || !cardIn) return; // the card left: the page is already wiped
    if (e.code === 'TERM_ERR_PIN_WRONG' || e.code === 'TERM_ERR_PIN_MISMATCH') return padFlow(purpose, errorMessage(e.code, lang, e.details));
    if (e.code === 'TERM_ERR_PINPAD_CANCELLED') return show(card.verified ? services : info);
    return show(failure, e.code, e.details);
  }
}

/** The e-card holder's masked information and what they can do here without the physical card. */
function ecardScreen() {
  const e = ecard;
  const time = (iso) => iso.replace('T', ' ').slice(0, 19);
  return [
    h('h1', {}, t().ecardTitle),
    h('dl', { class: 'fields' },
      field(t().name, e.maskedName),
      field(t().ssn, e.maskedId),
      field(t().region, e.region),
      field(t().validUntil, time(e.expiresAt))),
    h('h2', {}, t().ecardServices),
    h('ul', { class: 'ecard-services', id: 'ecard-services' }, h('li', {}, t().ecardInfoService)),
    h('p', { class: 'hint' }, t().ecardCardOnly),
    h('div', { class: 'actions' }, button(t().done, finish, { class: 'btn primary' })),
  ];
}

function services() {
  return [
    h('h1', {}, t().services),
    h('p', { class: 'lead' }, maskName(card.name)),
    h('div', { class: 'menu' },
      button(t().details, () => show(details), { class: 'btn big' }),
      button(t().changePin, () => { card.flow = { kind: 'change' }; enterPin('old'); }, { class: 'btn big' }),
      button(t().loss, () => show(lossConfirm), { class: 'btn big' }),
      button(t().transit, showTransit, { class: 'btn big', id: 'transit' }),
      ...holder.menu(),
      button(t().finish, finish, { class: 'btn big' })),
  ];
}

function details() {
  const c = card;
  return [
    h('h1', {}, t().details),
    h('dl', { class: 'fields' },
      field(t().name, c.name),
      field(t().sex, t().sexes[c.sex] ?? c.sex),
      field(t().nation, c.nation),
      field(t().birthDate, formatDate(c.birthDate)),
      field(t().ssn, c.ssn),
      field(t().cardNumber, c.cardNumber),
      field(t().region, c.regionCode),
      field(t().issued, formatDate(c.issueDate)),
      field(t().expiry, formatDate(c.expiryDate)),
      field(t().generation, c.generation)),
    h('div', { class: 'actions' }, button(t().back, () => show(services), { class: 'btn primary' }), button(t().finish, finish)),
  ];
}

/** Balance and recent fares, kept in `card.transit` (wiped with the card). */
function transitScreen() {
  const tr = card.transit;
  const when = (d) => `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)} ${d.slice(8, 10)}:${d.slice(10, 12)}`;
  return [
    h('h1', {}, t().transitTitle),
    h('dl', { class: 'fields' }, field(t().balance, t().yuan(tr.balance))),
    h('h2', {}, t().fares),
    tr.fares.length === 0 ? h('p', { class: 'lead' }, t().noFares) : h('table', { class: 'fares', id: 'fares' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t().when), h('th', { scope: 'col' }, t().kind), h('th', { scope: 'col' }, t().amount))),
      h('tbody', {}, tr.fares.map((f) => h('tr', {}, h('td', {}, when(f.dateTime)), h('td', {}, t().kinds[f.kind] ?? f.kind), h('td', {}, t().yuan(f.amount)))))),
    h('div', { class: 'actions' }, button(t().back, () => show(card.verified ? services : info), { class: 'btn primary' }), button(t().finish, finish)),
  ];
}

async function showTransit() {
  show(reading);
  try {
    const tr = await call('/v1/card/transit');
    if (card === null) return;
    card.transit = tr;
    show(transitScreen);
  } catch (e) {
    show(failure, e.code, e.details);
  }
}

function lossConfirm() {
  return [
    h('h1', {}, t().lossTitle),
    h('p', { class: 'lead' }, t().lossExplain),
    h('div', { class: 'actions' }, button(t().lossConfirm, () => { card.flow = { kind: 'loss' }; enterPin('loss'); }, { class: 'btn danger' }), button(t().back, () => show(services))),
  ];
}

/** Bumped by every wipe: a delivery watch of an earlier screen stops. */
let deliveryWatch = 0;

/**
 * The loss report's result. Queued offline (`online: false`), the screen says so and then asks
 * the terminal every 2 s whether the outbox has sent it (`delivery`), until the screen changes.
 */
function lossDone(r) {
  show(result, r.online ? 'lossOnline' : 'lossQueued');
  if (r.online || typeof r.delivery !== 'string') return;
  const watch = ++deliveryWatch;
  const tick = async () => {
    if (watch !== deliveryWatch) return;
    try {
      const d = await call(`/v1/outbox/delivered?delivery=${encodeURIComponent(r.delivery)}`);
      if (watch !== deliveryWatch) return;
      if (d.delivered) {
        say(t().lossSent);
        return show(result, 'lossSent');
      }
    } catch {
      /* asked again below */
    }
    setTimeout(tick, 2000);
  };
  setTimeout(tick, 2000);
}

/** A message with one way on: finish (the card comes back). */
function result(key) {
  return [h('h1', {}, t()[key]), h('div', { class: 'actions' }, button(t().done, finish, { class: 'btn primary' }))];
}

function failure(code, details) {
  return [
    h('h1', {}, t().errTitle),
    h('p', { class: 'lead', role: 'alert' }, errorMessage(code, lang, details)),
    h('p', { class: 'code' }, `${t().code}: ${code}`),
    h('div', { class: 'actions' }, button(cardIn ? t().finish : t().done, finish, { class: 'btn primary' })),
  ];
}

function takeCard() {
  return [h('h1', {}, t().takeCard), h('div', { class: 'card-slot out', 'aria-hidden': 'true' }), h('p', { class: 'lead' }, t().takeCardHint)];
}

/** After a wipe not asked for: card removed mid-flow, or idle. */
function notice(key) {
  return [h('h1', {}, t()[key])];
}

/** Out of service: the page session ended, or (`reason` 'reader') the card reader is gone. */
function outOfServiceScreen(reason) {
  return [h('h1', {}, t().out), h('p', { class: 'lead', role: 'status' }, reason === 'reader' ? t().readerDown : t().outHint)];
}

// ---- flows ----

async function readCard() {
  show(reading);
  try {
    const c = await call('/v1/card/read', {});
    if (!cardIn) return;
    card = { ...c, verified: false };
    delete card.readCardBas;
    show(info);
  } catch (e) {
    if (cardIn) show(failure, e.code, e.details);
  }
}

async function enterPin(purpose, problem) {
  pin = [];
  // With a PIN pad the PIN flows run on the device: the page never holds a digit.
  if (pinpad !== null && (purpose === 'verify' || purpose === 'old' || purpose === 'loss')) {
    if (!pinpad.connected) return show(failure, 'TERM_ERR_PINPAD_UNAVAILABLE', {});
    return padFlow(purpose === 'old' ? 'change' : purpose, problem);
  }
  let tries;
  if (purpose === 'verify' || purpose === 'old' || purpose === 'loss') {
    try {
      const st = await call('/v1/card/pin');
      if (st.locked) return show(failure, 'TERM_ERR_PIN_LOCKED', {});
      tries = st.triesLeft;
    } catch (e) {
      return show(failure, e.code, e.details);
    }
  }
  show(pinScreen, purpose, tries, problem);
}

async function submitPin(purpose) {
  const entered = pin.join('');
  pin.fill('');
  pin = [];
  if (purpose === 'new' && entered.length !== 6) return enterPin('new', t().pinShort);
  if (!/^[0-9]{4,16}$/.test(entered)) return enterPin(purpose, errorMessage('TERM_ERR_PIN_FORMAT', lang));
  try {
    if (purpose === 'verify') {
      // Verified through the holder services: the terminal binds this card to this page for them.
      await call('/v1/holder/verify', { pin: entered });
      if (card === null) return;
      card.verified = true;
      await holder.refresh();
      if (card === null) return;
      say(t().services);
      return show(services);
    }
    if (purpose === 'old') {
      card.flow = { kind: 'change', old: entered };
      return enterPin('new');
    }
    if (purpose === 'new') {
      card.flow.next = entered;
      return enterPin('again');
    }
    if (purpose === 'again') {
      const f = card.flow;
      card.flow = undefined;
      if (f.next !== entered) {
        card.flow = { kind: 'change', old: f.old };
        return enterPin('new', t().pinMismatch);
      }
      await call('/v1/card/pin/change', { oldPin: f.old, newPin: f.next });
      return show(result, 'pinChanged');
    }
    if (purpose === 'loss') {
      const r = await call('/v1/card/loss-report', { pin: entered });
      return lossDone(r);
    }
  } catch (e) {
    if (card !== null) card.flow = undefined;
    if (e.code === 'TERM_ERR_PIN_WRONG') return enterPin(purpose === 'again' ? 'old' : purpose, errorMessage(e.code, lang, e.details));
    return show(failure, e.code, e.details);
  }
}

/** End of every flow: personal data wiped, the card asked back. */
function finish() {
  wipe();
  if (!cardIn) return show(welcome);
  show(takeCard);
  screenTimer = setTimeout(() => show(welcome), TAKE_CARD_MS);
}

// ---- live events ----

function onEvent(m) {
  if (m.type === 'hello') {
    for (const r of m.readers ?? []) {
      readerOk = r.status === 'ok';
      for (const s of r.slots ?? []) if (s.role === 'psam') psamSlots.add(`${r.readerId}/${s.slot}`);
      cardIn = (r.slots ?? []).some((s) => s.role === 'user' && s.present);
    }
    if (!readerOk) return show(outOfServiceScreen, 'reader');
    if (cardIn && current.fn === welcome) return readCard();
    return show(current.fn, ...current.args);
  }
  if ((m.type === 'card-inserted' || m.type === 'card-removed') && psamSlots.has(`${m.readerId}/${m.slot}`)) return;
  if (m.type === 'card-inserted') {
    cardIn = true;
    if (login.onEvent(m)) return;
    if (current.fn === ecardScreen) wipe();
    if (current.fn === welcome || current.fn === notice || current.fn === ecardScreen) readCard();
    return;
  }
  if (m.type === 'ecard') {
    // A scanned code counts only between card flows: it never interrupts a card in use.
    if (cardIn || outOfService || !(current.fn === welcome || current.fn === notice || current.fn === ecardScreen || (current.fn === failure && ecard === null && card === null))) return;
    wipe();
    if (!m.ok) return show(failure, m.error?.code ?? 'TERM_ERR_ECARD_FORMAT', {});
    ecard = m.identity;
    return show(ecardScreen);
  }
  if (m.type === 'card-removed') {
    cardIn = false;
    wipe();
    if (current.fn === takeCard || current.fn === welcome || current.fn === notice) return show(welcome);
    show(notice, 'removed');
    screenTimer = setTimeout(() => show(welcome), NOTICE_MS);
    return;
  }
  if (m.type === 'pinpad' && login.onEvent(m)) return;
  if (m.type === 'pinpad') return padProgress(m);
  if (m.type === 'reader-status') {
    const wasOk = readerOk;
    readerOk = m.status === 'ok';
    if (!readerOk) {
      // Reader lost: nothing personal stays, and the kiosk is out of service until it is back.
      wipe();
      if (current.fn !== outOfServiceScreen) show(outOfServiceScreen, 'reader');
      return;
    }
    if (!wasOk && current.fn === outOfServiceScreen && !outOfService) {
      // Reader back: start afresh. Reloading gives a new page state (no variable of the old one
      // survives), a new WebSocket and a new card session on the terminal.
      wipe();
      location.replace(location.pathname);
      return;
    }
    if (current.fn === welcome) show(welcome);
  }
}

function onClosed() {
  outOfService = true;
  wipe();
  show(outOfServiceScreen);
}

document.getElementById('lang').addEventListener('click', () => {
  lang = lang === 'zh' ? 'en' : 'zh';
  show(current.fn, ...current.args);
});
for (const ev of ['pointerdown', 'keydown']) document.addEventListener(ev, armIdle, { capture: true });
// Physical keys on the PIN screen: digits, Backspace and Enter act like the keypad.
document.addEventListener('keydown', (e) => {
  if (current.fn !== pinScreen || outOfService) return;
  if (/^[0-9]$/.test(e.key)) {
    e.preventDefault();
    main.querySelector(`[data-digit="${e.key}"]`)?.click();
  } else if (e.key === 'Enter' && !(e.target instanceof HTMLButtonElement)) {
    e.preventDefault();
    document.getElementById('pin-ok')?.click();
  } else if (e.key === 'Backspace') {
    e.preventDefault();
    document.getElementById('pin-clear')?.click();
  }
});

show(welcome);
openEvents(onEvent, onClosed);
call('/v1/pinpad').then((p) => { pinpad = p.present ? { connected: p.connected } : null; }, () => undefined);
