// The composition root (startTerminal) and its local configuration: the local form of the file
// (every field optional, readers pinned, enrolment-bound fields refused when they disagree), the
// data dir's API token, the soft-SAM serial counter, `run` / `enroll` argument handling, update
// jobs refused without an install root, and an in-process restart that keeps the API port and
// reconnects to the fleet.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultTerminalNumber, parseTerminalConfig, persistedCounter, resolveTerminalConfig, startTerminal, dataDirApiToken } from '../../src/runtime/index.ts';
import { updateJobHandler } from '../../src/runtime/updates.ts';
import { generateEnrolmentKey, saveIdentity, savePrivateKey } from '../../src/agent/identity.ts';
import { isValidTerminalName } from '../../src/agent/enrol.ts';
import { runCli } from '../../src/cli/run.ts';
import { createLogger, createMemoryDestination } from '../../src/log/index.ts';
import { startFleetServer, terminalCli, until } from '../e2e/box.ts';

const ED = 'ed25519:' + Buffer.alloc(32, 7).toString('base64');
const ctx = { terminalId: 'T1234', dataDir: '/var/lib/onecard' };

t.test('local form: every field optional, readers pinned, enrolment-bound fields checked', async (t) => {
  const empty = parseTerminalConfig({}, ctx);
  t.equal(empty.terminalId, 'T1234', 'terminal id from the enrolment');
  t.same(empty.readers, []);
  t.equal(empty.card, undefined, 'no reader yet: the fleet configuration brings them');
  t.same(empty.fleet, { dataDir: '/var/lib/onecard' });
  t.same(empty.journal, { file: '/var/lib/onecard/purchases.journal' });
  t.same(empty.pinned, []);
  const pinned = parseTerminalConfig({ readers: [{ id: 'front', link: 'serial', path: '/dev/ttyUSB0' }] }, ctx);
  t.same(pinned.pinned, ['readers'], 'readers in the local file are pinned');
  t.same(pinned.card, { reader: 'front', slot: 0 });
  t.same(parseTerminalConfig({ terminalId: 'T1234', fleet: { dataDir: '/var/lib/onecard/' } }, ctx).terminalId, 'T1234', 'the same id and data dir may be repeated');
  const bad: [unknown, string][] = [
    [{ terminalId: 'T9999' }, 'terminalId'],
    [{ fleet: { dataDir: '/elsewhere' } }, 'fleet.dataDir'],
    [{ updates: { root: '/opt/onecard', pinnedKeys: [] } }, 'updates.pinnedKeys'],
    [{ updates: { root: '/opt/onecard', pinnedKeys: ['ed25519:short'] } }, 'updates.pinnedKeys[0]'],
    [{ updates: { pinnedKeys: [ED] } }, 'updates.root'],
    [{ updates: { root: '/opt/onecard', pinnedKeys: [ED], healthDeadlineSeconds: 1 } }, 'updates.healthDeadlineSeconds'],
    [{ softSam: { terminalNumber: '12345678901' } }, 'softSam.terminalNumber'],
    [{ readers: [] , card: { reader: 'x' } }, 'card.reader'],
    [{ surprise: 1 }, 'surprise'],
  ];
  for (const [json, field] of bad) t.throws(() => parseTerminalConfig(json, ctx), { code: 'TERM_ERR_CONFIG', details: { field } }, field);
  t.same(parseTerminalConfig({ updates: { pinnedKeys: [ED] } }, { ...ctx, installRoot: '/opt/onecard' }).updates, { root: '/opt/onecard', pinnedKeys: [ED], healthDeadlineSeconds: 120 }, 'updates.root from --root');
  t.throws(() => parseTerminalConfig({ terminalId: 'k1', readers: [] }), { code: 'TERM_ERR_CONFIG', details: { field: 'readers' } }, 'the full form still needs readers');
  t.same(parseTerminalConfig({ terminalId: 'k1', readers: [{ id: 'r', link: 'hid', path: '/dev/hidraw0' }] }).pinned, [], 'the full form pins nothing');
});

t.test('resolveTerminalConfig: enrolment needed, API token created once in the data dir (0600)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'root-resolve-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await t.rejects(resolveTerminalConfig({ dataDir: dir }), { code: 'TERM_ERR_IDENTITY_MISSING' });
  const { privatePem, publicKeySpki } = generateEnrolmentKey();
  await savePrivateKey(dir, privatePem);
  await saveIdentity(dir, { v: 1, terminalId: 'Tabc', groupId: 'g', serverUrl: 'http://127.0.0.1:1', mqtt: { url: 'mqtt://127.0.0.1:1', clientId: 'Tabc', username: 'Tabc', password: 'pw-pw-pw-pw' }, serverPublicKey: publicKeySpki, publicKey: publicKeySpki, kind: 'kiosk', name: 'hall-kiosk', enrolledAt: 1 });
  const noToken = await resolveTerminalConfig({ dataDir: dir, withApiToken: false });
  t.equal(noToken.config.api.token, undefined);
  t.throws(() => statSync(join(dir, 'api-token')), { code: 'ENOENT' }, '--check creates nothing');
  const r = await resolveTerminalConfig({ dataDir: dir, installRoot: '/opt/x' });
  t.equal(r.name, 'hall-kiosk');
  t.equal(r.config.terminalId, 'Tabc');
  t.match(r.config.api.token, /^[0-9a-f]{64}$/, 'a random token');
  t.equal(statSync(join(dir, 'api-token')).mode & 0o777, 0o600, 'kept 0600');
  t.equal((await resolveTerminalConfig({ dataDir: dir })).config.api.token, r.config.api.token, 'the same token on the next start');
  t.equal(await dataDirApiToken(dir), r.config.api.token);
  t.same(r.config.updates, { pinnedKeys: [], healthDeadlineSeconds: 120, root: '/opt/x' }, '--root without pinned keys: updates refused at verification');
  writeFileSync(join(dir, 'terminal.json'), JSON.stringify({ api: { token: 'Zq3-local-file-token-9f2c81d7e6a5' } }));
  t.equal((await resolveTerminalConfig({ dataDir: dir })).config.api.token, 'Zq3-local-file-token-9f2c81d7e6a5', 'the local file wins');
  writeFileSync(join(dir, 'other.json'), '{"readers": 3}');
  await t.rejects(resolveTerminalConfig({ dataDir: dir, configFile: join(dir, 'other.json') }), { code: 'TERM_ERR_CONFIG', details: { field: 'readers' } }, '--config FILE replaces DIR/terminal.json');
});

