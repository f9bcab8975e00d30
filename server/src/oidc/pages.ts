/**
 * The pages of the card login: the login page (code, QR, status), the consent screen, refusals and
 * the provider's own pages (errors, logout). Chinese by default, English with `?lang=en` (or
 * `ui_locales=en`); no inline script or style (the page's script and style are files under
 * `/oidc/assets/`), every value HTML-escaped, the status region announced to screen readers.
 */
import type { KoaContextWithOIDC } from 'oidc-provider';

export type Lang = 'zh' | 'en';
export const PAGE_CSP = "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

const T = {
  zh: {
    title: '社保卡登录', loginFor: '登录到', code: '登录码', scan: '用电子社保卡扫码，或在自助终端、柜台选择“登录服务”，输入登录码，插卡并输入密码。',
    qrAlt: '电子社保卡扫码登录二维码', waiting: '等待认证…', expires: '登录码 5 分钟内有效。', expiresQr: '二维码 5 分钟内有效。', claims: '该服务将获得：',
    consentTitle: '授权', consentAsk: '是否同意向该服务提供以下信息？', allow: '同意', deny: '拒绝',
    refusedTitle: '登录未成功', again: '重新开始', lang: 'English', errorTitle: '出错了',
    logoutTitle: '退出登录', logoutAsk: '是否退出社保卡登录？', logoutYes: '退出', logoutNo: '保持登录', loggedOut: '您已退出登录。',
    claim: { sub: '服务专属的匿名标识', name: '姓名', id_number: '公民身份号码' } as Record<string, string>,
    acr: { high: '认证等级：高（社保卡 + 密码）', substantial: '认证等级：较高（电子社保卡）' },
    methods: '登录方式', methodEcard: '电子社保卡扫码', methodTerminal: '社保卡 + 密码（自助终端或柜台）',
    ecardScan: '打开电子社保卡，扫描下方二维码，核对服务名称后确认登录。', terminalSteps: '在自助终端或柜台选择“登录服务”，输入登录码，插卡并输入密码。',
    used: '该登录已完成，不能再次使用。请回到服务重新登录。',
  },
  en: {
    title: 'Log in with the social security card', loginFor: 'Log in to', code: 'Login code', scan: 'Scan with your e-card app, or choose "log in to a service" at a OneCard kiosk or counter, type the code, insert your card and enter your PIN.',
    qrAlt: 'QR code for e-card login', waiting: 'Waiting for you to authenticate…', expires: 'The code is valid for 5 minutes.', expiresQr: 'The QR code is valid for 5 minutes.', claims: 'This service will receive:',
    consentTitle: 'Consent', consentAsk: 'Do you agree to give this service the following?', allow: 'Allow', deny: 'Deny',
    refusedTitle: 'Login not completed', again: 'Start again', lang: '中文', errorTitle: 'Something went wrong',
    logoutTitle: 'Log out', logoutAsk: 'Log out of the card login?', logoutYes: 'Log out', logoutNo: 'Stay logged in', loggedOut: 'You are logged out.',
    claim: { sub: 'an anonymous identifier for this service only', name: 'your name', id_number: 'your citizen ID number' } as Record<string, string>,
    acr: { high: 'Assurance: high (card + PIN)', substantial: 'Assurance: substantial (e-card)' },
    methods: 'How to log in', methodEcard: 'E-card app (scan)', methodTerminal: 'Card + PIN (kiosk or counter)',
    ecardScan: 'Open your e-card app, scan the QR code below, check the service name and confirm.', terminalSteps: 'At a OneCard kiosk or counter choose "log in to a service", type the code, insert your card and enter your PIN.',
    used: 'This login was already completed and cannot be used again. Go back to the service and log in again.',
  },
} as const;

