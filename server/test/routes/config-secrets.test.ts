// The SIP2 password in the fleet configuration (issue 16, docs/sip2.md "The SIP2 password"):
// sealed at rest under the master key, shown to no admin role (viewer, operator, key-custodian,
// admin: only `{"set": true}`), kept with `{"set": true}` and replaced with text, never in the
// audit log, the pino output, the pushed MQTT pointer or the terminal's document fetch; each
// terminal gets its own copy sealed under its KBPK, which no other terminal can open, and no
// terminal gets another document's secrets. Documents saved with the password in clear are
// sealed at start (or, without a master key, masked and warned about).
import t, { type Test } from 'tap';
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { Writable } from 'node:stream';
import { canonicalJson, deriveKbpk, openConfigSecret, EXAMPLE_TERMINAL_CONFIG, type TerminalConfigDocument } from '@onecard/protocol/fleet';
import { buildApp, bootstrapAdminToken } from '../../src/app.ts';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite.ts';
import { maskConfigDocument } from '../../src/routes/config-secrets.ts';

const PASSWORD = 'Sip2-Pa55-秘密-7f3a';
const NEW_PASSWORD = 'Sip2-Rotated-91c4';
const library = (password: unknown) => ({
  host: '127.0.0.1', port: 6001, institutionId: 'CITYLIB', user: 'kiosk01', password, location: 'hall', charset: 'gbk', errorDetection: true, timeoutMs: 2000, maxRetries: 1, gate: true, loanDesk: true,
});
const doc = (password: unknown, name = 'library hall') => ({ ...EXAMPLE_TERMINAL_CONFIG, name, readers: [], library: library(password) });

interface Enrolled { terminalId: string; password: string; privateKey: KeyObject }

async function setup(t: Test, o: { masterKey?: Uint8Array; store?: SqliteStore; admin?: string } = {}) {
  let now = 1_764_300_000_000;
  const clock = { now: () => now, advance: (ms: number) => { now += ms; } };
  const logs: string[] = [];
  const store = o.store ?? openSqliteStore(':memory:');
  const app = await buildApp({
    store, clock, ...(o.masterKey === undefined ? {} : { masterKey: o.masterKey }),
    logger: { level: 'trace', stream: new Writable({ write(c, _e, cb) { logs.push(String(c)); cb(); } }) },
  });
  t.teardown(() => app.close());
  const mqtt: string[] = [];
  app.broker.subscribe('t/+/down/#', (p, cb) => { mqtt.push(Buffer.from(p.payload as Buffer).toString('utf8')); cb(); }, () => {});
  await app.ready();
  const admin = o.admin ?? (await bootstrapAdminToken(store, clock))!;
  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, token = admin) => {
    const r = await app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
    return { status: r.statusCode, body: r.json() as Record<string, unknown>, text: r.body };
  };
  const tokenFor = async (role: string) => String((await call('POST', '/api/v1/admin/tokens', { name: role, role })).body['token']);
  const enrol = async (groupId: string): Promise<Enrolled> => {
    await call('POST', '/api/v1/groups', { id: groupId, name: groupId }); // 409 when it exists
    const tok = (await call('POST', '/api/v1/enrolment-tokens', { groupId })).body['token'];
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const r = (await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok, publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64') } })).json() as { terminalId: string; mqtt: { password: string } };
    return { terminalId: r.terminalId, password: r.mqtt.password, privateKey };
  };
  const asTerminal = async (e: Enrolled, url: string) => {
    const r = await app.inject({ url, headers: { authorization: `Basic ${Buffer.from(`${e.terminalId}:${e.password}`).toString('base64')}` } });
    return { status: r.statusCode, text: r.body, json: () => r.json() as Record<string, unknown> };
  };
  const kbpkOf = (e: Enrolled) => deriveKbpk(e.privateKey, app.ctx.keys.publicKeySpki, e.terminalId);
  return { app, store, clock, logs, mqtt, call, tokenFor, enrol, asTerminal, kbpkOf, admin };
}

