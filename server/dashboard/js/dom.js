// Tiny DOM helpers for the OneCard dashboard: elements are built with `h()` (text is always set
// as text, never parsed as HTML), plus formatting helpers shared by the pages.

/**
 * Creates an element. `attrs` keys: `class`, `text`, `on<Event>` (listener), `dataset`, boolean
 * attributes (`true` sets, `false`/`undefined`/`null` omits) and plain attributes.
 * Children: nodes, strings (as text), arrays, or null/undefined/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = tag === 'svg' || SVG_TAGS.has(tag) ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else if (k === 'class') el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'value' && 'value' in el) el.value = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

const SVG_TAGS = new Set(['g', 'path', 'line', 'rect', 'circle', 'text', 'title', 'desc', 'polyline', 'polygon']);

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** `12 s ago`, `5 min ago`, … or an ISO date for old values; `—` for none. */
export function ago(ms, now = Date.now()) {
  if (ms === null || ms === undefined) return '—';
  const d = Math.max(0, Math.round((now - ms) / 1000));
  if (d < 60) return `${d} s ago`;
  if (d < 3600) return `${Math.floor(d / 60)} min ago`;
  if (d < 86400) return `${Math.floor(d / 3600)} h ago`;
  return isoTime(ms);
}

/** `2025-11-28 03:20:00` in local time. */
export function isoTime(ms) {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** A `<time>` element with a relative label and the exact time as its title. */
export function timeEl(ms) {
  if (ms === null || ms === undefined) return h('span', { text: '—' });
  return h('time', { datetime: new Date(ms).toISOString(), title: isoTime(ms), text: ago(ms) });
}

/** A status badge; `kind` picks the colour (ok, warn, bad, muted, info). */
export function badge(text, kind = 'muted') {
  return h('span', { class: `badge badge-${kind}`, text });
}

/** Announces `text` to screen readers and shows it in the status bar. */
export function notify(text, kind = 'info') {
  const bar = document.getElementById('status');
  if (bar === null) return;
  replace(bar, h('p', { class: `note note-${kind}`, text }));
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => bar.replaceChildren(), kind === 'error' ? 12000 : 5000);
}

/** A labelled form field. */
export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), input, hint ? h('small', { class: 'hint', text: hint }) : null);
}

/** A section with a heading. */
export function section(title, ...children) {
  const id = `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id, text: title }), ...children);
}

/** A table: `columns` = [{label, cell(row) -> node|string, class?}]. */
export function table(caption, columns, rows, empty = 'Nothing to show.') {
  if (rows.length === 0) return h('p', { class: 'empty', text: empty });
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', { class: caption.startsWith('!') ? 'sr-only' : '', text: caption.replace(/^!/, '') }),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class, text: c.label })))),
    h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c) => h('td', { class: c.class }, c.cell(r))))))));
}
