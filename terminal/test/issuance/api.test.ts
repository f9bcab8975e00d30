// The desk's issuance routes: staff-only (a token holder names a member of staff per call), the
// job answers at once and is polled step by step, a held job is resumed by staff, and no holder
// data comes back in the answers or reaches the log.
import t from 'tap';
import { EventEmitter } from 'node:events';
import { buildLocalApi, type CardAccess, type CheckStaff } from '../../src/api/index.ts';
import { TerminalError } from '../../src/errors.ts';
import { holder, site } from './fixtures.ts';

const TOKEN = 'issuance-api-test-token-0123456789abcdef';
const GOOD = `ocs_${'G'.repeat(43)}`;

t.test('[issue 20] desk issuance over the local API', async (t) => {
  const s = site('3.00');
  t.teardown(s.cleanup);
  s.region.failNext('enableCard', 'timeout');
  const svc = s.service();
  const access: CardAccess = { events: new EventEmitter(), status: () => [], withCard: () => Promise.reject(new Error('no reader')) };
  const checkStaff: CheckStaff = async (c) => {
    if (c !== GOOD) throw new TerminalError('TERM_ERR_STAFF_REFUSED', 'SRV_ERR_STAFF_CREDENTIAL');
    return { staffId: 'E1001', name: '王芳' };
  };
  const app = await buildLocalApi({ readers: access, token: TOKEN, checkStaff, issuance: svc, issuanceRegion: '639900' });
  t.teardown(() => app.close());
  const post = (url: string, payload: unknown, staff?: string) => app.inject({ method: 'POST', url, headers: { 'x-onecard-token': TOKEN, ...(staff === undefined ? {} : { 'x-onecard-staff': staff }) }, payload: payload as Record<string, unknown> });
  const body = { ssn: holder.ssn, name: holder.name, kind: 'new' };

  let r = await post('/v1/issuance/jobs', body);
  t.equal(r.statusCode, 401, 'the token alone does not issue cards');
  t.equal(s.region.calls('markCard'), 0);
  r = await post('/v1/issuance/jobs', { ...body, extra: 1 }, GOOD);
  t.equal(r.statusCode, 400, 'schema refuses unknown fields');
  r = await post('/v1/issuance/jobs', body, GOOD);
  t.equal(r.statusCode, 200, r.body);
  const job = r.json() as { jobId: string; status: string; steps: string[] };
  t.match(job, { status: 'running', step: 'mark' });
  t.equal(job.steps.length, 8);
  t.notOk(r.body.includes(holder.ssn) || r.body.includes(holder.name), 'no holder data in the answer');
  await svc.settled(job.jobId);
  const get = async () => (await app.inject({ method: 'GET', url: `/v1/issuance/jobs/${job.jobId}`, headers: { 'x-onecard-token': TOKEN } })).json() as Record<string, unknown>;
  t.match(await get(), { status: 'held', step: 'enable', error: { code: 'TERM_ERR_ISSUANCE_BACK_OFFICE' } });
  r = await post(`/v1/issuance/jobs/${job.jobId}/resume`, {});
  t.equal(r.statusCode, 401, 'resume is a staff service too');
  r = await post(`/v1/issuance/jobs/${job.jobId}/resume`, {}, GOOD);
  t.equal(r.statusCode, 200, r.body);
  await svc.settled(job.jobId);
  const done = await get();
  t.match(done, { status: 'issued', step: 'eject' });
  t.ok(s.core.takeCard());
  r = await post(`/v1/issuance/jobs/${job.jobId}/resume`, {}, GOOD);
  t.equal((r.json() as { error: { code: string } }).error.code, 'TERM_ERR_ISSUANCE_JOB', 'a finished job does not resume');
  const unknown = await app.inject({ method: 'GET', url: '/v1/issuance/jobs/none', headers: { 'x-onecard-token': TOKEN } });
  t.equal(unknown.statusCode, 404);
  t.equal((unknown.json() as { error: { code: string } }).error.code, 'TERM_ERR_ISSUANCE_JOB');
  const bad = await app.inject({ method: 'GET', url: '/v1/issuance/jobs/..%2Fx', headers: { 'x-onecard-token': TOKEN } });
  t.equal((bad.json() as { error: { code: string } }).error.code, 'TERM_ERR_ISSUANCE_JOB', 'no path games with the job id');

  const bare = await buildLocalApi({ readers: access, token: TOKEN, checkStaff });
  t.teardown(() => bare.close());
  const nr = await bare.inject({ method: 'POST', url: '/v1/issuance/jobs', headers: { 'x-onecard-token': TOKEN, 'x-onecard-staff': GOOD }, payload: body });
  t.equal(nr.statusCode, 501, 'no issuing device: not configured');
});

t.test('[issue 20] desk maintenance over the local API: information change, then the permanent block', async (t) => {
  const { createMemoryChannel } = await import('../../src/card/memory-channel.ts');
  const { t0Transmit } = await import('@onecard/simulators');
  const { createIssuancePsam } = await import('@onecard/simulators/src/issuance/psam.ts');
  const { roots } = await import('./fixtures.ts');
  const s = site('2.00');
  t.teardown(s.cleanup);
  await s.service().start({ jobId: 'M1', region: '639900', ssn: holder.ssn, name: holder.name, kind: 'new' });
  const card = s.core.takeCard()!;
  const psam = createIssuancePsam({ roots, region: '639900' });
  const ch = (c: Parameters<typeof t0Transmit>[0]) => createMemoryChannel(c, { t0: (tpdu) => t0Transmit(c, tpdu) });
  const access: CardAccess = { events: new EventEmitter(), status: () => [], withCard: (fn) => fn({ card: ch(card), psam: ch(psam) }) };
  const checkStaff: CheckStaff = async (c) => {
    if (c !== GOOD) throw new TerminalError('TERM_ERR_STAFF_REFUSED', 'SRV_ERR_STAFF_CREDENTIAL');
    return { staffId: 'E1001', name: '王芳' };
  };
  const app = await buildLocalApi({ readers: access, token: TOKEN, checkStaff });
  t.teardown(() => app.close());
  const post = (url: string, payload: unknown, staff?: string) => app.inject({ method: 'POST', url, headers: { 'x-onecard-token': TOKEN, ...(staff === undefined ? {} : { 'x-onecard-staff': staff }) }, payload: payload as Record<string, unknown> });
  let r = await post('/v1/issuance/holder-change', { birthplace: '110108' });
  t.equal(r.statusCode, 401, 'staff only');
  r = await post('/v1/issuance/holder-change', {}, GOOD);
  t.equal(r.statusCode, 400, 'something must change');
  r = await post('/v1/issuance/holder-change', { birthplace: '110108', sex: '2' }, GOOD);
  t.equal(r.statusCode, 200, r.body);
  t.match(r.json(), { changed: ['0A', '0C'] });
  t.notOk(r.body.includes(holder.ssn));
  r = await post('/v1/issuance/block', { confirmation: 'yes' }, GOOD);
  t.equal((r.json() as { error: { code: string } }).error.code, 'TERM_ERR_INVALID_ARGUMENT', 'the block needs the confirmation words');
  t.notOk(card.blocked);
  r = await post('/v1/issuance/block', { confirmation: 'BLOCK-PERMANENTLY' }, GOOD);
  t.equal(r.statusCode, 200, r.body);
  t.match(r.json(), { blocked: true });
  t.ok(card.blocked);
});