t.test('SIP2 password: sealed at rest, masked for every admin role, delivered sealed per terminal, never logged', async (t) => {
  const s = await setup(t, { masterKey: new Uint8Array(randomBytes(32)) });
  const a = await s.enrol('hall');
  const b = await s.enrol('hall');
  const other = await s.enrol('annex');

  const created = await s.call('POST', '/api/v1/configs', { id: 'library', name: 'library', document: doc(PASSWORD) });
  t.equal(created.status, 201, created.text);
  const version = Number(created.body['version']);
  t.equal((await s.call('PUT', '/api/v1/groups/hall/config', { configId: 'library' })).status, 200);
  t.equal((await s.call('POST', '/api/v1/configs', { id: 'annex', name: 'annex', document: doc(PASSWORD, 'annex') })).status, 201);
  t.equal((await s.call('PUT', '/api/v1/groups/annex/config', { configId: 'annex' })).status, 200);
  await s.app.configFanout.idle();

  // At rest: sealed, not the text.
  const stored = (await s.store.getConfigVersion(version))!;
  t.notMatch(stored.body, PASSWORD, 'the stored document holds no clear password');
  const ref = ((JSON.parse(stored.body) as TerminalConfigDocument).library!.password as { sealed: string }).sealed;
  t.match(ref, /^v1\./, 'it holds the sealed text');
  t.equal(createHash('sha256').update(stored.body).digest('hex'), stored.sha256, 'the digest is the stored body\'s');

  // Every admin role reading configs sees only that it is set.
  for (const role of ['viewer', 'operator', 'key-custodian', 'admin']) {
    const token = await s.tokenFor(role);
    for (const url of ['/api/v1/configs', '/api/v1/configs/library', `/api/v1/configs/library/versions/${version}`, '/api/v1/configs/library/versions', `/api/v1/terminals/${a.terminalId}/config`]) {
      const r = await s.call('GET', url, undefined, token);
      t.equal(r.status, 200, `${role} ${url}`);
      t.notMatch(r.text, PASSWORD, `${role} ${url}: no password`);
      t.notMatch(r.text, ref, `${role} ${url}: not even the sealed text`);
    }
    t.same(((await s.call('GET', '/api/v1/configs/library', undefined, token)).body['document'] as TerminalConfigDocument).library!.password, { set: true }, `${role}: {"set": true}`);
  }

  // The terminal's own document fetch and the pushed pointers carry no password.
  const fetched = await s.asTerminal(a, `/api/v1/terminal/config/${version}`);
  t.equal(fetched.status, 200);
  t.notMatch(fetched.text, PASSWORD, 'the document a terminal fetches holds no clear password');
  t.ok(s.mqtt.length > 0, 'pointers were pushed');
  t.notMatch(s.mqtt.join('\n'), PASSWORD, 'no MQTT message carries the password');

  // Each terminal's own copy, sealed for it alone.
  const ra = await s.asTerminal(a, `/api/v1/terminal/config/${version}/secrets`);
  const rb = await s.asTerminal(b, `/api/v1/terminal/config/${version}/secrets`);
  t.equal(ra.status, 200, ra.text);
  t.notMatch(ra.text, PASSWORD, 'the delivery holds no clear password');
  const copyA = (ra.json()['secrets'] as Record<string, string>)['library.password']!;
  const copyB = (rb.json()['secrets'] as Record<string, string>)['library.password']!;
  t.equal(openConfigSecret(s.kbpkOf(a), a.terminalId, 'library.password', ref, copyA), PASSWORD, 'terminal A opens its copy');
  t.equal(openConfigSecret(s.kbpkOf(b), b.terminalId, 'library.password', ref, copyB), PASSWORD, 'terminal B opens its copy');
  t.throws(() => openConfigSecret(s.kbpkOf(a), a.terminalId, 'library.password', ref, copyB), { code: 'PROTO_ERR_FLEET_SECRET' }, 'A cannot open B\'s copy');
  t.throws(() => openConfigSecret(s.kbpkOf(b), a.terminalId, 'library.password', ref, copyA), { code: 'PROTO_ERR_FLEET_SECRET' }, 'B\'s KBPK does not open A\'s copy');
  // Another group's terminal gets nothing of this document.
  const foreign = await s.asTerminal(other, `/api/v1/terminal/config/${version}/secrets`);
  t.equal(foreign.status, 404, 'not its document');
  t.notMatch(foreign.text, /sealed|v1\./);
  t.equal((await s.app.inject({ url: `/api/v1/terminal/config/${version}/secrets` })).statusCode, 401, 'no credentials, nothing');
  t.equal((await s.app.inject({ url: `/api/v1/terminal/config/${version}/secrets`, headers: { authorization: `Basic ${Buffer.from(`${a.terminalId}:wrong`).toString('base64')}` } })).statusCode, 401, 'wrong credentials, nothing');

  // Keep with {"set": true}: same sealed text; replace with text: a new one the terminals get.
  const kept = await s.call('PUT', '/api/v1/configs/library', { document: { ...doc({ set: true }), name: 'renamed' } });
  t.equal(kept.status, 200, kept.text);
  const keptBody = (await s.store.getConfigVersion(Number(kept.body['version'])))!.body;
  t.equal(((JSON.parse(keptBody) as TerminalConfigDocument).library!.password as { sealed: string }).sealed, ref, 'kept as it was');
  const replaced = await s.call('PUT', '/api/v1/configs/library', { document: doc(NEW_PASSWORD) });
  t.equal(replaced.status, 200);
  const v3 = Number(replaced.body['version']);
  const ref3 = ((JSON.parse((await s.store.getConfigVersion(v3))!.body) as TerminalConfigDocument).library!.password as { sealed: string }).sealed;
  t.not(ref3, ref);
  const copy3 = ((await s.asTerminal(a, `/api/v1/terminal/config/${v3}/secrets`)).json()['secrets'] as Record<string, string>)['library.password']!;
  t.equal(openConfigSecret(s.kbpkOf(a), a.terminalId, 'library.password', ref3, copy3), NEW_PASSWORD, 'the replaced password reaches the terminal');
  t.throws(() => openConfigSecret(s.kbpkOf(a), a.terminalId, 'library.password', ref, copy3), { code: 'PROTO_ERR_FLEET_SECRET' }, 'a copy is bound to its document value');
  // Cleared with {"set": false}.
  const cleared = await s.call('PUT', '/api/v1/configs/library', { document: doc({ set: false }) });
  t.same(((await s.call('GET', `/api/v1/configs/library/versions/${String(cleared.body['version'])}`)).body['document'] as TerminalConfigDocument).library!.password, { set: false });

  // Refused inputs: a sealed value from an admin, another shape.
  for (const bad of [{ sealed: ref }, { set: 'yes' }, 42, { set: true, x: 1 }]) {
    const r = await s.call('PUT', '/api/v1/configs/library', { document: doc(bad) });
    t.equal(r.status, 400, JSON.stringify(bad));
    t.equal((r.body['error'] as { code: string }).code, 'SRV_ERR_CONFIG_SECRET');
  }
  const noPrevious = await s.call('POST', '/api/v1/configs', { id: 'fresh', name: 'fresh', document: doc({ set: true }) });
  t.equal((noPrevious.body['error'] as { code: string }).code, 'SRV_ERR_CONFIG_SECRET', 'nothing to keep on a new document');

  // The audit log names who set it, never the password.
  const audit = await s.call('GET', '/api/v1/audit?limit=500');
  t.notMatch(audit.text, PASSWORD);
  t.notMatch(audit.text, NEW_PASSWORD);
  const entries = audit.body['entries'] as { action: string; details: Record<string, unknown> }[];
  t.ok(entries.some((e) => e.action === 'config.update' && (e.details['secretsSet'] as string[] | undefined)?.includes('library.password')), 'the replacement is audited');
  t.ok(entries.some((e) => e.action === 'config.secret-deliver' && e.details['terminalId'] === a.terminalId), 'each delivery is audited');
  t.ok(entries.some((e) => e.action === 'config.secret-deliver-refused'), 'a refused request is audited');
  const all = s.logs.join('');
  t.ok(all.length > 0, 'the server log was captured');
  t.notMatch(all, PASSWORD, 'no password in the pino output');
  t.notMatch(all, NEW_PASSWORD, 'no new password in the pino output');
});

