// The shared jobs notifier: merge and order of every source's pending jobs, the retained pointer,
// serialised publishes per terminal, births, and the terminal listing route.
import t from 'tap';
import { decodeFleetMessage } from '@onecard/protocol/fleet';
import { JobsNotifier, orderJobs, type PendingJob } from '../../src/jobs/notifier.ts';
import { makeTestApp, newTerminalKey } from '../helpers.ts';

const job = (jobId: string, o: Partial<PendingJob> = {}): PendingJob => ({ jobId, kind: 'keys', version: 1, status: 'queued', priority: 0, createdAt: 0, url: `/api/v1/terminal/jobs/${jobId}`, ...o });

t.test('orderJobs: in progress first, then priority, then oldest, then id', async (t) => {
  const jobs = [job('d', { createdAt: 5 }), job('c', { priority: 10, createdAt: 9 }), job('b', { createdAt: 5 }), job('a', { status: 'in-progress', createdAt: 99 }), job('e', { createdAt: 1 })];
  t.same(orderJobs(jobs).map((j) => j.jobId), ['a', 'c', 'e', 'b', 'd']);
  t.same(orderJobs([]), []);
});

t.test('notifier: merges sources and publishes the retained next job', async (t) => {
  const published: { topic: string; next: unknown; retain: boolean }[] = [];
  let release: (() => void) | undefined;
  const n = new JobsNotifier(async (topic, payload, retain) => {
    if (release === undefined && published.length === 0) await new Promise<void>((r) => { release = r; setTimeout(r, 30); });
    published.push({ topic, next: decodeFleetMessage('jobs/notify', payload).next, retain });
  });
  const pending: Record<string, PendingJob[]> = { T1: [job('kj_1', { priority: 10, createdAt: 5 })] };
  const updates: Record<string, PendingJob[]> = { T1: [job('ro_1', { kind: 'update', version: 7, createdAt: 1 })] };
  n.register({ kind: 'keys', pending: async (id) => pending[id] ?? [] });
  n.register({ kind: 'update', pending: async (id) => updates[id] ?? [] });
  t.same((await n.pending('T1')).map((j) => j.jobId), ['kj_1', 'ro_1']);
  const first = n.refresh('T1');
  while (release === undefined) await new Promise((r) => setImmediate(r)); // the first publish is under way (and slow)
  pending['T1'] = [];
  const second = n.refresh('T1');
  await Promise.all([first, second]);
  t.same(published.map((p) => p.next), [{ jobId: 'kj_1', kind: 'keys', version: 1 }, { jobId: 'ro_1', kind: 'update', version: 7 }], 'in call order, even when the first publish is slow');
  t.ok(published.every((p) => p.topic === 't/T1/down/jobs/notify' && p.retain));
  updates['T1'] = [];
  await n.refresh('T1');
  t.same(published.at(-1)?.next, null);
  await n.refresh('T2', true);
  t.equal(published.length, 3, 'birth of a terminal that never had a job publishes nothing');
  await n.refreshMany(['T1', 'T2']);
  t.same(published.slice(3).map((p) => [p.topic, p.next]), [['t/T1/down/jobs/notify', null], ['t/T2/down/jobs/notify', null]]);
});

t.test('GET /api/v1/terminal/jobs and the birth refresh', async (t) => {
  const ta = await makeTestApp();
  t.teardown(() => ta.app.close());
  await ta.app.inject({ method: 'POST', url: '/api/v1/groups', headers: ta.auth(), payload: { id: 'g', name: 'g' } });
  const tok = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: ta.auth(), payload: { groupId: 'g' } })).json() as { token: string };
  const e = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok.token, publicKey: newTerminalKey() } })).json() as { terminalId: string; mqtt: { password: string } };
  const jobs: PendingJob[] = [];
  ta.app.jobs.register({ kind: 'config', pending: async (id) => (id === e.terminalId ? jobs : []) });
  const seen: unknown[] = [];
  ta.app.broker.subscribe(`t/${e.terminalId}/down/jobs/notify`, (p, cb) => { seen.push(decodeFleetMessage('jobs/notify', new Uint8Array(p.payload as Buffer)).next); cb(); }, () => {});
  const birth = () => ta.app.uplink.dispatch('birth', e.terminalId, { v: 1, epoch: 1, ts: 1, versions: { software: '1', config: 0, keys: 0, hotlist: 0 }, readers: [] }, '');
  await birth();
  t.same(seen, [], 'nothing to announce');
  jobs.push(job('cf_1', { kind: 'config', version: 3 }));
  await birth();
  t.same(seen, [{ jobId: 'cf_1', kind: 'config', version: 3 }], 'announced again on birth');
  t.equal((await ta.app.inject({ method: 'GET', url: '/api/v1/terminal/jobs' })).statusCode, 401);
  t.equal((await ta.app.inject({ method: 'GET', url: '/api/v1/terminal/jobs', headers: ta.auth() })).statusCode, 401, 'admin tokens are not terminal credentials');
  const r = await ta.app.inject({ method: 'GET', url: '/api/v1/terminal/jobs', headers: { authorization: `Bearer ${e.mqtt.password}` } });
  t.same(r.json(), { v: 1, jobs: [job('cf_1', { kind: 'config', version: 3 })] });
});
