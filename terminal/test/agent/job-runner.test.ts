// The job runner against a scripted server (fetch stub) and a real keystore: keys jobs load and
// report the key-set check value, retries are idempotent, failures are coded, update jobs go to
// the injected handler once, transient fetch failures report nothing.
import t from 'tap';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fromHex } from '@onecard/protocol/bytes';
import { wrapKeyBlock, kcvOptionalBlock } from '@onecard/protocol/crypto';
import { keySetCheckValue } from '@onecard/protocol/fleet';
import { openKeystore } from '../../src/agent/keystore.ts';
import { JobRunner, type JobReport, type ListedJob } from '../../src/agent/job-runner.ts';
import { SoftSam, SOFT_SAM_SW } from '../../src/agent/soft-sam.ts';
import { PSAM_DF_NAME_DES } from '@onecard/protocol/psam';

const MPK = fromHex('544553542D4D504B2D334445532D3031');
const MTK = fromHex('544553542D4D544B2D334445532D3031');
const kbpk = new Uint8Array(randomBytes(32));
const block = (usage: '61' | '62', key: Uint8Array, k = kbpk) => wrapKeyBlock({
  kbpk: k, header: { keyUsage: usage, algorithm: 'T', modeOfUse: 'X', keyVersionNumber: '01', exportability: 'N' },
  optionalBlocks: [kcvOptionalBlock('T', key), { id: 'LB', data: 'ALG=00;LV=2' }], key,
});
const kcvOf = (b: string): string => /KC0C00([0-9A-F]{6})/.exec(b)![1]!;