/** What the user reads for each refusal code. */
const REFUSALS: Record<Lang, Record<string, string>> = {
  zh: {
    SRV_ERR_LOGIN_HOTLISTED: '该卡已挂失，不能用于登录。请到服务大厅办理。',
    SRV_ERR_LOGIN_ASSURANCE: '未能确认卡片真实且密码正确。',
    SRV_ERR_TERMINAL_DISABLED: '该终端已停用，请换一台终端。',
    SRV_ERR_LOGIN_TERMINAL_GROUP: '该终端不提供登录服务，请换一台终端。',
    SRV_ERR_LOGIN_EXPIRED: '登录已超时，请重新开始。',
    SRV_ERR_LOGIN_METHOD: '该服务不接受这种登录方式。',
    SRV_ERR_LOGIN_UNKNOWN: '登录码无效或已过期。',
    SRV_ERR_LOGIN_REPLAYED: '该登录已完成或已被拒绝，不能再次使用。',
    SRV_ERR_LOGIN_ECARD_HOLDER: '该电子社保卡未登记或已注销，不能用于登录。请用本人的电子社保卡扫码。',
    SRV_ERR_LOGIN_ASSERTION_SIGNATURE: '电子社保卡的确认签名无法验证（不是已登记的密钥），已拒绝。请用本人的电子社保卡重新扫码。',
    SRV_ERR_LOGIN_NONCE: '收到的确认不属于本次登录，已拒绝。',
  },
  en: {
    SRV_ERR_LOGIN_HOTLISTED: 'This card is reported lost and cannot be used to log in. Please visit a service hall.',
    SRV_ERR_LOGIN_ASSURANCE: 'The card could not be shown genuine with its PIN verified.',
    SRV_ERR_TERMINAL_DISABLED: 'That terminal is out of service; please use another one.',
    SRV_ERR_LOGIN_TERMINAL_GROUP: 'That terminal does not offer logins; please use another one.',
    SRV_ERR_LOGIN_EXPIRED: 'The login timed out; please start again.',
    SRV_ERR_LOGIN_METHOD: 'This service does not accept that way of logging in.',
    SRV_ERR_LOGIN_UNKNOWN: 'The login code is invalid or expired.',
    SRV_ERR_LOGIN_REPLAYED: 'This login was already completed or refused and cannot be used again.',
    SRV_ERR_LOGIN_ECARD_HOLDER: 'This e-card is not registered or was revoked and cannot be used to log in. Scan with your own e-card app.',
    SRV_ERR_LOGIN_ASSERTION_SIGNATURE: 'An e-card confirmation was refused: its signature is not from a registered e-card key. Scan again with your own e-card app.',
    SRV_ERR_LOGIN_NONCE: 'A confirmation that belongs to another login was refused.',
  },
};

/** The user's sentence for a refusal code (a generic one for codes without their own). */
export function refusalMessage(lang: Lang, code: string): string {
  return REFUSALS[lang][code] ?? (lang === 'zh' ? '登录被拒绝。' : 'The login was refused.');
}

/** The page shown when a completed login's page is opened again. */
export function usedLoginMessage(lang: Lang): string {
  return T[lang].used;
}

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The page language: `?lang=`, else the language the user chose earlier (cookie), else `ui_locales`, else Chinese. */
export function pickLang(query: Record<string, unknown>, uiLocales?: unknown, cookieHeader?: string): Lang {
  if (query.lang === 'en' || query.lang === 'zh') return query.lang;
  const chosen = /(?:^|;\s*)onecard_lang=(en|zh)(?:;|$)/.exec(cookieHeader ?? '')?.[1];
  if (chosen === 'en' || chosen === 'zh') return chosen;
  return typeof uiLocales === 'string' && /^en\b/i.test(uiLocales.trim()) ? 'en' : 'zh';
}

/** Remembers an explicit language choice for the rest of the login (consent, refusal pages). */
export const LANG_COOKIE = (lang: Lang, secure = false): string => `onecard_lang=${lang}; Path=/oidc; SameSite=Lax; HttpOnly; Max-Age=3600${secure ? '; Secure' : ''}`;

/** The ways to log in the page can be narrowed to (`?method=`). */
export type PageMethod = 'terminal' | 'ecard';

function page(lang: Lang, title: string, body: string, extra: { script?: boolean; langHref?: string } = {}): string {
  return `<!DOCTYPE html>
<html lang="${lang === 'zh' ? 'zh-CN' : 'en'}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><link rel="icon" href="/dashboard/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/oidc/assets/login.css">${extra.script === true ? '<script src="/oidc/assets/login.js" defer></script>' : ''}</head>
<body><main class="card">
${extra.langHref !== undefined ? `<p class="lang"><a href="${esc(extra.langHref)}" lang="${lang === 'zh' ? 'en' : 'zh-CN'}">${T[lang].lang}</a></p>` : ''}
${body}
</main></body></html>`;
}

function claimList(lang: Lang, claims: readonly string[]): string {
  return `<ul class="claims">${['sub', ...claims].map((c) => `<li>${esc(T[lang].claim[c] ?? c)}</li>`).join('')}</ul>`;
}

/**
 * The login page. With both methods allowed it offers the choice (`?method=ecard|terminal`, plain
 * links); without a choice it shows both: the e-card QR code and the code for a terminal.
 */
