// "Log in to a service" (登录服务) on the kiosk: the holder types the 8-digit login code
// the portal's login page shows, checks which portal asks, inserts the card and enters the PIN;
// the terminal checks the card (genuine, hotlist), verifies the PIN on it and tells the server,
// which completes the login in the browser that waits (docs/login.md). The screens render
// through the kiosk's show(), so language, focus, idle wipe and card removal work as for every
// kiosk screen. The login code is not a secret (it is on the portal's screen); PIN digits live in
// `pin` until they are sent to the card, and wipe() clears everything.

const IDLE_CODE_LENGTH = 8;

const T = {
  zh: {
    entry: '登录服务', codeTitle: '请输入登录码', codeHint: '请输入网站登录页面上显示的 8 位登录码。', codeShown: (c) => `登录码：${c}`,
    codeEmpty: '尚未输入', codeShort: '登录码应为 8 位数字。', checking: '正在查询登录请求……',
    portalTitle: '请确认要登录的网站', portalAsks: '以下网站请求您用社保卡登录：', portalCheck: '请核对网站名称与您正在使用的网站一致，再继续。', expires: (s) => `此登录码约 ${Math.max(1, Math.ceil(s / 60))} 分钟内有效。`,
    go: '继续', insertTitle: '请插入社保卡', insertHint: '请将社保卡芯片朝上插入读卡器。',
    pinTitle: '请输入社保卡密码以确认登录', working: '正在验证卡片和密码……',
    doneTitle: '登录成功', doneHint: (n) => `请回到“${n}”的页面继续办理。请取回您的社保卡。`,
    clear: '更正', ok: '确认', cancel: '取消', digit: (d) => `数字 ${d}`, keypad: '数字键盘', pinKeypad: '密码键盘',
    triesLeft: (n) => `还可以尝试 ${n} 次`, entered: (n) => `已输入 ${n} 位`, pinPrivacy: '密码不会显示，也不会被保存或上传，只发送给您的社保卡。', done: '完成',
    padTitle: '请在密码键盘上输入社保卡密码以确认登录', padHint: '请用屏幕下方的密码键盘输入，输入完成后按键盘上的“确认”键。密码不会显示在屏幕上。',
  },
  en: {
    entry: 'Log in to a service', codeTitle: 'Enter the login code', codeHint: 'Enter the 8-digit login code shown on the website’s login page.', codeShown: (c) => `Login code: ${c}`,
    codeEmpty: 'nothing entered yet', codeShort: 'The login code has 8 digits.', checking: 'Looking up the login request…',
    portalTitle: 'Check the website you are logging in to', portalAsks: 'This website asks you to log in with your card:', portalCheck: 'Make sure the name matches the website you are using before you go on.', expires: (s) => `This code is valid for about ${Math.max(1, Math.ceil(s / 60))} more minute${s > 60 ? 's' : ''}.`,
    go: 'Continue', insertTitle: 'Insert your card', insertHint: 'Insert your card into the reader, chip first and facing up.',
    pinTitle: 'Enter your card PIN to confirm the login', working: 'Checking the card and PIN…',
    doneTitle: 'Logged in', doneHint: (n) => `Go back to the “${n}” page to continue. Please take your card.`,
    clear: 'Correct', ok: 'OK', cancel: 'Cancel', digit: (d) => `digit ${d}`, keypad: 'Number keypad', pinKeypad: 'PIN keypad',
    triesLeft: (n) => `${n} tries left`, entered: (n) => `${n} digit${n === 1 ? '' : 's'} entered`, pinPrivacy: 'Your PIN is never shown or stored, and goes only to your card.', done: 'Done',
    padTitle: 'Enter your card PIN on the PIN pad to confirm the login', padHint: 'Use the PIN pad below the screen and press its Enter key when done. The PIN is never shown on the screen.',
  },
};

