/**
 * Red team, dashboard live feed: a stream must not outlive its token (revoking the token ends its
 * open streams at once, with a `revoked` event), and one principal must not take all the stream
 * slots (at most LIVE_MAX_PER_TOKEN streams per token, and a bounded number of unused tickets).
 */
import t from 'tap';
import { request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { makeTestApp } from '../helpers.ts';
import { LIVE_MAX_PER_TOKEN, LIVE_MAX_TICKETS_PER_TOKEN } from '../../src/dashboard/plugin.ts';

interface Stream { status: number; body: () => string; ended: Promise<void>; close(): void }

function open(port: number, path: string, headers: Record<string, string> = {}): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      const ended = new Promise<void>((r) => { res.on('end', () => r()); res.on('close', () => r()); });
      resolve({ status: res.statusCode ?? 0, body: () => body, ended, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

const until = async (cond: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
};

t.test('revoking a token closes its live streams at once; other streams stay', async (t) => {
  const ta = await makeTestApp();
  const { app } = ta;
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const port = (app.server.address() as AddressInfo).port;
  const created = (await app.inject({ method: 'POST', url: '/api/v1/admin/tokens', headers: ta.auth(), payload: { name: 'wall screen', role: 'viewer' } })).json() as { id: string; token: string };
  const other = await ta.tokenFor('viewer');

  const { ticket } = (await app.inject({ method: 'POST', url: '/api/v1/live/ticket', headers: ta.auth(created.token) })).json() as { ticket: string };
  const byTicket = await open(port, `/api/v1/live?ticket=${ticket}`);
  const byBearer = await open(port, '/api/v1/live', { authorization: `Bearer ${created.token}` });
  const bystander = await open(port, '/api/v1/live', { authorization: `Bearer ${other}` });
  t.teardown(() => { byTicket.close(); byBearer.close(); bystander.close(); });
  t.same([byTicket.status, byBearer.status, bystander.status], [200, 200, 200]);
  const { ticket: unused } = (await app.inject({ method: 'POST', url: '/api/v1/live/ticket', headers: ta.auth(created.token) })).json() as { ticket: string };

  let ended = 0;
  void byTicket.ended.then(() => ended++);
  void byBearer.ended.then(() => ended++);
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/admin/tokens/${created.id}`, headers: ta.auth() })).statusCode, 204);
  await until(() => ended === 2, 'both streams of the revoked token to end');
  t.match(byTicket.body(), /event: revoked/, 'told why');
  t.match(byBearer.body(), /event: revoked/);
  t.equal((await open(port, `/api/v1/live?ticket=${unused}`)).status, 401, 'its unused tickets are void too');
  t.equal((await open(port, '/api/v1/live', { authorization: `Bearer ${created.token}` })).status, 401);
  await new Promise((r) => setTimeout(r, 50));
  t.notMatch(bystander.body(), /event: revoked/, 'another token\'s stream is untouched');
});

t.test('one token cannot take every stream slot, nor hoard tickets', async (t) => {
  const ta = await makeTestApp();
  const { app } = ta;
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  const port = (app.server.address() as AddressInfo).port;
  const viewer = await ta.tokenFor('viewer');
  const streams: Stream[] = [];
  t.teardown(() => { for (const s of streams) s.close(); });
  for (let i = 0; i < LIVE_MAX_PER_TOKEN; i++) streams.push(await open(port, '/api/v1/live', { authorization: `Bearer ${viewer}` }));
  t.ok(streams.every((s) => s.status === 200));
  const extra = await open(port, '/api/v1/live', { authorization: `Bearer ${viewer}` });
  t.equal(extra.status, 429, 'the next stream of the same token is refused');
  t.match(extra.body(), /SRV_ERR_RATE_LIMITED/);
  const { ticket } = (await app.inject({ method: 'POST', url: '/api/v1/live/ticket', headers: ta.auth(viewer) })).json() as { ticket: string };
  t.equal((await open(port, `/api/v1/live?ticket=${ticket}`)).status, 429, 'a ticket does not get around the cap');
  const another = await open(port, '/api/v1/live', { authorization: `Bearer ${await ta.tokenFor('viewer')}` });
  streams.push(another);
  t.equal(another.status, 200, 'another principal still gets a slot');
  streams[0]!.close();
  await new Promise((r) => setTimeout(r, 50));
  const again = await open(port, '/api/v1/live', { authorization: `Bearer ${viewer}` });
  streams.push(again);
  t.equal(again.status, 200, 'a slot frees when a stream closes');

  const tickets: string[] = [];
  for (let i = 0; i < LIVE_MAX_TICKETS_PER_TOKEN + 3; i++) tickets.push(((await app.inject({ method: 'POST', url: '/api/v1/live/ticket', headers: ta.auth(viewer) })).json() as { ticket: string }).ticket);
  // The oldest tickets were dropped: only the newest LIVE_MAX_TICKETS_PER_TOKEN remain usable.
  streams[1]!.close();
  await new Promise((r) => setTimeout(r, 50));
  t.equal((await open(port, `/api/v1/live?ticket=${tickets[0]!}`)).status, 401, 'the oldest ticket was dropped');
  const newest = await open(port, `/api/v1/live?ticket=${tickets[tickets.length - 1]!}`);
  streams.push(newest);
  t.equal(newest.status, 200, 'the newest works');
});