export function renderLoginPage(o: { lang: Lang; uid: string; code: string; clientName: string; claims: readonly string[]; methods: readonly string[]; expiresAt: number; method?: PageMethod | undefined }): string {
  const t = T[o.lang];
  const spaced = `${o.code.slice(0, 4)} ${o.code.slice(4)}`;
  const base = `/oidc/interaction/${encodeURIComponent(o.uid)}`;
  const chosen = o.method !== undefined && o.methods.includes(o.method) ? o.method : undefined;
  const q = (lang: Lang, method: PageMethod | undefined): string => `?lang=${lang}${method !== undefined ? `&method=${method}` : ''}`;
  const showEcard = o.methods.includes('ecard') && chosen !== 'terminal';
  // The code is shown unless the e-card method was chosen (an e-card-only portal's page shows it for reference).
  const showCode = chosen !== 'ecard';
  const choice = o.methods.includes('ecard') && o.methods.includes('terminal')
    ? `<nav class="methods" aria-label="${esc(t.methods)}"><ul>${(['ecard', 'terminal'] as const).map((m) => `<li><a id="method-${m}" href="${esc(base + q(o.lang, m))}"${chosen === m ? ' aria-current="page"' : ''}>${esc(m === 'ecard' ? t.methodEcard : t.methodTerminal)}</a></li>`).join('')}</ul></nav>`
    : '';
  return page(o.lang, t.title, `<h1>${esc(t.title)}</h1>
<p>${esc(t.loginFor)} <strong>${esc(o.clientName)}</strong></p>
${choice}
<div id="login" data-method="${chosen ?? 'any'}" data-status-url="${esc(base)}/status?lang=${o.lang}" data-finish-url="${esc(base)}/finish" data-again-url="${esc(base + q(o.lang, chosen))}">
${showEcard ? `<img class="qr" src="${esc(base)}/qr.svg" width="220" height="220" alt="${esc(t.qrAlt)}">` : ''}
${showCode ? `<p class="code-label" id="code-label">${esc(t.code)}</p>
<p class="code" aria-labelledby="code-label" aria-label="${esc(o.code.split('').join(' '))}">${esc(spaced)}</p>
` : ''}
<p>${esc(!o.methods.includes('terminal') || chosen === 'ecard' ? t.ecardScan : chosen === 'terminal' || !o.methods.includes('ecard') ? t.terminalSteps : t.scan)}</p>
<p class="hint">${esc(showCode ? t.expires : t.expiresQr)}</p>
<p id="status" role="status" aria-live="polite">${esc(t.waiting)}</p>
</div>
<h2>${esc(t.claims)}</h2>${claimList(o.lang, o.claims)}`, { script: true, langHref: `${base}${q(o.lang === 'zh' ? 'en' : 'zh', chosen)}` });
}

export function renderConsentPage(o: { lang: Lang; uid: string; clientName: string; claims: readonly string[]; acr: string | undefined }): string {
  const t = T[o.lang];
  const action = `/oidc/interaction/${encodeURIComponent(o.uid)}/consent?lang=${o.lang}`;
  const acr = o.acr?.endsWith(':high') === true ? t.acr.high : o.acr?.endsWith(':substantial') === true ? t.acr.substantial : '';
  return page(o.lang, t.consentTitle, `<h1>${esc(t.consentTitle)}</h1>
<p><strong>${esc(o.clientName)}</strong></p><p>${esc(t.consentAsk)}</p>${claimList(o.lang, o.claims)}
${acr !== '' ? `<p class="hint">${esc(acr)}</p>` : ''}
<form method="post" action="${esc(action)}"><button type="submit" name="decision" value="allow" class="primary">${esc(t.allow)}</button>
<button type="submit" name="decision" value="deny">${esc(t.deny)}</button></form>`, { langHref: `/oidc/interaction/${encodeURIComponent(o.uid)}?lang=${o.lang === 'zh' ? 'en' : 'zh'}` });
}

export function renderRefusalPage(o: { lang: Lang; uid: string; code: string; method?: PageMethod | undefined }): string {
  const t = T[o.lang];
  const msg = refusalMessage(o.lang, o.code);
  return page(o.lang, t.refusedTitle, `<h1>${esc(t.refusedTitle)}</h1>
<p role="alert" class="error">${esc(msg)}</p><p class="hint"><code>${esc(o.code)}</code></p>
<form method="get" action="/oidc/interaction/${esc(encodeURIComponent(o.uid))}"><input type="hidden" name="lang" value="${o.lang}">${o.method !== undefined ? `<input type="hidden" name="method" value="${o.method}">` : ''}<input type="hidden" name="restart" value="1">
<button type="submit" class="primary">${esc(t.again)}</button></form>`, { langHref: `/oidc/interaction/${encodeURIComponent(o.uid)}?lang=${o.lang === 'zh' ? 'en' : 'zh'}` });
}

