// Entry point of the OneCard fleet dashboard: login with an admin token, the navigation (what
// a role may see), and a hash router (`#/terminals/T…`) that renders one page at a time into
// <main>. Pages are modules exporting `render(main, params)`, which may return a cleanup function.

import { ApiError, can, post, resetCapabilities, session, setUnauthenticatedHandler } from './api.js';
import { h, notify, replace, field } from './dom.js';
import { fleet, onFleet, startLive, stopLive } from './live.js';

const PAGES = [
  { path: '/', label: 'Overview', load: () => import('./pages/overview.js') },
  { path: '/terminals', label: 'Terminals', load: () => import('./pages/overview.js'), nav: false },
  { path: '/terminals/:id', load: () => import('./pages/terminal.js'), nav: false, parent: '/' },
  { path: '/events', label: 'Events & transactions', load: () => import('./pages/events.js') },
  { path: '/hotlist', label: 'Hotlist', load: () => import('./pages/hotlist.js') },
  { path: '/config', label: 'Configuration', load: () => import('./pages/config.js') },
  { path: '/config/:id', load: () => import('./pages/config.js'), nav: false, parent: '/config' },
  { path: '/rollouts', label: 'Rollouts', load: () => import('./pages/rollouts.js') },
  { path: '/keys', label: 'Key sets', load: () => import('./pages/keys.js') },
  { path: '/sharing', label: 'Data sharing', load: () => import('./pages/sharing.js') },
  { path: '/portals', label: 'Portals', load: () => import('./pages/portals.js') },
  { path: '/staff', label: 'Staff credentials', load: () => import('./pages/staff.js') },
  { path: '/audit', label: 'Audit log', load: () => import('./pages/audit.js') },
  { path: '/tokens', label: 'Admin tokens', load: () => import('./pages/tokens.js'), role: 'admin' },
];

function match(path) {
  for (const p of PAGES) {
    const names = [];
    const re = new RegExp(`^${p.path.replace(/:([a-z]+)/g, (_m, n) => { names.push(n); return '([^/]+)'; })}$`);
    const m = re.exec(path);
    if (m) return { page: p, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1])])) };
  }
  return undefined;
}

function currentPath() {
  const raw = location.hash.replace(/^#/, '') || '/';
  return raw.split('?')[0];
}

/** Query parameters of the hash route (`#/events?terminal=T1`). */
export function routeQuery() {
  const raw = location.hash.replace(/^#/, '');
  const i = raw.indexOf('?');
  return new URLSearchParams(i < 0 ? '' : raw.slice(i + 1));
}

function renderNav(active) {
  const nav = document.getElementById('nav');
  if (!session.token) { nav.replaceChildren(); return; }
  const items = PAGES.filter((p) => p.nav !== false && (p.role === undefined || session.role === p.role));
  replace(nav, h('ul', {}, items.map((p) => h('li', {}, h('a', { href: `#${p.path}`, 'aria-current': p.path === active ? 'page' : undefined, text: p.label })))));
}

function renderWho() {
  const who = document.getElementById('who');
  if (!session.token) { who.replaceChildren(); return; }
  const dot = h('span', { class: `conn conn-${fleet.connection}`, id: 'conn', title: `live updates: ${fleet.connection}` }, h('span', { class: 'sr-only', text: `live updates ${fleet.connection}` }));
  replace(who, dot, h('span', { class: 'role', text: `${session.name || 'admin'} · ${session.role}` }),
    h('button', { type: 'button', class: 'link', onClick: logout, text: 'Log out' }));
}

function logout() {
  stopLive();
  session.clear();
  sessionStorage.removeItem('onecard.dashboard.online');
  location.hash = '#/login';
  route();
}

function renderLogin(main) {
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false', minlength: 16 });
  const err = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { class: 'card login', 'aria-labelledby': 'login-h' },
    h('h1', { id: 'login-h', text: 'Sign in' }),
    h('p', { text: 'Paste an admin token. It is kept only in this browser tab (session storage) and sent to this server alone.' }),
    field('Admin token', input),
    err,
    h('button', { type: 'submit', class: 'primary', text: 'Sign in' }));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const token = input.value.trim();
    session.save(token, '', '');
    try {
      const r = await post('/api/v1/live/ticket');
      session.save(token, r.role, r.name);
      resetCapabilities();
      startLive();
      location.hash = '#/';
      route();
    } catch (e) {
      session.clear();
      err.textContent = e instanceof ApiError && e.status === 401 ? 'That token is not valid (unknown or revoked).' : `Sign-in failed: ${e.message}`;
      input.focus();
    }
  });
  replace(main, form);
  input.focus();
}

let cleanup = null;
let seq = 0;
let navigated = false;
async function route() {
  const main = document.getElementById('main');
  if (typeof cleanup === 'function') { try { cleanup(); } catch { /* ignore */ } }
  cleanup = null;
  const path = currentPath();
  if (!session.token || !session.role) {
    renderNav();
    renderWho();
    document.title = 'Sign in · OneCard fleet';
    renderLogin(main);
    return;
  }
  const m = match(path);
  renderNav(m?.page.parent ?? m?.page.path);
  renderWho();
  const my = ++seq;
  if (m === undefined || (m.page.role !== undefined && m.page.role !== session.role)) {
    replace(main, h('h1', { text: 'Not found' }), h('p', {}, 'No such page. ', h('a', { href: '#/', text: 'Back to the overview' })));
    return;
  }
  try {
    const mod = await m.page.load();
    if (my !== seq) return;
    main.replaceChildren();
    document.title = `${m.page.label ?? 'Terminal'} · OneCard fleet`;
    cleanup = await mod.render(main, m.params, { can, query: routeQuery() });
    // After in-app navigation, move focus to the new content (not on the first load).
    if (navigated) main.focus({ preventScroll: true });
    navigated = true;
  } catch (e) {
    if (my !== seq) return;
    replace(main, h('h1', { text: 'Something went wrong' }), h('p', { class: 'error', text: e.message }));
  }
}

setUnauthenticatedHandler(() => {
  notify('Your token is no longer accepted; please sign in again.', 'error');
  logout();
});

onFleet((kinds) => { if (kinds.includes('connection')) renderWho(); });
window.addEventListener('hashchange', route);
if (session.token && session.role) startLive();
route();
