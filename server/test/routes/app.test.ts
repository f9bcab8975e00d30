import t from 'tap';
import { makeTestApp, newTerminalKey } from '../helpers.ts';
import { bootstrapAdminToken } from '../../src/app.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';

t.test('health, ready, openapi, metrics', async (t) => {
  const { app } = await makeTestApp();
  t.teardown(() => app.close());
  t.same((await app.inject('/health')).json(), { status: 'ok' });
  t.same((await app.inject('/ready')).json(), { status: 'ready', store: 'sqlite' });
  const spec = (await app.inject('/docs/json')).json() as { openapi: string; paths: Record<string, unknown> };
  t.match(spec.openapi, /^3\./);
  t.ok(spec.paths['/api/v1/enrol'], 'enrol documented');
  const metrics = (await app.inject('/metrics')).body;
  t.match(metrics, /# TYPE onecard_http_requests_total counter/);
  t.match(metrics, /onecard_process_resident_memory_bytes \d+/);
});

t.test('bootstrap creates exactly one admin token, once', async (t) => {
  const store = openSqliteStore(':memory:');
  t.teardown(() => store.close());
  const clock = { now: () => 5 };
  const first = await bootstrapAdminToken(store, clock, 'preset-token-0123456789');
  t.equal(first, 'preset-token-0123456789');
  t.equal(await bootstrapAdminToken(store, clock), undefined, 'not again');
  await t.rejects(bootstrapAdminToken(openSqliteStore(':memory:'), clock, 'short'), { code: 'SRV_ERR_CONFIG' });
  const gen = await bootstrapAdminToken(openSqliteStore(':memory:'), clock);
  t.match(gen, /^oca_[A-Za-z0-9_-]{43}$/);
});

t.test('authentication and roles', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  const none = await app.inject('/api/v1/terminals');
  t.equal(none.statusCode, 401);
  t.equal(none.json().error.code, 'SRV_ERR_UNAUTHENTICATED');
  t.equal(none.headers['www-authenticate'], 'Bearer');
  t.equal((await app.inject({ url: '/api/v1/terminals', headers: { authorization: 'Bearer oca_wrongwrongwrongwrongwrong' } })).statusCode, 401);
  t.equal((await app.inject({ url: '/api/v1/terminals', headers: { authorization: 'Basic abc' } })).statusCode, 401);
  const viewer = await ta.tokenFor('viewer');
  t.equal((await app.inject({ url: '/api/v1/terminals', headers: auth(viewer) })).statusCode, 200);
  const forbidden = await app.inject({ method: 'POST', url: '/api/v1/groups', headers: auth(viewer), payload: { id: 'g', name: 'g' } });
  t.equal(forbidden.statusCode, 403);
  t.equal(forbidden.json().error.code, 'SRV_ERR_FORBIDDEN');
  const operator = await ta.tokenFor('operator');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/groups', headers: auth(operator), payload: { id: 'g', name: 'g' } })).statusCode, 201);
  t.equal((await app.inject({ url: '/api/v1/admin/tokens', headers: auth(operator) })).statusCode, 403, 'only admins manage tokens');
  const list = (await app.inject({ url: '/api/v1/admin/tokens', headers: auth() })).json() as { tokens: { id: string; role: string }[] };
  t.equal(list.tokens.length, 3);
  t.notMatch(JSON.stringify(list), /oca_/, 'token values never listed');
  const opId = list.tokens.find((x) => x.role === 'operator')!.id;
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/admin/tokens/${opId}`, headers: auth() })).statusCode, 204);
  t.equal((await app.inject({ url: '/api/v1/groups', headers: auth(operator) })).statusCode, 401, 'revoked');
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/admin/tokens/${opId}`, headers: auth() })).statusCode, 404);
});