export function renderErrorPage(lang: Lang, code: string, message: string): string {
  return page(lang, T[lang].errorTitle, `<h1>${esc(T[lang].errorTitle)}</h1><p role="alert" class="error">${esc(message)}</p><p class="hint"><code>${esc(code)}</code></p>`);
}

/** The provider's error page (e.g. an unregistered redirect URI): bilingual, no detail beyond the OAuth error. */
export async function renderProviderError(ctx: KoaContextWithOIDC, out: { error?: string; error_description?: string }): Promise<void> {
  ctx.type = 'html';
  ctx.set('content-security-policy', PAGE_CSP);
  ctx.body = page('zh', '出错了 / Something went wrong', `<h1>出错了 <span lang="en">/ Something went wrong</span></h1>
<p role="alert" class="error">${esc(out.error ?? 'server_error')}</p><p lang="en">${esc(out.error_description ?? '')}</p>`);
}

export async function renderLogoutPage(ctx: KoaContextWithOIDC, form: string): Promise<void> {
  ctx.type = 'html';
  ctx.set('content-security-policy', PAGE_CSP);
  ctx.body = page('zh', `${T.zh.logoutTitle} / ${T.en.logoutTitle}`, `<h1>${T.zh.logoutTitle} <span lang="en">/ ${T.en.logoutTitle}</span></h1>
<p>${T.zh.logoutAsk} <span lang="en">${T.en.logoutAsk}</span></p>${form}
<button type="submit" form="op.logoutForm" value="yes" name="logout" class="primary">${T.zh.logoutYes} / ${T.en.logoutYes}</button>
<button type="submit" form="op.logoutForm">${T.zh.logoutNo} / ${T.en.logoutNo}</button>`);
}

export async function renderPostLogoutPage(ctx: KoaContextWithOIDC): Promise<void> {
  ctx.type = 'html';
  ctx.set('content-security-policy', PAGE_CSP);
  ctx.body = page('zh', `${T.zh.logoutTitle} / ${T.en.logoutTitle}`, `<h1>${T.zh.loggedOut}</h1><p lang="en">${T.en.loggedOut}</p>`);
}

export const LOGIN_JS = `// Login page: polls the login status; continues when it is accepted, shows the refusal otherwise.
(function () {
  var box = document.getElementById('login');
  if (!box) return;
  var status = box.getAttribute('data-status-url');
  function poll() {
    fetch(status, { credentials: 'same-origin', cache: 'no-store' }).then(function (r) { return r.json(); }).then(function (s) {
      if (s.status === 'done') { window.location.assign(box.getAttribute('data-finish-url')); return; }
      if (s.status === 'refused' || s.status === 'expired') { window.location.assign(box.getAttribute('data-again-url')); return; }
      // A refused attempt that did not end the login (e.g. a confirmation under an unknown key): say so, keep waiting.
      if (typeof s.message === 'string') { var el = document.getElementById('status'); el.textContent = s.message; el.className = 'error'; }
      setTimeout(poll, 1500);
    }).catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
`;

export const LOGIN_CSS = `body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;background:#f3f5f7;color:#1b1f24;margin:0;padding:2rem 1rem}
.card{max-width:30rem;margin:0 auto;background:#fff;border-radius:8px;padding:1.5rem 2rem;box-shadow:0 1px 3px rgba(0,0,0,.2)}
h1{font-size:1.4rem}.code{font-size:2.4rem;letter-spacing:.2em;font-family:ui-monospace,monospace;margin:.2rem 0}
.code-label{margin-bottom:0;color:#444}.qr{display:block;margin:1rem auto}.hint{color:#444;font-size:.9rem}
.error{color:#a50e0e;font-weight:600}.methods ul{list-style:none;padding:0;display:flex;gap:1rem;flex-wrap:wrap}.methods a[aria-current]{font-weight:600;text-decoration:none;border-bottom:3px solid #0b57d0}.lang{text-align:right;margin:0}.claims{padding-left:1.2rem}
button{font-size:1rem;padding:.6rem 1.2rem;margin:.3rem .3rem 0 0;border-radius:4px;border:1px solid #555;background:#fff;cursor:pointer}
button.primary{background:#0b57d0;color:#fff;border-color:#0b57d0}a{color:#0b57d0}
:focus-visible{outline:3px solid #f9ab00;outline-offset:2px}
`;
