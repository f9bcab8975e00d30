// The counter desk: staff read the card in the reader (full information enquiry), hand the HIS
// the national iReadCardBas string, take a loss report with the holder's PIN typed by the holder,
// and print a receipt. Personal data is kept only in the result and receipt sections and wiped
// when the card leaves, on "clear" and after IDLE_MS without input.
import { call, openEvents } from './shared/api.js';
import { errorMessage, formatDate, mask, maskName } from './shared/messages.js';

const IDLE_MS = 5 * 60_000;
const T = {
  zh: {
    title: '社保卡柜台服务', brand: 'OneCard 柜台', toggle: 'English', toggleLabel: 'Switch to English', services: '服务',
    read: '信息查询', his: '医院挂号读卡（iReadCardBas）', loss: '挂失', clear: '清除', reading: '正在读卡……',
    readerOk: '读卡器就绪', readerDown: '读卡器不可用', cardIn: '卡片已插入', cardOut: '无卡',
    info: '卡片信息', name: '姓名', sex: '性别', nation: '民族', birthDate: '出生日期', ssn: '社会保障号码', cardNumber: '社保卡号', region: '发卡地区', issued: '发卡日期', expiry: '有效期至', generation: '卡片代数',
    hisTitle: 'iReadCardBas 输出（供 HIS 复制）', copy: '复制', copied: '已复制',
    lossTitle: '挂失：请持卡人输入密码', pin: '持卡人密码', submit: '提交挂失', lossOnline: '挂失已提交服务中心。', lossQueued: '挂失已受理，网络恢复后自动提交服务中心。',
    print: '打印回执', receipt: '业务回执', service: '业务', time: '时间', outcome: '结果', done: '已办理', enquiry: '信息查询', removed: '卡片已取出，信息已清除。', idle: '长时间无操作，信息已清除。',
    errTitle: '无法完成', code: '代码', out: '本页会话已结束，请重新打开柜台页面。',
  },
  en: {
    title: 'Social security card counter', brand: 'OneCard counter', toggle: '中文', toggleLabel: '切换到中文', services: 'Services',
    read: 'Card enquiry', his: 'Hospital registration read (iReadCardBas)', loss: 'Report lost', clear: 'Clear', reading: 'Reading the card…',
    readerOk: 'Reader ready', readerDown: 'Reader unavailable', cardIn: 'Card inserted', cardOut: 'No card',
    info: 'Card information', name: 'Name', sex: 'Sex', nation: 'Ethnic group', birthDate: 'Date of birth', ssn: 'Social security number', cardNumber: 'Card number', region: 'Issuing region', issued: 'Issued on', expiry: 'Valid until', generation: 'Card generation',
    hisTitle: 'iReadCardBas output (for the HIS to copy)', copy: 'Copy', copied: 'Copied',
    lossTitle: 'Loss report: the holder types the PIN', pin: 'Holder PIN', submit: 'Submit loss report', lossOnline: 'Loss report sent to the service centre.', lossQueued: 'Loss report accepted; it is sent to the service centre when the network is back.',
    print: 'Print receipt', receipt: 'Receipt', service: 'Service', time: 'Time', outcome: 'Outcome', done: 'done', enquiry: 'Card enquiry', removed: 'The card was taken out; its information was cleared.', idle: 'No activity for a while; the information was cleared.',
    errTitle: 'Could not finish', code: 'Code', out: 'This page session has ended; open the counter page again.',
  },
};
let lang = 'zh';
let readerOk = true;
let cardIn = false;
let idleTimer;
const psamSlots = new Set();
const $ = (id) => document.getElementById(id);
const t = () => T[lang];

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'onclick') el.addEventListener('click', v);
    else if (k === 'onsubmit') el.addEventListener('submit', v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}
const field = (label, value) => [h('dt', {}, label), h('dd', {}, value ?? '')];