t.test('enrolment: single use, expiry, group and tags, credentials', async (t) => {
  const ta = await makeTestApp();
  const { app, auth, clock } = ta;
  t.teardown(() => app.close());
  await app.inject({ method: 'POST', url: '/api/v1/groups', headers: auth(), payload: { id: 'wuhan-pharmacy', name: 'Wuhan pharmacies' } });
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: auth(), payload: { groupId: 'nope' } })).statusCode, 404);
  const bad = await app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: auth(), payload: { groupId: 'wuhan-pharmacy', tags: ['no tag'] } });
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().error.code, 'SRV_ERR_VALIDATION');
  const created = (await app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: auth(), payload: { groupId: 'wuhan-pharmacy', tags: ['city:wuhan', 'kind:pharmacy-pos'], ttlSeconds: 600 } })).json() as { token: string; expiresAt: number };
  t.match(created.token, /^oce_/);
  const pk = newTerminalKey();
  const badKey = await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: created.token, publicKey: Buffer.from('not a key, definitely not a key at all').toString('base64') } });
  t.equal(badKey.json().error.code, 'SRV_ERR_VALIDATION');
  const enr = await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: created.token, publicKey: pk, kind: 'pharmacy-pos' } });
  t.equal(enr.statusCode, 201);
  const body = enr.json() as { terminalId: string; mqtt: { username: string; password: string; clientId: string; url: string }; serverPublicKey: string };
  t.equal(body.mqtt.username, body.terminalId);
  t.equal(body.mqtt.clientId, body.terminalId);
  t.match(body.mqtt.password, /^oct_/);
  t.ok(body.serverPublicKey.length > 40);
  const again = await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: created.token, publicKey: pk } });
  t.equal(again.statusCode, 403);
  t.equal(again.json().error.code, 'SRV_ERR_ENROLMENT_TOKEN');
  const term = (await app.inject({ url: `/api/v1/terminals/${body.terminalId}`, headers: auth() })).json();
  t.match(term, { id: body.terminalId, groupId: 'wuhan-pharmacy', tags: ['city:wuhan', 'kind:pharmacy-pos'], kind: 'pharmacy-pos', status: 'active', online: false });
  t.notOk('credentialHash' in term, 'credential hash never leaves the server');
  const expiring = (await app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: auth(), payload: { groupId: 'wuhan-pharmacy', ttlSeconds: 60 } })).json() as { token: string };
  clock.advance(61_000);
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: expiring.token, publicKey: pk } })).statusCode, 403, 'expired');
  const filtered = (await app.inject({ url: '/api/v1/terminals?tag=kind:pharmacy-pos', headers: auth() })).json() as { terminals: unknown[] };
  t.equal(filtered.terminals.length, 1);
  const audit = (await app.inject({ url: '/api/v1/audit', headers: auth() })).json() as { entries: { action: string }[] };
  t.same(audit.entries.map((e) => e.action).slice(0, 3), ['enrolment-token.create', 'terminal.enrol', 'enrolment-token.create']);
});

t.test('disable drops, re-key keeps the id and replaces the credentials', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  await app.inject({ method: 'POST', url: '/api/v1/groups', headers: auth(), payload: { id: 'g', name: 'g' } });
  const tok = (await app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: auth(), payload: { groupId: 'g' } })).json() as { token: string };
  const enr = (await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok.token, publicKey: newTerminalKey() } })).json() as { terminalId: string; mqtt: { password: string } };
  const disabled: string[] = [];
  app.fleet.on('terminal-disabled', (id) => disabled.push(id));
  const d = await app.inject({ method: 'POST', url: `/api/v1/terminals/${enr.terminalId}/disable`, headers: auth() });
  t.equal(d.json().status, 'disabled');
  t.same(disabled, [enr.terminalId]);
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/terminals/nope/disable', headers: auth() })).statusCode, 404);
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/terminals/${enr.terminalId}/rekey`, headers: auth(), payload: {} })).statusCode, 403, 'no re-key token for a disabled terminal');
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/terminals/${enr.terminalId}/enable`, headers: auth() })).statusCode, 200);
  const rk = (await app.inject({ method: 'POST', url: `/api/v1/terminals/${enr.terminalId}/rekey`, headers: auth(), payload: {} })).json() as { token: string };
  const changed: string[] = [];
  app.fleet.on('terminal-credentials-changed', (id) => changed.push(id));
  const re = (await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: rk.token, publicKey: newTerminalKey() } })).json() as { terminalId: string; mqtt: { password: string } };
  t.equal(re.terminalId, enr.terminalId);
  t.not(re.mqtt.password, enr.mqtt.password);
  t.same(changed, [enr.terminalId]);
  t.equal((await app.inject({ url: `/api/v1/terminals/${enr.terminalId}`, headers: auth() })).json().status, 'active', 'still active after the re-key');
});

t.test('unknown routes, bad JSON and oversized bodies answer coded errors', async (t) => {
  const { app, auth } = await makeTestApp({ bodyLimit: 1024 });
  t.teardown(() => app.close());
  const nf = await app.inject('/nope');
  t.equal(nf.statusCode, 404);
  t.equal(nf.json().error.code, 'SRV_ERR_NOT_FOUND');
  const badJson = await app.inject({ method: 'POST', url: '/api/v1/groups', headers: { ...auth(), 'content-type': 'application/json' }, payload: '{"id":' });
  t.equal(badJson.statusCode, 400);
  t.equal(badJson.json().error.code, 'SRV_ERR_INVALID_ARGUMENT');
  const big = await app.inject({ method: 'POST', url: '/api/v1/groups', headers: { ...auth(), 'content-type': 'application/json' }, payload: JSON.stringify({ id: 'g', name: 'x'.repeat(5000) }) });
  t.equal(big.statusCode, 413);
  t.equal(big.json().error.code, 'SRV_ERR_PAYLOAD_TOO_LARGE');
});

t.test('enrolment is rate limited per IP', async (t) => {
  const { app } = await makeTestApp({ settings: { authRateLimitPerMinute: 3 } });
  t.teardown(() => app.close());
  const codes: number[] = [];
  for (let i = 0; i < 5; i++) codes.push((await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: 'oce_nonexistent_token', publicKey: newTerminalKey() } })).statusCode);
  t.same(codes, [403, 403, 403, 429, 429]);
});
