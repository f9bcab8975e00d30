import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mosquittoPasswordHash, verifyMosquittoPassword, renderPasswordFile, renderAclFile, renderMosquittoConf, syncMosquitto, captureCredentials, readCapturedCredentials } from '../../src/scale/mosquitto.ts';
import mosquittoPlugin from '../../src/scale/mosquitto-plugin.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { hashToken } from '../../src/crypto-util.ts';
import { makeTestApp, newTerminalKey } from '../helpers.ts';

// Written by `mosquitto_passwd -c -b file alice secret` (mosquitto 2.0.11).
const MOSQUITTO_PASSWD_LINE = 'alice:$7$101$43eHhAAaHU45TM8J$hFqQU7EatBU0qdtFyu4Bz0wrVKwD2I4tIl8WmhhHIaO7jiOKUjal4TY3yVxicWzeBTOnLTCLm5cPwxEkOMQe7A==';

t.test('$7$ PBKDF2-SHA512 entries match mosquitto_passwd', async (t) => {
  const entry = MOSQUITTO_PASSWD_LINE.slice('alice:'.length);
  t.equal(mosquittoPasswordHash('secret', Buffer.from('43eHhAAaHU45TM8J', 'base64')), entry, 'same salt, same entry as mosquitto_passwd');
  t.ok(verifyMosquittoPassword(entry, 'secret'));
  t.notOk(verifyMosquittoPassword(entry, 'Secret'));
  const fresh = mosquittoPasswordHash('oct_x');
  t.match(fresh, /^\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
  t.not(fresh, mosquittoPasswordHash('oct_x'), 'a random salt per entry');
  t.ok(verifyMosquittoPassword(fresh, 'oct_x'));
  for (const bad of ['', '$6$abc$def', '$7$x$y$z', 'plain']) t.notOk(verifyMosquittoPassword(bad, 'secret'), `malformed ${JSON.stringify(bad)}`);
});

t.test('password and ACL files', async (t) => {
  t.equal(renderPasswordFile([{ username: 'Tb', hash: '$7$1$a$b' }, { username: 'Ta', hash: '$7$1$c$d' }]), 'Ta:$7$1$c$d\nTb:$7$1$a$b\n');
  t.equal(renderPasswordFile([]), '');
  t.throws(() => renderPasswordFile([{ username: 'a:b', hash: 'x' }]), { code: 'SRV_ERR_MOSQUITTO_SYNC' });
  t.throws(() => renderPasswordFile([{ username: 'a', hash: 'x\nroot:y' }]), { code: 'SRV_ERR_MOSQUITTO_SYNC' });
  const acl = renderAclFile('onecard-server');
  for (const l of ['pattern write t/%u/up/birth', 'pattern write t/%u/up/death', 'pattern write t/%u/up/tele', 'pattern write t/%u/up/events', 'pattern write t/%u/up/config/status', 'pattern write t/%u/up/jobs/+', 'pattern write t/%u/up/rpc/+', 'pattern read t/%u/down/#', 'pattern read fleet/broadcast/#', 'user onecard-server\ntopic read t/+/up/#', 'user onecard-server.pub\ntopic write t/+/down/#\ntopic write fleet/broadcast/#']) t.ok(acl.includes(l), l);
  t.notOk(/pattern (readwrite|write) t\/%u\/down|pattern write fleet/.test(acl), 'terminals never write down trees or the broadcast');
  t.notOk(acl.includes('t/%u/up/#'), 'only the protocol\'s uplink topics, not the whole up tree (issue 12 item 4)');
  t.throws(() => renderAclFile('bad user'), { code: 'SRV_ERR_MOSQUITTO_SYNC' });
  const conf = renderMosquittoConf({ host: '127.0.0.1', port: 1883, dir: '/etc/onecard-mosq' });
  for (const l of ['listener 1883 127.0.0.1', 'allow_anonymous false', 'use_username_as_clientid true', 'password_file /etc/onecard-mosq/password_file', 'acl_file /etc/onecard-mosq/acl_file']) t.ok(conf.includes(l), l);
});

t.test('sync from the registry: active terminals with captured credentials only', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onecard-mosq-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const store = openSqliteStore(':memory:');
  t.teardown(() => store.close());
  await store.createGroup({ id: 'g', name: 'g', createdAt: 1 });
  for (const id of ['T1', 'T2', 'T3', 'T4']) await store.createTerminal({ id, groupId: 'g', tags: [], kind: 'k', publicKey: 'p', credentialHash: hashToken(`pw-${id}`), createdAt: 1 });
  for (const id of ['T1', 'T2', 'T3']) captureCredentials(dir, id, `pw-${id}`, hashToken(`pw-${id}`));
  t.equal(statSync(join(dir, 'credentials.json')).mode & 0o777, 0o600, 'captured entries readable by the server only');
  t.notOk(readFileSync(join(dir, 'credentials.json'), 'utf8').includes('pw-T1'), 'no clear password kept');
  await store.updateTerminal('T2', { status: 'disabled' });
  await store.updateTerminal('T3', { credentialHash: hashToken('rekeyed') });
  await t.rejects(syncMosquitto({ store, dir, serverUsername: 'onecard-server' }), { code: 'SRV_ERR_MOSQUITTO_SYNC' }, 'no server password and no previous entry');
  const r = await syncMosquitto({ store, dir, serverUsername: 'onecard-server', serverPassword: 'srv-pw' });
  t.same({ terminals: r.terminals, written: r.written, missing: r.missing, reloaded: r.reloaded }, { terminals: 4, written: 1, missing: ['T3', 'T4'], reloaded: false });
  const lines = readFileSync(join(dir, 'password_file'), 'utf8').trim().split('\n');
  t.same(lines.map((l) => l.split(':')[0]), ['T1', 'onecard-server', 'onecard-server.pub']);
  const entry = (u: string, f = readFileSync(join(dir, 'password_file'), 'utf8')) => f.split('\n').find((l) => l.startsWith(`${u}:`))!.slice(u.length + 1);
  t.ok(verifyMosquittoPassword(entry('T1'), 'pw-T1'));
  t.ok(verifyMosquittoPassword(entry('onecard-server'), 'srv-pw'));
  t.ok(verifyMosquittoPassword(entry('onecard-server.pub'), 'srv-pw'));
  t.equal(statSync(join(dir, 'password_file')).mode & 0o777, 0o640);
  const before = entry('onecard-server');
  await syncMosquitto({ store, dir, serverUsername: 'onecard-server' });
  t.equal(entry('onecard-server'), before, 'without a password the server entry is kept');
  t.ok(existsSync(join(dir, 'acl_file')));
  t.same(Object.keys(readCapturedCredentials(dir)).sort(), ['T1', 'T2', 'T3']);
});

