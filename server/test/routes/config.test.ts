import t from 'tap';
import { createHash } from 'node:crypto';
import { EXAMPLE_TERMINAL_CONFIG, canonicalJson, type TerminalConfigDocument } from '@onecard/protocol/fleet';
import { makeTestApp, newTerminalKey, type TestApp } from '../helpers.ts';

interface Enrolled { terminalId: string; password: string }

async function enrol(ta: TestApp, groupId: string): Promise<Enrolled> {
  const tok = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: ta.auth(), payload: { groupId } })).json() as { token: string };
  const r = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok.token, publicKey: newTerminalKey() } })).json() as { terminalId: string; mqtt: { password: string } };
  return { terminalId: r.terminalId, password: r.mqtt.password };
}

const basic = (e: Enrolled) => ({ authorization: `Basic ${Buffer.from(`${e.terminalId}:${e.password}`).toString('base64')}` });
const doc = (patch: Partial<TerminalConfigDocument> = {}): TerminalConfigDocument => ({ ...EXAMPLE_TERMINAL_CONFIG, ...patch });

/** Records what the server publishes on retained topics (last message per topic). */
function captureRetained(ta: TestApp, filter: string): Map<string, string> {
  const seen = new Map<string, string>();
  ta.app.broker.subscribe(filter, (packet, cb) => {
    seen.set(packet.topic, Buffer.from(packet.payload as Buffer).toString('utf8'));
    cb();
  }, () => {});
  return seen;
}

t.test('config documents: create, validate, version, precondition, audit', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  const bad = await app.inject({ method: 'POST', url: '/api/v1/configs', headers: auth(), payload: { id: 'kiosk', name: 'Kiosk', document: { ...doc(), kiosk: { enabled: 'yes' } } } });
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().error.code, 'SRV_ERR_CONFIG_SCHEMA');
  t.match(bad.json().error.details, { path: /^\/kiosk/ });
  const dupReaders = await app.inject({ method: 'POST', url: '/api/v1/configs', headers: auth(), payload: { id: 'kiosk', name: 'Kiosk', document: doc({ readers: [EXAMPLE_TERMINAL_CONFIG.readers[0]!, EXAMPLE_TERMINAL_CONFIG.readers[0]!] }) } });
  t.equal(dupReaders.json().error.code, 'SRV_ERR_CONFIG_SCHEMA', 'duplicate reader ids refused');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/configs', headers: auth(), payload: { id: 'Bad Id', name: 'x', document: doc() } })).json().error.code, 'SRV_ERR_VALIDATION');

  const created = await app.inject({ method: 'POST', url: '/api/v1/configs', headers: auth(), payload: { id: 'kiosk', name: 'Kiosk', document: doc() } });
  t.equal(created.statusCode, 201);
  const c = created.json() as { version: number; sha256: string };
  t.equal(c.sha256, createHash('sha256').update(canonicalJson(doc())).digest('hex'), 'sha256 over canonical JSON');
  t.equal(created.headers.etag, `"${c.version}"`);
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/configs', headers: auth(), payload: { id: 'kiosk', name: 'Kiosk', document: doc() } })).statusCode, 409);

  const v2 = await app.inject({ method: 'PUT', url: '/api/v1/configs/kiosk', headers: { ...auth(), 'if-match': `"${c.version}"` }, payload: { document: doc({ logLevel: 'debug' }) } });
  t.equal(v2.statusCode, 200);
  const n2 = (v2.json() as { version: number }).version;
  t.equal(n2, c.version + 1, 'each edit creates version n+1');
  const stale = await app.inject({ method: 'PUT', url: '/api/v1/configs/kiosk', headers: { ...auth(), 'if-match': `"${c.version}"` }, payload: { document: doc({ logLevel: 'warn' }) } });
  t.equal(stale.statusCode, 409);
  t.equal(stale.json().error.code, 'SRV_ERR_VERSION_MISMATCH');
  t.same(stale.json().error.details, { expected: c.version, actual: n2 });
  t.equal((await app.inject({ method: 'PUT', url: '/api/v1/configs/kiosk', headers: auth(), payload: { document: doc(), expectedVersion: c.version } })).statusCode, 409, 'expectedVersion in the body too');
  t.equal((await app.inject({ method: 'PUT', url: '/api/v1/configs/kiosk', headers: { ...auth(), 'if-match': '"2"' }, payload: { document: doc(), expectedVersion: 3 } })).json().error.code, 'SRV_ERR_VALIDATION', 'conflicting preconditions');
  t.equal((await app.inject({ method: 'PUT', url: '/api/v1/configs/kiosk', headers: { ...auth(), 'if-match': 'abc' }, payload: { document: doc() } })).json().error.code, 'SRV_ERR_VALIDATION');
  t.equal((await app.inject({ method: 'PUT', url: '/api/v1/configs/nope', headers: auth(), payload: { document: doc() } })).statusCode, 404);

  const got = (await app.inject({ url: '/api/v1/configs/kiosk', headers: auth() })).json() as { version: number; document: { logLevel: string } };
  t.equal(got.version, n2);
  t.equal(got.document.logLevel, 'debug');
  const versions = (await app.inject({ url: '/api/v1/configs/kiosk/versions', headers: auth() })).json() as { versions: { version: number }[] };
  t.same(versions.versions.map((v) => v.version), [n2, c.version]);
  t.equal((await app.inject({ url: `/api/v1/configs/kiosk/versions/${c.version}`, headers: auth() })).json().document.logLevel, 'info');
  const viewer = await ta.tokenFor('viewer');
  t.equal((await app.inject({ method: 'PUT', url: '/api/v1/configs/kiosk', headers: auth(viewer), payload: { document: doc() } })).statusCode, 403);
  t.equal((await app.inject({ url: '/api/v1/configs', headers: auth(viewer) })).statusCode, 200);
  const audit = (await app.inject({ url: '/api/v1/audit?action=config.update', headers: auth() })).json() as { entries: { target: string; details: { version: number } }[] };
  t.same(audit.entries.map((e) => e.details.version), [n2], 'only the successful edit is audited');
});