/**
 * Wires the login screens into the kiosk. `k` gives the kiosk's own helpers:
 * `{h, button, show, call, errorMessage, lang(), cardIn(), finish, say, failure, armIdle, screen()}`.
 * Returns `{entry(), onEvent(m) → handled?, wipe()}`.
 */
export function createLogin(k) {
  const t = () => T[k.lang()];
  /** Digits of the login code typed so far. */
  let code = [];
  /** The login being approved: `{code, name, expiresInSeconds}`. */
  let login = null;
  /** PIN digits being entered. */
  let pin = [];
  /** `{present, connected}` of the box's PIN pad (GET /v1/pinpad), asked once. */
  let pad;
  /** Digits on the PIN pad (a count the terminal reports, never the digits). */
  let padCount = 0;

  const wipe = () => {
    code = [];
    login = null;
    padCount = 0;
    pin.fill('');
    pin = [];
  };
  const spaced = (digits) => (digits.length > 4 ? `${digits.slice(0, 4).join('')} ${digits.slice(4).join('')}` : digits.join(''));

  /** A keypad of digit keys, a correction key and OK; `layout` is the digits in order. */
  const keypad = (layout, label, press, clear, ok, idPrefix) => {
    const key = (d) => k.button(d, () => press(d), { class: 'key', 'aria-label': t().digit(d), [`data-${idPrefix}-digit`]: d });
    const keys = layout.slice(0, 9).map(key);
    keys.push(k.button(t().clear, clear, { class: 'key fn', id: `${idPrefix}-clear` }));
    keys.push(key(layout[9]));
    keys.push(k.button(t().ok, ok, { class: 'key fn ok', id: `${idPrefix}-ok` }));
    return k.h('div', { class: 'keypad', role: 'group', 'aria-label': label }, keys);
  };

  // ---- screens (named: the kiosk shows each name in #screen[data-screen]) ----

  function loginCode(problem) {
    const shown = k.h('p', { class: 'lead', id: 'login-code', 'aria-live': 'polite' }, t().codeShown(code.length === 0 ? t().codeEmpty : spaced(code)));
    const redraw = () => { shown.textContent = t().codeShown(code.length === 0 ? t().codeEmpty : spaced(code)); };
    return [
      k.h('h1', {}, t().codeTitle),
      k.h('p', { class: 'hint' }, t().codeHint),
      problem === undefined ? null : k.h('p', { class: 'problem', role: 'alert' }, problem),
      shown,
      keypad(['1', '2', '3', '4', '5', '6', '7', '8', '9', '0'], t().keypad,
        (d) => { if (code.length < IDLE_CODE_LENGTH) code.push(d); redraw(); },
        () => { code.pop(); redraw(); },
        () => void lookup(), 'code'),
      k.h('div', { class: 'actions' }, k.button(t().cancel, cancel, { id: 'login-cancel' })),
    ];
  }

  function loginBusy(key) {
    return [k.h('h1', {}, t()[key]), k.h('div', { class: 'spinner', role: 'progressbar', 'aria-label': t()[key] })];
  }

  function loginPortal() {
    return [
      k.h('h1', {}, t().portalTitle),
      k.h('p', { class: 'lead' }, t().portalAsks),
      k.h('p', { class: 'tries', id: 'login-portal' }, login.name),
      k.h('p', { class: 'hint' }, t().portalCheck),
      k.h('p', { class: 'hint' }, t().expires(login.expiresInSeconds)),
      k.h('div', { class: 'actions' }, k.button(t().go, toCard, { class: 'btn primary', id: 'login-go' }), k.button(t().cancel, cancel)),
    ];
  }

  function loginInsert() {
    return [
      k.h('h1', {}, t().insertTitle),
      k.h('p', { class: 'lead' }, t().insertHint),
      k.h('p', { class: 'hint' }, login.name),
      k.h('div', { class: 'card-slot', 'aria-hidden': 'true' }),
      k.h('div', { class: 'actions' }, k.button(t().cancel, cancel)),
    ];
  }

  function loginPin(triesLeft, problem) {
    const digits = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0'];
    const r = new Uint32Array(digits.length);
    crypto.getRandomValues(r);
    for (let i = digits.length - 1; i > 0; i--) {
      const j = r[i] % (i + 1);
      [digits[i], digits[j]] = [digits[j], digits[i]];
    }
    const dots = k.h('div', { class: 'dots', id: 'login-pin-dots', 'aria-hidden': 'true' });
    const count = k.h('p', { class: 'count', id: 'login-pin-count', 'aria-live': 'polite' });
    const redraw = () => {
      dots.replaceChildren(...Array.from({ length: Math.max(6, pin.length) }, (_, i) => k.h('span', { class: i < pin.length ? 'dot on' : 'dot' })));
      count.textContent = t().entered(pin.length);
    };
    redraw();
    return [
      k.h('h1', {}, t().pinTitle),
      k.h('p', { class: 'hint' }, login.name),
      problem === undefined ? null : k.h('p', { class: 'problem', role: 'alert' }, problem),
      triesLeft === undefined ? null : k.h('p', { class: 'tries', id: 'login-tries' }, t().triesLeft(triesLeft)),
      dots,
      count,
      keypad(digits, t().pinKeypad,
        (d) => { if (pin.length < 12) pin.push(d); redraw(); },
        () => { pin.pop(); redraw(); },
        () => void approve(), 'pin'),
      k.h('p', { class: 'hint' }, t().pinPrivacy),
      k.h('div', { class: 'actions' }, k.button(t().cancel, cancel)),
    ];
  }

  /** PIN entry on the box's PIN pad: the page shows only the count the pad reports. */
  function loginPad(triesLeft, problem) {
    return [
      k.h('h1', {}, t().padTitle),
      k.h('p', { class: 'hint' }, login.name),
      problem === undefined ? null : k.h('p', { class: 'problem', role: 'alert' }, problem),
      triesLeft === undefined ? null : k.h('p', { class: 'tries', id: 'login-tries' }, t().triesLeft(triesLeft)),
      k.h('div', { class: 'dots', id: 'login-pin-dots', 'aria-hidden': 'true' }, Array.from({ length: Math.max(6, padCount) }, (_, i) => k.h('span', { class: i < padCount ? 'dot on' : 'dot' }))),
      k.h('p', { class: 'count', id: 'login-pin-count', 'aria-live': 'polite' }, t().entered(padCount)),
      k.h('div', { class: 'pinpad-device', 'aria-hidden': 'true' }),
      k.h('p', { class: 'hint' }, t().padHint),
      k.h('div', { class: 'actions' }, k.button(t().cancel, () => { void k.call('/v1/pinpad/cancel', {}).catch(() => undefined); }, { id: 'login-pad-cancel' })),
    ];
  }

  function loginDone() {
    return [
      k.h('h1', {}, t().doneTitle),
      k.h('p', { class: 'lead' }, t().doneHint(login.name)),
      k.h('div', { class: 'actions' }, k.button(t().done, k.finish, { class: 'btn primary' })),
    ];
  }

  // ---- flow ----

  function start() {
    wipe();
    k.show(loginCode);
  }

  function cancel() {
    wipe();
    k.finish();
  }

  async function lookup() {
    if (code.length !== IDLE_CODE_LENGTH) return k.show(loginCode, t().codeShort);
    const typed = code.join('');
    k.show(loginBusy, 'checking');
    try {
      const r = await k.call('/v1/login/lookup', { code: typed });
      if (k.screen() !== loginBusy) return;
      login = { code: typed, name: r.client.name, expiresInSeconds: r.expiresInSeconds };
      k.show(loginPortal);
    } catch (e) {
      code = [];
      if (e.code === 'TERM_ERR_LOGIN_UNKNOWN') return k.show(loginCode, k.errorMessage(e.code, k.lang()));
      k.show(k.failure, e.code, e.details);
    }
  }

  function toCard() {
    if (k.cardIn()) return enterPin();
    k.show(loginInsert);
  }

  async function enterPin(problem) {
    pin = [];
    let tries;
    try {
      const st = await k.call('/v1/card/pin');
      if (st.locked) return k.show(k.failure, 'TERM_ERR_PIN_LOCKED', {});
      tries = st.triesLeft;
    } catch (e) {
      return k.show(k.failure, e.code, e.details);
    }
    if (login === null) return;
    pad ??= await k.call('/v1/pinpad').catch(() => ({ present: false }));
    if (login === null) return;
    if (pad.present) return padApprove(tries, problem);
    k.show(loginPin, tries, problem);
  }

  /** The login approved with the PIN typed on the PIN pad (POST /v1/login/pinpad/approve). */
  async function padApprove(tries, problem) {
    padCount = 0;
    k.show(loginPad, tries, problem);
    try {
      await k.call('/v1/login/pinpad/approve', { code: login.code });
      if (login === null) return;
      k.say(t().doneTitle);
      k.show(loginDone);
    } catch (e) {
      if (login === null || !k.cardIn()) return; // the card left: the page is already wiped
      if (e.code === 'TERM_ERR_PIN_WRONG') return enterPin(k.errorMessage(e.code, k.lang(), e.details));
      if (e.code === 'TERM_ERR_PINPAD_CANCELLED') return cancel();
      k.show(k.failure, e.code, e.details);
    }
  }

  async function approve() {
    const entered = pin.join('');
    pin.fill('');
    pin = [];
    if (!/^[0-9]{4,16}$/.test(entered)) return enterPin(k.errorMessage('TERM_ERR_PIN_FORMAT', k.lang()));
    k.show(loginBusy, 'working');
    try {
      await k.call('/v1/login/approve', { code: login.code, pin: entered });
      if (login === null) return;
      k.say(t().doneTitle);
      k.show(loginDone);
    } catch (e) {
      if (login === null) return; // the card left or the screen was wiped meanwhile
      if (e.code === 'TERM_ERR_PIN_WRONG') return enterPin(k.errorMessage(e.code, k.lang(), e.details));
      k.show(k.failure, e.code, e.details);
    }
  }

  // Physical keys on the login keypads: digits, Backspace and Enter act like the on-screen keys.
  document.addEventListener('keydown', (e) => {
    const s = k.screen();
    const prefix = s === loginCode ? 'code' : s === loginPin ? 'pin' : undefined;
    if (prefix === undefined) return;
    if (/^[0-9]$/.test(e.key)) {
      e.preventDefault();
      document.querySelector(`[data-${prefix}-digit="${e.key}"]`)?.click();
    } else if (e.key === 'Enter' && !(e.target instanceof HTMLButtonElement)) {
      e.preventDefault();
      document.getElementById(`${prefix}-ok`)?.click();
    } else if (e.key === 'Backspace') {
      e.preventDefault();
      document.getElementById(`${prefix}-clear`)?.click();
    }
  });

  return {
    /** The menu entry of the welcome screen. */
    entry: () => k.button(t().entry, start, { class: 'btn primary', id: 'login-start' }),
    /** Card events while a login screen is shown; true when handled here. */
    onEvent(m) {
      if (m.type === 'pinpad' && k.screen() === loginPad) {
        padCount = m.state === 'key' ? m.count : 0;
        k.armIdle(); // a key on the pad is activity too
        document.getElementById('login-pin-dots')?.replaceChildren(...Array.from({ length: Math.max(6, padCount) }, (_, i) => k.h('span', { class: i < padCount ? 'dot on' : 'dot' })));
        const c = document.getElementById('login-pin-count');
        if (c !== null) c.textContent = t().entered(padCount);
        return true;
      }
      if (m.type === 'card-inserted' && k.screen() === loginInsert && login !== null) {
        void enterPin();
        return true;
      }
      return false;
    },
    wipe,
  };
}