const root = mkdtempSync(join(tmpdir(), 'onecard-jobrunner-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

/** A scripted server: `jobs` is what the listing returns, `routes` answer other paths. */
function server() {
  const s = {
    jobs: [] as ListedJob[],
    routes: new Map<string, { status: number; body: unknown }>(),
    calls: [] as string[],
    auth: [] as string[],
    down: false,
    fetch: (async (url: string | URL | Request, init?: RequestInit) => {
      const path = String(url).replace('http://srv', '');
      s.calls.push(path);
      s.auth.push(String((init?.headers as Record<string, string>)['authorization']));
      if (s.down) throw new Error('ECONNREFUSED');
      const r = path === '/api/v1/terminal/jobs' ? { status: 200, body: { v: 1, jobs: s.jobs } } : s.routes.get(path) ?? { status: 404, body: { error: { code: 'SRV_ERR_NOT_FOUND' } } };
      return new Response(JSON.stringify(r.body), { status: r.status, headers: { 'content-type': 'application/json' } });
    }) as typeof fetch,
  };
  return s;
}
const keysJob = (jobId: string, version: number): ListedJob => ({ jobId, kind: 'keys', version, status: 'queued', url: `/api/v1/terminal/jobs/${jobId}/key-blocks` });
/** The expiry of the key custodian's approval the server sends with every delivery. */
const EXPIRES = Date.now() + 86_400_000;

t.test('keys job: load, report the check value, idempotent retries', async (t) => {
  const srv = server();
  const ks = await openKeystore(join(root, 'a'), kbpk);
  const reports: [string, JobReport][] = [];
  const report = async (id: string, b: JobReport) => { reports.push([id, b]); };
  const runner = new JobRunner({ serverUrl: 'http://srv', terminalId: 'T1', password: 'secret-password', keystore: ks, fetch: srv.fetch });
  const b1 = block('61', MPK);
  const b2 = block('62', MTK);
  srv.jobs = [keysJob('kj_1', 5)];
  srv.routes.set('/api/v1/terminal/jobs/kj_1/key-blocks', { status: 200, body: { v: 1, jobId: 'kj_1', kind: 'keys', version: 5, expiresAt: EXPIRES, keys: [{ block: b1, kcv: kcvOf(b1) }, { block: b2, kcv: kcvOf(b2) }] } });
  await runner.reconcile(report);
  const expected = keySetCheckValue([{ usage: '61', keyVersion: 1, algorithmId: 0, kcv: kcvOf(b1) }, { usage: '62', keyVersion: 1, algorithmId: 0, kcv: kcvOf(b2) }]);
  t.same(reports, [['kj_1', { status: 'succeeded', kcv: expected }]]);
  t.equal(ks.version, 5);
  t.equal(srv.auth[0], `Basic ${Buffer.from('T1:secret-password').toString('base64')}`);
  // The server did not get the report and still lists the job: the same result again, no reload.
  await runner.reconcile(report);
  t.equal(reports.length, 2);
  t.same(reports[1], reports[0]);
  t.equal(srv.calls.filter((c) => c.endsWith('key-blocks')).length, 1, 'blocks fetched once');
  t.equal(runner.stats.keysLoaded, 1);
  // A fresh runner (process restart) with the keystore already at the version reports without
  // fetching (the server lists the fetched job as in-progress).
  t.equal(ks.expiresAt, EXPIRES, 'loaded with the approval\'s expiry');
  srv.jobs = [{ ...keysJob('kj_1', 5), status: 'in-progress' }];
  const again = new JobRunner({ serverUrl: 'http://srv', terminalId: 'T1', password: 'secret-password', keystore: await openKeystore(join(root, 'a'), kbpk), fetch: srv.fetch });
  await again.reconcile(report);
  t.same(reports[2], ['kj_1', { status: 'succeeded', kcv: expected }]);
  t.equal(srv.calls.filter((c) => c.endsWith('key-blocks')).length, 1);
  // onJobNotify reconciles through the agent's reporter.
  srv.jobs = [];
  const viaAgent: string[] = [];
  await again.onJobNotify(null, { reportJob: async (id) => { viaAgent.push(id); } });
  await again.waitFor(() => again.stats.runs === 2);
  t.same(viaAgent, []);
});

t.test('keys job failures are coded; transient ones report nothing', async (t) => {
  const srv = server();
  const ks = await openKeystore(join(root, 'b'), kbpk);
  const reports: [string, JobReport][] = [];
  const report = async (id: string, b: JobReport) => { reports.push([id, b]); };
  const runner = new JobRunner({ serverUrl: 'http://srv', terminalId: 'T1', password: 'p', keystore: ks, fetch: srv.fetch });
  const foreign = block('61', MPK, new Uint8Array(randomBytes(32)));
  srv.jobs = [keysJob('kj_bad', 2), keysJob('kj_kcv', 3), keysJob('kj_gone', 4), keysJob('kj_shape', 6)];
  srv.routes.set('/api/v1/terminal/jobs/kj_bad/key-blocks', { status: 200, body: { version: 2, expiresAt: EXPIRES, keys: [{ block: foreign }] } });
  const good = block('61', MPK);
  srv.routes.set('/api/v1/terminal/jobs/kj_kcv/key-blocks', { status: 200, body: { version: 3, expiresAt: EXPIRES, keys: [{ block: good, kcv: '000000' }] } });
  srv.routes.set('/api/v1/terminal/jobs/kj_gone/key-blocks', { status: 409, body: { error: { code: 'SRV_ERR_KEYS_STATE' } } });
  srv.routes.set('/api/v1/terminal/jobs/kj_shape/key-blocks', { status: 200, body: { version: 99, keys: [{ block: good }] } });
  await runner.reconcile(report);
  t.same(reports.map(([id, r]) => [id, r.status, r.error?.code]), [
    ['kj_bad', 'rejected', 'TERM_ERR_KEY_BLOCK'], ['kj_kcv', 'rejected', 'TERM_ERR_KEY_KCV'], ['kj_shape', 'rejected', 'TERM_ERR_KEY_BLOCK'],
  ], 'a withdrawn job (409) is skipped');
  t.equal(ks.version, 0, 'nothing loaded');
  reports.length = 0;
  srv.jobs = [keysJob('kj_later', 7)];
  srv.routes.set('/api/v1/terminal/jobs/kj_later/key-blocks', { status: 503, body: {} });
  await runner.reconcile(report);
  t.same(reports, [], 'server error: retried later');
  srv.down = true;
  await runner.reconcile(report);
  t.same(reports, [], 'network down: retried later');
  srv.down = false;
  srv.routes.set('/api/v1/terminal/jobs/kj_later/key-blocks', { status: 200, body: { version: 7, expiresAt: EXPIRES, keys: [{ block: good }] } });
  await runner.reconcile(report);
  t.same(reports.map(([id, r]) => [id, r.status]), [['kj_later', 'succeeded']]);
  const noKs = new JobRunner({ serverUrl: 'http://srv', terminalId: 'T1', password: 'p', fetch: srv.fetch });
  srv.jobs = [keysJob('kj_x', 1)];
  await noKs.reconcile(report);
  t.same(reports.at(-1), ['kj_x', { status: 'rejected', error: { code: 'TERM_ERR_INVALID_ARGUMENT', message: 'this terminal has no keystore' } }]);
});

t.test('soft-SAM bounds: expiry required and enforced, refusal silent, PSAM terminals hold nothing, renewal re-delivers', async (t) => {
  const srv = server();
  let now = Date.now();
  const ks = await openKeystore(join(root, 'bounds'), kbpk, { now: () => now });
  t.teardown(() => ks.close());
  const reports: [string, JobReport][] = [];
  const report = async (id: string, b: JobReport) => { reports.push([id, b]); };
  const runner = new JobRunner({ serverUrl: 'http://srv', terminalId: 'T1', password: 'p', keystore: ks, fetch: srv.fetch });
  const good = block('61', MPK);
  srv.jobs = [keysJob('kj_noexp', 1)];
  srv.routes.set('/api/v1/terminal/jobs/kj_noexp/key-blocks', { status: 200, body: { version: 1, keys: [{ block: good }] } });
  await runner.reconcile(report);
  t.same(reports.map(([id, r]) => [id, r.status, r.error?.code]), [['kj_noexp', 'rejected', 'TERM_ERR_KEY_BLOCK']], 'a delivery without an expiry is refused');
  t.equal(ks.version, 0);

  reports.length = 0;
  srv.jobs = [keysJob('kj_403', 2)];
  srv.routes.set('/api/v1/terminal/jobs/kj_403/key-blocks', { status: 403, body: { error: { code: 'SRV_ERR_KEYS_NOT_APPROVED' } } });
  await runner.reconcile(report);
  t.same(reports, [], 'no live approval: nothing loaded, nothing reported');

  srv.jobs = [keysJob('kj_ok', 3)];
  srv.routes.set('/api/v1/terminal/jobs/kj_ok/key-blocks', { status: 200, body: { version: 3, expiresAt: now + 60_000, keys: [{ block: good }] } });
  await runner.reconcile(report);
  t.equal(ks.version, 3);
  t.ok(existsSync(join(root, 'bounds', 'keys.json')));
  t.equal(ks.purseKeys(1, 0).purchase.root.key.length, 16, 'usable before the expiry');
  // The custodian renews: the same job is listed queued again and re-delivered with a later expiry.
  srv.jobs = [keysJob('kj_ok', 3)];
  srv.routes.set('/api/v1/terminal/jobs/kj_ok/key-blocks', { status: 200, body: { version: 3, expiresAt: now + 120_000, keys: [{ block: good }] } });
  const renewed = new JobRunner({ serverUrl: 'http://srv', terminalId: 'T1', password: 'p', keystore: ks, fetch: srv.fetch });
  await renewed.reconcile(report);
  t.equal(ks.expiresAt, now + 120_000, 'renewal extends the expiry');
  now += 120_000;
  t.throws(() => ks.purseKeys(1, 0), { code: 'TERM_ERR_KEY_EXPIRED' }, 'expired keys are not used');
  t.equal(ks.version, 0, 'and forgotten');
  t.notOk(existsSync(join(root, 'bounds', 'keys.json')), 'and erased from disk');
  const sam = new SoftSam({ keystore: ks, terminalNumber: '639900000001' });
  await sam.transmit({ cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x00, data: PSAM_DF_NAME_DES });
  const mac1 = await sam.transmit({ cla: 0x80, ins: 0x70, p1: 0, p2: 0, data: new Uint8Array(36).fill(1).map((v, i) => (i === 18 ? 1 : i === 19 ? 0 : v)), le: 8 });
  t.equal(mac1.sw, SOFT_SAM_SW.keyNotFound, 'the soft SAM answers 6A88 after the expiry');
  // A file left behind past its expiry (terminal powered off) is erased at open.
  await ks.load(4, [{ block: good }], { expiresAt: now + 1000 });
  now += 2000;
  const reopened = await openKeystore(join(root, 'bounds'), kbpk, { now: () => now });
  t.equal(reopened.version, 0);
  t.notOk(existsSync(join(root, 'bounds', 'keys.json')));
  await t.rejects(reopened.load(5, [{ block: good }], { expiresAt: now - 1 }), { code: 'TERM_ERR_KEY_EXPIRED' }, 'an already expired set is refused');

  reports.length = 0;
  const psam = new JobRunner({ serverUrl: 'http://srv', terminalId: 'T1', password: 'p', keystore: reopened, hasPsam: true, fetch: srv.fetch });
  srv.jobs = [keysJob('kj_psam', 6)];
  const before = srv.calls.length;
  await psam.reconcile(report);
  t.same(reports.map(([id, r]) => [id, r.status]), [['kj_psam', 'rejected']], 'a terminal with a PSAM rejects key jobs');
  t.equal(srv.calls.filter((c, i) => i >= before && c.endsWith('key-blocks')).length, 0, 'without fetching the blocks');
});

t.test('update jobs go to the injected handler once; bad listings are skipped', async (t) => {
  const srv = server();
  const started: string[] = [];
  const runner = new JobRunner({ serverUrl: 'http://srv', terminalId: 'T1', password: 'p', fetch: srv.fetch, onUpdate: async (j, report) => { started.push(j.jobId); await report(j.jobId, { status: 'in-progress', step: 'downloading' }); } });
  const reports: string[] = [];
  srv.jobs = [{ jobId: 'ro_1', kind: 'update', version: 3, status: 'queued', url: '/api/v1/terminal/jobs/ro_1' }, { jobId: '../x', kind: 'keys', version: 1, status: 'queued', url: '/x' }, { jobId: 'kj_2', kind: 'keys', version: 1, status: 'queued', url: 'https://evil/x' }];
  await runner.reconcile(async (id, b) => { reports.push(`${id}:${b.status}`); });
  await runner.reconcile(async (id, b) => { reports.push(`${id}:${b.status}`); });
  t.same(started, ['ro_1']);
  t.same(reports, ['ro_1:in-progress']);
  srv.routes.clear();
  const bad = server();
  bad.fetch = (async () => new Response('{"nope":1}', { status: 200 })) as typeof fetch;
  const r2 = new JobRunner({ serverUrl: 'http://srv', terminalId: 'T1', password: 'p', fetch: bad.fetch });
  await r2.reconcile(async () => { t.fail('no report'); });
  t.equal(r2.stats.runs, 1);
});
