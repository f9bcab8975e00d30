// The live picture of the fleet shared by every page: the terminal list (loaded over the REST
// API, refreshed by polling) kept current by the server-sent events feed, latest health from
// telemetry, and two client-side series for the charts: online terminals over time (sampled every
// 10 s) and ingested records per minute. The feed is opened with a single-use ticket bought with
// the admin token (POST /api/v1/live/ticket), so the token never appears in a URL.

import { api, get, qs, post, session } from './api.js';

const SAMPLE_MS = 10_000;
const POLL_MS = 30_000;
const MAX_SAMPLES = 360; // one hour at 10 s
const MINUTES = 30;
const PAGE = 5000;
const MAX_TERMINALS = 100_000;

export const fleet = {
  /** id → terminal (API view merged with live changes). */
  terminals: new Map(),
  /** id → 'ok' | 'degraded' | 'failed' from telemetry. */
  health: new Map(),
  groups: [],
  hotlistVersion: null,
  /** [{t, v}] online terminal counts. */
  online: [],
  /** minute (ms) → records ingested. */
  perMinute: new Map(),
  /** 'connecting' | 'live' | 'offline' */
  connection: 'offline',
  loaded: false,
  lastLoad: 0,
  /** recent live notes for the activity list: [{at, text}] */
  activity: [],
};

const listeners = new Set();
let pending = false;
/** Calls `fn(kind)` after fleet changes (coalesced per animation frame); returns an unsubscribe. */
export function onFleet(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
const kinds = new Set();
function changed(kind) {
  kinds.add(kind);
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    const k = [...kinds];
    kinds.clear();
    for (const fn of listeners) { try { fn(k); } catch (e) { console.warn('fleet listener failed', e); } }
  });
}

export function onlineCount() {
  let n = 0;
  for (const t of fleet.terminals.values()) if (t.online && t.status === 'active') n++;
  return n;
}

function addActivity(text) {
  fleet.activity.unshift({ at: Date.now(), text });
  if (fleet.activity.length > 50) fleet.activity.length = 50;
}

function restoreSamples() {
  try {
    const s = JSON.parse(sessionStorage.getItem('onecard.dashboard.online') ?? '[]');
    if (Array.isArray(s)) fleet.online = s.filter((p) => typeof p.t === 'number' && typeof p.v === 'number' && Date.now() - p.t < 3600_000);
  } catch { /* start afresh */ }
}

function sample() {
  if (!fleet.loaded) return;
  fleet.online.push({ t: Date.now(), v: onlineCount() });
  if (fleet.online.length > MAX_SAMPLES) fleet.online.splice(0, fleet.online.length - MAX_SAMPLES);
  sessionStorage.setItem('onecard.dashboard.online', JSON.stringify(fleet.online));
  changed('online');
}

function minuteOf(ms) { return Math.floor(ms / 60_000) * 60_000; }
function countEvents(at, n) {
  const m = minuteOf(at);
  fleet.perMinute.set(m, (fleet.perMinute.get(m) ?? 0) + n);
  const oldest = minuteOf(Date.now()) - MINUTES * 60_000;
  for (const k of fleet.perMinute.keys()) if (k < oldest) fleet.perMinute.delete(k);
}

/** Loads terminals, telemetry and groups (all pages, bounded). */
export async function loadFleet() {
  const terminals = new Map();
  let after;
  do {
    const page = await get(`/api/v1/terminals${qs({ limit: PAGE, after })}`);
    for (const t of page.terminals) terminals.set(t.id, t);
    after = page.next ?? undefined;
  } while (after !== undefined && terminals.size < MAX_TERMINALS);
  fleet.terminals = terminals;
  try {
    const health = new Map();
    let tafter;
    do {
      const page = await get(`/api/v1/telemetry${qs({ limit: PAGE, after: tafter })}`);
      for (const r of page.telemetry) health.set(r.terminalId, r.health);
      tafter = page.next ?? undefined;
    } while (tafter !== undefined && health.size < MAX_TERMINALS);
    fleet.health = health;
  } catch { /* telemetry not available: no degraded counts */ }
  try { fleet.groups = (await get('/api/v1/groups')).groups; } catch { fleet.groups = []; }
  fleet.loaded = true;
  fleet.lastLoad = Date.now();
  if (fleet.online.length === 0) sample();
  changed('terminals');
}

async function seedPerMinute() {
  try {
    const from = minuteOf(Date.now()) - (MINUTES - 1) * 60_000;
    const r = await get(`/api/v1/events${qs({ from, limit: 10000 })}`);
    for (const e of r.events) countEvents(e.receivedAt ?? e.ts, 1);
    changed('events');
  } catch { /* no events API */ }
}

