/**
 * The dashboard plugin: static files with security headers, live-feed tickets (single use,
 * expiring, role reported), the server-sent events stream fed by uplink and fleet events (counts
 * only, never event bodies), the coalescing hub, and the client-side masking module.
 */
import t from 'tap';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeTestApp, type TestApp } from '../helpers.ts';
import dashboardPlugin, { LiveHub, sseFrame, DASHBOARD_CSP, LIVE_TICKET_TTL_MS } from '../../src/dashboard/plugin.ts';
import { maskMiddle, maskName, maskText, maskValue, summarizeBody } from '../../dashboard/js/mask.js';

async function appWithDashboard(): Promise<TestApp> {
  const ta = await makeTestApp();
  if (!ta.app.hasRoute({ method: 'GET', url: '/api/v1/live' })) await ta.app.register(dashboardPlugin, { flushMs: 20, heartbeatMs: 60_000 });
  await ta.app.ready();
  return ta;
}

t.test('static app: index at / and /dashboard/, assets, CSP, no traversal', async (t) => {
  const { app } = await appWithDashboard();
  t.teardown(() => app.close());
  const root = await app.inject({ method: 'GET', url: '/' });
  t.equal(root.statusCode, 200);
  t.match(root.headers['content-type'], /text\/html/);
  t.equal(root.headers['content-security-policy'], DASHBOARD_CSP);
  t.equal(root.headers['x-content-type-options'], 'nosniff');
  t.match(root.body, /<script type="module" src="\/dashboard\/js\/app.js">/);
  const idx = await app.inject({ method: 'GET', url: '/dashboard/' });
  t.equal(idx.statusCode, 200);
  t.match(idx.body, /OneCard fleet/);
  const js = await app.inject({ method: 'GET', url: '/dashboard/js/app.js' });
  t.equal(js.statusCode, 200);
  t.match(js.headers['content-type'], /javascript/);
  const css = await app.inject({ method: 'GET', url: '/dashboard/css/app.css' });
  t.match(css.headers['content-type'], /text\/css/);
  for (const url of ['/dashboard/../src/app.ts', '/dashboard/%2e%2e/src/app.ts', '/dashboard/..%2fpackage.json']) {
    const r = await app.inject({ method: 'GET', url });
    t.not(r.statusCode, 200, url);
    t.notMatch(r.body, /buildApp|"name": "@onecard\/server"/, url);
  }
});

t.test('live tickets: need a token, report the role, are single use and expire', async (t) => {
  const ta = await appWithDashboard();
  const { app } = ta;
  t.teardown(() => app.close());
  const anon = await app.inject({ method: 'POST', url: '/api/v1/live/ticket' });
  t.equal(anon.statusCode, 401);
  t.equal(anon.json().error.code, 'SRV_ERR_UNAUTHENTICATED');
  const viewer = await ta.tokenFor('viewer');
  const r = await app.inject({ method: 'POST', url: '/api/v1/live/ticket', headers: ta.auth(viewer) });
  t.equal(r.statusCode, 200);
  const body = r.json() as { ticket: string; role: string; expiresAt: number; name: string };
  t.equal(body.role, 'viewer');
  t.equal(body.name, 'viewer');
  t.match(body.ticket, /^olt_[A-Za-z0-9_-]{43}$/);
  t.equal(body.expiresAt, ta.clock.now() + LIVE_TICKET_TTL_MS);
  t.notMatch(body.ticket, viewer);

  const bad = await app.inject({ method: 'GET', url: '/api/v1/live?ticket=olt_' + 'A'.repeat(43) });
  t.equal(bad.statusCode, 401);
  const malformed = await app.inject({ method: 'GET', url: '/api/v1/live?ticket=nope' });
  t.equal(malformed.statusCode, 400);
  const tokenInUrl = await app.inject({ method: 'GET', url: `/api/v1/live?token=${viewer}` });
  t.equal(tokenInUrl.statusCode, 400, 'the admin token is never accepted in the URL');

  // Expired.
  const r2 = (await app.inject({ method: 'POST', url: '/api/v1/live/ticket', headers: ta.auth(viewer) })).json() as { ticket: string };
  ta.clock.advance(LIVE_TICKET_TTL_MS + 1);
  t.equal((await app.inject({ method: 'GET', url: `/api/v1/live?ticket=${r2.ticket}` })).statusCode, 401);

  // Revoked token: its ticket no longer opens the feed.
  const tok = (await app.inject({ method: 'POST', url: '/api/v1/admin/tokens', headers: ta.auth(), payload: { name: 'gone', role: 'operator' } })).json() as { id: string; token: string };
  const r3 = (await app.inject({ method: 'POST', url: '/api/v1/live/ticket', headers: ta.auth(tok.token) })).json() as { ticket: string };
  await app.inject({ method: 'DELETE', url: `/api/v1/admin/tokens/${tok.id}`, headers: ta.auth() });
  t.equal((await app.inject({ method: 'GET', url: `/api/v1/live?ticket=${r3.ticket}` })).statusCode, 401);
});

