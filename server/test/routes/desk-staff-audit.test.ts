// Desk actions name the member of staff in the server's audit trail (issue 13): a 解挂 and the PIN
// services carry the staff id the desk signed in with, checked against the staff credentials the
// server issued (known, valid for the terminal's group, not revoked by then); a kiosk action names
// nobody; a forged, foreign-group, revoked or malformed staff id is refused and audited
// (`desk.staff-refused`), and a cancellation with one does not take the card off the hotlist. Run on
// SQLite and, when ONECARD_TEST_PG_URL names a database, on PostgreSQL in a fresh schema.
import t, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { buildApp, bootstrapAdminToken } from '../../src/app.ts';
import { openSqliteStore } from '../../src/store/sqlite.ts';
import { openPostgresStore } from '../../src/store/postgres.ts';
import type { Store } from '../../src/store/types.ts';
import { staffVerdict } from '../../src/routes/desk-staff.ts';
import { newTerminalKey } from '../helpers.ts';

interface AuditEntry { actor: string; action: string; target: string; details: Record<string, unknown> }

async function scenario(t: Test, store: Store): Promise<void> {
  let now = 1_764_300_000_000;
  const clock = { now: () => now };
  const app = await buildApp({ store, clock });
  t.teardown(() => app.close());
  await app.ready();
  const admin = (await bootstrapAdminToken(store, clock))!;
  const auth = { authorization: `Bearer ${admin}` };
  const post = async (url: string, payload: Record<string, unknown>) => (await app.inject({ method: 'POST', url, headers: auth, payload })).json() as Record<string, unknown>;
  for (const g of ['hall', 'bank']) await post('/api/v1/groups', { id: g, name: g });
  const tok = await post('/api/v1/enrolment-tokens', { groupId: 'hall' });
  const id = ((await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { token: tok['token'], publicKey: newTerminalKey() } })).json() as { terminalId: string }).terminalId;
  await post('/api/v1/staff-credentials', { staffId: 'E1001', name: '王芳', groups: ['hall'] });
  await post('/api/v1/staff-credentials', { staffId: 'E2002', name: '李强', groups: ['bank'] });
  const gone = await post('/api/v1/staff-credentials', { staffId: 'E3003', name: '赵敏', groups: ['hall'] });
  now += 60_000;
  await app.inject({ method: 'DELETE', url: `/api/v1/staff-credentials/${String(gone['id'])}`, headers: auth });
  const revokedAt = now;
  now += 60_000;

  let seq = 0;
  const send = async (type: string, body: Record<string, unknown>, ts = now): Promise<string> => {
    seq++;
    const eventId = `evt-${String(seq).padStart(8, '0')}`;
    await app.uplink.dispatch('events', id, { v: 1, records: [{ eventId, seq, ts, type, body }] }, '');
    return eventId;
  };
  const listed = async (card: string): Promise<boolean> => (await app.inject({ url: `/api/v1/hotlist/${card}`, headers: auth })).statusCode === 200;
  const audit = async (action: string): Promise<AuditEntry[]> => ((await app.inject({ url: `/api/v1/audit?action=${action}&limit=100`, headers: auth })).json() as { entries: AuditEntry[] }).entries;

  // A kiosk's loss report (PIN verified, nobody signed in): audited without a member of staff.
  await send('card.loss-report', { cardNumber: 'X00000019', pinVerified: true, reason: 'lost' });
  t.ok(await listed('X00000019'));
  const [report] = await audit('hotlist.report');
  t.equal(report!.actor, `terminal:${id}`);
  t.notOk('staffId' in report!.details, 'a kiosk action names no member of staff');

  // A forged staff id: the card stays listed, the refusal is audited.
  const forged = await send('card.loss-cancel', { cardNumber: 'X00000019', idChecked: true, staffId: 'E9999' });
  t.ok(await listed('X00000019'), 'a cancellation by an unknown member of staff is refused');
  // Issued for another group's desks, or revoked before the action: refused too.
  const foreign = await send('card.loss-cancel', { cardNumber: 'X00000019', idChecked: true, staffId: 'E2002' });
  const revoked = await send('card.loss-cancel', { cardNumber: 'X00000019', idChecked: true, staffId: 'E3003' });
  // A desk that names nobody cannot cancel (解挂 is a staff service).
  const nobody = await send('card.loss-cancel', { cardNumber: 'X00000019', idChecked: true });
  t.ok(await listed('X00000019'), 'still listed after every refused cancellation');
  t.equal(app.metrics.get('onecard_loss_reports_total', { result: 'cancel-refused' }), 4);
  const refusals = await audit('desk.staff-refused');
  t.same(refusals.map((r) => [r.target, r.details['reason'], r.details['claimedStaffId'], r.details['type'], r.actor]).sort(), [
    [forged, 'unknown', 'E9999', 'card.loss-cancel', `terminal:${id}`],
    [foreign, 'group', 'E2002', 'card.loss-cancel', `terminal:${id}`],
    [revoked, 'revoked', 'E3003', 'card.loss-cancel', `terminal:${id}`],
  ].sort());
  t.notOk(refusals.some((r) => r.target === nobody), 'naming nobody is not a forged claim');
  t.same(await audit('hotlist.cancel'), [], 'nothing was cancelled');

  // The real 解挂 at the desk by E1001: off the hotlist, the audit entry names the member of staff.
  await send('card.loss-cancel', { cardNumber: 'X00000019', idChecked: true, staffId: 'E1001' });
  t.notOk(await listed('X00000019'), 'cancelled');
  const [cancel] = await audit('hotlist.cancel');
  t.same([cancel!.actor, cancel!.target, cancel!.details['staffId'], cancel!.details['idChecked']], [`terminal:${id}`, 'X00000019', 'E1001', true]);

  // A loss report taken at the desk: attributed to its member of staff.
  await send('card.loss-report', { cardNumber: 'A00000001', pinVerified: true, reason: 'lost', staffId: 'E1001' });
  t.equal((await audit('hotlist.report'))[0]!.details['staffId'], 'E1001');
  // With a forged staff id the report is still applied (listing is the safe side) but names nobody.
  const forgedReport = await send('card.loss-report', { cardNumber: 'B00000002', pinVerified: true, reason: 'lost', staffId: 'E9999' });
  t.ok(await listed('B00000002'));
  const [last] = await audit('hotlist.report');
  t.same([last!.target, 'staffId' in last!.details], ['B00000002', false]);
  t.ok((await audit('desk.staff-refused')).some((r) => r.target === forgedReport && r.details['reason'] === 'unknown'));

  // PIN services at the desk: audited with the card, the result and the member of staff.
  const unblock = await send('pin.unblock', { result: 'ok', cardNumber: 'X00000019', staffId: 'E1001' });
  const failed = await send('pin.reload', { result: 'failed', code: 'TERM_ERR_NO_PSAM', staffId: 'E1001' });
  const bad = await send('pin.unblock', { result: 'ok', cardNumber: 'X00000019', staffId: '../../etc' });
  const pins = [...await audit('desk.pin-unblock'), ...await audit('desk.pin-reload')];
  const byEvent = new Map(pins.map((p) => [p.details['eventId'], p]));
  t.same([byEvent.get(unblock)!.target, byEvent.get(unblock)!.details['staffId'], byEvent.get(unblock)!.details['result']], ['X00000019', 'E1001', 'ok']);
  t.same([byEvent.get(failed)!.target, byEvent.get(failed)!.details['staffId'], byEvent.get(failed)!.details['result'], byEvent.get(failed)!.details['code']], [failed, 'E1001', 'failed', 'TERM_ERR_NO_PSAM']);
  t.notOk('staffId' in byEvent.get(bad)!.details, 'a malformed staff id is not recorded as the actor');
  const malformed = (await audit('desk.staff-refused')).find((r) => r.target === bad)!;
  t.same([malformed.details['reason'], 'claimedStaffId' in malformed.details], ['malformed', false], 'the malformed text itself is not stored');

  // A retransmitted batch is not audited twice.
  const before = (await audit('desk.pin-unblock')).length;
  await app.uplink.dispatch('events', id, { v: 1, records: [{ eventId: unblock, seq: seq - 2, ts: now, type: 'pin.unblock', body: { result: 'ok', cardNumber: 'X00000019', staffId: 'E1001' } }] }, '');
  t.equal((await audit('desk.pin-unblock')).length, before);

  // An action taken before the credential was revoked is still that member of staff's.
  await send('card.loss-report', { cardNumber: 'C00000003', pinVerified: true, staffId: 'E3003' }, revokedAt - 1000);
  t.equal((await audit('hotlist.report'))[0]!.details['staffId'], 'E3003');
}