t.test('plugin: enrolment captures the broker entry; disable withdraws it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'onecard-mosq-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { app, auth } = await makeTestApp();
  await app.register(mosquittoPlugin, { dir, serverUsername: 'onecard-server', serverPassword: 'srv-pw' });
  await app.ready();
  t.teardown(() => app.close());
  await app.inject({ method: 'POST', url: '/api/v1/groups', headers: auth(), payload: { id: 'g', name: 'g' } });
  const tok = (await app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: auth(), payload: { groupId: 'g' } })).json() as { token: string };
  const en = (await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok.token, publicKey: newTerminalKey() } })).json() as { terminalId: string; mqtt: { password: string } };
  await app.mosquittoSync();
  const file = () => readFileSync(join(dir, 'password_file'), 'utf8');
  const line = file().split('\n').find((l) => l.startsWith(`${en.terminalId}:`));
  t.ok(line !== undefined && verifyMosquittoPassword(line.slice(en.terminalId.length + 1), en.mqtt.password), 'the enrolled terminal can log in to Mosquitto with its password');
  const dis = await app.inject({ method: 'POST', url: `/api/v1/terminals/${en.terminalId}/disable`, headers: auth() });
  t.equal(dis.statusCode, 200);
  await app.mosquittoSync();
  t.notOk(file().includes(`${en.terminalId}:`), 'a disabled terminal is removed');
  await app.inject({ method: 'POST', url: `/api/v1/terminals/${en.terminalId}/enable`, headers: auth() });
  await app.mosquittoSync();
  t.ok(file().includes(`${en.terminalId}:`), 'enabled again: back');
});