function labels() {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  document.title = t().title;
  $('title').textContent = t().title;
  $('brand').textContent = t().brand;
  $('services').setAttribute('aria-label', t().services);
  for (const id of ['read', 'his', 'loss', 'clear']) $(id).textContent = t()[id];
  $('lang').textContent = t().toggle;
  $('lang').setAttribute('aria-label', t().toggleLabel);
  $('lang').setAttribute('lang', lang === 'zh' ? 'en' : 'zh-CN');
  $('reader').textContent = `${readerOk ? t().readerOk : t().readerDown} · ${cardIn ? t().cardIn : t().cardOut}`;
}

/** Wipes every personal datum on the page. */
function wipe(note) {
  $('result').replaceChildren();
  $('result').hidden = true;
  $('receipt').replaceChildren();
  $('receipt').hidden = true;
  $('message').textContent = note ?? '';
}

function armIdle() {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => wipe(t().idle), IDLE_MS);
}

function fail(e) {
  // A staff refusal (nobody signed in, credential revoked): the sign-in part (staff.js) re-reads who is signed in.
  if (String(e.code).startsWith('TERM_ERR_STAFF_')) document.dispatchEvent(new Event('onecard-staff-check'));
  $('result').hidden = false;
  $('result').replaceChildren(h('h2', { id: 'result-title' }, t().errTitle), h('p', { role: 'alert', class: 'problem' }, errorMessage(e.code, lang, e.details)), h('p', { class: 'code' }, `${t().code}: ${e.code}`));
}