t.test('desk actions name the member of staff in the audit trail (SQLite)', async (t) => {
  await scenario(t, openSqliteStore(':memory:'));
});

const URL = process.env.ONECARD_TEST_PG_URL;
if (URL === undefined || URL === '') {
  t.test('desk actions on PostgreSQL', { skip: 'ONECARD_TEST_PG_URL is not set (run .ci/suites/postgres.sh, or point it at a scratch database)' }, () => {});
} else {
  t.test('desk actions name the member of staff in the audit trail (PostgreSQL)', async (t) => {
    const schema = `onecard_t_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Pool({ connectionString: URL, max: 1 });
    t.teardown(async () => { await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`); await admin.end(); });
    await scenario(t, await openPostgresStore(URL, { schema, max: 4 }));
  });
}

t.test('staffVerdict: who a terminal of a group may name, and when', async (t) => {
  const c = (staffId: string, groups: string[], revokedAt: number | null = null) => ({ id: `stf_${staffId}`, staffId, name: 'x', groups, createdAt: 0, createdBy: 'a', revokedAt });
  const creds = [c('E1', ['g']), c('E2', ['h']), c('E3', ['g'], 100), c('E3', ['h'])];
  t.equal(staffVerdict(undefined, creds, 'g', 50), undefined, 'nothing claimed');
  t.same(staffVerdict('E1', creds, 'g', 50), { ok: true, staffId: 'E1' });
  t.same(staffVerdict('E2', creds, 'g', 50), { ok: false, reason: 'group', claimed: 'E2' });
  t.same(staffVerdict('E3', creds, 'g', 50), { ok: true, staffId: 'E3' }, 'before the revocation');
  t.same(staffVerdict('E3', creds, 'g', 100), { ok: false, reason: 'revoked', claimed: 'E3' }, 'from the revocation on');
  t.same(staffVerdict('E9', creds, 'g', 50), { ok: false, reason: 'unknown', claimed: 'E9' });
  t.same(staffVerdict('E1', creds, undefined, 50), { ok: false, reason: 'group', claimed: 'E1' }, 'an unknown terminal has no group');
  t.same(staffVerdict(42, creds, 'g', 50), { ok: false, reason: 'malformed' });
  t.same(staffVerdict('a b', creds, 'g', 50), { ok: false, reason: 'malformed' });
});
