/**
 * Per-department rate limits and daily quotas: a department over its calls per minute is answered
 * 429 SRV_ERR_RATE_LIMITED while another department is not; a batch larger than what is left of the
 * daily quota is refused whole (SRV_ERR_SHARING_QUOTA) and the quota renews the next UTC day.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { makeTestApp } from '../helpers.ts';
import { syntheticCard } from '../../src/registry/synthetic.ts';

t.test('rate limits and quotas are per department', async (t) => {
  const ta = await makeTestApp({ masterKey: new Uint8Array(randomBytes(32)) });
  const { app, auth, clock } = ta;
  t.teardown(() => app.close());
  const card = syntheticCard(7);
  await app.inject({ method: 'PUT', url: `/api/v1/registry/cards/${card.cardNumber}`, headers: auth(), payload: { idNumber: card.idNumber, name: card.name, region: card.region, generation: '3.0', issuedOn: card.issuedOn, expiresOn: card.expiresOn, status: 'active' } });
  const creds = new Map<string, { clientId: string; clientSecret: string }>();
  const token = async (id: string, extra?: Record<string, unknown>): Promise<{ authorization: string }> => {
    if (extra !== undefined) creds.set(id, (await app.inject({ method: 'POST', url: '/api/v1/sharing/departments', headers: auth(), payload: { id, name: id, purposes: ['subsidy'], ...extra } })).json() as { clientId: string; clientSecret: string });
    const d = creds.get(id)!;
    const r = await app.inject({ method: 'POST', url: '/sharing/v1/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `grant_type=client_credentials&client_id=${d.clientId}&client_secret=${d.clientSecret}` });
    return { authorization: `Bearer ${(r.json() as { access_token: string }).access_token}` };
  };
  const slow = await token('slow', { ratePerMinute: 3 });
  const other = await token('other', { ratePerMinute: 100, dailyQuota: 5 });
  const status = (h: { authorization: string }) => app.inject({ url: `/sharing/v1/cards/${card.cardNumber}/status?purpose=subsidy`, headers: h });
  for (let i = 0; i < 3; i++) t.equal((await status(slow)).statusCode, 200);
  const limited = await status(slow);
  t.equal(limited.statusCode, 429);
  t.equal(limited.json().error.code, 'SRV_ERR_RATE_LIMITED');
  t.equal((await status(other)).statusCode, 200, 'another department is not limited by it');

  const items = (n: number) => Array.from({ length: n }, () => ({ idNumber: card.idNumber, name: card.name }));
  const batch = (n: number) => app.inject({ method: 'POST', url: '/sharing/v1/batch-verifications', headers: other, payload: { purpose: 'subsidy', items: items(n) } });
  const over = await batch(5);
  t.equal(over.statusCode, 429);
  t.equal(over.json().error.code, 'SRV_ERR_SHARING_QUOTA', '1 used + 5 > 5: the whole batch is refused');
  t.equal((await batch(4)).statusCode, 202, 'what is left fits');
  t.equal((await status(other)).json().error.code, 'SRV_ERR_SHARING_QUOTA', 'quota used up');
  clock.advance(86_400_000);
  t.equal((await status(await token('other'))).statusCode, 200, 'the quota renews the next UTC day');
  const again = await app.inject({ method: 'POST', url: '/sharing/v1/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'grant_type=client_credentials' });
  t.equal(again.statusCode, 401, 'no client, no token');
});

t.test('an answer leaves only after its access record and quota use are durable; concurrent calls never exceed the quota', async (t) => {
  const ta = await makeTestApp({ masterKey: new Uint8Array(randomBytes(32)) });
  const { app, auth } = ta;
  const store = app.ctx.store;
  t.teardown(() => app.close());
  const card = syntheticCard(11);
  await app.inject({ method: 'PUT', url: `/api/v1/registry/cards/${card.cardNumber}`, headers: auth(), payload: { idNumber: card.idNumber, name: card.name, region: card.region, generation: '3.0', issuedOn: card.issuedOn, expiresOn: card.expiresOn, status: 'active' } });
  const d = (await app.inject({ method: 'POST', url: '/api/v1/sharing/departments', headers: auth(), payload: { id: 'civil', name: 'civil', purposes: ['subsidy'], ratePerMinute: 1000, dailyQuota: 7 } })).json() as { clientId: string; clientSecret: string };
  const tok = (await app.inject({ method: 'POST', url: '/sharing/v1/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `grant_type=client_credentials&client_id=${d.clientId}&client_secret=${d.clientSecret}` })).json() as { access_token: string };
  const headers = { authorization: `Bearer ${tok.access_token}` };
  const verify = () => app.inject({ method: 'POST', url: '/sharing/v1/holders/verify', headers, payload: { purpose: 'subsidy', idNumber: card.idNumber, name: card.name } });

  // The store cannot commit: the call fails and says nothing about the holder.
  const real = store.registry.commitCalls.bind(store.registry);
  store.registry.commitCalls = async () => { throw new Error('disk full'); };
  const failed = await verify();
  t.equal(failed.statusCode, 500);
  t.notMatch(failed.body, /match/, 'no answer without its record');
  store.registry.commitCalls = real;
  t.same(await store.registry.listAccesses({ departmentId: 'civil' }), [], 'nothing recorded, nothing released');

  // Twelve calls at once against a quota of 7: seven answered and recorded, five refused, in one or more grouped commits.
  const rs = await Promise.all(Array.from({ length: 12 }, () => verify()));
  t.equal(rs.filter((r) => r.statusCode === 200 && r.json().match === true).length, 7);
  t.equal(rs.filter((r) => r.statusCode === 429 && r.json().error.code === 'SRV_ERR_SHARING_QUOTA').length, 5);
  const logged = await store.registry.listAccesses({ departmentId: 'civil', limit: 100 });
  t.equal(logged.length, 7, 'exactly the answered calls are on record');
  t.ok(logged.every((a) => a.outcome === 'released' && a.call === 'verify'));
});
