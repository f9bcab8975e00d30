// The cardholder's kiosk: card → masked basic information → PIN → services (full details, change
// PIN, report lost) → "take your card" → everything wiped. Driven by the terminal's live events
// (card inserted/removed, reader status) and its local API with the page session cookie.
// Personal data lives only in `card` and on screen; PIN digits only in `pin` until they are sent
// to the card. `wipe()` clears both, and the DOM, at the end of every flow, when the card leaves,
// and after IDLE_MS without a touch or key.
import { call, openEvents } from './shared/api.js';
import { errorMessage, formatDate, mask, maskName } from './shared/messages.js';
import { createLogin } from './login.js';

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
/** PIN digits being entered. */
let pin = [];
let shuffle = true;
let readerOk = true;
let cardIn = false;
let outOfService = false;
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
const login = createLogin({ h, button, show, call, errorMessage, lang: () => lang, cardIn: () => cardIn, finish, say, failure, screen: () => current.fn });

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
  card = null;
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
      button(t().cancel, () => { pin = []; card === null ? finish() : show(card.verified ? services : info); })),
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

function outOfServiceScreen() {
  return [h('h1', {}, t().out), h('p', { class: 'lead' }, t().outHint)];
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
      await call('/v1/card/pin/verify', { pin: entered });
      card.verified = true;
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
      return show(result, r.online ? 'lossOnline' : 'lossQueued');
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
    if (cardIn && current.fn === welcome) return readCard();
    return show(current.fn, ...current.args);
  }
  if ((m.type === 'card-inserted' || m.type === 'card-removed') && psamSlots.has(`${m.readerId}/${m.slot}`)) return;
  if (m.type === 'card-inserted') {
    cardIn = true;
    if (login.onEvent(m)) return;
    if (current.fn === welcome || current.fn === notice) readCard();
    return;
  }
  if (m.type === 'card-removed') {
    cardIn = false;
    wipe();
    if (current.fn === takeCard || current.fn === welcome || current.fn === notice) return show(welcome);
    show(notice, 'removed');
    screenTimer = setTimeout(() => show(welcome), NOTICE_MS);
    return;
  }
  if (m.type === 'reader-status') {
    readerOk = m.status === 'ok';
    if (current.fn === welcome) return show(welcome);
    if (!readerOk) {
      wipe();
      show(failure, 'TERM_ERR_READER_UNAVAILABLE', {});
    }
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
