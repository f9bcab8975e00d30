/**
 * Red team, admin API inputs: enrolment tokens can be revoked (a leaked token stops working at
 * once, audited), and names, labels and reasons with NUL, control or bidirectional-override
 * characters are refused with one coded error wherever they are sent.
 */
import t from 'tap';
import { makeTestApp, newTerminalKey } from '../helpers.ts';
import { assertSafeText, unsafeTextReason } from '../../src/text-safety.ts';

t.test('a revoked enrolment token cannot enrol; revocation is audited and needs an operator', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  await app.inject({ method: 'POST', url: '/api/v1/groups', headers: auth(), payload: { id: 'g', name: 'g' } });
  const op = await ta.tokenFor('operator');
  const viewer = await ta.tokenFor('viewer');
  const leaked = (await app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: auth(op), payload: { groupId: 'g' } })).json() as { id: string; token: string };
  const kept = (await app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: auth(op), payload: { groupId: 'g' } })).json() as { id: string; token: string };

  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/enrolment-tokens/${leaked.id}`, headers: auth(viewer) })).statusCode, 403, 'a viewer cannot revoke');
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/enrolment-tokens/${leaked.id}`, headers: auth(op) })).statusCode, 204);
  const enrol = await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: leaked.token, publicKey: newTerminalKey() } });
  t.equal(enrol.statusCode, 403, 'the revoked token enrols nothing');
  t.equal(enrol.json().error.code, 'SRV_ERR_ENROLMENT_TOKEN');
  t.equal((await app.ctx.store.listTerminals()).length, 0);
  t.match(await app.ctx.store.listAudit({ action: 'enrolment-token.revoke' }), [{ target: leaked.id, actor: (await app.ctx.store.listAdminTokens()).find((x) => x.role === 'operator')!.id }]);
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/enrolment-tokens/${leaked.id}`, headers: auth(op) })).statusCode, 404, 'already revoked');
  const listed = ((await app.inject({ url: '/api/v1/enrolment-tokens', headers: auth(op) })).json() as { tokens: { id: string; expiresAt: number }[] }).tokens;
  t.equal(listed.find((x) => x.id === leaked.id)?.expiresAt, 0, 'shown as expired at 0');

  t.equal((await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: kept.token, publicKey: newTerminalKey() } })).statusCode, 201, 'other tokens still work');
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/enrolment-tokens/${kept.id}`, headers: auth(op) })).statusCode, 404, 'a used token cannot be revoked (nothing left to stop)');

  // A re-key token is an enrolment token too.
  const tid = (await app.ctx.store.listTerminals())[0]!.id;
  const rekey = (await app.inject({ method: 'POST', url: `/api/v1/terminals/${tid}/rekey`, headers: auth(op), payload: {} })).json() as { id: string; token: string };
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/enrolment-tokens/${rekey.id}`, headers: auth(op) })).statusCode, 204);
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: rekey.token, publicKey: newTerminalKey() } })).statusCode, 403, 'a revoked re-key token re-keys nothing');
});

t.test('NUL, control and bidi-override characters are refused in every name, with SRV_ERR_UNSAFE_TEXT', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  const hostile = ['admin\u0000', 'pay\u202Egnp.exe', 'a\u2066b\u2069', 'x\u200Fy', 'bell\u0007', 'c1\u0085', 'lone\uD800'];
  const routes: { method: 'POST' | 'PUT'; url: string; body: (s: string) => Record<string, unknown> }[] = [
    { method: 'POST', url: '/api/v1/groups', body: (s) => ({ id: 'g1', name: s }) },
    { method: 'POST', url: '/api/v1/admin/tokens', body: (s) => ({ name: s, role: 'viewer' }) },
    { method: 'POST', url: '/api/v1/hotlist/report', body: (s) => ({ cardNumbers: ['X00000019'], reason: s }) },
    { method: 'POST', url: '/api/v1/configs', body: (s) => ({ id: 'c1', name: s, document: {} }) },
  ];
  for (const r of routes) {
    for (const s of hostile) {
      const res = await app.inject({ method: r.method, url: r.url, headers: auth(), payload: r.body(s) });
      t.equal(res.statusCode, 400, `${r.url} ${JSON.stringify(s)}`);
      t.equal(res.json().error.code, 'SRV_ERR_UNSAFE_TEXT');
    }
  }
  // Property names are text too.
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/groups', headers: auth(), payload: { id: 'g1', name: 'ok', ['x\u202E']: 1 } })).json().error.code, 'SRV_ERR_UNSAFE_TEXT');
  t.equal(await app.ctx.store.getGroup('g1'), undefined, 'nothing was kept');
  t.equal(await app.ctx.store.hotlistVersion(), 0);

  // Real names in any script, with emoji and line breaks in free text, are fine.
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/groups', headers: auth(), payload: { id: 'g1', name: '武汉市 药店 — Pharmacies 👩‍⚕️' } })).statusCode, 201);
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/hotlist/report', headers: auth(), payload: { cardNumbers: ['X00000019'], reason: 'lost\non the bus\tline 5' } })).statusCode, 200);
});

t.test('the validator itself', async (t) => {
  t.equal(unsafeTextReason('plain 中文 👍'), undefined);
  t.equal(unsafeTextReason('a\u0000'), 'control');
  t.equal(unsafeTextReason('a\u202Db'), 'bidi');
  t.equal(unsafeTextReason('\uDC00x'), 'surrogate');
  t.throws(() => assertSafeText({ a: [{ b: 'ok' }, { c: 'x\u202E' }] }, 'body'), { code: 'SRV_ERR_UNSAFE_TEXT', details: { field: 'body.a[1].c', reason: 'bidi' } });
});