let es = null;
let retryTimer = null;
let retryDelay = 1000;
let timers = [];

function applyTerminalChanges(changes) {
  for (const c of changes) {
    const t = fleet.terminals.get(c.id);
    if (t === undefined) {
      // A terminal enrolled after the last load: fetch it.
      get(`/api/v1/terminals/${encodeURIComponent(c.id)}`).then((full) => { fleet.terminals.set(full.id, full); changed('terminals'); }, () => {});
      continue;
    }
    const next = { ...t };
    if (c.online !== undefined && (c.epoch === undefined || c.epoch >= (t.epoch ?? 0))) {
      if (c.online !== t.online) addActivity(`${c.id} ${c.online ? 'came online' : 'went offline'}`);
      next.online = c.online;
      if (c.epoch !== undefined) next.epoch = c.epoch;
      next.lastSeen = c.at;
    }
    if (c.versions !== undefined || c.readers !== undefined) {
      next.reported = { ...(t.reported ?? {}), ...(c.versions !== undefined ? { versions: c.versions } : {}), ...(c.readers !== undefined ? { readers: c.readers } : {}) };
    }
    if (c.health !== undefined) fleet.health.set(c.id, c.health);
    if (c.disabled) { next.status = 'disabled'; addActivity(`${c.id} disabled`); }
    fleet.terminals.set(c.id, next);
  }
  changed('terminals');
}

function connect() {
  clearTimeout(retryTimer);
  if (!session.token) return;
  fleet.connection = 'connecting';
  changed('connection');
  post('/api/v1/live/ticket').then((r) => {
    if (!session.token) return;
    es = new EventSource(`/api/v1/live${qs({ ticket: r.ticket })}`);
    es.addEventListener('hello', (ev) => {
      retryDelay = 1000;
      fleet.connection = 'live';
      changed('connection');
      const d = JSON.parse(ev.data);
      // Reload after a reconnect: changes may have been missed meanwhile.
      if (fleet.loaded && Date.now() - fleet.lastLoad > 2000) loadFleet().catch(() => {});
      void d;
    });
    es.addEventListener('terminals', (ev) => applyTerminalChanges(JSON.parse(ev.data).changes));
    es.addEventListener('events', (ev) => {
      const d = JSON.parse(ev.data);
      countEvents(d.at, d.total);
      for (const b of d.batches) {
        const t = fleet.terminals.get(b.terminalId);
        if (t) fleet.terminals.set(b.terminalId, { ...t, lastSeen: d.at });
      }
      changed('events');
    });
    es.addEventListener('config-status', (ev) => {
      const d = JSON.parse(ev.data);
      addActivity(`${d.terminalId} config v${d.version} ${d.status}`);
      changed('config');
    });
    es.addEventListener('jobs', (ev) => {
      const d = JSON.parse(ev.data);
      addActivity(`${d.terminalId} job ${d.jobId} ${d.status}`);
      changed('jobs');
    });
    es.addEventListener('hotlist', (ev) => {
      fleet.hotlistVersion = JSON.parse(ev.data).version;
      addActivity(`hotlist now version ${fleet.hotlistVersion}`);
      changed('hotlist');
    });
    es.addEventListener('stats', () => changed('stats'));
    es.addEventListener('resync', () => { loadFleet().catch(() => {}); });
    es.addEventListener('error', () => {
      // Reconnect ourselves with a fresh ticket (the old one is spent).
      es?.close();
      es = null;
      fleet.connection = 'offline';
      changed('connection');
      scheduleRetry();
    });
  }, () => {
    fleet.connection = 'offline';
    changed('connection');
    scheduleRetry();
  });
}

function scheduleRetry() {
  clearTimeout(retryTimer);
  if (!session.token) return;
  retryTimer = setTimeout(connect, retryDelay);
  retryDelay = Math.min(retryDelay * 2, 30_000);
}

/** Starts loading, polling, sampling and the live feed (after login). */
export function startLive() {
  stopLive();
  restoreSamples();
  loadFleet().catch((e) => console.warn('fleet load failed', e.message));
  seedPerMinute();
  connect();
  timers.push(setInterval(sample, SAMPLE_MS));
  timers.push(setInterval(() => { if (document.visibilityState === 'visible') loadFleet().catch(() => {}); }, POLL_MS));
}

/** Stops everything (logout). */
export function stopLive() {
  es?.close();
  es = null;
  clearTimeout(retryTimer);
  for (const t of timers) clearInterval(t);
  timers = [];
  fleet.terminals = new Map();
  fleet.health = new Map();
  fleet.perMinute = new Map();
  fleet.activity = [];
  fleet.loaded = false;
  fleet.connection = 'offline';
}

/** Reference kept for pages that want a one-off call without importing api.js. */
export { api };