t.test('without a master key a password cannot be set, and nothing is delivered', async (t) => {
  const s = await setup(t);
  const r = await s.call('POST', '/api/v1/configs', { id: 'library', name: 'library', document: doc(PASSWORD) });
  t.equal(r.status, 503);
  t.equal((r.body['error'] as { code: string }).code, 'SRV_ERR_CONFIG_SECRET_NO_MASTER_KEY');
  t.equal((await s.call('POST', '/api/v1/configs', { id: 'nopw', name: 'nopw', document: doc('') })).status, 201, 'a library without a password needs no key');
  t.notMatch(s.logs.join(''), PASSWORD);
});

t.test('documents saved with the password in clear: masked without a master key, sealed at start with one', async (t) => {
  const store = openSqliteStore(':memory:');
  const legacy = canonicalJson(doc(PASSWORD));
  const sha = (b: string) => createHash('sha256').update(b).digest('hex');
  const v1 = await store.createConfigDoc({ id: 'library', name: 'library', body: legacy, sha256: sha(legacy), at: 1, by: 'adm_old' });
  const legacy2 = canonicalJson(doc(PASSWORD, 'second'));
  const v2 = await store.updateConfigDoc('library', { body: legacy2, sha256: sha(legacy2), at: 2, by: 'adm_old' });

  // No master key: left as they are, masked on every read, a warning without the password.
  const bare = await setup(t, { store });
  const shown = await bare.call('GET', '/api/v1/configs/library');
  t.same((shown.body['document'] as TerminalConfigDocument).library!.password, { set: true });
  t.notMatch(shown.text, PASSWORD);
  t.match(bare.logs.join(''), /hold a SIP2 password in clear/);
  t.notMatch(bare.logs.join(''), PASSWORD);
  await bare.app.close();

  // With one: every version sealed in place, audited, the terminals re-pointed and served.
  const s = await setup(t, { store, masterKey: new Uint8Array(randomBytes(32)), admin: bare.admin });
  const a = await s.enrol('hall');
  t.equal((await s.call('PUT', '/api/v1/groups/hall/config', { configId: 'library' })).status, 200);
  for (const v of [v1.version, v2.version]) {
    const body = (await store.getConfigVersion(v))!.body;
    t.notMatch(body, PASSWORD, `version ${v} sealed`);
    t.equal((await store.getConfigVersion(v))!.sha256, sha(body), 'with its new digest');
  }
  const sealedAudit = ((await s.call('GET', '/api/v1/audit?action=config.secrets-sealed')).body['entries'] as { target: string; details: { versions: number[] } }[]);
  t.same(sealedAudit.map((e) => [e.target, [...e.details.versions].sort()]), [['library', [v1.version, v2.version].sort()]]);
  const ref = ((JSON.parse((await store.getConfigVersion(v2.version))!.body) as TerminalConfigDocument).library!.password as { sealed: string }).sealed;
  const copy = ((await s.asTerminal(a, `/api/v1/terminal/config/${v2.version}/secrets`)).json()['secrets'] as Record<string, string>)['library.password']!;
  t.equal(openConfigSecret(s.kbpkOf(a), a.terminalId, 'library.password', ref, copy), PASSWORD, 'the migrated password still reaches the terminal');
  t.notMatch(s.logs.join(''), PASSWORD);
});

t.test('maskConfigDocument: secrets shown only as set or not', async (t) => {
  t.same((maskConfigDocument(doc('x')) as ReturnType<typeof doc>).library.password, { set: true });
  t.same((maskConfigDocument(doc({ sealed: 'v1.abc' })) as ReturnType<typeof doc>).library.password, { set: true });
  t.same((maskConfigDocument(doc('')) as ReturnType<typeof doc>).library.password, { set: false });
  t.same(maskConfigDocument(EXAMPLE_TERMINAL_CONFIG), EXAMPLE_TERMINAL_CONFIG, 'no library, unchanged');
  t.equal(maskConfigDocument(null), null);
});
