// Small inline-SVG charts for the dashboard: a line chart (online terminals over time), a bar
// chart (records per minute) and a stacked progress bar (rollout phases). Each chart is an
// `role="img"` SVG with a text summary for screen readers; colours come from CSS classes.

import { h } from './dom.js';

const W = 600;
const H = 180;
const PAD = { l: 40, r: 12, t: 12, b: 24 };

function niceMax(v) {
  if (v <= 5) return 5;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function hhmm(ms) {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

function axes(max, t0, t1) {
  const y = (v) => PAD.t + (H - PAD.t - PAD.b) * (1 - v / max);
  const g = h('g', { class: 'axis' });
  for (const v of [0, max / 2, max]) {
    g.append(h('line', { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v), class: 'grid' }));
    g.append(h('text', { x: PAD.l - 6, y: y(v) + 4, 'text-anchor': 'end', text: String(Number.isInteger(v) ? v : v.toFixed(1)) }));
  }
  if (t0 !== undefined) {
    g.append(h('text', { x: PAD.l, y: H - 6, 'text-anchor': 'start', text: hhmm(t0) }));
    g.append(h('text', { x: W - PAD.r, y: H - 6, 'text-anchor': 'end', text: hhmm(t1) }));
  }
  return { g, y };
}

/** Line chart of `points` [{t, v}]. */
export function lineChart(title, points, unit) {
  const last = points.at(-1);
  const summary = points.length === 0 ? `${title}: no samples yet` : `${title}: ${last.v} ${unit} now; ${points.length} samples since ${hhmm(points[0].t)}`;
  const svg = h('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': summary, class: 'chart', preserveAspectRatio: 'none' }, h('title', { text: summary }));
  if (points.length === 0) {
    svg.append(h('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'chart-empty', text: 'no samples yet' }));
    return svg;
  }
  const max = niceMax(Math.max(...points.map((p) => p.v)));
  const t0 = points[0].t;
  const t1 = Math.max(last.t, t0 + 60_000);
  const { g, y } = axes(max, t0, t1);
  const x = (t) => PAD.l + (W - PAD.l - PAD.r) * ((t - t0) / (t1 - t0));
  svg.append(g);
  const d = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
  svg.append(h('path', { d, class: 'line' }));
  svg.append(h('circle', { cx: x(last.t), cy: y(last.v), r: 3.5, class: 'dot' }));
  return svg;
}

/** Bar chart of per-minute counts over the last `minutes` minutes (map minute → count). */
export function minuteBars(title, perMinute, minutes = 30, now = Date.now()) {
  const end = Math.floor(now / 60_000) * 60_000;
  const bins = [];
  for (let i = minutes - 1; i >= 0; i--) { const m = end - i * 60_000; bins.push({ t: m, v: perMinute.get(m) ?? 0 }); }
  const total = bins.reduce((a, b) => a + b.v, 0);
  const summary = `${title}: ${bins.at(-1).v} this minute, ${total} in the last ${minutes} minutes`;
  const svg = h('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': summary, class: 'chart', preserveAspectRatio: 'none' }, h('title', { text: summary }));
  const max = niceMax(Math.max(1, ...bins.map((b) => b.v)));
  const { g, y } = axes(max, bins[0].t, end);
  svg.append(g);
  const bw = (W - PAD.l - PAD.r) / bins.length;
  bins.forEach((b, i) => {
    if (b.v === 0) return;
    svg.append(h('rect', { x: (PAD.l + i * bw + 1).toFixed(1), y: y(b.v).toFixed(1), width: Math.max(1, bw - 2).toFixed(1), height: (H - PAD.b - y(b.v)).toFixed(1), class: 'bar' },
      h('title', { text: `${hhmm(b.t)}: ${b.v}` })));
  });
  return svg;
}

/**
 * Stacked progress bar: `parts` [{label, value, kind}] out of `total` (kind: ok, bad, info, muted).
 */
export function progressBar(label, parts, total) {
  const sum = parts.reduce((a, p) => a + p.value, 0);
  const denom = Math.max(total, sum, 1);
  const text = `${label}: ${parts.map((p) => `${p.value} ${p.label}`).join(', ')} of ${total}`;
  const svg = h('svg', { viewBox: '0 0 400 16', role: 'img', 'aria-label': text, class: 'progress', preserveAspectRatio: 'none' }, h('title', { text }));
  svg.append(h('rect', { x: 0, y: 0, width: 400, height: 16, class: 'progress-bg' }));
  let x = 0;
  for (const p of parts) {
    const w = (400 * p.value) / denom;
    if (w > 0) svg.append(h('rect', { x: x.toFixed(2), y: 0, width: w.toFixed(2), height: 16, class: `progress-${p.kind}` }));
    x += w;
  }
  return svg;
}