t.test('soft-SAM terminal number and serial counter', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'root-serial-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.match(defaultTerminalNumber('T0001'), /^[0-9]{12}$/);
  t.equal(defaultTerminalNumber('T0001'), defaultTerminalNumber('T0001'));
  t.not(defaultTerminalNumber('T0001'), defaultTerminalNumber('T0002'));
  const file = join(dir, 'soft-sam.serial');
  const a = persistedCounter(file);
  t.same([a(), a(), a()], [1, 2, 3]);
  t.equal(readFileSync(file, 'utf8').trim(), '3');
  t.equal(persistedCounter(file)(), 4, 'a new process continues after the last serial used');
});

t.test('update jobs are refused without an install root', async (t) => {
  const reports: unknown[] = [];
  await updateJobHandler(undefined)({ jobId: 'ro_1', kind: 'update', version: 1, status: 'queued', url: '/api/v1/terminal/jobs/ro_1' }, async (id, body) => { reports.push([id, body]); });
  t.match(reports, [['ro_1', { status: 'rejected', error: { code: 'TERM_ERR_UPDATE_STATE' } }]]);
});

t.test('CLI: run and enroll arguments', async (t) => {
  let out = '';
  let err = '';
  const io = { readStdin: async () => '', stdout: (s: string) => void (out += s), stderr: (s: string) => void (err += s) };
  t.equal(await runCli(['run', '--root'], io), 2, 'option without its value');
  t.equal(await runCli(['run', '--frobnicate'], io), 2);
  t.match(err, /unknown option '--frobnicate'/);
  const saved = process.env['ONECARD_DATA_DIR'];
  delete process.env['ONECARD_DATA_DIR'];
  t.equal(await runCli(['run'], io), 2, 'neither --data-dir nor --config');
  if (saved !== undefined) process.env['ONECARD_DATA_DIR'] = saved;
  t.equal(await runCli(['run', '--help'], io), 0);
  t.match(out, /run --data-dir DIR/);
  t.match(out, /enroll --server URL --token T --data-dir \/var\/lib\/onecard --name/);
  for (const bad of ['evil\u202Ename', 'nul\u0000', ' lead', 'x'.repeat(65), '']) t.notOk(isValidTerminalName(bad), JSON.stringify(bad));
  for (const good of ['hall-kiosk', '药房 3 号', 'Gate 7 (north)']) t.ok(isValidTerminalName(good), good);
  const r = await terminalCli(['enroll', '--server', 'http://127.0.0.1:9', '--token', 'abcdefghijkl', '--data-dir', join(tmpdir(), 'never-created'), '--name', 'bad\u202Ename']);
  t.equal(r.code, 2, 'a bad name is a usage error, before any request');
  t.match(r.stderr, /TERM_ERR_INVALID_ARGUMENT/);
});

t.test('startTerminal: in-process restart keeps the API port and reconnects', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'root-restart-'));
  const server = await startFleetServer({ dir });
  t.teardown(async () => { await server.close(); rmSync(dir, { recursive: true, force: true }); });
  const dataDir = join(dir, 'data');
  const e = await terminalCli(['enroll', '--server', server.httpUrl, '--token', await server.enrolmentToken('halls'), '--data-dir', dataDir, '--name', 'desk-1']);
  t.equal(e.code, 0, e.stderr);
  const dest = createMemoryDestination();
  const term = await startTerminal({ dataDir, configJson: { api: { port: 0 } }, deps: { logger: createLogger({ level: 'info', destination: dest }), fleetAgent: { policy: { backoffBaseMs: 50, backoffMaxMs: 200 } } } });
  t.teardown(() => term.close());
  t.equal(term.name, 'desk-1');
  const online = (): Promise<void> => term.runtime.agent!.waitFor(() => term.runtime.agent!.state.kind === 'online');
  await online();
  const url = term.url;
  const first = term.runtime;
  const token = readFileSync(join(dataDir, 'api-token'), 'utf8').trim();
  term.requestRestart('test: restart-class field');
  await term.restarted();
  t.not(term.runtime, first, 'a new runtime instance');
  t.equal(term.url, url, 'same API address');
  await online();
  t.equal((await fetch(`${term.url}/v1/readers`, { headers: { 'x-onecard-token': token } })).status, 200, 'API answers after the restart');
  await until('server sees a second connection', async () => (await server.call('GET', `/api/v1/terminals/${term.terminalId}`)).body?.epoch >= 2 || undefined, 30_000);
  const lines = dest.records();
  t.ok(lines.some((l) => l['msg'] === 'restarting the terminal runtime' && l['reason'] === 'test: restart-class field'), 'restart logged with its reason');
  t.ok(lines.some((l) => l['msg'] === 'terminal runtime started' && l['terminalName'] === 'desk-1' && l['terminalId'] === term.terminalId), 'logs carry the name beside the id');
});