function receipt(service, info, outcome) {
  const now = new Date();
  const when = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')} ${String(now.getHours()).padStart(2, '0')}:${String(now.getMinutes()).padStart(2, '0')}`;
  $('receipt').hidden = false;
  $('receipt').replaceChildren(
    h('div', { class: 'receipt' },
      h('h2', { id: 'receipt-title' }, t().receipt),
      h('dl', { class: 'fields' }, field(t().service, service), field(t().name, maskName(info.name)), field(t().cardNumber, mask(info.cardNumber, 1, 3)), field(t().time, when), field(t().outcome, outcome))),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn primary', id: 'print', onclick: () => window.print() }, t().print)));
}

async function enquiry() {
  wipe(t().reading);
  try {
    const c = await call('/v1/card/read', {});
    $('message').textContent = '';
    $('result').hidden = false;
    $('result').replaceChildren(h('h2', { id: 'result-title' }, t().info), h('dl', { class: 'fields' },
      field(t().name, c.name), field(t().sex, c.sex), field(t().nation, c.nation), field(t().birthDate, formatDate(c.birthDate)),
      field(t().ssn, c.ssn), field(t().cardNumber, c.cardNumber), field(t().region, c.regionCode), field(t().issued, formatDate(c.issueDate)),
      field(t().expiry, formatDate(c.expiryDate)), field(t().generation, c.generation)));
    receipt(t().enquiry, c, t().done);
  } catch (e) {
    $('message').textContent = '';
    fail(e);
  }
}

async function his() {
  wipe(t().reading);
  try {
    const r = await call('/v1/card/read', { format: 'ireadcardbas' });
    $('message').textContent = '';
    const area = h('textarea', { class: 'his', id: 'his-output', readonly: true, rows: '3', 'aria-label': t().hisTitle });
    area.value = r.readCardBas;
    $('result').hidden = false;
    $('result').replaceChildren(h('h2', { id: 'result-title' }, t().hisTitle), area,
      h('div', { class: 'actions' }, h('button', { type: 'button', class: 'btn', id: 'copy', onclick: async () => {
        area.select();
        try { await navigator.clipboard.writeText(area.value); } catch { document.execCommand('copy'); }
        $('live').textContent = t().copied;
      } }, t().copy)));
  } catch (e) {
    $('message').textContent = '';
    fail(e);
  }
}

function loss() {
  wipe();
  const input = h('input', { type: 'password', id: 'holder-pin', inputmode: 'numeric', autocomplete: 'off', pattern: '[0-9]{4,16}', maxlength: '16', required: true });
  const form = h('form', { class: 'pin-form', onsubmit: async (ev) => {
    ev.preventDefault();
    const pin = input.value;
    input.value = '';
    try {
      const info = await call('/v1/card/read', {});
      const r = await call('/v1/card/loss-report', { pin });
      $('result').replaceChildren(h('h2', { id: 'result-title' }, t().loss), h('p', { class: 'lead' }, r.online ? t().lossOnline : t().lossQueued));
      receipt(t().loss, info, r.online ? t().lossOnline : t().lossQueued);
    } catch (e) {
      fail(e);
    }
  } }, h('div', {}, h('label', { for: 'holder-pin' }, t().pin), input), h('button', { type: 'submit', class: 'btn danger' }, t().submit));
  $('result').hidden = false;
  $('result').replaceChildren(h('h2', { id: 'result-title' }, t().lossTitle), form);
  input.focus();
}

// ── Card services through the PSAM: loss cancellation (解挂) after the holder's ID document was
// checked against the card, PIN unblock (tries reset, PIN kept) and PIN reload (new PIN typed by
// the holder). The ID number typed by staff goes to the terminal only to be compared with the card.
const S = {
  zh: {
    'loss-cancel': '解挂', 'pin-unblock': '密码解锁', 'pin-reload': '密码重置',
    cancelTitle: '解挂：核验持卡人身份证件', idNumber: '证件号码（身份证）', cancelSubmit: '核验并解挂',
    cancelOnline: '解挂已提交服务中心，名单更新后此卡即可使用。', cancelQueued: '解挂已受理，网络恢复后自动提交服务中心。',
    unblockTitle: '密码解锁：解除锁定，原密码不变', unblockSubmit: '解锁密码', unblocked: '密码已解锁，可继续使用原密码。',
    reloadTitle: '密码重置：请持卡人输入新密码', newPin: '新密码', newPin2: '再次输入新密码', reloadSubmit: '重置密码', reloaded: '密码已重置。', pinsDiffer: '两次输入的新密码不一致，请重新输入。',
  },
  en: {
    'loss-cancel': 'Cancel loss report', 'pin-unblock': 'Unblock PIN', 'pin-reload': 'Reset PIN',
    cancelTitle: 'Cancel loss report: check the holder’s ID document', idNumber: 'ID document number', cancelSubmit: 'Check and cancel',
    cancelOnline: 'The cancellation was sent to the service centre; the card works again once the list is updated.', cancelQueued: 'Cancellation accepted; it is sent to the service centre when the network is back.',
    unblockTitle: 'Unblock PIN: the lock is lifted, the PIN stays', unblockSubmit: 'Unblock PIN', unblocked: 'The PIN is unblocked; the holder keeps the same PIN.',
    reloadTitle: 'Reset PIN: the holder types a new PIN', newPin: 'New PIN', newPin2: 'New PIN again', reloadSubmit: 'Reset PIN', reloaded: 'The PIN was reset.', pinsDiffer: 'The two new PINs differ. Please type them again.',
  },
};
const s = () => S[lang];
const SERVICE_IDS = ['loss-cancel', 'pin-unblock', 'pin-reload'];
function serviceLabels() {
  for (const id of SERVICE_IDS) $(id).textContent = s()[id];
}
function done(title, text, info) {
  $('result').hidden = false;
  $('result').replaceChildren(h('h2', { id: 'result-title' }, title), h('p', { class: 'lead' }, text));
  receipt(title, info, text);
}

function lossCancel() {
  wipe();
  const input = h('input', { type: 'text', id: 'id-number', autocomplete: 'off', spellcheck: 'false', maxlength: '32', required: true });
  const form = h('form', { class: 'pin-form', onsubmit: async (ev) => {
    ev.preventDefault();
    const idNumber = input.value.trim();
    input.value = '';
    try {
      const r = await call('/v1/card/loss-cancel', { idNumber });
      done(s()['loss-cancel'], r.online ? s().cancelOnline : s().cancelQueued, { name: '', cardNumber: r.cardNumber });
    } catch (e) {
      fail(e);
    }
  } }, h('div', {}, h('label', { for: 'id-number' }, s().idNumber), input), h('button', { type: 'submit', class: 'btn primary' }, s().cancelSubmit));
  $('result').hidden = false;
  $('result').replaceChildren(h('h2', { id: 'result-title' }, s().cancelTitle), form);
  input.focus();
}

function pinUnblock() {
  wipe();
  const form = h('form', { class: 'pin-form', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const info = await call('/v1/card/read', {});
      await call('/v1/card/pin/unblock', {});
      done(s()['pin-unblock'], s().unblocked, info);
    } catch (e) {
      fail(e);
    }
  } }, h('button', { type: 'submit', class: 'btn primary', id: 'unblock-submit' }, s().unblockSubmit));
  $('result').hidden = false;
  $('result').replaceChildren(h('h2', { id: 'result-title' }, s().unblockTitle), form);
  $('unblock-submit').focus();
}