t.test('assignment, retained pointers, terminal fetch with its credentials, status, desired vs reported', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  await app.ready();
  const pointers = captureRetained(ta, 't/+/down/config');
  for (const g of ['wuhan', 'chengdu']) await app.inject({ method: 'POST', url: '/api/v1/groups', headers: auth(), payload: { id: g, name: g } });
  const a = await enrol(ta, 'wuhan');
  const b = await enrol(ta, 'wuhan');
  const c = await enrol(ta, 'chengdu');
  const group = (await app.inject({ method: 'POST', url: '/api/v1/configs', headers: auth(), payload: { id: 'wuhan-kiosk', name: 'Wuhan', document: doc() } })).json() as { version: number; sha256: string };
  const own = (await app.inject({ method: 'POST', url: '/api/v1/configs', headers: auth(), payload: { id: 'special', name: 'Special', document: doc({ logLevel: 'debug' }) } })).json() as { version: number; sha256: string };

  t.equal((await app.inject({ url: '/api/v1/terminal/config', headers: basic(a) })).statusCode, 204, 'nothing assigned yet');
  const asg = await app.inject({ method: 'PUT', url: '/api/v1/groups/wuhan/config', headers: auth(), payload: { configId: 'wuhan-kiosk' } });
  t.same(asg.json(), { scope: 'group', target: 'wuhan', configId: 'wuhan-kiosk', pushed: 2 });
  t.equal((await app.inject({ method: 'PUT', url: '/api/v1/groups/nope/config', headers: auth(), payload: { configId: 'wuhan-kiosk' } })).statusCode, 404);
  await app.inject({ method: 'PUT', url: `/api/v1/terminals/${b.terminalId}/config`, headers: auth(), payload: { configId: 'special' } });
  await app.configFanout.idle(); // the fan-out runs after the answer
  t.same(JSON.parse(pointers.get(`t/${a.terminalId}/down/config`)!), { v: 1, version: group.version, sha256: group.sha256 });
  t.same(JSON.parse(pointers.get(`t/${b.terminalId}/down/config`)!), { v: 1, version: own.version, sha256: own.sha256 }, 'terminal assignment wins');
  t.notOk(pointers.has(`t/${c.terminalId}/down/config`), 'other group untouched');

  // Fetch: Basic and Bearer; only its own document.
  const got = await app.inject({ url: `/api/v1/terminal/config/${group.version}`, headers: basic(a) });
  t.equal(got.statusCode, 200);
  t.equal(createHash('sha256').update(got.rawPayload).digest('hex'), group.sha256, 'the served bytes hash to the pointer');
  t.equal(got.headers.etag, `"${group.sha256}"`);
  t.equal((await app.inject({ url: `/api/v1/terminal/config/${group.version}`, headers: { authorization: `Bearer ${a.password}` } })).statusCode, 200, 'bearer = password');
  t.same((await app.inject({ url: '/api/v1/terminal/config', headers: basic(a) })).json(), { v: 1, version: group.version, sha256: group.sha256 });
  t.equal((await app.inject({ url: `/api/v1/terminal/config/${group.version}`, headers: basic(b) })).statusCode, 404, 'not its document');
  t.equal((await app.inject({ url: `/api/v1/terminal/config/${group.version}`, headers: basic(c) })).statusCode, 404);
  t.equal((await app.inject({ url: `/api/v1/terminal/config/${group.version}` })).statusCode, 401);
  t.equal((await app.inject({ url: `/api/v1/terminal/config/${group.version}`, headers: basic({ terminalId: a.terminalId, password: b.password }) })).statusCode, 401, 'another terminal\'s password');
  t.equal((await app.inject({ url: `/api/v1/terminal/config/${group.version}`, headers: auth() })).statusCode, 401, 'admin tokens are not terminal credentials');
  t.equal((await app.inject({ url: '/api/v1/terminal/config/abc', headers: basic(a) })).json().error.code, 'SRV_ERR_VALIDATION');

  // Edit → push to the group's terminals (not b, which has its own).
  pointers.clear();
  const v2 = (await app.inject({ method: 'PUT', url: '/api/v1/configs/wuhan-kiosk', headers: { ...auth(), 'if-match': String(group.version) }, payload: { document: doc({ telemetry: { intervalSeconds: 30 } }) } })).json() as { version: number; sha256: string; pushed: number };
  t.equal(v2.pushed, 1);
  await app.configFanout.idle();
  t.same([...pointers.keys()], [`t/${a.terminalId}/down/config`]);

  // Status reports.
  await app.uplink.dispatch('config/status', a.terminalId, { v: 1, version: v2.version, status: 'applied' }, '');
  await app.uplink.dispatch('config/status', b.terminalId, { v: 1, version: own.version, status: 'rejected', error: { code: 'TERM_ERR_CONFIG_READER', message: 'no /dev/ttyUSB0' } }, '');
  const sa = (await app.inject({ url: `/api/v1/terminals/${a.terminalId}/config`, headers: auth() })).json();
  t.match(sa, { desired: { version: v2.version, docId: 'wuhan-kiosk' }, reported: { status: 'applied', version: v2.version }, appliedVersion: v2.version, inSync: true });
  const sb = (await app.inject({ url: `/api/v1/terminals/${b.terminalId}/config`, headers: auth() })).json();
  t.match(sb, { reported: { status: 'rejected', errorCode: 'TERM_ERR_CONFIG_READER', errorMessage: 'no /dev/ttyUSB0' }, appliedVersion: null, inSync: false });
  t.match((await app.inject({ url: '/api/v1/configs/wuhan-kiosk', headers: auth() })).json(), { rollout: { terminals: 1, applied: 1, pending: 0 }, assignments: [{ scope: 'group', target: 'wuhan' }] });

  // Birth with an older version re-publishes; with the current one it does not.
  pointers.clear();
  const birth = (config: number) => ({ v: 1 as const, epoch: 1, ts: 1, versions: { software: '1.0.0', config, keys: 0, hotlist: 0 }, readers: [] });
  await app.uplink.dispatch('birth', a.terminalId, birth(v2.version), '');
  await app.configFanout.idle();
  t.equal(pointers.size, 0, 'in sync: nothing published');
  await app.uplink.dispatch('birth', a.terminalId, birth(group.version), '');
  await app.configFanout.idle();
  t.same(JSON.parse(pointers.get(`t/${a.terminalId}/down/config`)!), { v: 1, version: v2.version, sha256: v2.sha256 }, 'stale: pointer re-published');

  // Unassigning the terminal falls back to its group; unassigning the group clears the pointer.
  await app.inject({ method: 'DELETE', url: `/api/v1/terminals/${b.terminalId}/config`, headers: auth() });
  await app.configFanout.idle();
  t.equal(JSON.parse(pointers.get(`t/${b.terminalId}/down/config`)!).version, v2.version);
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/terminals/${b.terminalId}/config`, headers: auth() })).statusCode, 404);
  await app.inject({ method: 'DELETE', url: '/api/v1/groups/wuhan/config', headers: auth() });
  await app.configFanout.idle();
  t.equal(pointers.get(`t/${a.terminalId}/down/config`), '', 'retained pointer cleared');

  // Disabled terminals are refused.
  await app.inject({ method: 'POST', url: `/api/v1/terminals/${c.terminalId}/disable`, headers: auth() });
  t.equal((await app.inject({ url: '/api/v1/terminal/config', headers: basic(c) })).json().error.code, 'SRV_ERR_TERMINAL_DISABLED');
  const acts = ((await app.inject({ url: '/api/v1/audit?limit=100', headers: auth() })).json() as { entries: { action: string }[] }).entries.map((e) => e.action);
  for (const a2 of ['config.create', 'config.update', 'config.assign', 'config.unassign']) t.ok(acts.includes(a2), `${a2} audited`);
});

t.test('pushing to many terminals: one query, all pointers', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  await app.ready();
  const pointers = captureRetained(ta, 't/+/down/config');
  await app.inject({ method: 'POST', url: '/api/v1/groups', headers: auth(), payload: { id: 'big', name: 'big' } });
  const n = 2000;
  for (let i = 0; i < n; i++) await app.ctx.store.createTerminal({ id: `T${String(i).padStart(5, '0')}`, groupId: 'big', tags: [], kind: 'k', publicKey: 'p', credentialHash: `h${i}`, createdAt: 1 });
  const c = (await app.inject({ method: 'POST', url: '/api/v1/configs', headers: auth(), payload: { id: 'big', name: 'big', document: doc() } })).json() as { version: number };
  // Hold the fan-out queue: the PUTs must answer without waiting for it.
  let release!: () => void;
  app.configFanout.enqueue({ what: 'held by the test', run: () => new Promise<void>((r) => { release = r; }) });
  t.equal((await app.inject({ method: 'PUT', url: '/api/v1/groups/big/config', headers: auth(), payload: { configId: 'big' } })).json().pushed, n);
  const r = (await app.inject({ method: 'PUT', url: '/api/v1/configs/big', headers: auth(), payload: { document: doc({ logLevel: 'warn' }), expectedVersion: c.version } })).json() as { version: number; pushed: number };
  t.equal(r.pushed, n);
  t.equal(pointers.size, 0, 'both answers came before any pointer was published (the fan-out runs after the commit)');
  t.equal(app.configFanout.pending, 3);
  await new Promise((r) => setImmediate(r));
  release();
  await app.configFanout.idle();
  t.equal(pointers.size, n);
  t.ok([...pointers.values()].every((p) => JSON.parse(p).version === r.version), 'every terminal has the new pointer');
  t.equal(app.metrics.get('onecard_config_pointers_published_total'), 2 * n);
});

t.test('PUT refuses a document any terminal would reject, with the field path, and pushes nothing', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  const created = (await app.inject({ method: 'POST', url: '/api/v1/configs', headers: auth(), payload: { id: 'gates', name: 'Gates', document: doc() } })).json() as { version: number };
  await app.inject({ method: 'POST', url: '/api/v1/groups', headers: auth(), payload: { id: 'g', name: 'g' } });
  const e = await enrol(ta, 'g');
  await app.inject({ method: 'PUT', url: `/api/v1/terminals/${e.terminalId}/config`, headers: auth(), payload: { configId: 'gates' } });
  await app.configFanout.idle();
  const pointers = captureRetained(ta, 't/+/down/config');
  const r0 = EXAMPLE_TERMINAL_CONFIG.readers[0]!;
  const cases: [string, unknown, RegExp][] = [
    ['unknown reader model', doc({ readers: [{ ...r0, model: 'acme-9000' as never }] }), /^\/readers\/0\/model$/],
    ['descriptor name instead of a model key', doc({ readers: [{ ...r0, model: 'GemPCTwin' as never }] }), /^\/readers\/0\/model$/],
    ['PSAM role without a slot', doc({ readers: [{ ...r0, role: 'psam', psamSlot: null }] }), /^\/readers\/0\/psamSlot$/],
    ['two readers for the user card', doc({ readers: [r0, { ...r0, id: 'back', path: '/dev/ttyUSB1', psamSlot: null, role: 'user' }] }), /^\/readers\/1\/role$/],
    ['no reader for the user card', doc({ readers: [{ ...r0, role: 'psam' }] }), /^\/readers$/],
    ['reader path outside /dev', doc({ readers: [{ ...r0, path: '/etc/shadow' }] }), /^\/readers\/0\/path$/],
    ['removed field readers[].baud', doc({ readers: [{ ...r0, baud: 9600 } as never] }), /^\/readers\/0/],
    ['removed section kiosk', { ...doc(), kiosk: { enabled: true } }, /^\/kiosk$/],
    ['removed field api.port', doc({ api: { ...EXAMPLE_TERMINAL_CONFIG.api, port: 17777 } as never }), /^\/api/],
    ['origin with a path', doc({ api: { ...EXAMPLE_TERMINAL_CONFIG.api, allowedOrigins: ['http://kiosk.local/app'] } }), /^\/api\/allowedOrigins\/0$/],
    ['hisCompat not a boolean', doc({ api: { ...EXAMPLE_TERMINAL_CONFIG.api, hisCompat: 'yes' as never } }), /^\/api\/hisCompat$/],
    ['staleness below the minimum', doc({ hotlist: { ...EXAMPLE_TERMINAL_CONFIG.hotlist, maxStaleSeconds: 1 } }), /^\/hotlist\/maxStaleSeconds$/],
    ['outbox limit out of range', doc({ upload: { ...EXAMPLE_TERMINAL_CONFIG.upload, maxOutboxRecords: 10 } }), /^\/upload\/maxOutboxRecords$/],
    ['telemetry period not an integer', doc({ telemetry: { intervalSeconds: 7.5 } }), /^\/telemetry\/intervalSeconds$/],
    ['unknown log level', doc({ logLevel: 'trace' as never }), /^\/logLevel$/],
    ['unknown service', doc({ services: { ...EXAMPLE_TERMINAL_CONFIG.services, venue: true } as never }), /^\/services/],
  ];
  for (const [what, document, path] of cases) {
    const r = await app.inject({ method: 'PUT', url: '/api/v1/configs/gates', headers: auth(), payload: { document } });
    t.equal(r.statusCode, 400, what);
    t.equal(r.json().error.code, 'SRV_ERR_CONFIG_SCHEMA', what);
    t.match(r.json().error.details?.path, path, `${what}: ${r.json().error.details?.path}`);
  }
  t.equal(((await app.inject({ url: '/api/v1/configs/gates', headers: auth() })).json() as { version: number }).version, created.version, 'no version was created');
  await app.configFanout.idle();
  t.equal(pointers.size, 0, 'nothing was pushed');
  const ok = await app.inject({ method: 'PUT', url: '/api/v1/configs/gates', headers: auth(), payload: { document: doc({ readers: [{ ...r0, model: 'sec1210' }] }) } });
  t.equal(ok.statusCode, 200, 'every model of the terminal table is accepted');
});

t.test('config status: per-field effects are stored and shown, and replaced by the next report', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  const v = (await app.inject({ method: 'POST', url: '/api/v1/configs', headers: auth(), payload: { id: 'k', name: 'K', document: doc() } })).json() as { version: number };
  await app.inject({ method: 'POST', url: '/api/v1/groups', headers: auth(), payload: { id: 'g', name: 'g' } });
  const e = await enrol(ta, 'g');
  await app.inject({ method: 'PUT', url: `/api/v1/terminals/${e.terminalId}/config`, headers: auth(), payload: { configId: 'k' } });
  const pending = [{ field: '/logLevel', effect: 'live' as const, at: 10 }, { field: '/readers', effect: 'session-end' as const, at: 12 }, { field: '/upload/maxOutboxRecords', effect: 'restart' as const }];
  await app.uplink.dispatch('config/status', e.terminalId, { v: 1, version: v.version, status: 'applied', changes: pending }, '');
  const s1 = (await app.inject({ url: `/api/v1/terminals/${e.terminalId}/config`, headers: auth() })).json();
  t.same(s1.reported.changes, pending, 'the restart is shown as pending (no at)');
  t.equal(s1.inSync, true);
  const done = pending.map((c) => (c.effect === 'restart' ? { ...c, at: 20 } : c));
  await app.uplink.dispatch('config/status', e.terminalId, { v: 1, version: v.version, status: 'applied', changes: done }, '');
  t.same((await app.inject({ url: `/api/v1/terminals/${e.terminalId}/config`, headers: auth() })).json().reported.changes, done, 'the report after the restart replaces it');
  await app.uplink.dispatch('config/status', e.terminalId, { v: 1, version: v.version, status: 'applied' }, '');
  t.notOk('changes' in (await app.inject({ url: `/api/v1/terminals/${e.terminalId}/config`, headers: auth() })).json().reported, 'a report without changes shows none');
});

t.test('[fleet-protocol §5] the pointer carries the document to terminals whose birth accepts config-body, and only to them', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  await app.ready();
  const pointers = captureRetained(ta, 't/+/down/config');
  await app.inject({ method: 'POST', url: '/api/v1/groups', headers: auth(), payload: { id: 'wuhan', name: 'wuhan' } });
  const fresh = await enrol(ta, 'wuhan');
  const legacy = await enrol(ta, 'wuhan');
  const birth = (accepts: boolean) => ({ v: 1 as const, epoch: 1, ts: 1, versions: { software: '1.0.0', config: 0, keys: 0, hotlist: 0 }, readers: [], ...(accepts ? { accepts: ['config-body' as const] } : {}) });
  await app.uplink.dispatch('birth', fresh.terminalId, birth(true), '');
  await app.uplink.dispatch('birth', legacy.terminalId, birth(false), '');
  await app.configFanout.idle();
  const c = (await app.inject({ method: 'POST', url: '/api/v1/configs', headers: auth(), payload: { id: 'k', name: 'k', document: doc() } })).json() as { version: number };
  await app.inject({ method: 'PUT', url: '/api/v1/groups/wuhan/config', headers: auth(), payload: { configId: 'k' } });
  const v2 = (await app.inject({ method: 'PUT', url: '/api/v1/configs/k', headers: auth(), payload: { document: doc({ logLevel: 'warn' }), expectedVersion: c.version } })).json() as { version: number; sha256: string };
  await app.configFanout.idle();
  const withBody = JSON.parse(pointers.get(`t/${fresh.terminalId}/down/config`)!) as { v: number; version: number; sha256: string; body?: string };
  t.match(withBody, { v: 1, version: v2.version, sha256: v2.sha256 });
  t.equal(typeof withBody.body, 'string', 'document inline');
  t.equal(createHash('sha256').update(Buffer.from(withBody.body!, 'utf8')).digest('hex'), v2.sha256, 'its bytes hash to the pointer');
  t.equal(withBody.body, canonicalJson(doc({ logLevel: 'warn' })), 'the canonical JSON the HTTP fetch serves');
  t.same(JSON.parse(pointers.get(`t/${legacy.terminalId}/down/config`)!), { v: 1, version: v2.version, sha256: v2.sha256 }, 'a terminal that did not say it takes the body gets the plain pointer');

  // Gone: the next pointer is plain (its next birth says again what it takes).
  app.uplink.emit('disconnect', fresh.terminalId, 1);
  const v3 = (await app.inject({ method: 'PUT', url: '/api/v1/configs/k', headers: auth(), payload: { document: doc({ logLevel: 'error' }), expectedVersion: v2.version } })).json() as { version: number; sha256: string };
  await app.configFanout.idle();
  t.same(JSON.parse(pointers.get(`t/${fresh.terminalId}/down/config`)!), { v: 1, version: v3.version, sha256: v3.sha256 });
  // A birth that no longer accepts it (software downgraded) stops the inline document too.
  await app.uplink.dispatch('birth', fresh.terminalId, birth(true), '');
  await app.uplink.dispatch('birth', fresh.terminalId, birth(false), '');
  await app.configFanout.idle();
  t.notOk('body' in JSON.parse(pointers.get(`t/${fresh.terminalId}/down/config`)!), 'reconcile pointer of a birth without the feature is plain');
});