interface Frame { event: string; data: unknown }

function openStream(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; frames: Frame[]; raw: () => string; next(event: string, timeoutMs?: number): Promise<Frame>; close(): void }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res) => {
      let buf = '';
      let all = '';
      const frames: Frame[] = [];
      const waiters: { event: string; resolve: (f: Frame) => void }[] = [];
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        all += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (ev === undefined || data === undefined) continue;
          const f = { event: ev, data: JSON.parse(data) as unknown };
          frames.push(f);
          const w = waiters.findIndex((x) => x.event === ev);
          if (w >= 0) waiters.splice(w, 1)[0]!.resolve(f);
        }
      });
      resolve({
        status: res.statusCode ?? 0,
        frames,
        raw: () => all,
        next(event, timeoutMs = 5000) {
          const have = frames.find((f) => f.event === event && !(f as { taken?: boolean }).taken);
          if (have) { (have as { taken?: boolean }).taken = true; return Promise.resolve(have); }
          return new Promise((res2, rej2) => {
            const timer = setTimeout(() => rej2(new Error(`no ${event} frame`)), timeoutMs);
            waiters.push({ event, resolve: (f) => { clearTimeout(timer); (f as { taken?: boolean }).taken = true; res2(f); } });
          });
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('live feed: presence, counts without bodies, hotlist, config status; header auth too', async (t) => {
  const ta = await appWithDashboard();
  const { app } = ta;
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const port = (app.server.address() as AddressInfo).port;
  const { ticket } = (await app.inject({ method: 'POST', url: '/api/v1/live/ticket', headers: ta.auth() })).json() as { ticket: string };
  const s = await openStream(port, `/api/v1/live?ticket=${ticket}`);
  t.equal(s.status, 200);
  const hello = await s.next('hello');
  t.match(hello.data, { role: 'admin', online: 0 });
  // A ticket opens one stream only.
  const again = await openStream(port, `/api/v1/live?ticket=${ticket}`);
  t.equal(again.status, 401);
  again.close();

  const versions = { software: '1.2.3', config: 4, keys: 1, hotlist: 7 };
  app.uplink.emit('birth', 'T1', { v: 1, epoch: 3, ts: 1, versions, readers: [] });
  app.uplink.emit('birth', 'T2', { v: 1, epoch: 1, ts: 1, versions, readers: [] });
  app.uplink.emit('disconnect', 'T2', 1);
  const secret = { name: '张三', ssn: '110101199003077777', cardNumber: 'A12345678' };
  app.uplink.emit('events', 'T1', { v: 1, records: [
    { eventId: 'e0000001', seq: 1, ts: 1, type: 'card.read', body: secret },
    { eventId: 'e0000002', seq: 2, ts: 1, type: 'card.read', body: secret },
    { eventId: 'e0000003', seq: 3, ts: 1, type: 'txn.purchase', body: secret },
  ] });
  app.uplink.emit('config/status', 'T1', { v: 1, version: 4, status: 'rejected', error: { code: 'TERM_ERR_X', message: 'bad' } });
  app.fleet.emit('hotlist-changed', 9);
  const term = await s.next('terminals');
  const changes = (term.data as { changes: { id: string; online: boolean; versions?: unknown }[] }).changes;
  t.match(changes.find((c) => c.id === 'T1'), { online: true, epoch: 3, versions });
  t.match(changes.find((c) => c.id === 'T2'), { online: false }, 'birth then disconnect in one flush: latest wins');
  const ev = await s.next('events');
  t.match(ev.data, { total: 3, batches: [{ terminalId: 'T1', count: 3, types: { 'card.read': 2, 'txn.purchase': 1 } }] });
  t.match((await s.next('config-status')).data, { terminalId: 'T1', version: 4, status: 'rejected', errorCode: 'TERM_ERR_X' });
  t.match((await s.next('hotlist')).data, { version: 9 });
  t.notMatch(s.raw(), /张三|110101199003077777|A12345678/, 'no event body reaches the feed');
  s.close();

  // Header authentication for non-browser clients; viewer role is enough.
  const viewer = await ta.tokenFor('viewer');
  const h = await openStream(port, '/api/v1/live', { authorization: `Bearer ${viewer}` });
  t.equal(h.status, 200);
  t.match((await h.next('hello')).data, { role: 'viewer' });
  // Closing the app ends open streams instead of hanging.
  await app.close();
  t.pass('closed with a stream open');
});

t.test('LiveHub coalesces and turns bursts into resync', async (t) => {
  const hub = new LiveHub(3);
  t.same(hub.drain(1), []);
  hub.terminal({ id: 'A', online: true, epoch: 1, at: 1 });
  hub.terminal({ id: 'A', health: 'degraded', at: 2 });
  hub.events('A', ['x', 'x', 'y']);
  hub.events('A', ['x']);
  const out = hub.drain(5);
  t.same(out[0], { event: 'terminals', data: { at: 5, changes: [{ id: 'A', online: true, epoch: 1, at: 2, health: 'degraded' }] } });
  t.same(out[1], { event: 'events', data: { at: 5, total: 4, batches: [{ terminalId: 'A', count: 4, types: { x: 3, y: 1 } }] } });
  for (const id of ['a', 'b', 'c', 'd']) hub.terminal({ id, online: true, at: 1 });
  t.same(hub.drain(6), [{ event: 'resync', data: { at: 6, reason: 'burst' } }]);
  t.same(hub.drain(7), [], 'state cleared after a resync');
  t.equal(sseFrame({ event: 'a\nb', data: { x: 1 } }, 4), 'id: 4\nevent: ab\ndata: {"x":1}\n\n');
});

t.test('client-side masking of personal data', async (t) => {
  t.equal(maskMiddle('110101199003077777', 3, 2), '110*************77');
  t.equal(maskName('张三'), '张*');
  t.equal(maskName('欧阳娜娜'), '欧***');
  t.equal(maskText('id 110101199003077777 card A12345678 ok'), 'id 110*************77 card A******78 ok');
  t.equal(maskValue('name', 'Zhang San'), 'Z***');
  t.equal(maskValue('pin', '123456'), '***');
  t.equal(maskValue('amount', 250), '250');
  t.equal(maskValue('result', 'ok'), 'ok');
  const s = summarizeBody({ name: '李四', ssn: '11010119900307777X', cardNumber: 'B98765432', reader: 'front', nested: { a: 1 }, list: [1, 2] });
  t.notMatch(s, /李四|11010119900307777X|B98765432/);
  t.match(s, /reader=front/);
  t.match(s, /nested=\{…\}/);
  t.match(s, /list=\[2 items\]/);
  t.match(summarizeBody({ a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8 }), /\+2 more$/);
  t.equal(summarizeBody(null), '');
});