function pinReload() {
  wipe();
  const pinInput = (id) => h('input', { type: 'password', id, inputmode: 'numeric', autocomplete: 'off', pattern: '[0-9]{4,16}', maxlength: '16', required: true });
  const a = pinInput('new-pin');
  const b = pinInput('new-pin-2');
  const form = h('form', { class: 'pin-form', onsubmit: async (ev) => {
    ev.preventDefault();
    const newPin = a.value;
    const again = b.value;
    a.value = '';
    b.value = '';
    if (newPin !== again) {
      $('message').textContent = s().pinsDiffer;
      a.focus();
      return;
    }
    try {
      const info = await call('/v1/card/read', {});
      await call('/v1/card/pin/reload', { newPin });
      done(s()['pin-reload'], s().reloaded, info);
    } catch (e) {
      fail(e);
    }
  } }, h('div', {}, h('label', { for: 'new-pin' }, s().newPin), a), h('div', {}, h('label', { for: 'new-pin-2' }, s().newPin2), b), h('button', { type: 'submit', class: 'btn primary' }, s().reloadSubmit));
  $('result').hidden = false;
  $('result').replaceChildren(h('h2', { id: 'result-title' }, s().reloadTitle), form);
  a.focus();
}

$('loss-cancel').addEventListener('click', lossCancel);
$('pin-unblock').addEventListener('click', pinUnblock);
$('pin-reload').addEventListener('click', pinReload);
// Relabelled whenever the page language changes (the language switch sets <html lang>).
new MutationObserver(serviceLabels).observe(document.documentElement, { attributes: true, attributeFilter: ['lang'] });
serviceLabels();

$('read').addEventListener('click', enquiry);
$('his').addEventListener('click', his);
$('loss').addEventListener('click', loss);
$('clear').addEventListener('click', () => wipe());
$('lang').addEventListener('click', () => {
  lang = lang === 'zh' ? 'en' : 'zh';
  labels();
});
for (const ev of ['pointerdown', 'keydown']) document.addEventListener(ev, armIdle, { capture: true });

openEvents((m) => {
  if (m.type === 'hello') {
    for (const r of m.readers ?? []) {
      readerOk = r.status === 'ok';
      for (const s of r.slots ?? []) if (s.role === 'psam') psamSlots.add(`${r.readerId}/${s.slot}`);
      cardIn = (r.slots ?? []).some((s) => s.role === 'user' && s.present);
    }
  } else if ((m.type === 'card-inserted' || m.type === 'card-removed') && psamSlots.has(`${m.readerId}/${m.slot}`)) {
    return;
  } else if (m.type === 'card-inserted') {
    cardIn = true;
  } else if (m.type === 'card-removed') {
    cardIn = false;
    wipe(t().removed);
  } else if (m.type === 'reader-status') {
    readerOk = m.status === 'ok';
  }
  labels();
}, () => {
  wipe(t().out);
  for (const id of ['read', 'his', 'loss']) $(id).disabled = true;
});
labels();
armIdle();
