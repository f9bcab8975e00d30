import t from 'tap';
import { Writable } from 'node:stream';
import { makeTestApp, newTerminalKey, type TestApp } from '../helpers.ts';

interface Enrolled { terminalId: string; password: string }
async function enrol(ta: TestApp, groupId: string): Promise<Enrolled> {
  if ((await ta.app.ctx.store.getGroup(groupId)) === undefined) await ta.app.inject({ method: 'POST', url: '/api/v1/groups', headers: ta.auth(), payload: { id: groupId, name: groupId } });
  const tok = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrolment-tokens', headers: ta.auth(), payload: { groupId } })).json() as { token: string };
  const r = (await ta.app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok.token, publicKey: newTerminalKey() } })).json() as { terminalId: string; mqtt: { password: string } };
  return { terminalId: r.terminalId, password: r.mqtt.password };
}
const basic = (e: Enrolled) => ({ authorization: `Basic ${Buffer.from(`${e.terminalId}:${e.password}`).toString('base64')}` });
interface AuditEntry { actor: string; action: string; target: string; details: Record<string, unknown> }

t.test('staff credentials: issue, check per group, revoke, roles, audit, guessing limit, never logged', async (t) => {
  const lines: string[] = [];
  const stream = new Writable({ write(c, _e, cb) { lines.push(String(c)); cb(); } });
  const ta = await makeTestApp({ logger: { level: 'trace', stream } });
  const { app, auth } = ta;
  t.teardown(() => app.close());
  await app.ready();
  const desk = await enrol(ta, 'branch-a');
  const other = await enrol(ta, 'branch-b');
  const viewer = await ta.tokenFor('viewer');
  const operator = await ta.tokenFor('operator');

  const refused = await app.inject({ method: 'POST', url: '/api/v1/staff-credentials', headers: auth(viewer), payload: { staffId: 'E1001', name: 'Li Wei', groups: ['branch-a'] } });
  t.equal(refused.statusCode, 403, 'a viewer cannot issue');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/staff-credentials', headers: auth(operator), payload: { staffId: 'bad id', name: 'x', groups: ['branch-a'] } })).json().error.code, 'SRV_ERR_VALIDATION');
  const issued = await app.inject({ method: 'POST', url: '/api/v1/staff-credentials', headers: auth(operator), payload: { staffId: 'E1001', name: 'Li Wei', groups: ['branch-a'] } });
  t.equal(issued.statusCode, 201);
  const { id, credential } = issued.json() as { id: string; credential: string };
  t.match(credential, /^ocs_[A-Za-z0-9_-]{43}$/);
  const listed = (await app.inject({ url: '/api/v1/staff-credentials', headers: auth(viewer) })).json() as { credentials: Record<string, unknown>[] };
  t.same(listed.credentials.map((c) => [c.id, c.staffId, c.groups, c.revokedAt]), [[id, 'E1001', ['branch-a'], null]]);
  t.notOk(JSON.stringify(listed).includes(credential), 'the list never shows the value');

  const check = (e: Enrolled, cred: string) => app.inject({ method: 'POST', url: '/api/v1/terminal/staff/check', headers: basic(e), payload: { credential: cred } });
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/terminal/staff/check', payload: { credential } })).statusCode, 401, 'needs terminal credentials');
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/terminal/staff/check', headers: auth(), payload: { credential } })).statusCode, 401, 'an admin token is no terminal credential');
  const ok = await check(desk, credential);
  t.equal(ok.statusCode, 200);
  t.same(ok.json(), { staffId: 'E1001', name: 'Li Wei', credentialId: id });
  const wrongGroup = await check(other, credential);
  t.equal(wrongGroup.statusCode, 403);
  t.equal(wrongGroup.json().error.code, 'SRV_ERR_STAFF_GROUP', 'a credential for another group is refused');
  t.equal((await check(desk, 'ocs_' + 'A'.repeat(43))).json().error.code, 'SRV_ERR_STAFF_CREDENTIAL', 'unknown credential');

  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/staff-credentials/${id}`, headers: auth(viewer) })).statusCode, 403);
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/staff-credentials/${id}`, headers: auth(operator) })).statusCode, 204);
  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/staff-credentials/${id}`, headers: auth(operator) })).statusCode, 404, 'already revoked');
  const revoked = await check(desk, credential);
  t.equal(revoked.statusCode, 401);
  t.equal(revoked.json().error.code, 'SRV_ERR_STAFF_CREDENTIAL', 'a revoked credential is refused');

  const audit = ((await app.inject({ url: '/api/v1/audit?limit=100', headers: auth() })).json() as { entries: AuditEntry[] }).entries.reverse();
  t.match(audit.filter((e) => e.action.startsWith('staff')).map((e) => [e.action, e.actor, e.target]), [
    ['staff-credential.create', /^adm_/, id], ['staff.check', 'staff:E1001', desk.terminalId], ['staff.sign-in-refused', 'staff:E1001', other.terminalId], ['staff-credential.revoke', /^adm_/, id],
  ]);

  // Guessing: over the limit a wrong credential answers 429; the terminal itself is not locked out of other routes.
  let last = 0;
  for (let i = 0; i < app.ctx.settings.authRateLimitPerMinute + 1; i++) last = (await check(other, `ocs_${String(i).padStart(43, 'x')}`)).statusCode;
  t.equal(last, 429, 'guessing is limited');
  t.ok(lines.length > 0, 'the log was captured');
  const all = lines.join('');
  t.notOk(all.includes(credential), 'the credential never reaches the log');
  t.notOk(all.includes(credential.slice(4)), 'not even without its prefix');
});

t.test('a loss report taken at a desk names the member of staff in the audit entry', async (t) => {
  const ta = await makeTestApp();
  const { app, auth } = ta;
  t.teardown(() => app.close());
  await app.ready();
  const desk = await enrol(ta, 'branch-a');
  // The server believes a staff id only for a credential it issued for the desk's group (desk-staff-audit.test.ts has the refusals).
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/staff-credentials', headers: auth(), payload: { staffId: 'E1001', name: 'Li Wei', groups: ['branch-a'] } })).statusCode, 201);
  const rec = (i: number, body: Record<string, unknown>) => ({ eventId: `evt-${String(i).padStart(8, '0')}`, seq: i, ts: 1_764_000_000_000 + i, type: 'card.loss-report', body });
  await app.uplink.dispatch('events', desk.terminalId, { v: 1, records: [rec(1, { cardNumber: 'X00000019', pinVerified: true, reason: 'lost', staffId: 'E1001' }), rec(2, { cardNumber: 'A00000001', pinVerified: true, reason: 'lost' })] }, '');
  const audit = ((await app.inject({ url: '/api/v1/audit?action=hotlist.report', headers: auth() })).json() as { entries: AuditEntry[] }).entries;
  t.same(audit.map((e) => [e.target, e.actor, e.details.staffId]).sort(), [['A00000001', `terminal:${desk.terminalId}`, undefined], ['X00000019', `terminal:${desk.terminalId}`, 'E1001']]);
});
